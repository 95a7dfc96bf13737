//! SMS codes and login failures: the two rate limits of login, shared by every node
//! through the database.

use std::time::Duration;

use super::Store;
use crate::domain::Phone;
use crate::{Error, Result};

/// Wrong tries after which a code is void.
pub const MAX_CODE_TRIES: i32 = 5;

impl Store {
    /// Stores a new code for `phone` unless one was sent less than `resend_after` ago.
    ///
    /// # Errors
    /// `RateLimited` within the resend interval.
    pub async fn record_sms_code(
        &self,
        phone: &Phone,
        purpose: &str,
        code_hash: &[u8],
        ttl: Duration,
        resend_after: Duration,
    ) -> Result<()> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('sms:' || $1))",
            &[&phone.as_str()],
        )
        .await?;
        let recent = tx
            .query_opt(
                "SELECT 1 FROM sms_codes WHERE phone = $1 AND created_at > now() - make_interval(secs => $2) LIMIT 1",
                &[&phone.as_str(), &resend_after.as_secs_f64()],
            )
            .await?;
        if recent.is_some() {
            return Err(Error::RateLimited(format!(
                "a code was sent less than {} s ago",
                resend_after.as_secs()
            )));
        }
        tx.execute(
            "INSERT INTO sms_codes (phone, purpose, code_hash, expires_at) VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
            &[&phone.as_str(), &purpose, &code_hash, &ttl.as_secs_f64()],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Uses up the phone's latest live code if `code_hash` matches it; a mismatch counts
    /// a wrong try against it. Returns whether the code was right.
    pub async fn consume_sms_code(&self, phone: &Phone, code_hash: &[u8]) -> Result<bool> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT id, code_hash FROM sms_codes
                 WHERE phone = $1 AND used_at IS NULL AND expires_at > now() AND failed_attempts < $2
                 ORDER BY created_at DESC LIMIT 1 FOR UPDATE",
                &[&phone.as_str(), &MAX_CODE_TRIES],
            )
            .await?;
        let Some(row) = row else { return Ok(false) };
        let id: i64 = row.get(0);
        let right = row.get::<_, Vec<u8>>(1) == code_hash;
        let update = if right {
            "UPDATE sms_codes SET used_at = now() WHERE id = $1"
        } else {
            "UPDATE sms_codes SET failed_attempts = failed_attempts + 1 WHERE id = $1"
        };
        tx.execute(update, &[&id]).await?;
        tx.commit().await?;
        Ok(right)
    }

    /// Failed logins for `phone` within `window`.
    pub async fn recent_login_failures(&self, phone: &Phone, window: Duration) -> Result<i64> {
        let conn = self.client().await?;
        let row = conn
            .query_one(
                "SELECT count(*) FROM login_failures WHERE phone = $1 AND at > now() - make_interval(secs => $2)",
                &[&phone.as_str(), &window.as_secs_f64()],
            )
            .await?;
        Ok(row.get(0))
    }

    /// Counts one failed login.
    pub async fn record_login_failure(&self, phone: &Phone) -> Result<()> {
        let conn = self.client().await?;
        conn.execute(
            "INSERT INTO login_failures (phone) VALUES ($1)",
            &[&phone.as_str()],
        )
        .await?;
        Ok(())
    }

    /// Forgets failures after a successful login.
    pub async fn clear_login_failures(&self, phone: &Phone) -> Result<()> {
        let conn = self.client().await?;
        conn.execute(
            "DELETE FROM login_failures WHERE phone = $1",
            &[&phone.as_str()],
        )
        .await?;
        Ok(())
    }
}

impl Store {
    /// Deletes a code that never reached the user, so they may ask again at once.
    pub async fn void_sms_code(&self, phone: &Phone, code_hash: &[u8]) -> Result<()> {
        let conn = self.client().await?;
        conn.execute(
            "DELETE FROM sms_codes WHERE phone = $1 AND code_hash = $2",
            &[&phone.as_str(), &code_hash],
        )
        .await?;
        Ok(())
    }
}
