//! The sessions one worker process holds: each connects (paced), says hello, subscribes,
//! and then checks every event it reads — seqs must count up by one per topic — and
//! times it from its commit time `at`. The parent steers the fleet with lines on stdin
//! (`drop`, `resume TOPIC HEAD`, `stop`) and reads a JSON [`Status`] line every 100 ms,
//! latency so far included, so it can draw the run as it goes.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gonghui_protocol::{ClientKind, ClientMsg, Codec, ErrorBody, RequestId};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;

use crate::histogram::{AtomicHistogram, Histogram};
use crate::wire::{self, Incoming, Socket};

/// What the fleet reads of a server frame: enough to check seqs, time events and read
/// replies, with payloads and snapshots skipped unparsed (the client's cost should not
/// hide the server's).
#[derive(Deserialize)]
struct Glance {
    #[serde(rename = "type")]
    kind: String,
    id: Option<RequestId>,
    ok: Option<bool>,
    topic: Option<String>,
    seq: Option<u64>,
    #[serde(default, with = "gonghui_protocol::time::millis_opt")]
    at: Option<chrono::DateTime<chrono::Utc>>,
    data: Option<GlanceData>,
    error: Option<ErrorBody>,
}

/// The parts of a reply's (or event's) data the fleet uses.
#[derive(Default, Deserialize)]
struct GlanceData {
    seq: Option<u64>,
    reset: Option<bool>,
}

/// What a worker is asked to hold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FleetSpec {
    /// WebSocket URLs of the nodes; session `i` uses node `i % len`.
    pub nodes: Vec<String>,
    /// `true` for JSON, else MessagePack.
    pub json: bool,
    /// Source addresses; session `i` uses address `i % len`.
    pub source_ips: Vec<IpAddr>,
    /// New sessions per second, for this worker.
    pub connect_rate: f64,
    /// The sessions.
    pub sessions: Vec<SessionSpec>,
}

/// One session: who it is and what it reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionSpec {
    /// Its bearer token.
    pub token: String,
    /// Its topics.
    pub topics: Vec<String>,
}

/// A worker's counters and latency so far; the final one also carries connect times.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Status {
    /// Sessions that finished hello and every subscribe at least once.
    pub connected: u64,
    /// Sessions that gave up, by cause.
    pub failed: BTreeMap<String, u64>,
    /// Events read.
    pub deliveries: u64,
    /// Events skipped over (a seq jumped).
    pub gaps: u64,
    /// Events read twice (a seq did not rise).
    pub dups: u64,
    /// Resubscribes answered with `reset`.
    pub resets: u64,
    /// Sessions that are down after a `drop`.
    pub down: u64,
    /// Sessions caught up after a `resume`.
    pub resynced: u64,
    /// Commit → receipt latency of events.
    #[serde(default)]
    pub latency: Histogram,
    /// Connect → subscribed time of sessions.
    pub connect: Option<Histogram>,
}

impl Status {
    /// Sessions that failed, whatever the cause.
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }

    /// Adds another worker's status.
    pub fn merge(&mut self, other: &Status) {
        self.connected += other.connected;
        for (cause, n) in &other.failed {
            *self.failed.entry(cause.clone()).or_default() += n;
        }
        self.deliveries += other.deliveries;
        self.gaps += other.gaps;
        self.dups += other.dups;
        self.resets += other.resets;
        self.down += other.down;
        self.resynced += other.resynced;
        self.latency.merge(&other.latency);
        if let Some(theirs) = &other.connect {
            self.connect
                .get_or_insert_with(Histogram::default)
                .merge(theirs);
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Run,
    Drop,
    Resume { topic: String, head: u64 },
    Stop,
}

#[derive(Default)]
struct Shared {
    connected: AtomicU64,
    deliveries: AtomicU64,
    gaps: AtomicU64,
    dups: AtomicU64,
    resets: AtomicU64,
    down: AtomicU64,
    resynced: AtomicU64,
    failed: Mutex<BTreeMap<String, u64>>,
    latency: AtomicHistogram,
}

impl Shared {
    fn fail(&self, cause: impl Into<String>) {
        *self.failed.lock().unwrap().entry(cause.into()).or_default() += 1;
    }

    fn status(&self) -> Status {
        Status {
            connected: self.connected.load(Ordering::Relaxed),
            failed: self.failed.lock().unwrap().clone(),
            deliveries: self.deliveries.load(Ordering::Relaxed),
            gaps: self.gaps.load(Ordering::Relaxed),
            dups: self.dups.load(Ordering::Relaxed),
            resets: self.resets.load(Ordering::Relaxed),
            down: self.down.load(Ordering::Relaxed),
            resynced: self.resynced.load(Ordering::Relaxed),
            latency: self.latency.snapshot(),
            connect: None,
        }
    }
}

/// Names a connection error by its kind, so failures group by cause.
fn cause(stage: &str, error: &anyhow::Error) -> String {
    let text = error.to_string();
    let kind = if text.contains("Too many open files") {
        "too many open files"
    } else if text.contains("refused") {
        "refused"
    } else if text.contains("timed out") {
        "timeout"
    } else if text.contains("Address not available") || text.contains("Cannot assign") {
        "no source port"
    } else {
        return format!("{stage}: {}", text.chars().take(60).collect::<String>());
    };
    format!("{stage}: {kind}")
}

struct Session {
    index: usize,
    spec: SessionSpec,
    codec: Codec,
    last: HashMap<String, u64>,
}

impl Session {
    /// Connects, says hello and (re)subscribes every topic, resuming where it was.
    async fn open(&mut self, fleet: &FleetSpec, shared: &Shared) -> Result<Socket, String> {
        let node = &fleet.nodes[self.index % fleet.nodes.len()];
        let source = (!fleet.source_ips.is_empty())
            .then(|| fleet.source_ips[self.index % fleet.source_ips.len()]);
        let mut socket = wire::connect(node, self.codec, source)
            .await
            .map_err(|e| cause("connect", &e))?;
        let hello = ClientMsg::Hello {
            id: RequestId::Int(0),
            token: self.spec.token.clone(),
            client: ClientKind::App,
        };
        self.request(&mut socket, hello, shared)
            .await
            .map_err(|e| format!("hello: {e}"))?;
        for (n, topic) in self.spec.topics.clone().into_iter().enumerate() {
            let since = self.last.get(&topic).copied();
            let msg = ClientMsg::Subscribe {
                id: RequestId::Int(n as i64 + 1),
                topic: topic.clone(),
                since,
            };
            let reply = self
                .request(&mut socket, msg, shared)
                .await
                .map_err(|e| format!("subscribe: {e}"))?;
            if reply.reset == Some(true) {
                shared.resets.fetch_add(1, Ordering::Relaxed);
            }
            let seq = reply.seq.unwrap_or(0);
            self.last.insert(topic, seq);
        }
        Ok(socket)
    }

    /// Waits for the reply to `msg`, checking events that arrive first.
    async fn request(
        &mut self,
        socket: &mut Socket,
        msg: ClientMsg,
        shared: &Shared,
    ) -> Result<GlanceData, String> {
        let id = match &msg {
            ClientMsg::Hello { id, .. }
            | ClientMsg::Subscribe { id, .. }
            | ClientMsg::Unsubscribe { id, .. }
            | ClientMsg::Ping { id } => id.clone(),
        };
        wire::send(socket, self.codec, &msg)
            .await
            .map_err(|e| e.to_string())?;
        loop {
            match tokio::time::timeout(Duration::from_secs(30), wire::next(socket, self.codec))
                .await
            {
                Err(_) => return Err("timeout".into()),
                Ok(Err(_)) | Ok(Ok(None)) => return Err("dropped".into()),
                Ok(Ok(Some(Incoming::Closed(code)))) => return Err(format!("closed {code}")),
                Ok(Ok(Some(Incoming::Msg(glance)))) => match glance {
                    Glance {
                        kind,
                        id: Some(got),
                        ok,
                        data,
                        error,
                        ..
                    } if kind == "reply" && got == id => {
                        return if ok == Some(true) {
                            Ok(data.unwrap_or_default())
                        } else {
                            Err(error.map_or("refused".into(), |e| e.code))
                        };
                    }
                    glance => self.check(glance, shared),
                },
            }
        }
    }

    /// Checks an event's seq against the last one of its topic and times it; ignores other frames.
    fn check(&mut self, glance: Glance, shared: &Shared) {
        let (Some(topic), Some(seq), Some(at)) = (glance.topic, glance.seq, glance.at) else {
            return;
        };
        if glance.kind != "event" {
            return;
        }
        shared.deliveries.fetch_add(1, Ordering::Relaxed);
        let last = self.last.entry(topic).or_insert(0);
        if seq <= *last {
            shared.dups.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if seq > *last + 1 {
            shared.gaps.fetch_add(seq - *last - 1, Ordering::Relaxed);
        }
        *last = seq;
        shared.latency.record_since(at);
    }

    fn caught_up(&self, phase: &Phase) -> bool {
        matches!(phase, Phase::Resume { topic, head } if self.last.get(topic).copied().unwrap_or(0) >= *head)
    }
}

async fn run_session(
    mut session: Session,
    fleet: Arc<FleetSpec>,
    shared: Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
) -> Option<Duration> {
    let mut connect_time = None;
    let mut counted_resync = false;
    loop {
        let started = Instant::now();
        let mut socket = match session.open(&fleet, &shared).await {
            Ok(socket) => socket,
            Err(cause) => {
                shared.fail(cause);
                return connect_time;
            }
        };
        if connect_time.is_none() {
            connect_time = Some(started.elapsed());
            shared.connected.fetch_add(1, Ordering::Relaxed);
        }
        loop {
            if !counted_resync && session.caught_up(&phase.borrow()) {
                counted_resync = true;
                shared.resynced.fetch_add(1, Ordering::Relaxed);
            }
            tokio::select! {
                incoming = wire::next(&mut socket, session.codec) => match incoming {
                    Ok(Some(Incoming::Msg(glance))) => session.check(glance, &shared),
                    Ok(Some(Incoming::Closed(code))) => {
                        shared.fail(format!("closed {code}"));
                        return connect_time;
                    }
                    Ok(None) | Err(_) => {
                        if *phase.borrow() != Phase::Stop {
                            shared.fail("dropped by server");
                        }
                        return connect_time;
                    }
                },
                changed = phase.changed() => {
                    let now = phase.borrow().clone();
                    if changed.is_err() || now == Phase::Stop {
                        let _ = socket.close(None).await;
                        return connect_time;
                    }
                    if now == Phase::Drop {
                        let _ = socket.close(None).await;
                        drop(socket);
                        shared.down.fetch_add(1, Ordering::Relaxed);
                        while *phase.borrow() == Phase::Drop {
                            if phase.changed().await.is_err() {
                                return connect_time;
                            }
                        }
                        if *phase.borrow() == Phase::Stop {
                            return connect_time;
                        }
                        break;
                    }
                }
            }
        }
    }
}

/// Runs a worker: reads its spec and then commands from stdin, writes status lines to stdout.
pub async fn worker() -> anyhow::Result<()> {
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let spec: FleetSpec = serde_json::from_str(&stdin.next_line().await?.unwrap_or_default())?;
    let codec = if spec.json {
        Codec::Json
    } else {
        Codec::MsgPack
    };
    let fleet = Arc::new(spec);
    let shared = Arc::new(Shared::default());
    let (phase_tx, phase_rx) = watch::channel(Phase::Run);
    let gap = Duration::from_secs_f64(1.0 / fleet.connect_rate.max(0.001));
    let mut tasks = Vec::with_capacity(fleet.sessions.len());
    let spawner = {
        let (fleet, shared, phase_rx) = (fleet.clone(), shared.clone(), phase_rx.clone());
        tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            for (index, spec) in fleet.sessions.iter().cloned().enumerate() {
                tokio::time::sleep_until(start + gap * index as u32).await;
                if *phase_rx.borrow() == Phase::Stop {
                    break;
                }
                let session = Session {
                    index,
                    spec,
                    codec,
                    last: HashMap::new(),
                };
                tasks.push(tokio::spawn(run_session(
                    session,
                    fleet.clone(),
                    shared.clone(),
                    phase_rx.clone(),
                )));
            }
            tasks
        })
    };
    let reporter = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                println!(
                    "{}",
                    serde_json::to_string(&shared.status()).expect("status is JSON")
                );
            }
        })
    };
    while let Some(line) = stdin.next_line().await? {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["drop"] => phase_tx.send_replace(Phase::Drop),
            ["resume", topic, head] => phase_tx.send_replace(Phase::Resume {
                topic: topic.to_string(),
                head: head.parse()?,
            }),
            ["stop"] => break,
            _ => anyhow::bail!("unknown command {line:?}"),
        };
    }
    phase_tx.send_replace(Phase::Stop);
    let tasks = spawner.await?;
    let mut connect = Histogram::default();
    for task in tasks {
        if let Ok(Ok(Some(took))) = tokio::time::timeout(Duration::from_secs(10), task).await {
            connect.record(took);
        }
    }
    reporter.abort();
    let mut last = shared.status();
    last.connect = Some(connect);
    println!("FINAL {}", serde_json::to_string(&last)?);
    Ok(())
}
