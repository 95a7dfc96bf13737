//! Where the event-driven scenarios get their events from.

use std::sync::Arc;
use std::time::Duration;

use futures_util::SinkExt;
use gonghui_actors::store::Store;
use gonghui_protocol::Codec;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::Target;
use crate::wire::{self, Socket};

/// Publishes events: through gonghui's log (the path every change takes) or to the peer.
pub(super) enum Publisher {
    Log(Arc<Store>),
    Peer(Box<Socket>),
}

impl Publisher {
    pub(super) async fn new(target: &Target, store: Arc<Store>) -> anyhow::Result<Self> {
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
                // As a node writes: the event to the outbox, then the log writer's batch.
                let conn = store.client().await?;
                let stmt = conn
                    .prepare_cached(
                        "INSERT INTO outbox (topic, kind, data) VALUES ($1, 'loadtest.tick', $2)",
                    )
                    .await?;
                conn.execute(&stmt, &[&topic, &json!({ "n": n })]).await?;
                drop(conn);
                store.sequence_outbox(Some(500)).await?;
            }
            Publisher::Peer(socket) => {
                let frame = json!({"type": "publish", "id": n, "topic": topic, "kind": "loadtest.tick", "data": {"n": n}});
                socket.send(Message::Text(frame.to_string())).await?;
            }
        }
        Ok(())
    }

    /// Publishes `count` events at `rate` per second; returns when the last was sent.
    pub(super) async fn burst(&mut self, topic: &str, count: u64, rate: f64) -> anyhow::Result<()> {
        let start = tokio::time::Instant::now();
        let gap = Duration::from_secs_f64(1.0 / rate.max(0.001));
        for n in 0..count {
            tokio::time::sleep_until(start + gap * n as u32).await;
            self.publish(topic, n).await?;
        }
        Ok(())
    }
}
