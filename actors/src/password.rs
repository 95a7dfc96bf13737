//! Password hashing and checking, gated. An argon2id check costs 19 MiB and tens of
//! milliseconds, so a node runs only a few at once, queues a bounded number more and
//! answers the rest 503 `Retry-After` at once; a flood of logins costs a fixed amount
//! of memory, not 19 MiB each. A phone with no password hash (unknown, or SMS-only)
//! waits in the same queue and then as long as a real check has been taking, without
//! hashing, so its answer comes as late as a wrong password's.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::domain::Password;
use crate::{Error, Result};

/// How many password hashes a node computes at once, how many wait, and for how long.
#[derive(Debug, Clone)]
pub struct GateSettings {
    /// Checks running at once (each holds about 19 MiB while it runs).
    pub at_once: usize,
    /// Checks waiting for a turn; beyond this a login is answered 503 at once.
    pub queue: usize,
    /// The longest a check waits for its turn before a 503.
    pub max_wait: Duration,
}

impl Default for GateSettings {
    fn default() -> Self {
        GateSettings {
            at_once: std::thread::available_parallelism().map_or(2, usize::from),
            queue: 64,
            max_wait: Duration::from_secs(5),
        }
    }
}

/// The node's password gate.
#[derive(Debug)]
pub struct PasswordGate {
    permits: Semaphore,
    waiting: AtomicUsize,
    settings: GateSettings,
    /// A moving average of real checks, in microseconds; 0 until the first.
    typical_micros: AtomicU64,
}

impl PasswordGate {
    /// A gate with these limits.
    pub fn new(settings: GateSettings) -> Self {
        PasswordGate {
            permits: Semaphore::new(settings.at_once.max(1)),
            waiting: AtomicUsize::new(0),
            settings,
            typical_micros: AtomicU64::new(0),
        }
    }

    async fn turn(&self) -> Result<SemaphorePermit<'_>> {
        if let Ok(permit) = self.permits.try_acquire() {
            return Ok(permit);
        }
        let busy = || Error::Busy("too many logins at once on this server; try again".into());
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.settings.queue {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(busy());
        }
        let permit = tokio::time::timeout(self.settings.max_wait, self.permits.acquire()).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        match permit {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(busy()),
        }
    }

    fn observe(&self, took: Duration) {
        let sample = took.as_micros().min(u128::from(u32::MAX)) as u64;
        let old = self.typical_micros.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            (old * 7 + sample) / 8
        };
        self.typical_micros.store(new, Ordering::Relaxed);
    }

    /// Whether `password` matches `stored`; `None` (no password) is always false, after
    /// the time a real check takes.
    ///
    /// # Errors
    /// `Busy` when the node has too many checks waiting.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool> {
        let _turn = self.turn().await?;
        let typical = Duration::from_micros(self.typical_micros.load(Ordering::Relaxed));
        if stored.is_none() && !typical.is_zero() {
            tokio::time::sleep(typical).await;
            return Ok(false);
        }
        let started = Instant::now();
        let right = tokio::task::spawn_blocking(move || {
            let argon = Argon2::default();
            match stored.as_deref().map(PasswordHash::new) {
                Some(Ok(hash)) => argon.verify_password(password.as_bytes(), &hash).is_ok(),
                _ => {
                    let salt = SaltString::generate(&mut OsRng);
                    let _ = argon.hash_password(password.as_bytes(), &salt);
                    false
                }
            }
        })
        .await
        .map_err(|_| Error::Unavailable("password check was interrupted".into()))?;
        self.observe(started.elapsed());
        Ok(right)
    }

    /// Hashes a new password, taking a turn like a check.
    ///
    /// # Errors
    /// `Busy` when the node has too many checks waiting.
    pub async fn hash(&self, password: &Password) -> Result<String> {
        let _turn = self.turn().await?;
        hash_password(password).await
    }
}

/// Hashes a password with argon2id on the blocking pool, ungated: for the command line.
///
/// # Errors
/// `Unavailable` if hashing fails.
pub async fn hash_password(password: &Password) -> Result<String> {
    let plain = password.expose().to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(plain.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|_| Error::Unavailable("password hashing was interrupted".into()))?
    .map_err(|e| Error::Unavailable(format!("password hashing failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_is_busy_at_once_and_a_known_hash_still_verifies() {
        let gate = std::sync::Arc::new(PasswordGate::new(GateSettings {
            at_once: 1,
            queue: 1,
            max_wait: Duration::from_secs(30),
        }));
        let password = Password::parse("password", "right-password").unwrap();
        let hash = gate.hash(&password).await.unwrap();
        assert!(gate
            .verify("right-password".into(), Some(hash.clone()))
            .await
            .unwrap());
        let held = gate.turn().await.unwrap();
        let queued = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.verify("x".into(), None).await })
        };
        while gate.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(
            gate.verify("y".into(), None).await,
            Err(Error::Busy(_))
        ));
        drop(held);
        assert!(!queued.await.unwrap().unwrap());
    }
}
