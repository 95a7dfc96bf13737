//! A client that records every frame of its topics across reconnects, as a console or an
//! app does: on any failure it moves to the next node and resumes each topic with
//! `since`. It pings every [`PING`] and gives a node up after [`SILENCE`] without a
//! frame, so a paused node is left like a dead one. The controller can drop its socket
//! or stall its reading.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gonghui_protocol::dto::SubscribeReply;
use gonghui_protocol::{ClientKind, ClientMsg, Codec, RequestId, ServerMsg};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::wire::{self, Incoming, Socket};

/// How often the client pings.
const PING: Duration = Duration::from_secs(1);
/// How long without any frame before the node is given up.
const SILENCE: Duration = Duration::from_secs(4);
/// The client's receive buffer: small, so a stalled reader backs the node up at once.
const RECV_BUFFER: u32 = 4096;

/// One event as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub seq: u64,
    pub kind: String,
    pub data: Value,
}

/// What a client saw of one topic.
#[derive(Debug, Default, Clone)]
pub struct TopicLog {
    /// The first snapshot and the seq it reflects.
    pub base: Option<(u64, Value)>,
    /// Every event after it, in the order received.
    pub events: Vec<Received>,
    /// Resumes answered with a reset (a fresh snapshot): none is expected.
    pub resets: u32,
    /// Events that did not follow the last one (a gap or a repeat), as found.
    pub out_of_order: Vec<String>,
}

impl TopicLog {
    /// The last seq held.
    pub fn last(&self) -> Option<u64> {
        self.events
            .last()
            .map(|e| e.seq)
            .or(self.base.as_ref().map(|(s, _)| *s))
    }

    /// A subscribe's answer: the first snapshot becomes the base; a reset is counted.
    pub fn answered(&mut self, seq: u64, snapshot: Option<Value>, reset: bool) {
        if reset {
            self.resets += 1;
        }
        if let (None, Some(snapshot)) = (&self.base, snapshot) {
            self.base = Some((seq, snapshot));
        }
    }

    /// Keeps an event that follows the last one held; notes any other.
    pub fn take(&mut self, topic: &str, event: Received) {
        match self.last() {
            Some(last) if event.seq == last + 1 => self.events.push(event),
            Some(last) if event.seq <= last => self
                .out_of_order
                .push(format!("{topic}: seq {} again after {last}", event.seq)),
            Some(last) => self
                .out_of_order
                .push(format!("{topic}: seq {} after {last} (a gap)", event.seq)),
            None => self
                .out_of_order
                .push(format!("{topic}: seq {} before any snapshot", event.seq)),
        }
    }
}

/// What a client saw, shared with the checker.
#[derive(Debug, Default)]
pub struct Record {
    pub topics: BTreeMap<String, TopicLog>,
    /// Sessions opened (the first, then one per reconnect).
    pub sessions: u32,
    /// Close codes its sessions ended with: the nodes' (and, for the SDK's clients, the
    /// SDK's own: 1006 for a connection dropped or refused, 4000 for a node given up).
    pub closes: BTreeMap<u16, u32>,
}

/// Who a recording client is and what it reads.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub name: String,
    pub token: String,
    pub client: ClientKind,
    pub topics: Vec<String>,
    /// The node it connects to first (then the next on each failure).
    pub first: usize,
}

impl ClientSpec {
    /// An empty record of the spec's topics, shared with the checker.
    pub fn record(&self) -> Arc<Mutex<Record>> {
        let topics = self
            .topics
            .iter()
            .map(|t| (t.clone(), TopicLog::default()))
            .collect();
        Arc::new(Mutex::new(Record {
            topics,
            ..Record::default()
        }))
    }
}

/// What the controller tells a client.
#[derive(Debug, Clone, Copy)]
pub enum Command {
    /// Drop the TCP connection without a close frame.
    Drop,
    /// Stop reading for this long.
    Stall(Duration),
}

/// A recording client's handle.
pub struct Recorder {
    pub name: String,
    pub record: Arc<Mutex<Record>>,
    pub commands: mpsc::UnboundedSender<Command>,
}

/// Starts the harness's own client for `spec` over the nodes' `urls`.
pub fn start(spec: ClientSpec, urls: Vec<String>) -> Recorder {
    let record = spec.record();
    let (commands, mut rx) = mpsc::unbounded_channel();
    let shared = record.clone();
    let ClientSpec {
        name,
        token,
        client,
        topics,
        first,
    } = spec;
    tokio::spawn(async move {
        let mut node = first;
        loop {
            let session = Session {
                token: &token,
                client,
                topics: &topics,
                record: &shared,
            };
            session.run(&urls[node % urls.len()], &mut rx).await;
            node += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    Recorder {
        name,
        record,
        commands,
    }
}

struct Session<'a> {
    token: &'a str,
    client: ClientKind,
    topics: &'a [String],
    record: &'a Mutex<Record>,
}

impl Session<'_> {
    /// One session on `url`, until it fails or is dropped.
    async fn run(&self, url: &str, commands: &mut mpsc::UnboundedReceiver<Command>) {
        let Ok(Ok(mut socket)) = tokio::time::timeout(
            SILENCE,
            wire::connect_with(url, Codec::MsgPack, None, Some(RECV_BUFFER)),
        )
        .await
        else {
            return;
        };
        self.record.lock().unwrap().sessions += 1;
        if self.open(&mut socket).await.is_err() {
            return;
        }
        let mut ping = tokio::time::interval(PING);
        let mut id = 1_000_000;
        loop {
            tokio::select! {
                frame = tokio::time::timeout(SILENCE, wire::next::<ServerMsg>(&mut socket, Codec::MsgPack)) => {
                    match frame {
                        Ok(Ok(Some(Incoming::Msg(ServerMsg::Event(e))))) => self.take(&e.topic, Received {
                            seq: e.seq,
                            kind: e.kind,
                            data: e.data,
                        }),
                        Ok(Ok(Some(Incoming::Msg(_)))) => {}
                        Ok(Ok(Some(Incoming::Closed(code)))) => {
                            *self.record.lock().unwrap().closes.entry(code).or_default() += 1;
                            return;
                        }
                        _ => return,
                    }
                }
                _ = ping.tick() => {
                    id += 1;
                    let msg = ClientMsg::Ping { id: RequestId::Int(id) };
                    if wire::send(&mut socket, Codec::MsgPack, &msg).await.is_err() {
                        return;
                    }
                }
                command = commands.recv() => match command {
                    Some(Command::Drop) | None => return,
                    Some(Command::Stall(d)) => tokio::time::sleep(d).await,
                }
            }
        }
    }

    /// Says hello and subscribes to every topic: fresh the first time, after the last
    /// seq held since.
    async fn open(&self, socket: &mut Socket) -> anyhow::Result<()> {
        let hello = ClientMsg::Hello {
            id: RequestId::Int(0),
            token: self.token.to_owned(),
            client: self.client,
        };
        wire::send(socket, Codec::MsgPack, &hello).await?;
        let mut asked = BTreeMap::new();
        for (n, topic) in self.topics.iter().enumerate() {
            let since = self.record.lock().unwrap().topics[topic].last();
            let id = n as i64 + 1;
            asked.insert(id, topic.clone());
            let msg = ClientMsg::Subscribe {
                id: RequestId::Int(id),
                topic: topic.clone(),
                since,
            };
            wire::send(socket, Codec::MsgPack, &msg).await?;
        }
        let mut hello_answered = false;
        while !asked.is_empty() || !hello_answered {
            let frame =
                tokio::time::timeout(SILENCE, wire::next::<ServerMsg>(socket, Codec::MsgPack))
                    .await??
                    .ok_or_else(|| anyhow::anyhow!("closed while opening"))?;
            match frame {
                Incoming::Msg(ServerMsg::Reply {
                    id: RequestId::Int(0),
                    ok,
                    ..
                }) => {
                    anyhow::ensure!(ok, "hello refused");
                    hello_answered = true;
                }
                Incoming::Msg(ServerMsg::Reply {
                    id: RequestId::Int(id),
                    ok,
                    data,
                    ..
                }) => {
                    let topic = asked
                        .remove(&id)
                        .ok_or_else(|| anyhow::anyhow!("a reply to nothing"))?;
                    anyhow::ensure!(ok, "subscribe to {topic} refused");
                    let reply: SubscribeReply = serde_json::from_value(data.unwrap_or_default())?;
                    self.answered(&topic, reply);
                }
                Incoming::Msg(ServerMsg::Event(e)) => self.take(
                    &e.topic,
                    Received {
                        seq: e.seq,
                        kind: e.kind,
                        data: e.data,
                    },
                ),
                Incoming::Msg(_) => {}
                Incoming::Closed(code) => {
                    *self.record.lock().unwrap().closes.entry(code).or_default() += 1;
                    anyhow::bail!("closed with {code} while opening");
                }
            }
        }
        Ok(())
    }

    fn answered(&self, topic: &str, reply: SubscribeReply) {
        let mut record = self.record.lock().unwrap();
        let log = record.topics.get_mut(topic).expect("a topic asked for");
        log.answered(reply.seq, reply.snapshot, reply.reset);
    }

    fn take(&self, topic: &str, event: Received) {
        if let Some(log) = self.record.lock().unwrap().topics.get_mut(topic) {
            log.take(topic, event);
        }
    }
}
