//! Idempotency keys: the first answer to a write is kept for 24 hours and replayed for
//! the same key from the same user, so a client retrying after a lost answer changes
//! nothing twice.
//!
//! A key is reserved while its first request runs. A request can end without storing its
//! answer — its node killed, or Postgres gone between the work and the answer — and its
//! key would then say "in progress" for a day. So a reservation is a
//! lease: past [`Store::with_idempotency_lease`] a retry takes the key over and runs the
//! call again, which the domain's own checks make harmless (an application already filed
//! is refused 409, a decision already made is "already decided").

use super::Store;
use crate::Result;

/// How long a key is remembered.
pub const KEY_TTL_SECS: f64 = 24.0 * 3600.0;

/// What to do with a request carrying a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key is new and now reserved: run the request, then [`Store::finish_idempotent`].
    Fresh,
    /// The key was used before for the same call: return this status and body.
    Replay(u16, Vec<u8>),
    /// The first request with this key has not finished yet.
    InFlight,
    /// The key was used for a different call.
    Mismatch,
}

impl Store {
    /// Reserves `key` for this user and call, or reports what became of it.
    #[tracing::instrument(skip_all, fields(user_id = user_id))]
    pub async fn claim_idempotency_key(
        &self,
        user_id: i64,
        key: &str,
        fingerprint: &str,
    ) -> Result<Claim> {
        let conn = self.client().await?;
        conn.execute(
            "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND created_at < now() - make_interval(secs => $3)",
            &[&user_id, &key, &KEY_TTL_SECS],
        )
        .await?;
        let inserted = conn
            .execute(
                "INSERT INTO idempotency_keys (user_id, key, fingerprint) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&user_id, &key, &fingerprint],
            )
            .await?;
        if inserted == 1 {
            return Ok(Claim::Fresh);
        }
        let row = conn
            .query_opt("SELECT fingerprint, status, body FROM idempotency_keys WHERE user_id = $1 AND key = $2", &[&user_id, &key])
            .await?;
        Ok(match row {
            None => Claim::InFlight,
            Some(r) if r.get::<_, String>(0) != fingerprint => Claim::Mismatch,
            Some(r) => match (r.get::<_, Option<i16>>(1), r.get::<_, Option<Vec<u8>>>(2)) {
                (Some(status), Some(body)) => Claim::Replay(status as u16, body),
                _ => {
                    // Taken over only once its lease has run out, and by one retry only.
                    let lapsed = conn
                        .execute(
                            "UPDATE idempotency_keys SET created_at = now()
                             WHERE user_id = $1 AND key = $2 AND status IS NULL
                               AND created_at < now() - make_interval(secs => $3)",
                            &[&user_id, &key, &self.idempotency_lease.as_secs_f64()],
                        )
                        .await?;
                    if lapsed == 1 {
                        Claim::Fresh
                    } else {
                        Claim::InFlight
                    }
                }
            },
        })
    }

    /// Stores the answer to a reserved key.
    #[tracing::instrument(skip_all, fields(user_id = user_id))]
    pub async fn finish_idempotent(
        &self,
        user_id: i64,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<()> {
        let conn = self.client().await?;
        conn.execute(
            "UPDATE idempotency_keys SET status = $3, body = $4 WHERE user_id = $1 AND key = $2",
            &[&user_id, &key, &(status as i16), &body],
        )
        .await?;
        Ok(())
    }

    /// Frees a reserved key whose request failed for reasons of the server's, so a retry runs.
    #[tracing::instrument(skip_all, fields(user_id = user_id))]
    pub async fn release_idempotency_key(&self, user_id: i64, key: &str) -> Result<()> {
        let conn = self.client().await?;
        conn.execute(
            "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND status IS NULL",
            &[&user_id, &key],
        )
        .await?;
        Ok(())
    }

    /// Forgets keys older than 24 hours.
    #[tracing::instrument(skip_all)]
    pub async fn prune_idempotency_keys(&self) -> Result<u64> {
        let conn = self.client().await?;
        Ok(conn
            .execute(
                "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)",
                &[&KEY_TTL_SECS],
            )
            .await?)
    }
}
