//! Real-name verification, bounded as logins are: its answer "this ID number belongs to
//! another account" would otherwise tell anyone with a login whether a person is
//! registered, one ID number per request. Each attempt is counted as a failure before
//! it is checked (under the user's and the address's locks, so concurrency on any
//! number of nodes cannot pass the limits) and forgotten unless it ended in that
//! conflict; past the limits, attempts are refused with 429 until the oldest leaves
//! the window.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gonghui_protocol::dto::User;

use super::Store;
use crate::domain::{IdNumber, PersonName};
use crate::{Error, Result};

/// Conflicting verifications one user may have in [`USER_WINDOW`].
pub const PER_USER: i64 = 5;
/// The window of [`PER_USER`].
pub const USER_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Conflicting verifications one client address may have in [`ADDRESS_WINDOW`]: an
/// onboarding day behind one office's address makes few.
pub const PER_ADDRESS: i64 = 20;
/// The window of [`PER_ADDRESS`].
pub const ADDRESS_WINDOW: Duration = Duration::from_secs(3600);

impl Store {
    /// Verifies `user_id`'s real name for a request from `addr`, within the limits above.
    ///
    /// # Errors
    /// `RateLimited` past a limit, with the seconds until an attempt may be made; else
    /// `Invalid`, or `Conflict` for a number this or another account already holds.
    #[tracing::instrument(skip_all, fields(user_id = user_id))]
    pub async fn verify_identity_from(
        &self,
        user_id: i64,
        addr: IpAddr,
        name: &PersonName,
        id_number: &IdNumber,
    ) -> Result<User> {
        let attempt = self.reserve_verification(user_id, addr).await?;
        let verified = self.verify_identity(user_id, name, id_number).await;
        if !matches!(verified, Err(Error::Conflict(_))) {
            let conn = self.client().await?;
            conn.execute(
                "DELETE FROM verification_attempts WHERE id = $1",
                &[&attempt],
            )
            .await?;
        }
        verified
    }

    /// Counts an attempt before it is made, unless a limit says wait; answers its id.
    async fn reserve_verification(&self, user_id: i64, addr: IpAddr) -> Result<i64> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('verify:' || $1::text)), pg_advisory_xact_lock(hashtext('verify-addr:' || host($2::inet)))",
            &[&user_id.to_string(), &addr],
        )
        .await?;
        let row = tx
            .query_one(
                "SELECT count(*) FILTER (WHERE user_id = $1 AND at > now() - make_interval(secs => $3)),
                        min(at) FILTER (WHERE user_id = $1 AND at > now() - make_interval(secs => $3)),
                        count(*) FILTER (WHERE addr = $2 AND at > now() - make_interval(secs => $4)),
                        min(at) FILTER (WHERE addr = $2 AND at > now() - make_interval(secs => $4)),
                        now()
                 FROM verification_attempts WHERE user_id = $1 OR addr = $2",
                &[
                    &user_id,
                    &addr,
                    &USER_WINDOW.as_secs_f64(),
                    &ADDRESS_WINDOW.as_secs_f64(),
                ],
            )
            .await?;
        let now: DateTime<Utc> = row.get(4);
        let wait = |count: i64, oldest: Option<DateTime<Utc>>, limit: i64, window: Duration| {
            match oldest {
                Some(oldest) if count >= limit => {
                    let free_at = oldest + chrono::Duration::from_std(window).unwrap_or_default();
                    (free_at - now).num_seconds().max(1)
                }
                _ => 0,
            }
        };
        let wait = wait(row.get(0), row.get(1), PER_USER, USER_WINDOW).max(wait(
            row.get(2),
            row.get(3),
            PER_ADDRESS,
            ADDRESS_WINDOW,
        ));
        if wait > 0 {
            return Err(Error::rate_limited(
                format!("too many verifications with ID numbers of other accounts; try again in {wait} s"),
                wait as u64,
            ));
        }
        let id = tx
            .query_one(
                "INSERT INTO verification_attempts (user_id, addr) VALUES ($1, $2) RETURNING id",
                &[&user_id, &addr],
            )
            .await?
            .get(0);
        tx.commit().await?;
        Ok(id)
    }
}
