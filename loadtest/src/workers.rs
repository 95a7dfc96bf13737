//! The parent's side of the worker processes: it splits the sessions over `--workers`
//! copies of this binary (each process may hold at most ~20,000 open files), feeds them
//! their share and commands, and adds up their status lines into one live picture, which
//! a [`timeline`] samples every second.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::task::JoinHandle;

use crate::fleet::{FleetSpec, Status};
use crate::timeline::{self, Sample};

/// Running workers.
pub struct Workers {
    children: Vec<Child>,
    stdins: Vec<ChildStdin>,
    latest: Arc<Mutex<Vec<Status>>>,
    /// One per worker: reads its status lines, and ends with its final one at its exit.
    readers: Vec<JoinHandle<Option<Status>>>,
    label: String,
    timeline: Arc<Mutex<Vec<Sample>>>,
    sampler: JoinHandle<()>,
}

impl Workers {
    /// Starts `count` workers sharing `spec`'s sessions round-robin; `pids` are the
    /// server's, whose memory the timeline follows.
    pub async fn start(
        spec: &FleetSpec,
        count: usize,
        label: &str,
        pids: &[u32],
    ) -> anyhow::Result<Workers> {
        let count = count.max(1);
        let exe = std::env::current_exe()?;
        let latest = Arc::new(Mutex::new(vec![Status::default(); count]));
        let (mut children, mut stdins, mut readers) = (Vec::new(), Vec::new(), Vec::new());
        for w in 0..count {
            let mut share = spec.clone();
            share.sessions = spec
                .sessions
                .iter()
                .skip(w)
                .step_by(count)
                .cloned()
                .collect();
            share.connect_rate = spec.connect_rate / count as f64;
            let mut child = Command::new(&exe)
                .arg("worker")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .context("starting a worker")?;
            let mut stdin = child.stdin.take().context("worker stdin")?;
            stdin
                .write_all(format!("{}\n", serde_json::to_string(&share)?).as_bytes())
                .await?;
            let stdout = child.stdout.take().context("worker stdout")?;
            let latest = latest.clone();
            readers.push(tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                let mut last = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(fin) = line.strip_prefix("FINAL ") {
                        last = serde_json::from_str(fin).ok();
                    } else if let Ok(status) = serde_json::from_str(&line) {
                        latest.lock().unwrap()[w] = status;
                    }
                }
                last
            }));
            children.push(child);
            stdins.push(stdin);
        }
        let (timeline, sampler) = {
            let latest = latest.clone();
            timeline::record(move || sum(&latest), pids.to_vec())
        };
        Ok(Workers {
            children,
            stdins,
            latest,
            readers,
            label: label.to_owned(),
            timeline,
            sampler,
        })
    }

    /// The sum of the workers' latest status lines.
    pub fn total(&self) -> Status {
        sum(&self.latest)
    }

    /// The run so far, second by second.
    pub fn timeline(&self) -> Vec<Sample> {
        self.timeline.lock().unwrap().clone()
    }

    /// Sends a command line to every worker.
    pub async fn command(&mut self, line: &str) -> anyhow::Result<()> {
        for stdin in &mut self.stdins {
            stdin.write_all(format!("{line}\n").as_bytes()).await?;
        }
        Ok(())
    }

    /// Shows the live progress line until `done` holds or `limit` passes; returns whether it held.
    pub async fn wait_until(&self, limit: Duration, done: impl Fn(&Status) -> bool) -> bool {
        let start = Instant::now();
        loop {
            let now = self.total();
            progress(&self.label, &now, start.elapsed());
            if done(&now) {
                eprintln!();
                return true;
            }
            if start.elapsed() > limit {
                eprintln!("  (gave up after {limit:?})");
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Shows the progress line for `hold`, e.g. while sessions sit idle.
    pub async fn hold(&self, hold: Duration) {
        let start = Instant::now();
        while start.elapsed() < hold {
            progress(&self.label, &self.total(), start.elapsed());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!();
    }

    /// Stops the workers and returns their final status, connect times included.
    pub async fn stop(mut self) -> anyhow::Result<Status> {
        self.sampler.abort();
        self.command("stop").await?;
        for child in &mut self.children {
            tokio::time::timeout(Duration::from_secs(30), child.wait())
                .await
                .context("a worker did not stop")??;
        }
        let mut total = Status::default();
        for reader in self.readers {
            let last = reader.await.context("a worker's reader failed")?;
            total.merge(&last.context("a worker ended without its final status")?);
        }
        Ok(total)
    }
}

fn sum(latest: &Mutex<Vec<Status>>) -> Status {
    let mut total = Status::default();
    for s in latest.lock().unwrap().iter() {
        total.merge(s);
    }
    total
}

/// Rewrites the progress line on stderr.
pub fn progress(label: &str, s: &Status, elapsed: Duration) {
    eprint!(
        "\r[{label} {:>5.1}s] connected {} failed {} deliveries {} gaps {} dups {} down {} resynced {}   ",
        elapsed.as_secs_f64(),
        s.connected,
        s.failed_total(),
        s.deliveries,
        s.gaps,
        s.dups,
        s.down,
        s.resynced
    );
}
