//! `fanout`: one topic, every session on it — deliveries per second and their latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gonghui_actors::store::Store;
use gonghui_loadtest::seed::Seeded;

use super::publisher::Publisher;
use super::{connect_all, cpu_seconds, member_sessions, record_status, Common, Target};
use crate::report::Outcome;

/// `fanout`: every session on one union topic; events at `--rate`; every one must arrive once.
pub async fn fanout(
    c: Common,
    seeded: Arc<Seeded>,
    store: Arc<Store>,
    target: Target,
) -> anyhow::Result<Outcome> {
    let topic = format!("union:{}", seeded.union_id);
    let sessions = member_sessions(&seeded, &target, |_| vec![topic.clone()]);
    let workers = connect_all(&c, &target, sessions, c.connect_rate, "fanout").await?;
    let receivers = workers.total().connected;
    let events = (c.rate * c.duration).round().max(1.0) as u64;
    let expected = receivers * events;
    let mut publisher = Publisher::new(&target, store).await?;
    let cpu_before = cpu_seconds(&target.pids);
    let started = Instant::now();
    publisher.burst(&topic, events, c.rate).await?;
    let published_in = started.elapsed();
    workers
        .wait_until(Duration::from_secs(30), |s| s.deliveries >= expected)
        .await;
    let delivered_in = started.elapsed();
    let cpu = cpu_before
        .zip(cpu_seconds(&target.pids))
        .map(|(a, b)| b - a);
    let timeline = workers.timeline();
    let status = workers.stop().await?;
    let mut outcome = Outcome::new(target.name);
    outcome.timeline = timeline;
    outcome.metric("subscribers", receivers as f64);
    outcome.metric("events published", events as f64);
    outcome.metric(
        "publish rate /s",
        events as f64 / published_in.as_secs_f64(),
    );
    outcome.metric("deliveries", status.deliveries as f64);
    outcome.metric(
        "deliveries/s",
        status.deliveries as f64 / delivered_in.as_secs_f64(),
    );
    if let Some(cpu) = cpu.filter(|_| status.deliveries > 0) {
        outcome.metric(
            "server CPU µs per delivery",
            cpu * 1e6 / status.deliveries as f64,
        );
    }
    let latency = &status.latency;
    for (label, q) in [
        ("latency p50 ms", 0.5),
        ("latency p95 ms", 0.95),
        ("latency p99 ms", 0.99),
    ] {
        outcome.metric(label, latency.quantile_ms(q));
    }
    outcome.metric("latency max ms", latency.max_ms());
    record_status(&mut outcome, &status);
    // Every event must reach every subscriber once: a shortfall of distinct deliveries
    // is a loss, whether a seq was skipped (already counted as a gap) or never came.
    let shortfall = expected.saturating_sub(status.deliveries - status.dups);
    outcome.lost = outcome.lost.max(shortfall);
    Ok(outcome)
}
