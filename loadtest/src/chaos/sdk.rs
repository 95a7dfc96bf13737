//! The TypeScript SDK's clients in the chaos run: one Node process
//! (`clients/sdk/chaos/recorder.ts`, bundled with the clients' esbuild) holds them, each
//! a `Realtime` of `@gonghui/client` with its own resume and failover. It prints what
//! every subscriber is handed; this side files it in the same [`Record`]s as the
//! harness's own clients, so the checker holds the SDK to the same promises — what an
//! app is handed, not what crossed the wire — and the controller drops and stalls its
//! sockets the same way.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use super::recorder::{self, ClientSpec, Received, Record, Recorder};

/// The clients' workspace, where `npm ci` put esbuild, `ws` and the SDK's packages.
pub fn default_clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../clients")
}

/// A line the SDK process prints: what client `c` was told.
#[derive(Deserialize)]
struct Said {
    c: usize,
    #[serde(flatten)]
    what: Line,
}

/// What a client was told, by its `t`.
#[derive(Deserialize)]
#[serde(tag = "t", rename_all = "lowercase")]
enum Line {
    Hello,
    Closed {
        code: u16,
    },
    Snapshot {
        topic: String,
        seq: u64,
        snapshot: Value,
    },
    Reset {
        topic: String,
        seq: u64,
        snapshot: Value,
    },
    Event {
        topic: String,
        seq: u64,
        kind: String,
        data: Value,
    },
    Ended {
        topic: String,
        error: String,
    },
}

/// The running SDK process; it is killed when this is dropped.
pub struct SdkClients {
    _process: Child,
}

/// Bundles the SDK's recorder and starts `specs` in one Node process over the nodes' `urls`.
///
/// # Errors
/// When the clients' packages are not installed (`npm ci` in `clients`), or the bundle or
/// Node fails to start.
pub async fn start(
    clients_dir: &Path,
    specs: Vec<ClientSpec>,
    urls: &[String],
) -> anyhow::Result<(Vec<Recorder>, SdkClients)> {
    let esbuild = clients_dir.join("node_modules/.bin/esbuild");
    anyhow::ensure!(
        esbuild.exists(),
        "{} is missing: run `npm ci` in {} (or --sdk-clients 0)",
        esbuild.display(),
        clients_dir.display()
    );
    let bundle = "node_modules/.cache/gonghui/chaos-recorder.mjs";
    let built = Command::new(&esbuild)
        .current_dir(clients_dir)
        .args([
            "sdk/chaos/recorder.ts",
            "--bundle",
            "--platform=node",
            "--format=esm",
            "--packages=external",
            "--log-level=warning",
        ])
        .arg(format!("--outfile={bundle}"))
        .status()
        .await
        .context("running esbuild")?;
    anyhow::ensure!(
        built.success(),
        "esbuild could not bundle the SDK's recorder"
    );
    let mut process = Command::new("node")
        .current_dir(clients_dir)
        .arg(bundle)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting node")?;
    let mut stdin = process.stdin.take().context("node's stdin")?;
    let stdout = process.stdout.take().context("node's stdout")?;

    let given: Vec<Value> = specs
        .iter()
        .enumerate()
        .map(|(c, spec)| {
            let mut order = urls.to_vec();
            order.rotate_left(spec.first % urls.len().max(1));
            json!({
                "token": spec.token,
                "client": spec.client,
                "topics": spec.topics,
                "urls": order,
                "codec": if c % 2 == 0 { "msgpack" } else { "json" },
            })
        })
        .collect();
    stdin
        .write_all(format!("{}\n", serde_json::to_string(&given)?).as_bytes())
        .await?;

    let (lines, mut to_node) = mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        while let Some(line) = to_node.recv().await {
            if stdin.write_all(line.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let mut recorders = Vec::new();
    for (c, spec) in specs.into_iter().enumerate() {
        let (commands, mut rx) = mpsc::unbounded_channel();
        let lines = lines.clone();
        tokio::spawn(async move {
            while let Some(command) = rx.recv().await {
                let line = match command {
                    recorder::Command::Drop => format!("drop {c}\n"),
                    recorder::Command::Stall(d) => format!("stall {c} {}\n", d.as_millis()),
                };
                if lines.send(line).is_err() {
                    return;
                }
            }
        });
        recorders.push(Recorder {
            name: format!("{} (sdk)", spec.name),
            record: spec.record(),
            commands,
        });
    }
    let records: Vec<_> = recorders.iter().map(|r| r.record.clone()).collect();
    tokio::spawn(async move {
        let mut stdout = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = stdout.next_line().await {
            match serde_json::from_str::<Said>(&line) {
                Ok(line) => file(&records, line),
                Err(e) => eprintln!("chaos: the SDK said {line:?} ({e})"),
            }
        }
        for record in &records {
            for (topic, log) in &mut record.lock().unwrap().topics {
                log.out_of_order
                    .push(format!("{topic}: the SDK's process ended"));
            }
        }
    });
    Ok((recorders, SdkClients { _process: process }))
}

/// Files what a client was told in its record.
fn file(records: &[Arc<Mutex<Record>>], Said { c, what: line }: Said) {
    let Some(record) = records.get(c) else {
        return;
    };
    let mut record = record.lock().unwrap();
    let reset = matches!(line, Line::Reset { .. });
    match line {
        Line::Hello => record.sessions += 1,
        Line::Closed { code } => *record.closes.entry(code).or_default() += 1,
        Line::Snapshot {
            topic,
            seq,
            snapshot,
        }
        | Line::Reset {
            topic,
            seq,
            snapshot,
        } => {
            if let Some(log) = record.topics.get_mut(&topic) {
                log.answered(seq, Some(snapshot), reset);
            }
        }
        Line::Event {
            topic,
            seq,
            kind,
            data,
        } => {
            if let Some(log) = record.topics.get_mut(&topic) {
                log.take(&topic, Received { seq, kind, data });
            }
        }
        Line::Ended { topic, error } => {
            if let Some(log) = record.topics.get_mut(&topic) {
                log.out_of_order
                    .push(format!("{topic}: the subscription ended ({error})"));
            }
        }
    }
}
