//! `reconnect-storm`: every session dropped at once and resumed from its last seq.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gonghui_actors::store::Store;
use gonghui_loadtest::seed::Seeded;

use super::publisher::Publisher;
use super::{connect_all, cpu_seconds, member_sessions, record_status, Common, Target};
use crate::report::Outcome;

/// `reconnect-storm`: drop every session at once, publish while they are away, resume all.
pub async fn reconnect_storm(
    c: Common,
    seeded: Arc<Seeded>,
    store: Arc<Store>,
    target: Target,
) -> anyhow::Result<Outcome> {
    let union = format!("union:{}", seeded.union_id);
    let sessions = member_sessions(&seeded, &target, |id| {
        vec![format!("member:{id}"), union.clone()]
    });
    let mut workers = connect_all(&c, &target, sessions, c.rate, "storm").await?;
    let connected = workers.total().connected;
    let mut publisher = Publisher::new(&target, store.clone()).await?;
    publisher.burst(&union, 3, 100.0).await?;
    workers
        .wait_until(Duration::from_secs(30), |s| s.deliveries >= connected * 3)
        .await;
    workers.command("drop").await?;
    workers
        .wait_until(Duration::from_secs(30), |s| s.down >= connected)
        .await;
    publisher.burst(&union, 5, 100.0).await?;
    let head = store
        .log_bounds(union.parse().expect("a topic"))
        .await?
        .head;
    let cpu_before = cpu_seconds(&target.pids);
    let started = Instant::now();
    workers.command(&format!("resume {union} {head}")).await?;
    let all = workers
        .wait_until(Duration::from_secs(120), |s| s.resynced >= connected)
        .await;
    let took = started.elapsed();
    let cpu = cpu_before
        .zip(cpu_seconds(&target.pids))
        .map(|(a, b)| b - a);
    let timeline = workers.timeline();
    let status = workers.stop().await?;
    let mut outcome = Outcome::new(target.name);
    outcome.timeline = timeline;
    outcome.metric("sessions dropped", connected as f64);
    outcome.metric("sessions resynced", status.resynced as f64);
    outcome.metric("time to full resync s", took.as_secs_f64());
    outcome.metric("resumes answered reset", status.resets as f64);
    if let Some(cpu) = cpu {
        outcome.metric(
            "server CPU ms per resume",
            cpu * 1e3 / connected.max(1) as f64,
        );
    }
    record_status(&mut outcome, &status);
    if !all {
        outcome.lost += connected - status.resynced;
    }
    Ok(outcome)
}
