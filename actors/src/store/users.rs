//! Users: lookup by phone for login, registration by SMS, passwords, and real-name
//! verification with the ID number encrypted and blind-indexed.

use gonghui_protocol::dto::{Me, User};
use gonghui_protocol::events::kind;
use gonghui_protocol::Topic;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

use super::events::EventBatch;
use super::Store;
use crate::domain::{IdNumber, PersonName, Phone};
use crate::{Error, Result};

/// The columns [`user_from_row`] reads, in order.
pub(crate) const USER_COLUMNS: &str =
    "u.id, u.phone, u.name, u.verified_at IS NOT NULL AS verified, u.id_number_masked";

/// Builds a [`User`] from a row selected with [`USER_COLUMNS`], by column name.
pub(crate) fn user_from_row(row: &Row) -> User {
    User {
        id: row.get("id"),
        phone: row.get("phone"),
        name: row.get("name"),
        verified: row.get("verified"),
        id_number_masked: row.get("id_number_masked"),
    }
}

impl Store {
    /// A user's id and password hash, for a password login.
    #[tracing::instrument(skip_all)]
    pub async fn login_record(&self, phone: &Phone) -> Result<Option<(i64, Option<String>)>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT id, password_hash FROM users WHERE phone = $1",
                &[&phone.as_str()],
            )
            .await?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    /// The user with this phone, registering them if the phone is new (SMS login).
    #[tracing::instrument(skip_all)]
    pub async fn user_for_phone(&self, phone: &Phone) -> Result<i64> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "WITH new AS (INSERT INTO users (phone) VALUES ($1) ON CONFLICT (phone) DO NOTHING RETURNING id)
                 SELECT id FROM new UNION ALL SELECT id FROM users WHERE phone = $1",
                &[&phone.as_str()],
            )
            .await?;
        Ok(row.get(0))
    }

    /// A user's phone, for proving it is them again.
    #[tracing::instrument(skip_all, fields(user_id = user_id))]
    pub async fn user_phone(&self, user_id: i64) -> Result<Phone> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT phone FROM users WHERE id = $1", &[&user_id])
            .await?
            .ok_or_else(|| crate::Error::NotFound("no such user".into()))?;
        Ok(Phone::parse("phone", row.get(0))?)
    }

    /// Stores a new argon2id hash for a user's password.
    #[tracing::instrument(skip_all, fields(user_id = user_id))]
    pub async fn set_password_hash(&self, user_id: i64, hash: &str) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE users SET password_hash = $2 WHERE id = $1",
                &[&user_id, &hash],
            )
            .await?;
        Ok(())
    }

    /// One user as clients see them.
    #[tracing::instrument(skip_all, fields(user_id = user_id))]
    pub async fn user(&self, user_id: i64) -> Result<User> {
        let client = self.client().await?;
        user_in(&client, user_id).await
    }

    /// Everything `GET /me` shows.
    #[tracing::instrument(skip_all, fields(user_id = user_id))]
    pub async fn me(&self, user_id: i64) -> Result<Me> {
        let user = self.user(user_id).await?;
        let memberships = self.memberships_of(user_id).await?;
        let admin_of = self.admin_of(user_id).await?;
        Ok(Me {
            user,
            memberships,
            admin_of,
        })
    }

    /// Records a real-name verification. Submitting the same number again is a no-op;
    /// a different number after verification, or a number another user holds, is a
    /// conflict. Requests reach it through `verify_identity_from`, which bounds it.
    #[tracing::instrument(skip_all, fields(user_id = user_id))]
    pub(crate) async fn verify_identity(
        &self,
        user_id: i64,
        name: &PersonName,
        id_number: &IdNumber,
    ) -> Result<User> {
        let index = self.secrets().blind_index(id_number.expose());
        let sealed = self.secrets().encrypt(id_number.expose());
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let current = tx
            .query_one(
                "SELECT id_number_index FROM users WHERE id = $1 FOR UPDATE",
                &[&user_id],
            )
            .await?
            .get::<_, Option<Vec<u8>>>(0);
        match current {
            Some(existing) if existing == index => {
                drop(tx);
                return self.user(user_id).await;
            }
            Some(_) => {
                return Err(Error::Conflict(
                    "this account is already verified with another ID number".into(),
                ))
            }
            None => {}
        }
        let updated = tx
            .query_one(
                &format!(
                    "UPDATE users u SET name = $2, id_number_enc = $3, id_number_index = $4, id_number_masked = $5,
                            verified_at = now()
                     WHERE u.id = $1 RETURNING {USER_COLUMNS}"
                ),
                &[&user_id, &name.as_str(), &sealed, &index, &id_number.masked()],
            )
            .await;
        let user = match updated {
            Ok(row) => user_from_row(&row),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                return Err(Error::Conflict(
                    "this ID number belongs to another account".into(),
                ))
            }
            Err(e) => return Err(Error::from(e)),
        };
        let mut events = EventBatch::new();
        events.push(
            Topic::Member(user_id),
            kind::USER_UPDATED,
            serde_json::json!({ "user": &user }),
        );
        self.commit(tx, events).await?;
        Ok(user)
    }
}

/// Several users, in order, in one statement; fails if one is missing (a group read
/// that fails is read again key by key, `group.rs` `look_up`, so only that one fails).
pub(crate) async fn users_in(
    conn: &impl deadpool_postgres::GenericClient,
    user_ids: &[i64],
) -> Result<Vec<User>> {
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT r.i, u.* FROM unnest($1::bigint[]) WITH ORDINALITY AS r(uid, i)
             JOIN LATERAL (SELECT {USER_COLUMNS} FROM users u WHERE u.id = r.uid LIMIT 1) u ON true"
        ))
        .await?;
    let rows = conn.query(&stmt, &[&user_ids]).await?;
    super::group::per_key(&rows, user_ids.len(), user_from_row)
        .into_iter()
        .map(|mut found| {
            found
                .pop()
                .ok_or_else(|| Error::NotFound("no such user".into()))
        })
        .collect()
}

/// One user, read through any client or transaction.
pub(crate) async fn user_in(
    conn: &impl deadpool_postgres::GenericClient,
    user_id: i64,
) -> Result<User> {
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"
        ))
        .await?;
    let row = conn
        .query_opt(&stmt, &[&user_id])
        .await?
        .ok_or_else(|| Error::NotFound("no such user".into()))?;
    Ok(user_from_row(&row))
}
