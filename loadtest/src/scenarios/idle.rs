//! `idle`: sessions that connect, subscribe and wait — the connect rate and what a held
//! session costs the server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gonghui_actors::store::Store;
use gonghui_loadtest::seed::Seeded;

use super::{connect_all, member_sessions, record_status, rss_kib, Common, Target};
use crate::report::Outcome;

/// `idle`: open every session, hold them, measure connect rate and server memory.
pub async fn idle(
    c: Common,
    seeded: Arc<Seeded>,
    _: Arc<Store>,
    target: Target,
) -> anyhow::Result<Outcome> {
    let union = seeded.union_id;
    let sessions = member_sessions(&seeded, &target, |id| {
        vec![format!("member:{id}"), format!("union:{union}")]
    });
    let before = rss_kib(&target.pids);
    let started = Instant::now();
    let workers = connect_all(&c, &target, sessions, c.rate, "idle").await?;
    let took = started.elapsed();
    let connected = workers.total().connected;
    workers.hold(Duration::from_secs_f64(c.duration)).await;
    let after = rss_kib(&target.pids);
    let timeline = workers.timeline();
    let status = workers.stop().await?;
    let mut outcome = Outcome::new(target.name);
    outcome.timeline = timeline;
    outcome.metric("sessions connected", connected as f64);
    outcome.metric("sessions failed", status.failed_total() as f64);
    outcome.metric("connects/s", connected as f64 / took.as_secs_f64());
    let connect = status.connect.clone().unwrap_or_default();
    outcome.metric("connect+hello+subscribe p50 ms", connect.quantile_ms(0.5));
    outcome.metric("connect+hello+subscribe p99 ms", connect.quantile_ms(0.99));
    if let (Some(before), Some(after)) = (before, after) {
        outcome.metric("server RSS MiB", after as f64 / 1024.0);
        outcome.metric(
            "server RSS KiB per session",
            after.saturating_sub(before) as f64 / connected.max(1) as f64,
        );
    }
    record_status(&mut outcome, &status);
    Ok(outcome)
}
