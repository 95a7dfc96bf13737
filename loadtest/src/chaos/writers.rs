//! The writers: applicants applying and admins deciding, over HTTP, while nodes die.
//! Each call carries an `Idempotency-Key` and is tried again — on the next node, after
//! a pause — until some node answers it (a lost answer then replays, never repeats).
//! Every call answered 2xx is remembered for the checker: the database must show it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{json, Value};

/// How long one try may take.
const TRY_WITHIN: Duration = Duration::from_secs(5);
/// How long a call is tried before it is given up (a key held by a killed node's
/// request waits this long at most).
const GIVE_UP_AFTER: Duration = Duration::from_secs(90);

/// A change a node acknowledged.
#[derive(Debug, Clone, Copy)]
pub enum Acked {
    /// `user` applied; the application is `id`.
    Applied { id: i64, user: i64 },
    /// Application `id` was approved (or rejected).
    Decided { id: i64, approved: bool },
}

/// What the writers did.
#[derive(Debug, Default)]
pub struct Calls {
    pub acked: Vec<Acked>,
    /// Final answers by status (after retries).
    pub answers: BTreeMap<u16, u32>,
    /// Tries that failed and were tried again: no answer (a dead or paused node) or 5xx.
    pub retried: u32,
    /// Calls that never got an answer: each call and the last thing heard.
    pub unanswered: Vec<String>,
}

/// The nodes' HTTP addresses and the shared record of calls.
#[derive(Clone)]
pub struct Writer {
    pub nodes: Arc<Vec<String>>,
    pub http: reqwest::Client,
    pub calls: Arc<Mutex<Calls>>,
}

impl Writer {
    /// POSTs `body` to `path` as `token`, with one idempotency key, until a node answers
    /// something other than 5xx; `None` if none does in time.
    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Option<(u16, Value)> {
        let key = format!("chaos-{:016x}", rand::thread_rng().gen::<u64>());
        let started = Instant::now();
        let mut node = rand::thread_rng().gen_range(0..self.nodes.len());
        let mut last = String::new();
        while started.elapsed() < GIVE_UP_AFTER {
            let url = format!("{}/api/v1{path}", self.nodes[node % self.nodes.len()]);
            let answer = self
                .http
                .post(&url)
                .bearer_auth(token)
                .header("idempotency-key", &key)
                .json(body)
                .timeout(TRY_WITHIN)
                .send()
                .await;
            match answer {
                Ok(r) if !r.status().is_server_error() && r.status() != 409 => {
                    let status = r.status().as_u16();
                    let body = r.json().await.unwrap_or(Value::Null);
                    *self
                        .calls
                        .lock()
                        .unwrap()
                        .answers
                        .entry(status)
                        .or_default() += 1;
                    return Some((status, body));
                }
                Ok(r) if r.status() == 409 => {
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    // The first try still holds the key (it may be running on another node).
                    if body["error"]["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("still"))
                    {
                        last = "409: still in progress".into();
                        self.calls.lock().unwrap().retried += 1;
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue;
                    }
                    *self.calls.lock().unwrap().answers.entry(409).or_default() += 1;
                    return Some((409, body));
                }
                other => {
                    last = match other {
                        Ok(r) => format!("{}", r.status()),
                        Err(e) => format!("no answer: {e}"),
                    };
                    self.calls.lock().unwrap().retried += 1;
                    node += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        self.calls
            .lock()
            .unwrap()
            .unanswered
            .push(format!("POST {path}: {last}"));
        None
    }

    /// `user` applies to join `union`.
    pub async fn apply(&self, token: &str, user: i64, union: i64) {
        let path = format!("/unions/{union}/applications");
        if let Some((201, body)) = self.post(token, &path, &json!({"kind": "join"})).await {
            if let Some(id) = body["id"].as_i64() {
                self.acked(Acked::Applied { id, user });
            }
        }
    }

    /// An admin approves application `id`, or rejects it.
    pub async fn decide(&self, token: &str, id: i64, approve: bool) {
        let (path, body) = if approve {
            (format!("/applications/{id}/approve"), json!({}))
        } else {
            (
                format!("/applications/{id}/reject"),
                json!({"reason": "名额已满"}),
            )
        };
        if let Some((200, _)) = self.post(token, &path, &body).await {
            self.acked(Acked::Decided {
                id,
                approved: approve,
            });
        }
    }

    fn acked(&self, acked: Acked) {
        self.calls.lock().unwrap().acked.push(acked);
    }
}
