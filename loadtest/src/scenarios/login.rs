//! `login-flood`: `--sessions` wrong-password logins at once, against members who do
//! have a password (so each is a real argon2id check, 19 MiB while it runs), spread over
//! `--source-ips` so per-address limits do not answer first. Measured: the server's peak
//! resident memory (VmHWM: start the server fresh), how the logins were answered (401
//! checked, 503 queue full, 429 limited), their latency, and that nothing else came back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use futures_util::future::join_all;
use gonghui_actors::domain::Password;
use gonghui_actors::password::hash_password;
use gonghui_actors::store::Store;
use gonghui_loadtest::seed::Seeded;
use serde_json::json;

use super::{proc_kib, Common, Target};
use crate::histogram::Histogram;
use crate::report::Outcome;

/// Runs the flood against the nodes.
pub async fn login_flood(
    c: Common,
    seeded: Arc<Seeded>,
    store: Arc<Store>,
    target: Target,
) -> anyhow::Result<Outcome> {
    let hash = hash_password(&Password::parse("password", "the-right-password")?).await?;
    let phones = gonghui_loadtest::seed::give_password(&store, &seeded.run, &hash).await?;
    let sources = c.source_ips()?;
    let clients: Vec<reqwest::Client> = if sources.is_empty() {
        vec![reqwest::Client::new()]
    } else {
        sources
            .iter()
            .map(|ip| reqwest::Client::builder().local_address(*ip).build())
            .collect::<Result<_, _>>()?
    };
    let before = proc_kib(&target.pids, "VmRSS:");
    let started = Instant::now();
    let tries = phones.iter().enumerate().map(|(i, phone)| {
        let client = clients[i % clients.len()].clone();
        let node = c.nodes[i % c.nodes.len()].trim_end_matches('/').to_owned();
        let body = json!({"phone": phone, "password": "a-wrong-password", "client": "app"});
        async move {
            let sent = Instant::now();
            let status = client
                .post(format!("{node}/api/v1/auth/login"))
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16());
            (status, sent.elapsed())
        }
    });
    let answers = join_all(tries).await;
    let took = started.elapsed();
    let peak = proc_kib(&target.pids, "VmHWM:");
    let mut latency = Histogram::default();
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for (status, elapsed) in &answers {
        latency.record(*elapsed);
        let key = status
            .as_ref()
            .map_or_else(|e| format!("error: {e}"), |s| s.to_string());
        *by_status.entry(key).or_default() += 1;
    }
    let mut outcome = Outcome::new(target.name);
    outcome.metric("logins", answers.len() as f64);
    for (status, label) in [
        ("401", "checked (401)"),
        ("503", "queue full (503)"),
        ("429", "limited (429)"),
    ] {
        outcome.metric(label, by_status.remove(status).unwrap_or(0) as f64);
    }
    outcome.metric("all answered in s", took.as_secs_f64());
    outcome.metric("login p50 ms", latency.quantile_ms(0.5));
    outcome.metric("login p99 ms", latency.quantile_ms(0.99));
    if let (Some(before), Some(peak)) = (before, peak) {
        outcome.metric("server RSS before MiB", before as f64 / 1024.0);
        outcome.metric("server peak RSS MiB", peak as f64 / 1024.0);
    }
    // Any other answer (a 200 for a wrong password, a 500, a dropped connection) is a failure.
    outcome.failures = by_status;
    outcome.lost = outcome.failures.values().sum();
    Ok(outcome)
}
