//! `bridge`: how many events a second the event path's shared part carries — Postgres's
//! NOTIFY, as the log writer sends it (one transaction per batch, one `pg_notify` per
//! event, a payload of the usual size) to every node's bridge — with no node in the way,
//! for 1, 4, 16 … listening nodes. docs/SCALING.md builds on it: it is where the event
//! path caps for a cluster of many nodes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{stream, StreamExt};
use serde_json::json;
use tokio_postgres::{AsyncMessage, NoTls};

/// The bench's options.
#[derive(clap::Args, Clone)]
pub struct BridgeArgs {
    /// Listening connections (nodes' bridges) to measure with, comma-separated
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    pub listeners: Vec<usize>,
    /// Connections sending batches at once (log writers)
    #[arg(long, default_value_t = 2)]
    pub writers: usize,
    /// Events per transaction (the log writer's batch)
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Bytes of event data per notification (a typical event is 300–600)
    #[arg(long, default_value_t = 400)]
    pub payload: usize,
    /// Seconds per measurement
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// The Postgres to measure (a database of its own is not needed: NOTIFY writes nothing)
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub database_url: String,
    /// Write the results here as JSON
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

const CHANNEL: &str = "gonghui_bench_events";

/// Runs one measurement per listener count and prints and writes them.
pub async fn bridge(args: &BridgeArgs) -> anyhow::Result<bool> {
    let mut runs = Vec::new();
    for &listeners in &args.listeners {
        let (sent, received, secs) = measure(args, listeners).await?;
        let sent_per_s = sent as f64 / secs;
        let per_listener = received as f64 / secs / listeners.max(1) as f64;
        println!(
            "{listeners:>4} listeners: {sent_per_s:>9.0} events/s sent, {per_listener:>9.0} received per listener/s"
        );
        runs.push(json!({
            "listeners": listeners,
            "events sent/s": sent_per_s,
            "events received per listener/s": per_listener,
        }));
    }
    let report = json!({
        "scenario": "bridge",
        "writers": args.writers,
        "batch": args.batch,
        "payload_bytes": args.payload,
        "duration_s": args.duration,
        "runs": runs,
    });
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")?;
    }
    Ok(true)
}

/// Sends for `duration` while `listeners` connections LISTEN; what was sent and
/// received in all, and the seconds it took until every listener had read everything.
async fn measure(args: &BridgeArgs, listeners: usize) -> anyhow::Result<(u64, u64, f64)> {
    let received = Arc::new(AtomicU64::new(0));
    let mut held = Vec::new();
    for _ in 0..listeners {
        let (client, mut connection) = tokio_postgres::connect(&args.database_url, NoTls).await?;
        let count = received.clone();
        let driver = tokio::spawn(async move {
            let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(message)) = messages.next().await {
                if let AsyncMessage::Notification(_) = message {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        held.push((client, driver));
    }
    let data = "x".repeat(args.payload);
    let sent = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(args.duration);
    let mut writers = Vec::new();
    for w in 0..args.writers {
        let (client, connection) = tokio_postgres::connect(&args.database_url, NoTls).await?;
        tokio::spawn(connection);
        let (sent, data, batch) = (sent.clone(), data.clone(), args.batch as i32);
        writers.push(tokio::spawn(async move {
            let statement = client
                .prepare(&format!(
                    "SELECT count(pg_notify('{CHANNEL}', json_build_object('topic', 'union:' || $1::int, \
                     'seq', n, 'kind', 'application.created', 'data', $2::text)::text)) \
                     FROM generate_series(1, $3::int) n"
                ))
                .await?;
            while Instant::now() < until {
                client.query_one(&statement, &[&(w as i32), &data, &batch]).await?;
                sent.fetch_add(batch as u64, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for w in writers {
        w.await??;
    }
    let sent = sent.load(Ordering::Relaxed);
    let want = sent * listeners as u64;
    let drain_limit = Instant::now() + Duration::from_secs(60);
    while received.load(Ordering::Relaxed) < want && Instant::now() < drain_limit {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    for (client, driver) in held {
        drop(client);
        driver.abort();
    }
    Ok((sent, received.load(Ordering::Relaxed), secs))
}
