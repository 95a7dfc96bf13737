//! The scenarios. Each seeds its own users (marked, and removed afterwards unless
//! `--keep-seed`), runs against the gonghui nodes and, for `idle` and `fanout` when
//! `--peer` is given, runs the same against the peer, then prints one table.

use std::collections::HashSet;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::SinkExt;
use gonghui_actors::crypto::Secrets;
use gonghui_actors::store::seed::{SeedPlan, Seeded};
use gonghui_actors::store::Store;
use gonghui_protocol::{ClientKind, ClientMsg, Codec, RequestId, ServerMsg};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::fleet::{FleetSpec, SessionSpec};
use crate::histogram::Histogram;
use crate::report::{self, Outcome};
use crate::wire::{self, Incoming, Socket};
use crate::workers::Workers;

/// The options every scenario takes.
#[derive(clap::Args, Clone)]
pub struct Common {
    /// Sessions to open (applicants, for `approvals`)
    #[arg(long, default_value_t = 1000)]
    pub sessions: usize,
    /// Seconds to hold the sessions (idle) or to publish (fanout)
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Connects per second (idle, reconnect-storm), events per second (fanout), applications per second (approvals)
    #[arg(long, default_value_t = 2000.0)]
    pub rate: f64,
    /// Connects per second where --rate means something else (fanout, approvals)
    #[arg(long, default_value_t = 2000.0)]
    pub connect_rate: f64,
    /// The gonghui nodes' HTTP base URLs, comma-separated
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:8080")]
    pub nodes: Vec<String>,
    /// The nodes' database, for seeding and publishing
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/gonghui"
    )]
    pub database_url: String,
    /// `msgpack` or `json`
    #[arg(long, default_value = "msgpack", value_parser = ["msgpack", "json"])]
    pub codec: String,
    /// Source addresses to spread connections over: `127.0.0.2-127.0.0.40` (one address has ~28,000 ports)
    #[arg(long)]
    pub source_ips: Option<String>,
    /// Client processes to spread the sessions over [default: one per 7,500 sessions]
    #[arg(long)]
    pub workers: Option<usize>,
    /// Server process ids whose RSS to read (comma-separated)
    #[arg(long, value_delimiter = ',')]
    pub server_pid: Vec<u32>,
    /// A peer (the Node `ws` broadcast server of loadtest/peers) to run idle and fanout against too
    #[arg(long)]
    pub peer: Option<String>,
    /// The peer's process id, for its RSS
    #[arg(long)]
    pub peer_pid: Option<u32>,
    /// Write the results here as JSON
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
    /// Keep the seeded users afterwards
    #[arg(long)]
    pub keep_seed: bool,
}

/// Sessions one worker process holds by default. A process holding 15,000 was seen to
/// send some request heads over 5 s late (docs/BENCHMARKS.md); 7,500 never was.
const SESSIONS_PER_WORKER: usize = 7_500;

/// Where a run points: gonghui (seeded, published through the log) or the peer.
pub struct Target {
    pub(crate) name: &'static str,
    pub(crate) ws: Vec<String>,
    pub(crate) pids: Vec<u32>,
}

impl Target {
    /// The peer authenticates nobody and keeps no log.
    fn is_peer(&self) -> bool {
        self.name == "peer"
    }
}

impl Common {
    pub(crate) fn codec(&self) -> Codec {
        if self.codec == "json" {
            Codec::Json
        } else {
            Codec::MsgPack
        }
    }

    pub(crate) fn source_ips(&self) -> anyhow::Result<Vec<IpAddr>> {
        self.source_ips
            .as_deref()
            .map_or(Ok(Vec::new()), wire::parse_source_ips)
    }

    /// gonghui, and the peer when one is given and the scenario can run against it.
    pub(crate) fn targets(&self, with_peer: bool) -> Vec<Target> {
        let ws = |base: &str| {
            format!(
                "{}/ws",
                base.trim_end_matches('/').replacen("http", "ws", 1)
            )
        };
        let mut targets = vec![Target {
            name: "gonghui",
            ws: self.nodes.iter().map(|n| ws(n)).collect(),
            pids: self.server_pid.clone(),
        }];
        if let Some(peer) = self.peer.as_ref().filter(|_| with_peer) {
            targets.push(Target {
                name: "peer",
                ws: vec![ws(peer)],
                pids: self.peer_pid.into_iter().collect(),
            });
        }
        targets
    }

    fn fleet(
        &self,
        target: &Target,
        sessions: Vec<SessionSpec>,
        connect_rate: f64,
    ) -> anyhow::Result<FleetSpec> {
        Ok(FleetSpec {
            nodes: target.ws.clone(),
            json: self.codec() == Codec::Json || target.is_peer(),
            source_ips: self.source_ips()?,
            connect_rate,
            sessions,
        })
    }

    /// Worker processes: as asked, else one per [`SESSIONS_PER_WORKER`].
    fn worker_count(&self) -> usize {
        self.workers
            .unwrap_or_else(|| self.sessions.div_ceil(SESSIONS_PER_WORKER))
            .max(1)
    }

    fn connect_limit(&self, connect_rate: f64) -> Duration {
        Duration::from_secs_f64(self.sessions as f64 / connect_rate.max(1.0) + 60.0)
    }
}

/// A store on the nodes' database, for seeding and publishing.
pub fn store(database_url: &str) -> anyhow::Result<Store> {
    Store::connect(database_url, 4, Secrets::like_a_node()?)
}

pub(crate) async fn seed(c: &Common, plan: SeedPlan) -> anyhow::Result<(Store, Seeded)> {
    let store = store(&c.database_url)?;
    let started = Instant::now();
    let seeded = store.seed(plan).await.context("seeding")?;
    eprintln!(
        "seeded {} members, {} applicants, {} admins in {:.2}s (run {})",
        plan.members,
        plan.applicants,
        plan.admins,
        started.elapsed().as_secs_f64(),
        seeded.run
    );
    Ok((store, seeded))
}

pub(crate) fn plan(members: usize, applicants: usize, admins: usize) -> SeedPlan {
    SeedPlan {
        members: members as i64,
        applicants: applicants as i64,
        admins: admins as i64,
        token_ttl: Duration::from_secs(24 * 3600),
    }
}

/// Seeds, runs `scenario` against gonghui (and the peer, `with_peer`), prints and saves
/// the results, unseeds.
pub async fn run<F, Fut>(
    name: &str,
    c: &Common,
    with_peer: bool,
    scenario: F,
) -> anyhow::Result<bool>
where
    F: Fn(Common, Arc<Seeded>, Arc<Store>, Target) -> Fut,
    Fut: Future<Output = anyhow::Result<Outcome>>,
{
    raise_file_limit();
    let (store, seeded) = seed(c, plan(c.sessions, 0, 0)).await?;
    let (store, seeded) = (Arc::new(store), Arc::new(seeded));
    let mut outcomes = Vec::new();
    for target in c.targets(with_peer) {
        outcomes.push(scenario(c.clone(), seeded.clone(), store.clone(), target).await?);
    }
    finish(name, c, &store, &seeded, &outcomes).await
}

pub(crate) async fn finish(
    name: &str,
    c: &Common,
    store: &Store,
    seeded: &Seeded,
    outcomes: &[Outcome],
) -> anyhow::Result<bool> {
    report::print(name, outcomes);
    if let Some(path) = &c.json {
        std::fs::write(
            path,
            serde_json::to_vec_pretty(&json!({ "scenario": name, "outcomes": outcomes }))?,
        )?;
    }
    if !c.keep_seed {
        store.unseed(Some(&seeded.run)).await?;
    }
    Ok(outcomes.iter().all(Outcome::clean))
}

fn member_sessions(
    seeded: &Seeded,
    target: &Target,
    topics: impl Fn(i64) -> Vec<String>,
) -> Vec<SessionSpec> {
    seeded
        .members
        .iter()
        .map(|id| SessionSpec {
            token: if target.is_peer() {
                "peer".into()
            } else {
                seeded.token(*id)
            },
            topics: topics(*id),
        })
        .collect()
}

/// Starts the workers for `sessions` paced at `rate` and waits until every one has connected or failed.
async fn connect_all(
    c: &Common,
    target: &Target,
    sessions: Vec<SessionSpec>,
    rate: f64,
    label: &str,
) -> anyhow::Result<Workers> {
    let fleet = c.fleet(target, sessions, rate)?;
    let workers = Workers::start(
        &fleet,
        c.worker_count(),
        &format!("{label} {}", target.name),
    )
    .await?;
    let n = c.sessions as u64;
    workers
        .wait_until(c.connect_limit(rate), |s| {
            s.connected + s.failed_total() >= n
        })
        .await;
    Ok(workers)
}

fn rss_kib(pids: &[u32]) -> Option<u64> {
    proc_kib(pids, "VmRSS:")
}

/// A `/proc/{pid}/status` figure (`VmRSS:`, `VmHWM:` …) summed over `pids`, in KiB.
pub(crate) fn proc_kib(pids: &[u32], field: &str) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    let mut total = 0;
    for pid in pids {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        total += line.split_whitespace().nth(1)?.parse::<u64>().ok()?;
    }
    Some(total)
}

fn record_status(outcome: &mut Outcome, status: &crate::fleet::Status) {
    outcome.failures = status.failed.clone();
    outcome.lost += status.gaps;
    outcome.duplicated += status.dups;
}

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
    let status = workers.stop().await?;
    let mut outcome = Outcome::new(target.name);
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

/// Publishes events: through gonghui's log (the path every change takes) or to the peer.
enum Publisher {
    Log(Arc<Store>),
    Peer(Box<Socket>),
}

impl Publisher {
    async fn new(target: &Target, store: Arc<Store>) -> anyhow::Result<Self> {
        Ok(if target.is_peer() {
            Publisher::Peer(Box::new(
                wire::connect(&target.ws[0], Codec::Json, None).await?,
            ))
        } else {
            Publisher::Log(store)
        })
    }

    async fn publish(&mut self, topic: &str, n: u64) -> anyhow::Result<()> {
        match self {
            Publisher::Log(store) => {
                let conn = store.client().await?;
                let stmt = conn
                    .prepare_cached("SELECT append_event($1, 'loadtest.tick', $2)")
                    .await?;
                conn.query_one(&stmt, &[&topic, &json!({ "n": n })]).await?;
            }
            Publisher::Peer(socket) => {
                let frame = json!({"type": "publish", "id": n, "topic": topic, "kind": "loadtest.tick", "data": {"n": n}});
                socket.send(Message::Text(frame.to_string())).await?;
            }
        }
        Ok(())
    }

    /// Publishes `count` events at `rate` per second; returns when the last was sent.
    async fn burst(&mut self, topic: &str, count: u64, rate: f64) -> anyhow::Result<()> {
        let start = tokio::time::Instant::now();
        let gap = Duration::from_secs_f64(1.0 / rate.max(0.001));
        for n in 0..count {
            tokio::time::sleep_until(start + gap * n as u32).await;
            self.publish(topic, n).await?;
        }
        Ok(())
    }
}

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
    let started = Instant::now();
    publisher.burst(&topic, events, c.rate).await?;
    let published_in = started.elapsed();
    workers
        .wait_until(Duration::from_secs(30), |s| s.deliveries >= expected)
        .await;
    let delivered_in = started.elapsed();
    let status = workers.stop().await?;
    let mut outcome = Outcome::new(target.name);
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
    let latency = status.latency.clone().unwrap_or_default();
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
    let started = Instant::now();
    workers.command(&format!("resume {union} {head}")).await?;
    let all = workers
        .wait_until(Duration::from_secs(120), |s| s.resynced >= connected)
        .await;
    let took = started.elapsed();
    let status = workers.stop().await?;
    let mut outcome = Outcome::new(target.name);
    outcome.metric("sessions dropped", connected as f64);
    outcome.metric("sessions resynced", status.resynced as f64);
    outcome.metric("time to full resync s", took.as_secs_f64());
    outcome.metric("resumes answered reset", status.resets as f64);
    record_status(&mut outcome, &status);
    if !all {
        outcome.lost += connected - status.resynced;
    }
    Ok(outcome)
}

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
}

pub(crate) async fn open(
    url: &str,
    codec: Codec,
    token: String,
    topic: String,
) -> anyhow::Result<Socket> {
    let mut socket = wire::connect(url, codec, None).await?;
    wire::send(
        &mut socket,
        codec,
        &ClientMsg::Hello {
            id: RequestId::Int(1),
            token,
            client: ClientKind::Console,
        },
    )
    .await?;
    wire::send(
        &mut socket,
        codec,
        &ClientMsg::Subscribe {
            id: RequestId::Int(2),
            topic,
            since: None,
        },
    )
    .await?;
    for _ in 0..2 {
        match wire::next(&mut socket, codec).await? {
            Some(Incoming::Msg(ServerMsg::Reply { ok: true, .. })) => {}
            other => anyhow::bail!(
                "hello or subscribe refused: {:?}",
                other.map(|i| match i {
                    Incoming::Msg(m) => format!("{m:?}"),
                    Incoming::Closed(code) => format!("closed {code}"),
                })
            ),
        }
    }
    Ok(socket)
}

/// `approvals`: applicants apply over HTTP; admins on every node see the queue and two
/// of them race to approve each application; each applicant must see exactly one approval.
pub async fn approvals(c: &Common, admins: usize) -> anyhow::Result<bool> {
    raise_file_limit();
    let admins = admins.max(1);
    let (store, seeded) = seed(c, plan(0, c.sessions, admins)).await?;
    let codec = c.codec();
    let nodes = c.targets(false).remove(0).ws;
    let http_nodes: Vec<String> = c
        .nodes
        .iter()
        .map(|n| n.trim_end_matches('/').to_owned())
        .collect();
    let http = reqwest::Client::new();
    let tally = Arc::new(Tally::default());
    let union = seeded.union_id;

    for (k, admin) in seeded.admins.iter().enumerate() {
        let mut socket = open(
            &nodes[k % nodes.len()],
            codec,
            seeded.token(*admin),
            format!("union:{union}:admin"),
        )
        .await?;
        let (tally, http, base, token) = (
            tally.clone(),
            http.clone(),
            http_nodes[k % http_nodes.len()].clone(),
            seeded.token(*admin),
        );
        tokio::spawn(async move {
            while let Ok(Some(Incoming::Msg(msg))) = wire::next(&mut socket, codec).await {
                let ServerMsg::Event(e) = msg else { continue };
                if e.kind != "application.created" {
                    continue;
                }
                tally.apply_visible.lock().unwrap().record_since(e.at);
                let id = e.data["application"]["id"].as_i64().unwrap_or_default();
                let mine =
                    id as usize % admins == k || (admins > 1 && (id as usize + 1) % admins == k);
                if !mine {
                    continue;
                }
                let (tally, http, url, token) = (
                    tally.clone(),
                    http.clone(),
                    format!("{base}/api/v1/applications/{id}/approve"),
                    token.clone(),
                );
                tokio::spawn(async move {
                    match http
                        .post(url)
                        .bearer_auth(token)
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                    {
                        Ok(200) => {
                            tally.wins.fetch_add(1, Ordering::Relaxed);
                            tally.decided.lock().unwrap().push(Instant::now());
                        }
                        Ok(409) => drop(tally.conflicts.fetch_add(1, Ordering::Relaxed)),
                        _ => drop(tally.errors.fetch_add(1, Ordering::Relaxed)),
                    }
                });
            }
        });
    }
    for (i, applicant) in seeded.applicants.iter().enumerate() {
        let mut socket = open(
            &nodes[i % nodes.len()],
            codec,
            seeded.token(*applicant),
            format!("member:{applicant}"),
        )
        .await?;
        let tally = tally.clone();
        tokio::spawn(async move {
            let mut seen = HashSet::new();
            while let Ok(Some(Incoming::Msg(msg))) = wire::next(&mut socket, codec).await {
                let ServerMsg::Event(e) = msg else { continue };
                if e.kind == "application.approved" {
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
    let gap = Duration::from_secs_f64(1.0 / c.rate.max(0.001));
    let mut applies = Vec::new();
    for (i, applicant) in seeded.applicants.iter().enumerate() {
        tokio::time::sleep_until(tokio::time::Instant::from_std(started) + gap * i as u32).await;
        let url = format!(
            "{}/api/v1/unions/{union}/applications",
            http_nodes[i % http_nodes.len()]
        );
        let request = http
            .post(url)
            .bearer_auth(seeded.token(*applicant))
            .json(&json!({"kind": "join"}));
        applies.push(tokio::spawn(async move {
            request.send().await.map(|r| r.status().as_u16())
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
    tokio::time::sleep(Duration::from_millis(300)).await;

    let conn = store.client().await?;
    let approved: i64 = conn
        .query_one(
            "SELECT count(*) FROM applications WHERE union_id = $1 AND status = 'approved'",
            &[&union],
        )
        .await?
        .get(0);
    let audited: i64 = conn
        .query_one(
            "SELECT count(*) FROM audit_log WHERE union_id = $1",
            &[&union],
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
    let apply = tally.apply_visible.lock().unwrap().clone();
    let decide = tally.decide_visible.lock().unwrap().clone();
    outcome.metric("apply->queue-visible p50 ms", apply.quantile_ms(0.5));
    outcome.metric("apply->queue-visible p99 ms", apply.quantile_ms(0.99));
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

/// Raises the soft open-file limit to the hard one, and says so.
pub fn raise_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            let old = limit.rlim_cur;
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                eprintln!(
                    "raised the open-file limit from {old} to {}",
                    limit.rlim_max
                );
            }
        }
    }
}
