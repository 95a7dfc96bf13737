//! A run second by second — sessions, deliveries, latency, the server's memory — taken
//! from the workers' status lines, so [`crate::plot`] can draw how a run went and not
//! only how it ended.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::fleet::Status;

/// One second of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the workers started.
    pub t: f64,
    /// Sessions connected so far.
    pub connected: u64,
    /// Events read per second over the second before.
    pub deliveries_per_s: f64,
    /// The latency of those events (commit → receipt), when there were any.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// The server's RSS, summed over its processes, when their ids were given.
    pub rss_mib: Option<f64>,
}

/// How often a sample is taken.
const EVERY: Duration = Duration::from_secs(1);

/// Samples `total` (the workers' summed status) every second into the returned list
/// until the task is aborted.
pub fn record(
    total: impl Fn() -> Status + Send + 'static,
    pids: Vec<u32>,
) -> (Arc<Mutex<Vec<Sample>>>, JoinHandle<()>) {
    let samples = Arc::new(Mutex::new(Vec::new()));
    let task = {
        let samples = samples.clone();
        tokio::spawn(async move {
            let rss_mib = || crate::scenarios::rss_kib(&pids).map(|kib| kib as f64 / 1024.0);
            let start = Instant::now();
            let (mut before, mut at) = (total(), start);
            samples.lock().unwrap().push(Sample {
                t: 0.0,
                connected: before.connected,
                deliveries_per_s: 0.0,
                p50_ms: None,
                p99_ms: None,
                rss_mib: rss_mib(),
            });
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + EVERY, EVERY);
            loop {
                tick.tick().await;
                let (now, taken) = (total(), Instant::now());
                let window = now.latency.since(&before.latency);
                let seconds = taken.duration_since(at).as_secs_f64();
                let seen = window.count() > 0;
                samples.lock().unwrap().push(Sample {
                    t: taken.duration_since(start).as_secs_f64(),
                    connected: now.connected,
                    deliveries_per_s: now.deliveries.saturating_sub(before.deliveries) as f64
                        / seconds,
                    p50_ms: seen.then(|| window.quantile_ms(0.5)),
                    p99_ms: seen.then(|| window.quantile_ms(0.99)),
                    rss_mib: rss_mib(),
                });
                (before, at) = (now, taken);
            }
        })
    };
    (samples, task)
}
