//! The node's cache of who administers what: each admin's grants and each union's path,
//! the two inputs of every permission check. Reads that decide nothing on their own
//! (subscribing, listing) check here without a database round trip; writes check inside
//! their own transaction. Entries are forgotten when a rights change is announced on
//! the access channel (on every node, by the bridge) or made on this node, and a load
//! that raced such a change is not kept. Entries also expire after [`TTL`], so a change
//! made behind the server's back (SQL, `gonghui bootstrap`) is seen within it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::Permission;

/// Whose rights changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessChange {
    /// One user was appointed, changed or removed as an admin.
    User(i64),
    /// The tree itself changed (a union moved): anyone's rights below it may have.
    Tree,
}

impl AccessChange {
    /// The NOTIFY payload: a user id, or `*`.
    pub fn payload(self) -> String {
        match self {
            AccessChange::User(id) => id.to_string(),
            AccessChange::Tree => "*".to_owned(),
        }
    }

    /// Reads a payload back.
    pub fn parse(payload: &str) -> Option<Self> {
        match payload {
            "*" => Some(AccessChange::Tree),
            id => id.parse().ok().map(AccessChange::User),
        }
    }
}

/// Entries kept before the cache starts over (a crude bound; each is small).
const MAX_ENTRIES: usize = 200_000;
/// How long an entry is trusted without any announcement.
pub const TTL: Duration = Duration::from_secs(60);

/// A user's admin grants: (union, permissions).
pub(crate) type Grants = Arc<[(i64, Vec<Permission>)]>;

#[derive(Default)]
struct Inner {
    grants: HashMap<i64, (Instant, Grants)>,
    paths: HashMap<i64, (Instant, Arc<[i64]>)>,
    /// Bumped by every change, so a load that began before one is not stored after it.
    generation: u64,
}

/// Cached grants and paths, shared by the node's handlers and sessions.
#[derive(Clone, Default)]
pub struct RightsCache {
    inner: Arc<Mutex<Inner>>,
}

/// The cached value of an entry still within [`TTL`].
fn fresh<T: ?Sized>((at, value): &(Instant, Arc<T>)) -> Option<Arc<T>> {
    (at.elapsed() < TTL).then(|| Arc::clone(value))
}

impl RightsCache {
    /// What is cached for this check, and the generation to store loads under.
    pub(crate) fn lookup(
        &self,
        user_id: i64,
        union_id: i64,
    ) -> (Option<Grants>, Option<Arc<[i64]>>, u64) {
        let inner = self
            .inner
            .lock()
            .expect("the rights cache is never poisoned");
        (
            inner.grants.get(&user_id).and_then(fresh),
            inner.paths.get(&union_id).and_then(fresh),
            inner.generation,
        )
    }

    /// Keeps loaded values unless a change came in since `generation`.
    pub(crate) fn store(
        &self,
        generation: u64,
        user: Option<(i64, Grants)>,
        path: Option<(i64, Arc<[i64]>)>,
    ) {
        let mut inner = self
            .inner
            .lock()
            .expect("the rights cache is never poisoned");
        if inner.generation != generation {
            return;
        }
        if inner.grants.len() + inner.paths.len() > MAX_ENTRIES {
            inner.grants.clear();
            inner.paths.clear();
        }
        let now = Instant::now();
        if let Some((id, grants)) = user {
            inner.grants.insert(id, (now, grants));
        }
        if let Some((id, path)) = path {
            inner.paths.insert(id, (now, path));
        }
    }

    /// Forgets everything (the node may have missed announcements).
    pub fn clear(&self) {
        let mut inner = self
            .inner
            .lock()
            .expect("the rights cache is never poisoned");
        inner.generation += 1;
        inner.grants.clear();
        inner.paths.clear();
    }

    /// Forgets what a change makes stale.
    pub fn forget(&self, change: AccessChange) {
        let mut inner = self
            .inner
            .lock()
            .expect("the rights cache is never poisoned");
        inner.generation += 1;
        match change {
            AccessChange::User(id) => {
                inner.grants.remove(&id);
            }
            AccessChange::Tree => inner.paths.clear(),
        }
    }
}

/// Whether `grants` give `permission` on a union with `path` (root first): the cache's
/// mirror of `admin_roles` (migrations/V27), the one definition of an admin on the path.
pub(crate) fn allows(
    grants: &[(i64, Vec<Permission>)],
    path: &[i64],
    permission: Permission,
) -> bool {
    grants
        .iter()
        .any(|(union, held)| path.contains(union) && held.contains(&permission))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_reaches_down_the_path_but_not_up_or_aside() {
        let grants = vec![(2, vec![Permission::MembersReview])];
        assert!(allows(&grants, &[1, 2, 5], Permission::MembersReview));
        assert!(!allows(&grants, &[1, 2, 5], Permission::MembersPii));
        assert!(!allows(&grants, &[1], Permission::MembersReview));
        assert!(!allows(&grants, &[1, 3], Permission::MembersReview));
    }

    #[test]
    fn a_load_that_raced_a_change_is_not_kept() {
        let cache = RightsCache::default();
        let (_, _, generation) = cache.lookup(7, 1);
        cache.forget(AccessChange::User(7));
        cache.store(generation, Some((7, Arc::from(vec![]))), None);
        assert!(cache.lookup(7, 1).0.is_none());
        let (_, _, generation) = cache.lookup(7, 1);
        cache.store(
            generation,
            Some((7, Arc::from(vec![]))),
            Some((1, Arc::from(vec![1]))),
        );
        let (grants, path, _) = cache.lookup(7, 1);
        assert!(grants.is_some() && path.is_some());
        cache.forget(AccessChange::Tree);
        assert!(cache.lookup(7, 1).1.is_none());
    }
}
