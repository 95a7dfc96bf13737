//! `approvals`: the review queue under load — applicants apply over HTTP, admins on every
//! node race to decide, and every applicant must see exactly one decision.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use gonghui_protocol::events::kind;
use gonghui_protocol::ServerMsg;
use serde_json::json;

use super::{finish, plan, raise_file_limit, seed, Common, MachineCpu};
use crate::histogram::Histogram;
use crate::report::Outcome;
use crate::wire::{self, open, resume, Incoming};

/// The approvals scenario's shared counters.
#[derive(Default)]
struct Tally {
    apply_visible: Mutex<Histogram>,
    decide_visible: Mutex<Histogram>,
    approvals_seen: AtomicU64,
    approvals_twice: AtomicU64,
    wins: AtomicU64,
    conflicts: AtomicU64,
    errors: AtomicU64,
    decided: Mutex<Vec<Instant>>,
    /// In `--backlog` runs, the decisions each admin will make once everyone applied.
    queued: Mutex<Vec<(usize, String)>>,
    /// Calls answered 503 (each tried again after its `Retry-After`).
    refused: AtomicU64,
    /// How fast the 503s came.
    refused_in: Mutex<Histogram>,
    /// Applications, from the first try to the final answer.
    apply_calls: Mutex<Histogram>,
    /// Decisions, likewise.
    decide_calls: Mutex<Histogram>,
    /// The codes the admins' sessions were closed with (each then resumed).
    admin_closed: Mutex<Vec<u16>>,
}

/// How long a call is tried again while it is answered 503.
const GIVE_UP: Duration = Duration::from_secs(60);

impl Tally {
    /// Sends a call until it is answered other than 503, waiting out each `Retry-After`
    /// (spread over up to twice that, so refused callers do not all come back at once),
    /// as a client that honours it does. Counts the 503s and how fast they came.
    async fn send(&self, request: reqwest::RequestBuilder) -> reqwest::Result<u16> {
        let started = Instant::now();
        loop {
            let attempt = Instant::now();
            let Some(request) = request.try_clone() else {
                return request.send().await.map(|r| r.status().as_u16());
            };
            let answer = request.send().await?;
            let status = answer.status().as_u16();
            if status != 503 || started.elapsed() > GIVE_UP {
                return Ok(status);
            }
            let refused = self.refused.fetch_add(1, Ordering::Relaxed);
            self.refused_in.lock().unwrap().record(attempt.elapsed());
            let wait = answer
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()?.parse::<f64>().ok())
                .unwrap_or(1.0);
            let spread = (refused * 618 % 1000) as f64 / 1000.0;
            tokio::time::sleep(Duration::from_secs_f64(wait * (1.0 + spread))).await;
        }
    }

    /// Decision calls answered so far, however.
    fn answered(&self) -> u64 {
        [&self.wins, &self.conflicts, &self.errors]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// Approves one application as an admin, counting the answer.
    async fn decide(&self, http: &reqwest::Client, url: String, token: &str) {
        let started = Instant::now();
        let answer = self.send(http.post(url).bearer_auth(token)).await;
        self.decide_calls.lock().unwrap().record(started.elapsed());
        match answer {
            Ok(200) => {
                self.wins.fetch_add(1, Ordering::Relaxed);
                self.decided.lock().unwrap().push(Instant::now());
            }
            Ok(409) => drop(self.conflicts.fetch_add(1, Ordering::Relaxed)),
            _ => drop(self.errors.fetch_add(1, Ordering::Relaxed)),
        }
    }
}

/// How the admins decide.
#[derive(Debug, Clone, Copy)]
pub struct Deciding {
    /// Admins deciding; two race for every application.
    pub admins: usize,
    /// Whether they wait until every application is in and then decide the whole queue
    /// as fast as they can (the decision rate a union can sustain), rather than each as
    /// it arrives.
    pub backlog: bool,
    /// Approvals each admin has in flight at once in a backlog run.
    pub in_flight: usize,
    /// Unions below the seeded one to spread the applicants over (0: all apply to the
    /// seeded union itself, the hot case); the admins, of the union above, review them all.
    pub unions: usize,
}

/// `approvals`: applicants apply over HTTP; admins on every node see the queue and two
/// of them race to approve each application; each applicant must see exactly one approval.
pub async fn approvals(c: &Common, deciding: Deciding) -> anyhow::Result<bool> {
    raise_file_limit();
    let admins = deciding.admins.max(1);
    let mut wanted = plan(0, c.sessions, admins);
    wanted.children = deciding.unions as i64;
    let (store, seeded) = seed(c, wanted).await?;
    let codec = c.codec();
    let nodes = c.targets(false).remove(0).ws;
    let http_nodes = c.http_nodes();
    let http = reqwest::Client::new();
    let tally = Arc::new(Tally::default());
    let union = seeded.union_id;
    // Where applicants apply: the seeded union, or its children in turn.
    let targets = if seeded.children.is_empty() {
        vec![union]
    } else {
        seeded.children.clone()
    };
    let queues: Vec<String> = targets.iter().map(|u| format!("union:{u}:admin")).collect();

    for (k, admin) in seeded.admins.iter().enumerate() {
        let url = nodes[k % nodes.len()].clone();
        let mut since: Vec<(String, Option<u64>)> =
            queues.iter().map(|q| (q.clone(), None)).collect();
        let mut socket = resume(&url, codec, seeded.token(*admin), &since).await?;
        let (tally, http, base, token) = (
            tally.clone(),
            http.clone(),
            http_nodes[k % http_nodes.len()].clone(),
            seeded.token(*admin),
        );
        tokio::spawn(async move {
            loop {
                while let Ok(Some(incoming)) = wire::next(&mut socket, codec).await {
                    let e = match incoming {
                        Incoming::Msg(ServerMsg::Event(e)) => e,
                        Incoming::Msg(_) => continue,
                        Incoming::Closed(code) => {
                            tally.admin_closed.lock().unwrap().push(code);
                            break;
                        }
                    };
                    if let Some((_, seq)) = since.iter_mut().find(|(topic, _)| *topic == e.topic) {
                        *seq = Some(e.seq);
                    }
                    if e.kind != kind::APPLICATION_CREATED {
                        continue;
                    }
                    tally.apply_visible.lock().unwrap().record_since(e.at);
                    let id = e.data["application"]["id"].as_i64().unwrap_or_default();
                    let mine = id as usize % admins == k
                        || (admins > 1 && (id as usize + 1) % admins == k);
                    if !mine {
                        continue;
                    }
                    let url = format!("{base}/api/v1/applications/{id}/approve");
                    if deciding.backlog {
                        tally.queued.lock().unwrap().push((k, url));
                        continue;
                    }
                    let (tally, http, token) = (tally.clone(), http.clone(), token.clone());
                    tokio::spawn(async move { tally.decide(&http, url, &token).await });
                }
                // Closed (4008 when it read too slowly): resume where it stopped, as the
                // console does.
                socket = loop {
                    match resume(&url, codec, token.clone(), &since).await {
                        Ok(socket) => break socket,
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                };
            }
        });
    }
    for (i, applicant) in seeded.applicants.iter().enumerate() {
        let mut socket = open(
            &nodes[i % nodes.len()],
            codec,
            seeded.token(*applicant),
            &[format!("member:{applicant}")],
        )
        .await?;
        let tally = tally.clone();
        tokio::spawn(async move {
            let mut seen = HashSet::new();
            while let Ok(Some(Incoming::Msg(msg))) = wire::next(&mut socket, codec).await {
                let ServerMsg::Event(e) = msg else { continue };
                if e.kind == kind::APPLICATION_APPROVED {
                    tally.decide_visible.lock().unwrap().record_since(e.at);
                    let counter = if seen.insert(e.data["application"]["id"].clone()) {
                        &tally.approvals_seen
                    } else {
                        &tally.approvals_twice
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }

    let started = Instant::now();
    let mut deciding_from = MachineCpu::now();
    let gap = Duration::from_secs_f64(1.0 / c.rate.max(0.001));
    let mut applies = Vec::new();
    for (i, applicant) in seeded.applicants.iter().enumerate() {
        tokio::time::sleep_until(tokio::time::Instant::from_std(started) + gap * i as u32).await;
        let url = format!(
            "{}/api/v1/unions/{}/applications",
            http_nodes[i % http_nodes.len()],
            targets[i % targets.len()]
        );
        let request = http
            .post(url)
            .bearer_auth(seeded.token(*applicant))
            .json(&json!({"kind": "join"}));
        let tally = tally.clone();
        applies.push(tokio::spawn(async move {
            let started = Instant::now();
            let answer = tally.send(request).await;
            tally.apply_calls.lock().unwrap().record(started.elapsed());
            answer
        }));
    }
    let mut apply_failures = 0;
    for apply in applies {
        if !matches!(apply.await, Ok(Ok(201))) {
            apply_failures += 1;
        }
    }
    let applied_in = started.elapsed();
    let m = c.sessions as u64;
    let racers = if admins > 1 { 2 } else { 1 };
    if deciding.backlog {
        let expected = ((m - apply_failures) * racers) as usize;
        let deadline = Instant::now() + Duration::from_secs(60);
        while tally.queued.lock().unwrap().len() < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let queued = std::mem::take(&mut *tally.queued.lock().unwrap());
        deciding_from = MachineCpu::now();
        let mut deciders = Vec::new();
        for (k, admin) in seeded.admins.iter().enumerate() {
            let urls: Vec<String> = queued
                .iter()
                .filter(|(of, _)| *of == k)
                .map(|(_, url)| url.clone())
                .collect();
            let (tally, http, token) = (tally.clone(), http.clone(), seeded.token(*admin));
            deciders.push(tokio::spawn(async move {
                futures_util::stream::iter(urls)
                    .for_each_concurrent(deciding.in_flight.max(1), |url| {
                        tally.decide(&http, url, &token)
                    })
                    .await;
            }));
        }
        for decider in deciders {
            decider.await?;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while tally.approvals_seen.load(Ordering::Relaxed) < m - apply_failures
        && Instant::now() < deadline
    {
        eprint!(
            "\r[approvals {:>5.1}s] applied {} decided {} seen by members {}   ",
            started.elapsed().as_secs_f64(),
            m - apply_failures,
            tally.wins.load(Ordering::Relaxed),
            tally.approvals_seen.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!();
    let idle = deciding_from.and_then(|cpu| cpu.idle_since());
    // Every racing call answered too: a loser's 409 may come after every member saw the
    // winner's approval.
    while tally.answered() < (m - apply_failures) * racers && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let conn = store.client().await?;
    let approved: i64 = conn
        .query_one(
            "SELECT count(*) FROM applications WHERE union_id = ANY($1) AND status = 'approved'",
            &[&targets],
        )
        .await?
        .get(0);
    let audited: i64 = conn
        .query_one(
            "SELECT count(*) FROM audit_log WHERE union_id = ANY($1)",
            &[&targets],
        )
        .await?
        .get(0);
    let decided = tally.decided.lock().unwrap().clone();
    let window = match (decided.iter().min(), decided.iter().max()) {
        (Some(first), Some(last)) if last > first => last.duration_since(*first).as_secs_f64(),
        _ => f64::NAN,
    };
    let wins = tally.wins.load(Ordering::Relaxed);
    let mut outcome = Outcome::new("gonghui");
    outcome.metric("applications", m as f64);
    outcome.metric(
        "applications answered/s",
        m as f64 / applied_in.as_secs_f64(),
    );
    outcome.metric("approvals (200)", wins as f64);
    outcome.metric(
        "racing approvals refused (409)",
        tally.conflicts.load(Ordering::Relaxed) as f64,
    );
    outcome.metric("decisions/s", wins as f64 / window);
    let calls = tally.apply_calls.lock().unwrap().clone();
    outcome.metric("apply call p50 ms", calls.quantile_ms(0.5));
    outcome.metric("apply call p99 ms", calls.quantile_ms(0.99));
    let decide_calls = tally.decide_calls.lock().unwrap().clone();
    outcome.metric("decide call p50 ms", decide_calls.quantile_ms(0.5));
    outcome.metric("decide call p99 ms", decide_calls.quantile_ms(0.99));
    if let Some(idle) = idle {
        outcome.metric("machine idle while deciding %", idle);
    }
    let closed = tally.admin_closed.lock().unwrap().clone();
    outcome.metric("admin sessions closed and resumed", closed.len() as f64);
    if !closed.is_empty() {
        eprintln!("admin sessions closed with {closed:?}");
    }
    let refused = tally.refused.load(Ordering::Relaxed);
    outcome.metric("calls answered 503 and retried", refused as f64);
    if refused > 0 {
        let refused_in = tally.refused_in.lock().unwrap().clone();
        outcome.metric("503 answered in p99 ms", refused_in.quantile_ms(0.99));
    }
    let apply = tally.apply_visible.lock().unwrap().clone();
    let decide = tally.decide_visible.lock().unwrap().clone();
    outcome.metric("apply->queue-visible p50 ms", apply.quantile_ms(0.5));
    outcome.metric("apply->queue-visible p99 ms", apply.quantile_ms(0.99));
    outcome.metric("apply->queue-visible max ms", apply.max_ms());
    outcome.metric("decide->member-visible p50 ms", decide.quantile_ms(0.5));
    outcome.metric("decide->member-visible p99 ms", decide.quantile_ms(0.99));
    outcome.metric("decide->member-visible max ms", decide.max_ms());
    if apply_failures > 0 {
        outcome.failures.insert("apply".into(), apply_failures);
    }
    let errors = tally.errors.load(Ordering::Relaxed);
    if errors > 0 {
        outcome.failures.insert("approve".into(), errors);
    }
    let seen = tally.approvals_seen.load(Ordering::Relaxed);
    // Lost: an approval committed that its applicant never saw. Duplicated: an approval seen
    // twice, an audit row too many, or a 200 without an approved row. (Applications left
    // pending because a call failed are failures, counted above, not lost events.)
    let approved = approved as u64;
    outcome.lost = approved.saturating_sub(seen);
    outcome.duplicated = tally.approvals_twice.load(Ordering::Relaxed)
        + (audited as u64).saturating_sub(approved)
        + wins.saturating_sub(approved);
    finish("approvals", c, &store, &seeded, &[outcome.clone()])
        .await
        .map(|clean| clean && apply_failures == 0 && errors == 0)
}
