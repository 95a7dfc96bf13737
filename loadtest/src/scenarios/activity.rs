//! `activity`: a union-wide vote, the load peak of issue 6. Every seeded member watches
//! the vote's topic (spread over the nodes), then all of them vote at `--rate` per second
//! over HTTP. Measured: votes/s, the vote call's latency, how many results events each
//! watcher got (coalesced: far fewer than the votes), and how long after the last vote
//! every screen showed the final tally — which must equal the database's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use gonghui_protocol::events::kind;
use gonghui_protocol::ServerMsg;
use serde_json::{json, Value};

use super::{finish, plan, raise_file_limit, seed, Common};
use crate::histogram::Histogram;
use crate::report::Outcome;
use crate::wire::{self, open, Incoming};

/// The vote's options.
const OPTIONS: [&str; 3] = ["a", "b", "c"];

/// What one watcher saw last.
#[derive(Default)]
struct Screen {
    updates: AtomicU64,
    last: Mutex<Option<(Value, Instant)>>,
}

/// Runs the scenario; `Ok(false)` when a tally was wrong or a call failed.
pub async fn activity(c: &Common) -> anyhow::Result<bool> {
    raise_file_limit();
    let (store, seeded) = seed(c, plan(c.sessions, 0, 1)).await?;
    let codec = c.codec();
    let ws = c.targets(false).remove(0).ws;
    let http_nodes = c.http_nodes();
    let http = reqwest::Client::new();
    let admin = seeded.token(seeded.admins[0]);
    let form = json!({
        "kind": "vote",
        "title": "负载测试投票",
        "starts_at": (Utc::now() - chrono::Duration::minutes(1)).to_rfc3339(),
        "ends_at": (Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
        "config": {"options": OPTIONS.iter().map(|o| json!({"id": o, "text": o})).collect::<Vec<_>>(), "max_choices": 1},
    });
    let created: Value = http
        .post(format!(
            "{}/api/v1/unions/{}/activities",
            http_nodes[0], seeded.union_id
        ))
        .bearer_auth(&admin)
        .json(&form)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = created["id"].as_i64().unwrap_or_default();
    http.post(format!("{}/api/v1/activities/{id}/publish", http_nodes[0]))
        .bearer_auth(&admin)
        .send()
        .await?
        .error_for_status()?;

    let mut screens = Vec::new();
    for (i, member) in seeded.members.iter().enumerate() {
        let mut socket = open(
            &ws[i % ws.len()],
            codec,
            seeded.token(*member),
            &[format!("activity:{id}")],
        )
        .await?;
        let screen = Arc::new(Screen::default());
        screens.push(screen.clone());
        tokio::spawn(async move {
            while let Ok(Some(Incoming::Msg(msg))) = wire::next(&mut socket, codec).await {
                let ServerMsg::Event(e) = msg else { continue };
                if e.kind == kind::ACTIVITY_RESULTS {
                    screen.updates.fetch_add(1, Ordering::Relaxed);
                    *screen.last.lock().unwrap() =
                        Some((e.data["results"].clone(), Instant::now()));
                }
            }
        });
    }
    eprintln!("{} watchers on activity:{id}", screens.len());

    let latency = Arc::new(Mutex::new(Histogram::default()));
    let failures = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let gap = Duration::from_secs_f64(1.0 / c.rate.max(0.001));
    let mut calls = Vec::new();
    for (i, member) in seeded.members.iter().enumerate() {
        tokio::time::sleep_until(tokio::time::Instant::from_std(started) + gap * i as u32).await;
        let request = http
            .post(format!(
                "{}/api/v1/activities/{id}/answers",
                http_nodes[i % http_nodes.len()]
            ))
            .bearer_auth(seeded.token(*member))
            .json(&json!({"choices": [OPTIONS[i % OPTIONS.len()]]}));
        let (latency, failures) = (latency.clone(), failures.clone());
        calls.push(tokio::spawn(async move {
            let sent = Instant::now();
            match request.send().await.map(|r| r.status().as_u16()) {
                Ok(201) => latency.lock().unwrap().record(sent.elapsed()),
                _ => drop(failures.fetch_add(1, Ordering::Relaxed)),
            }
            Instant::now()
        }));
    }
    let mut last_vote = started;
    for call in calls {
        last_vote = last_vote.max(call.await?);
    }
    let voted_in = last_vote.duration_since(started);
    let votes = c.sessions as i64 - failures.load(Ordering::Relaxed) as i64;

    let conn = store.client().await?;
    let counted: Value = conn
        .query_one(
            "SELECT coalesce(jsonb_object_agg(c, n), '{}') FROM (
                 SELECT c, count(*) AS n FROM activity_answers, jsonb_array_elements_text(answer -> 'choices') c
                 WHERE activity_id = $1 GROUP BY c) t",
            &[&id],
        )
        .await?
        .get(0);
    let final_on = |s: &Screen| {
        s.last
            .lock()
            .unwrap()
            .as_ref()
            .and_then(|(results, at)| (results["participants"] == votes).then_some(*at))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while screens.iter().any(|s| final_on(s).is_none()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let wrong = screens
        .iter()
        .filter(|s| {
            s.last
                .lock()
                .unwrap()
                .as_ref()
                .is_none_or(|(r, _)| r["tallies"]["options"] != counted)
        })
        .count() as u64;
    let settled = screens
        .iter()
        .filter_map(|s| final_on(s))
        .max()
        .unwrap_or(last_vote);
    let updates: Vec<u64> = screens
        .iter()
        .map(|s| s.updates.load(Ordering::Relaxed))
        .collect();

    let latency = latency.lock().unwrap().clone();
    let mut outcome = Outcome::new("gonghui");
    outcome.metric("watchers", screens.len() as f64);
    outcome.metric("votes", votes as f64);
    outcome.metric("votes/s", votes as f64 / voted_in.as_secs_f64());
    outcome.metric("vote call p50 ms", latency.quantile_ms(0.5));
    outcome.metric("vote call p99 ms", latency.quantile_ms(0.99));
    outcome.metric(
        "results events per watcher (mean)",
        updates.iter().sum::<u64>() as f64 / updates.len().max(1) as f64,
    );
    outcome.metric(
        "results events per watcher (max)",
        updates.iter().copied().max().unwrap_or(0) as f64,
    );
    outcome.metric(
        "last vote -> final tally on every screen ms",
        settled.saturating_duration_since(last_vote).as_secs_f64() * 1000.0,
    );
    let failed = failures.load(Ordering::Relaxed);
    if failed > 0 {
        outcome.failures.insert("vote".into(), failed);
    }
    // A screen whose last tally is not the database's missed the final update.
    outcome.lost = wrong;
    finish("activity", c, &store, &seeded, &[outcome])
        .await
        .map(|clean| clean && failed == 0)
}
