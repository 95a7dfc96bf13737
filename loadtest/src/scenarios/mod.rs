//! The scenarios, one file each, and what they share: the options, seeding and unseeding,
//! connecting a fleet, reading the nodes' memory. Each scenario seeds its own users
//! (marked, and removed afterwards unless `--keep-seed`), runs against the gonghui nodes
//! and, for `idle` and `fanout` when `--peer` is given, runs the same against the peer,
//! then prints one table.

pub mod activity;
pub mod approvals;
pub mod bridge;
pub mod fanout;
pub mod idle;
pub mod login;
mod publisher;
pub mod storm;
pub mod tree;

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use gonghui_actors::crypto::Secrets;
use gonghui_actors::store::Store;
use gonghui_loadtest::seed::{SeedPlan, Seeded};
use gonghui_protocol::Codec;
use serde_json::json;

use crate::fleet::{FleetSpec, SessionSpec};
use crate::report::{self, Outcome};
use crate::wire;
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

    /// The nodes' HTTP base URLs, without a trailing slash.
    pub(crate) fn http_nodes(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| n.trim_end_matches('/').to_owned())
            .collect()
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
    let seeded = gonghui_loadtest::seed::seed(&store, plan)
        .await
        .context("seeding")?;
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
        children: 0,
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
        for drawn in crate::plot::draw(path, name, outcomes)? {
            eprintln!("drew {}", drawn.display());
        }
    }
    if !c.keep_seed {
        gonghui_loadtest::seed::unseed(store, Some(&seeded.run)).await?;
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
        &target.pids,
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

pub(crate) fn rss_kib(pids: &[u32]) -> Option<u64> {
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

/// The CPU time `pids` have used so far (user + system, from `/proc/{pid}/stat`), in
/// seconds: what a figure cost the server, beside how fast it was.
pub(crate) fn cpu_seconds(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    // SAFETY: sysconf only reads a constant.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut ticks = 0u64;
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces); utime and stime are
        // the 14th and 15th of the line, the 12th and 13th after it.
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        ticks += fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    }
    Some(ticks as f64 / ticks_per_second)
}

/// The machine's CPU time so far (every core, from `/proc/stat`): whether a run was
/// limited by the cores or by waiting shows in how idle they were meanwhile.
pub(crate) struct MachineCpu {
    idle: u64,
    total: u64,
}

impl MachineCpu {
    pub fn now() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let ticks: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .map(|t| t.parse().ok())
            .collect::<Option<_>>()?;
        Some(MachineCpu {
            idle: ticks.get(3)? + ticks.get(4)?,
            total: ticks.iter().sum(),
        })
    }

    /// The share of the cores' time spent idle (or waiting on disk) since `self`, in %.
    pub fn idle_since(&self) -> Option<f64> {
        let now = MachineCpu::now()?;
        let total = now.total.checked_sub(self.total).filter(|t| *t > 0)?;
        Some(100.0 * now.idle.saturating_sub(self.idle) as f64 / total as f64)
    }
}

fn record_status(outcome: &mut Outcome, status: &crate::fleet::Status) {
    outcome.failures = status.failed.clone();
    outcome.lost += status.gaps;
    outcome.duplicated += status.dups;
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
