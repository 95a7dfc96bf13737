//! The log writer: moves committed events from the outbox into the log. Every node runs
//! one; a batch is one transaction (`sequence_outbox`, migrations/V29) that gives each
//! event its topic's next seq and notifies every node's [`super::bridge`], and an
//! advisory lock makes the nodes' batches take turns. A node wakes its own writer when it
//! commits events, so the writing node moves them at once; every writer also looks every
//! [`SWEEP`], so events a node committed just before it died are moved by the others.
//! It has a connection of its own, so events keep flowing while the pool is exhausted.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_postgres::NoTls;

/// Events moved per transaction at most; a full batch is followed at once by the next.
pub const BATCH: i32 = 500;
/// How often a writer looks for events no node woke it for.
pub const SWEEP: Duration = Duration::from_millis(200);
/// How long the writer waits for Postgres to accept a new connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the log writer until the process ends, woken by `written`.
pub async fn run(database_url: String, written: Arc<Notify>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        if let Err(e) = write_on_one_connection(&database_url, &written).await {
            tracing::warn!(error = %e, "the log writer lost its connection; retrying in {backoff:?}");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

async fn write_on_one_connection(database_url: &str, written: &Notify) -> anyhow::Result<()> {
    let (client, connection) = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_postgres::connect(database_url, NoTls),
    )
    .await
    .map_err(|_| anyhow::anyhow!("Postgres did not answer within {CONNECT_TIMEOUT:?}"))??;
    let driver = tokio::spawn(connection);
    let batch = client.prepare("SELECT sequence_outbox($1)").await?;
    let result = async {
        loop {
            while client.query_one(&batch, &[&BATCH]).await?.get::<_, i32>(0) == BATCH {}
            let _ = tokio::time::timeout(SWEEP, written.notified()).await;
        }
    }
    .await;
    driver.abort();
    result
}
