//! Session tokens: issued at login, looked up by hash on every call and hello, revoked on
//! logout with a notice every node hears.

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use gonghui_protocol::ClientKind;

use super::Store;
use crate::crypto::{new_token, token_hash};
use crate::{Error, Result};

/// The NOTIFY channel on which a revoked token's id is announced to every node.
pub const REVOKED_CHANNEL: &str = "gonghui_revoked";

/// Who is calling: the user behind a valid token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    /// The user.
    pub user_id: i64,
    /// The token's row, so logout can close its sockets.
    pub token_id: i64,
    /// The client the token was issued to.
    pub client: ClientKind,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
}

impl Store {
    /// Issues a new token for `user_id` valid for `ttl`; returns it and its expiry.
    #[tracing::instrument(skip_all, fields(user_id = user_id))]
    pub async fn issue_token(
        &self,
        user_id: i64,
        client: ClientKind,
        ttl: std::time::Duration,
    ) -> Result<(String, DateTime<Utc>)> {
        let token = new_token();
        let conn = self.client().await?;
        let row = conn
            .query_one(
                "INSERT INTO auth_tokens (user_id, token_hash, client, expires_at)
                 VALUES ($1, $2, $3, now() + make_interval(secs => $4)) RETURNING expires_at",
                &[
                    &user_id,
                    &token_hash(&token),
                    &client.as_str(),
                    &ttl.as_secs_f64(),
                ],
            )
            .await?;
        Ok((token, row.get(0)))
    }

    /// The principal behind a token that is neither expired nor revoked.
    ///
    /// # Errors
    /// `Unauthenticated` for any token that does not qualify.
    #[tracing::instrument(skip_all)]
    pub async fn authenticate(&self, token: &str) -> Result<Principal> {
        let hash = token_hash(token);
        let generation = match self.tokens.get(&hash) {
            Ok(principal) => return Ok(principal),
            Err(generation) => generation,
        };
        let principal = self
            .token_reads
            .look_up(
                self,
                hash.clone(),
                "checking a token",
                principals_of,
                principal_of,
            )
            .await?
            .ok_or_else(|| {
                Error::Unauthenticated("the token is invalid, expired or logged out".into())
            })?;
        self.tokens.put(generation, hash, principal);
        Ok(principal)
    }

    /// Revokes a token and tells every node, in one transaction.
    #[tracing::instrument(skip_all, fields(token_id = token_id))]
    pub async fn revoke_token(&self, token_id: i64) -> Result<()> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        tx.execute(
            "UPDATE auth_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
            &[&token_id],
        )
        .await?;
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&REVOKED_CHANNEL, &token_id.to_string()],
        )
        .await?;
        tx.commit().await?;
        self.tokens.forget(&[token_id]);
        Ok(())
    }

    /// Revokes every live token of `user_id` but `keep`, and tells every node, in one
    /// transaction: a password change or "log out everywhere".
    #[tracing::instrument(skip_all, fields(user_id = user_id))]
    pub async fn revoke_user_tokens(&self, user_id: i64, keep: Option<i64>) -> Result<()> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let revoked = revoke_all_in(&tx, user_id, keep).await?;
        tx.commit().await?;
        self.tokens.forget(&revoked);
        Ok(())
    }

    /// Which of these tokens no longer work, for re-checking sockets after a lost connection.
    #[tracing::instrument(skip_all)]
    pub async fn dead_tokens(&self, token_ids: &[i64]) -> Result<Vec<i64>> {
        let conn = self.client().await?;
        let rows = conn
            .query(
                "SELECT id FROM unnest($1::bigint[]) AS ids (id)
                 WHERE NOT EXISTS (SELECT 1 FROM auth_tokens t WHERE t.id = ids.id AND t.revoked_at IS NULL AND t.expires_at > now())",
                &[&token_ids],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}

/// Revokes every live token of `user_id` but `keep` within `tx`, announcing each on
/// commit; answers their ids, for the caller to forget once committed.
pub(crate) async fn revoke_all_in(
    tx: &deadpool_postgres::Transaction<'_>,
    user_id: i64,
    keep: Option<i64>,
) -> Result<Vec<i64>> {
    let rows = tx
        .query(
            "WITH gone AS (
                 UPDATE auth_tokens SET revoked_at = now()
                 WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2 RETURNING id)
             SELECT id, pg_notify($3, id::text) FROM gone",
            &[&user_id, &keep, &REVOKED_CHANNEL],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The principals behind several token hashes (`None` for one that is not live), in
/// their order, in one statement: a reconnect storm's hellos check thousands at once.
fn principals_of(
    store: &Store,
    hashes: Vec<Vec<u8>>,
) -> BoxFuture<'_, Result<Vec<Option<Principal>>>> {
    Box::pin(async move {
        let conn = store.client().await?;
        let stmt = conn
            .prepare_cached(
                "SELECT t.i, a.user_id, a.id, a.client, a.expires_at
                 FROM unnest($1::bytea[]) WITH ORDINALITY AS t(h, i)
                 JOIN LATERAL (SELECT user_id, id, client, expires_at FROM auth_tokens
                               WHERE token_hash = t.h AND revoked_at IS NULL AND expires_at > now()
                               LIMIT 1) a ON true",
            )
            .await?;
        let rows = conn.query(&stmt, &[&hashes]).await?;
        Ok(
            super::group::per_key(&rows, hashes.len(), |row| principal_from(row, 1))
                .into_iter()
                .map(|mut found| found.pop())
                .collect(),
        )
    })
}

/// The principal behind one token hash, if it is live.
fn principal_of(store: &Store, hash: Vec<u8>) -> BoxFuture<'_, Result<Option<Principal>>> {
    Box::pin(async move {
        let conn = store.client().await?;
        let stmt = conn
            .prepare_cached(
                "SELECT user_id, id, client, expires_at FROM auth_tokens
                 WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()",
            )
            .await?;
        Ok(conn
            .query_opt(&stmt, &[&hash])
            .await?
            .map(|row| principal_from(&row, 0)))
    })
}

/// A principal from a row holding user id, token id, client and expiry from column `at`.
fn principal_from(row: &tokio_postgres::Row, at: usize) -> Principal {
    Principal {
        user_id: row.get(at),
        token_id: row.get(at + 1),
        client: ClientKind::from_name(row.get(at + 2)).unwrap_or(ClientKind::App),
        expires_at: row.get(at + 3),
    }
}
