//! The node's cache of live tokens: a call or a hello finds its caller here instead of
//! reading `auth_tokens` (that read was one statement in ten on the approval path).
//! Revocations reach it as they reach sockets — made on this node, they are forgotten
//! before the call answers; made elsewhere, the bridge brings them — and a lost bridge
//! connection empties it, as it does the rights cache. A lookup that raced a revocation
//! is not kept, and entries expire after [`TTL`], so a token revoked behind the
//! server's back (SQL) stops working within it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::tokens::Principal;

/// Entries kept before the cache starts over (a crude bound: ~150 bytes each).
const MAX_ENTRIES: usize = 100_000;
/// How long an entry is trusted without any announcement.
pub const TTL: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Inner {
    by_hash: HashMap<Vec<u8>, (Instant, Principal)>,
    /// Bumped by every revocation, so a lookup that began before one is not kept.
    generation: u64,
}

/// Principals by token hash, shared by the node's handlers and sessions.
#[derive(Default)]
pub struct TokenCache {
    inner: Mutex<Inner>,
}

impl TokenCache {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .expect("the token cache is never poisoned")
    }

    /// The cached principal of a token still valid, or the generation to keep a lookup under.
    pub(crate) fn get(&self, hash: &[u8]) -> Result<Principal, u64> {
        let inner = self.inner();
        match inner.by_hash.get(hash) {
            Some((at, principal)) if at.elapsed() < TTL && principal.expires_at > Utc::now() => {
                Ok(*principal)
            }
            _ => Err(inner.generation),
        }
    }

    /// Keeps a looked-up principal unless a revocation came in since `generation`.
    pub(crate) fn put(&self, generation: u64, hash: Vec<u8>, principal: Principal) {
        let mut inner = self.inner();
        if inner.generation != generation {
            return;
        }
        if inner.by_hash.len() >= MAX_ENTRIES {
            inner.by_hash.clear();
        }
        inner.by_hash.insert(hash, (Instant::now(), principal));
    }

    /// Forgets revoked tokens.
    pub fn forget(&self, token_ids: &[i64]) {
        let mut inner = self.inner();
        inner.generation += 1;
        inner
            .by_hash
            .retain(|_, (_, principal)| !token_ids.contains(&principal.token_id));
    }

    /// Forgets everything (the node may have missed revocations).
    pub fn clear(&self) {
        let mut inner = self.inner();
        inner.generation += 1;
        inner.by_hash.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gonghui_protocol::ClientKind;

    fn principal(token_id: i64) -> Principal {
        Principal {
            user_id: 7,
            token_id,
            client: ClientKind::App,
            expires_at: Utc::now() + chrono::Duration::hours(1),
        }
    }

    #[test]
    fn a_revoked_token_is_forgotten_and_a_lookup_that_raced_it_is_not_kept() {
        let cache = TokenCache::default();
        let generation = cache.get(b"a").unwrap_err();
        cache.put(generation, b"a".to_vec(), principal(1));
        assert_eq!(cache.get(b"a").map(|p| p.token_id), Ok(1));

        let raced = cache.get(b"b").unwrap_err();
        cache.forget(&[1]);
        assert!(cache.get(b"a").is_err(), "revoked, forgotten");
        cache.put(raced, b"b".to_vec(), principal(2));
        assert!(
            cache.get(b"b").is_err(),
            "read before the revocation: not kept"
        );
    }

    #[test]
    fn an_expired_token_is_not_answered_from_the_cache() {
        let cache = TokenCache::default();
        let mut expired = principal(3);
        expired.expires_at = Utc::now() - chrono::Duration::seconds(1);
        cache.put(0, b"c".to_vec(), expired);
        assert!(cache.get(b"c").is_err());
    }
}
