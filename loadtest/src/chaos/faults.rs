//! The controller: at random moments, one fault at a time — a node killed and
//! restarted, a node paused past the clients' patience, Postgres restarted (fast or as
//! a crash), clients' sockets dropped, a reader stalled until the node closes it (4008).
//! One fault at a time, each over before the next: at most one node is down at once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng;

use super::nodes::Nodes;
use super::recorder::{Command, Recorder};
use gonghui_loadtest::postgres::{Stop, Throwaway};

/// A kind of fault, as counted in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    KillNode,
    PauseNode,
    PostgresFast,
    PostgresImmediate,
    DropSockets,
    StallReader,
}

impl Fault {
    const ALL: [(Fault, u32); 6] = [
        (Fault::KillNode, 30),
        (Fault::PauseNode, 15),
        (Fault::PostgresFast, 10),
        (Fault::PostgresImmediate, 10),
        (Fault::DropSockets, 20),
        (Fault::StallReader, 15),
    ];

    /// Its name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Fault::KillNode => "node killed (SIGKILL) and restarted",
            Fault::PauseNode => "node paused (SIGSTOP) past the heartbeat",
            Fault::PostgresFast => "Postgres restarted (fast)",
            Fault::PostgresImmediate => "Postgres restarted (immediate)",
            Fault::DropSockets => "client sockets dropped",
            Fault::StallReader => "reader stalled",
        }
    }

    fn pick(rng: &mut StdRng) -> Fault {
        let total: u32 = Fault::ALL.iter().map(|(_, w)| w).sum();
        let mut at = rng.gen_range(0..total);
        for (fault, weight) in Fault::ALL {
            if at < weight {
                return fault;
            }
            at -= weight;
        }
        Fault::KillNode
    }
}

/// Injects faults every `every` seconds on average until `until`; returns how many of
/// each were injected.
///
/// # Errors
/// When a node or Postgres does not come back.
pub async fn inject(
    rng: &mut StdRng,
    every: f64,
    until: Instant,
    nodes: &mut Nodes,
    postgres: &Throwaway,
    clients: &[Recorder],
) -> anyhow::Result<BTreeMap<Fault, u32>> {
    let mut injected = BTreeMap::new();
    loop {
        let wait = Duration::from_secs_f64(every * rng.gen_range(0.5..1.5));
        if Instant::now() + wait >= until {
            break;
        }
        tokio::time::sleep(wait).await;
        let fault = Fault::pick(rng);
        let node = rng.gen_range(0..nodes.count());
        match fault {
            Fault::KillNode => {
                nodes.kill(node);
                tokio::time::sleep(Duration::from_millis(rng.gen_range(300..2000))).await;
                nodes.restart(node).await?;
            }
            Fault::PauseNode => {
                nodes.pause(node, true);
                tokio::time::sleep(Duration::from_millis(rng.gen_range(5000..7000))).await;
                nodes.pause(node, false);
            }
            Fault::PostgresFast | Fault::PostgresImmediate => {
                let how = if fault == Fault::PostgresFast {
                    Stop::Fast
                } else {
                    Stop::Immediate
                };
                postgres.down(how)?;
                tokio::time::sleep(Duration::from_millis(rng.gen_range(200..1500))).await;
                postgres.up()?;
            }
            Fault::DropSockets => {
                for client in clients.iter().filter(|_| rng.gen_bool(0.5)) {
                    let _ = client.commands.send(Command::Drop);
                }
            }
            Fault::StallReader => {
                let client = &clients[rng.gen_range(0..clients.len())];
                let stall = Duration::from_millis(rng.gen_range(3000..6000));
                let _ = client.commands.send(Command::Stall(stall));
            }
        }
        *injected.entry(fault).or_default() += 1;
    }
    Ok(injected)
}
