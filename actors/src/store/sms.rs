//! SMS codes and login failures: the rate limits of login, shared by every node through
//! the database. Each limit counts by phone *and* by client address, so a stranger's
//! failures never lock a person out, and waits grow instead of locking hard.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Store;
use crate::domain::Phone;
use crate::{Error, Result};

/// Wrong tries after which a code is void.
pub const MAX_CODE_TRIES: i32 = 5;

/// How often codes may be sent.
#[derive(Debug, Clone)]
pub struct SendLimits {
    /// How long a code works.
    pub ttl: Duration,
    /// How soon another code may go to the same phone.
    pub resend: Duration,
    /// Codes one client address may have sent per hour, to any phones.
    pub per_address_hour: i64,
    /// Codes the whole cluster may send per hour (SMS costs money).
    pub per_hour: i64,
}

/// When password attempts must wait: each count of failures within `window` past its
/// free allowance doubles the wait after the last failure, from 1 s up to `max_wait`.
#[derive(Debug, Clone)]
pub struct FailureLimits {
    /// The window over which failures count.
    pub window: Duration,
    /// Free failures for one phone from one address.
    pub per_phone_and_address: i64,
    /// Free failures for one phone from every address together (a spread-out guesser).
    pub per_phone: i64,
    /// Free failures from one address to every phone together (a sprayer).
    pub per_address: i64,
    /// The longest wait.
    pub max_wait: Duration,
}

/// The wait after `failures` failures, the last at `last`, with `free` allowed freely.
fn wait_after(
    failures: i64,
    free: i64,
    last: Option<DateTime<Utc>>,
    limits: &FailureLimits,
    now: DateTime<Utc>,
) -> i64 {
    let (Some(last), true) = (last, failures >= free) else {
        return 0;
    };
    let doubling = u32::try_from(failures - free).unwrap_or(u32::MAX).min(30);
    let wait = (1i64 << doubling).min(limits.max_wait.as_secs() as i64);
    let left = (last + chrono::Duration::seconds(wait) - now).num_milliseconds();
    if left <= 0 {
        0
    } else {
        (left + 999) / 1000
    }
}

impl Store {
    /// Stores a new code for `phone` asked from `addr`, within the send limits.
    ///
    /// # Errors
    /// `RateLimited` (with the seconds to wait) within the resend interval, or past the
    /// address's or the cluster's hourly allowance.
    #[tracing::instrument(skip_all)]
    pub async fn record_sms_code(
        &self,
        phone: &Phone,
        addr: IpAddr,
        purpose: &str,
        code_hash: &[u8],
        limits: &SendLimits,
    ) -> Result<()> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        // One send at a time cluster-wide: sends are rare, and the counts below then hold.
        tx.execute("SELECT pg_advisory_xact_lock(hashtext('sms-send'))", &[])
            .await?;
        let row = tx
            .query_one(
                "SELECT
                   (SELECT extract(epoch FROM max(created_at) + make_interval(secs => $3) - now())::bigint
                      FROM sms_codes WHERE phone = $1 AND created_at > now() - make_interval(secs => $3)),
                   (SELECT count(*) FROM sms_codes WHERE addr = $2 AND created_at > now() - interval '1 hour'),
                   (SELECT extract(epoch FROM min(created_at) + interval '1 hour' - now())::bigint
                      FROM sms_codes WHERE addr = $2 AND created_at > now() - interval '1 hour'),
                   (SELECT count(*) FROM sms_codes WHERE created_at > now() - interval '1 hour')",
                &[&phone.as_str(), &addr, &limits.resend.as_secs_f64()],
            )
            .await?;
        let resend_in: Option<i64> = row.get(0);
        let (from_addr, addr_frees_in, everyone): (i64, Option<i64>, i64) =
            (row.get(1), row.get(2), row.get(3));
        if let Some(secs) = resend_in {
            return Err(Error::rate_limited(
                format!(
                    "a code was sent less than {} s ago",
                    limits.resend.as_secs()
                ),
                secs.max(1) as u64,
            ));
        }
        if from_addr >= limits.per_address_hour {
            return Err(Error::rate_limited(
                "too many codes were asked for from this address; try again later",
                addr_frees_in.unwrap_or(3600).max(1) as u64,
            ));
        }
        if everyone >= limits.per_hour {
            tracing::warn!(
                sent = everyone,
                "the cluster's hourly SMS allowance is used up"
            );
            return Err(Error::rate_limited(
                "codes cannot be sent right now; try again later",
                60,
            ));
        }
        tx.execute(
            "INSERT INTO sms_codes (phone, addr, purpose, code_hash, expires_at) VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
            &[&phone.as_str(), &addr, &purpose, &code_hash, &limits.ttl.as_secs_f64()],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Uses up the phone's latest live code if `code_hash` matches it; a mismatch counts
    /// a wrong try against it. Returns whether the code was right.
    #[tracing::instrument(skip_all)]
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

    /// Deletes a code that never reached the user, so they may ask again at once.
    #[tracing::instrument(skip_all)]
    pub async fn void_sms_code(&self, phone: &Phone, code_hash: &[u8]) -> Result<()> {
        let conn = self.client().await?;
        conn.execute(
            "DELETE FROM sms_codes WHERE phone = $1 AND code_hash = $2",
            &[&phone.as_str(), &code_hash],
        )
        .await?;
        Ok(())
    }

    /// Counts a password attempt for `phone` from `addr` as a failure *before* it is
    /// checked, unless a limit says wait. The count and the write are one step under the
    /// phone's and the address's locks, so concurrent attempts on any number of nodes
    /// can never check more than the limits allow; a right password clears the count
    /// with [`Store::clear_login_failures`].
    ///
    /// # Errors
    /// `RateLimited` with the seconds until an attempt may be made.
    #[tracing::instrument(skip_all)]
    pub async fn reserve_password_attempt(
        &self,
        phone: &Phone,
        addr: IpAddr,
        limits: &FailureLimits,
    ) -> Result<()> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        // Always the phone's lock first, then the address's: no two attempts wait on
        // each other in a cycle.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('login:' || $1)), pg_advisory_xact_lock(hashtext('login-addr:' || host($2::inet)))",
            &[&phone.as_str(), &addr],
        )
        .await?;
        let row = tx
            .query_one(
                "SELECT count(*) FILTER (WHERE phone = $1 AND addr = $2), max(at) FILTER (WHERE phone = $1 AND addr = $2),
                        count(*) FILTER (WHERE phone = $1), max(at) FILTER (WHERE phone = $1),
                        count(*) FILTER (WHERE addr = $2), max(at) FILTER (WHERE addr = $2),
                        now()
                 FROM login_failures
                 WHERE (phone = $1 OR addr = $2) AND at > now() - make_interval(secs => $3)",
                &[&phone.as_str(), &addr, &limits.window.as_secs_f64()],
            )
            .await?;
        let now: DateTime<Utc> = row.get(6);
        let wait = [
            (0, limits.per_phone_and_address),
            (2, limits.per_phone),
            (4, limits.per_address),
        ]
        .into_iter()
        .map(|(i, free)| wait_after(row.get(i), free, row.get(i + 1), limits, now))
        .max()
        .unwrap_or(0);
        if wait > 0 {
            return Err(Error::rate_limited(
                format!("too many failed logins; try the password again in {wait} s, or log in with an SMS code"),
                wait as u64,
            ));
        }
        tx.execute(
            "INSERT INTO login_failures (phone, addr) VALUES ($1, $2)",
            &[&phone.as_str(), &addr],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets the failures of `phone` from `addr` after a right password.
    #[tracing::instrument(skip_all)]
    pub async fn clear_login_failures(&self, phone: &Phone, addr: IpAddr) -> Result<()> {
        let conn = self.client().await?;
        conn.execute(
            "DELETE FROM login_failures WHERE phone = $1 AND addr = $2",
            &[&phone.as_str(), &addr],
        )
        .await?;
        Ok(())
    }

    /// Deletes login failures, verification attempts and used or expired codes older
    /// than a day.
    #[tracing::instrument(skip_all)]
    pub async fn prune_login_records(&self) -> Result<u64> {
        let conn = self.client().await?;
        let failures = conn
            .execute(
                "DELETE FROM login_failures WHERE at < now() - interval '1 day'",
                &[],
            )
            .await?;
        let codes = conn
            .execute(
                "DELETE FROM sms_codes WHERE created_at < now() - interval '1 day'",
                &[],
            )
            .await?;
        let attempts = conn
            .execute(
                "DELETE FROM verification_attempts WHERE at < now() - interval '1 day'",
                &[],
            )
            .await?;
        Ok(failures + codes + attempts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_past_the_allowance_up_to_the_cap() {
        let limits = FailureLimits {
            window: Duration::from_secs(900),
            per_phone_and_address: 5,
            per_phone: 20,
            per_address: 50,
            max_wait: Duration::from_secs(900),
        };
        let now = Utc::now();
        let wait = |n| wait_after(n, 5, Some(now), &limits, now);
        assert_eq!(wait(4), 0);
        assert_eq!([wait(5), wait(6), wait(7)], [1, 2, 4]);
        assert_eq!(wait(40), 900);
        let long_ago = now - chrono::Duration::seconds(10);
        assert_eq!(wait_after(6, 5, Some(long_ago), &limits, now), 0);
    }
}
