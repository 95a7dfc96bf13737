//! The log writer: moves committed events from the outbox into the log. Every node runs
//! one; a batch is one transaction (`sequence_outbox`, migrations/V29) that gives each
//! event its topic's next seq and notifies every node's [`super::bridge`], and an
//! advisory lock makes the nodes' batches take turns. A node wakes its own writer when it
//! commits events, so the writing node moves them at once; every writer also looks every
//! [`SWEEP`], so events a node committed just before it died are moved by the others.

use std::time::Duration;

use crate::store::Store;

/// Events moved per transaction at most; a full batch is followed at once by the next.
pub const BATCH: i32 = 500;
/// How often a writer looks for events no node woke it for.
pub const SWEEP: Duration = Duration::from_millis(200);

/// Runs the log writer until the process ends.
pub async fn run(store: Store) {
    let written = store.outbox_written();
    let mut backoff = Duration::from_millis(50);
    loop {
        let _ = tokio::time::timeout(SWEEP, written.notified()).await;
        loop {
            match store.sequence_outbox(Some(BATCH)).await {
                Ok(moved) if moved == BATCH => {}
                Ok(_) => {
                    backoff = Duration::from_millis(50);
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the log writer could not move events; retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }
}
