//! Measures apply → admin-visible latency across two nodes: starts two `serve` nodes
//! in-process on a fresh database, seeds verified members directly, then for each member
//! POSTs a join application to node B and times until the admin's socket on node A
//! receives `application.created`. Prints p50/p90/p99/max.
//!
//! `cargo run --release --example apply_latency -- [COUNT]` (default 500), with Postgres
//! at `TEST_DATABASE_BASE` (default `postgres://postgres@127.0.0.1:5432`).

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use gonghui::config::{Config, Settings};
use gonghui::startup::Application;
use gonghui_actors::crypto::Secrets;
use gonghui_actors::store::Store;
use gonghui_protocol::{
    decode, encode, ClientKind, ClientMsg, Codec, RequestId, ServerMsg, WireFrame,
};
use tokio_tungstenite::tungstenite::Message;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let count: usize = std::env::args().nth(1).map_or(Ok(500), |n| n.parse())?;
    let base = std::env::var("TEST_DATABASE_BASE")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let database_url = format!("{base}/gonghui_latency_{}", std::process::id());
    let settings = Settings {
        database_url: Some(database_url.clone()),
        workers: Some(1),
        ..Settings::default()
    };
    let mut ports = Vec::new();
    for _ in 0..2 {
        let app =
            Application::build(Config::resolve(settings.clone(), "127.0.0.1:0".into())?).await?;
        ports.push(app.port());
        actix_web::rt::spawn(app.run());
    }

    let store = Store::connect(&database_url, 4, Secrets::like_a_node()?)?;
    let root = store.client().await?.query_one(
        "INSERT INTO unions (id, name, path) SELECT id, 'bench', ARRAY[id] FROM (SELECT nextval('unions_id_seq') AS id) n RETURNING id", &[]).await?.get::<_, i64>(0);
    let admin = seed_user(&store, 0).await?;
    store.client().await?.execute(
        "INSERT INTO union_admins (union_id, user_id, permissions) VALUES ($1, $2, ARRAY['members.review'])", &[&root, &admin]).await?;
    let (admin_token, _) = store
        .issue_token(admin, ClientKind::Console, Duration::from_secs(3600))
        .await?;
    let mut members = Vec::new();
    for n in 1..=count {
        let id = seed_user(&store, n).await?;
        members.push(
            store
                .issue_token(id, ClientKind::App, Duration::from_secs(3600))
                .await?
                .0,
        );
    }

    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/ws", ports[0])).await?;
    for msg in [
        ClientMsg::Hello {
            id: RequestId::Int(1),
            token: admin_token,
            client: ClientKind::Console,
        },
        ClientMsg::Subscribe {
            id: RequestId::Int(2),
            topic: format!("union:{root}:admin"),
            since: None,
        },
    ] {
        let WireFrame::Binary(bytes) = encode(Codec::MsgPack, &msg)? else {
            unreachable!()
        };
        socket.send(Message::Binary(bytes.to_vec())).await?;
        socket.next().await;
    }
    let http = reqwest::Client::new();
    let url = format!(
        "http://127.0.0.1:{}/api/v1/unions/{root}/applications",
        ports[1]
    );
    let mut samples = Vec::with_capacity(count);
    for token in &members {
        let sent = Instant::now();
        let answer = http
            .post(&url)
            .bearer_auth(token)
            .json(&serde_json::json!({"kind": "join"}))
            .send()
            .await?;
        anyhow::ensure!(answer.status() == 201, "apply failed: {}", answer.status());
        loop {
            let Some(Ok(Message::Binary(bytes))) = socket.next().await else {
                anyhow::bail!("the socket ended")
            };
            if let ServerMsg::Event(e) = decode::<ServerMsg>(Codec::MsgPack, &bytes)? {
                if e.kind == "application.created" {
                    break;
                }
            }
        }
        samples.push(sent.elapsed());
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "apply (node B) -> admin-visible (node A), {count} applications: p50 {:?}  p90 {:?}  p99 {:?}  max {:?}",
        at(0.50), at(0.90), at(0.99), samples[samples.len() - 1]
    );
    Ok(())
}

/// A verified user made directly in the database (no SMS, no argon2).
async fn seed_user(store: &Store, n: usize) -> anyhow::Result<i64> {
    let row = store
        .client()
        .await?
        .query_one(
            "INSERT INTO users (phone, name, id_number_index, id_number_masked, verified_at)
         VALUES ($1, $2, $3, '4401**********0000', now()) RETURNING id",
            &[
                &format!("1{:010}", 3_000_000_000u64 + n as u64),
                &format!("bench{n}"),
                &format!("bench-{n}").into_bytes(),
            ],
        )
        .await?;
    Ok(row.get(0))
}
