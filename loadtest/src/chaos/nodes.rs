//! The chaos run's gonghui nodes: real `gonghui serve` processes on fixed ports of their
//! own, which the controller kills, restarts, pauses and resumes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// The settings every node runs with: small buffers and a short session queue, so a
/// stalled reader is closed with 4008 within seconds instead of filling megabytes.
const ENV: &[(&str, &str)] = &[
    ("GONGHUI_LOG", "warn"),
    ("GONGHUI_SMS", "log"),
    ("GONGHUI_WORKERS", "1"),
    ("GONGHUI_DB_POOL", "8"),
    ("GONGHUI_SESSION_QUEUE", "8"),
    ("GONGHUI_SOCKET_SEND_BUFFER", "4096"),
    // A call cut off by a kill is answered on a retry within seconds, not minutes.
    ("GONGHUI_IDEMPOTENCY_LEASE_SECS", "5"),
    // Every recording client comes from 127.0.0.1, all reconnecting after a kill.
    ("GONGHUI_ANONYMOUS_SOCKETS_PER_ADDRESS", "100000"),
];

/// How long a node may take to answer `/readyz` after it starts.
const READY_WITHIN: Duration = Duration::from_secs(30);

struct Node {
    port: u16,
    child: Option<Child>,
    paused: bool,
}

/// The nodes, by index.
pub struct Nodes {
    bin: PathBuf,
    env: Vec<(String, String)>,
    logs: PathBuf,
    nodes: Vec<Node>,
    http: reqwest::Client,
}

impl Nodes {
    /// Starts `count` nodes of `bin` on `database_url`, each ready before the next starts
    /// (the first creates the schema); their output goes to `logs/node-N.log`.
    ///
    /// # Errors
    /// When a node does not start or never becomes ready.
    pub async fn start(
        bin: &Path,
        database_url: &str,
        data_key: &str,
        count: usize,
        logs: &Path,
    ) -> anyhow::Result<Nodes> {
        std::fs::create_dir_all(logs)?;
        let mut env: Vec<(String, String)> = ENV
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        env.push(("DATABASE_URL".into(), database_url.to_owned()));
        env.push(("GONGHUI_DATA_KEY".into(), data_key.to_owned()));
        let mut nodes = Nodes {
            bin: bin.to_owned(),
            env,
            logs: logs.to_owned(),
            nodes: Vec::new(),
            http: reqwest::Client::new(),
        };
        for i in 0..count {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            nodes.nodes.push(Node {
                port,
                child: None,
                paused: false,
            });
            nodes.launch(i).await?;
        }
        Ok(nodes)
    }

    /// How many nodes there are.
    pub fn count(&self) -> usize {
        self.nodes.len()
    }

    /// Node `i`'s HTTP base URL.
    pub fn http(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.nodes[i].port)
    }

    /// Node `i`'s WebSocket URL.
    pub fn ws(&self, i: usize) -> String {
        format!("ws://127.0.0.1:{}/ws", self.nodes[i].port)
    }

    /// Starts node `i` and waits until it is ready.
    async fn launch(&mut self, i: usize) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.logs.join(format!("node-{i}.log")))?;
        let child = Command::new(&self.bin)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{}", self.nodes[i].port),
            ])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        self.nodes[i].child = Some(child);
        self.nodes[i].paused = false;
        let ready = format!("{}/readyz", self.http(i));
        let since = Instant::now();
        loop {
            let answer = self
                .http
                .get(&ready)
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            anyhow::ensure!(
                since.elapsed() < READY_WITHIN,
                "node {i} was not ready within {READY_WITHIN:?} (see {})",
                self.logs.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills node `i` with SIGKILL: no shutdown, no close frames, in-flight calls lost.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            signal(&child, libc::SIGKILL);
            let _ = child.wait();
        }
        self.nodes[i].paused = false;
    }

    /// Starts node `i` again after a kill.
    ///
    /// # Errors
    /// When it does not become ready.
    pub async fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        self.kill(i);
        self.launch(i).await
    }

    /// Stops node `i` with SIGSTOP (or lets it go on with SIGCONT): its sockets stay open
    /// and silent, as a machine that hangs.
    pub fn pause(&mut self, i: usize, paused: bool) {
        if let Some(child) = &self.nodes[i].child {
            signal(child, if paused { libc::SIGSTOP } else { libc::SIGCONT });
            self.nodes[i].paused = paused;
        }
    }

    /// Every node running and not paused again.
    ///
    /// # Errors
    /// When a node does not come back.
    pub async fn all_up(&mut self) -> anyhow::Result<()> {
        for i in 0..self.nodes.len() {
            if self.nodes[i].paused {
                self.pause(i, false);
            }
            if self.nodes[i].child.is_none() {
                self.launch(i).await?;
            }
        }
        Ok(())
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

fn signal(child: &Child, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill only sends a signal to our own child process.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}
