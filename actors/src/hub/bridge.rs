//! The bridge: one dedicated Postgres connection per node that LISTENs for events,
//! token revocations and changes of rights, and hands them to the registry. It is DESIGN.md's one delivery path:
//! events written on this node arrive here exactly as those written elsewhere.
//!
//! When the connection drops (a database restart, a network blip) it reconnects with
//! backoff, LISTENs again and sends [`Resync`], so every owner reads the log from its head
//! and nothing committed in between is missed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use chrono::{DateTime, Utc};
use futures_util::{stream, StreamExt};
use gonghui_protocol::{EventFrame, Topic};
use serde::Deserialize;
use tokio_postgres::{AsyncMessage, NoTls};

use super::messages::{AccessChanged, Announce, Resync, SharedEvent, TokenRevoked};
use super::registry::Registry;
use crate::metrics::{seconds_since, Metrics};
use crate::store::access::ACCESS_CHANNEL;
use crate::store::rights::AccessChange;
use crate::store::tokens::REVOKED_CHANNEL;

/// The channel `append_event` notifies on.
pub const EVENTS_CHANNEL: &str = "gonghui_events";

/// A NOTIFY payload: the whole event, or only its topic and seq.
#[derive(Deserialize)]
struct Notice {
    topic: String,
    seq: u64,
    kind: Option<String>,
    at: Option<DateTime<Utc>>,
    data: Option<serde_json::Value>,
}

impl Notice {
    fn into_announce(self) -> Option<Announce> {
        let topic: Topic = self.topic.parse().ok()?;
        Some(match (self.kind, self.at, self.data) {
            (Some(kind), Some(at), Some(data)) => Announce::Event(SharedEvent::new(
                topic,
                EventFrame {
                    topic: self.topic,
                    seq: self.seq,
                    kind,
                    at,
                    data,
                },
            )),
            _ => Announce::SeqOnly {
                topic,
                seq: self.seq,
            },
        })
    }
}

/// Runs the bridge until the process ends. `listening` is true while LISTEN is in effect.
pub async fn run(
    database_url: String,
    registry: Addr<Registry>,
    listening: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match listen_once(&database_url, &registry, &listening, &metrics).await {
            Ok(()) => tracing::warn!("the bridge's connection closed; reconnecting"),
            Err(e) => {
                tracing::warn!(error = %e, "the bridge could not listen; retrying in {backoff:?}")
            }
        }
        listening.store(false, Ordering::SeqCst);
        metrics.bridge_reconnects.inc();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// How long the bridge waits for Postgres to accept and answer a new connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

async fn listen_once(
    database_url: &str,
    registry: &Addr<Registry>,
    listening: &AtomicBool,
    metrics: &Metrics,
) -> anyhow::Result<()> {
    let (client, mut connection) = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_postgres::connect(database_url, NoTls),
    )
    .await
    .map_err(|_| anyhow::anyhow!("Postgres did not answer within {CONNECT_TIMEOUT:?}"))??;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx.send(n).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the bridge's connection failed");
                    break;
                }
            }
        }
    });
    client
        .batch_execute(&format!(
            "LISTEN {EVENTS_CHANNEL}; LISTEN {REVOKED_CHANNEL}; LISTEN {ACCESS_CHANNEL}"
        ))
        .await?;
    listening.store(true, Ordering::SeqCst);
    tracing::info!("the bridge is listening");
    registry.do_send(Resync);
    while let Some(n) = rx.recv().await {
        if n.channel() == ACCESS_CHANNEL {
            if let Some(change) = AccessChange::parse(n.payload()) {
                registry.do_send(AccessChanged { change });
            }
            continue;
        }
        if n.channel() == REVOKED_CHANNEL {
            if let Ok(token_id) = n.payload().parse() {
                registry.do_send(TokenRevoked { token_id });
            }
            continue;
        }
        let notice = serde_json::from_str::<Notice>(n.payload()).ok();
        if let Some(at) = notice.as_ref().and_then(|n| n.at) {
            metrics.bridge_lag.observe(seconds_since(at));
        }
        match notice.and_then(Notice::into_announce) {
            Some(announce) => registry.do_send(announce),
            None => tracing::warn!(payload = n.payload(), "an unreadable event notice"),
        }
    }
    drop(client);
    driver.abort();
    Ok(())
}
