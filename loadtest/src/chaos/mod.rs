//! `chaos`: the resume promise under continuous failure. N nodes on a throwaway Postgres
//! of the run's own; recording clients (admins on the approval queue and the union,
//! members on their own topic) spread over the nodes, the harness's own and the
//! TypeScript SDK's ([`sdk`]); applicants applying and admins
//! deciding without pause; and a controller injecting one fault after another
//! ([`faults`]). When the faults stop, every node is brought back, the writers finish,
//! the clients catch up, and [`checker`] compares what every client holds with the
//! database. Any broken promise fails the run.

mod checker;
mod faults;
mod nodes;
mod recorder;
mod sdk;
mod writers;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use gonghui_actors::crypto::Secrets;
use gonghui_actors::store::Store;
use gonghui_loadtest::postgres::Throwaway;
use gonghui_loadtest::seed::{self, SeedPlan};
use gonghui_protocol::events::kind;
use gonghui_protocol::ClientKind;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use self::nodes::Nodes;
use self::recorder::{ClientSpec, Recorder};
use self::writers::{Calls, Writer};

/// The chaos scenario's options.
#[derive(clap::Args, Clone)]
pub struct ChaosArgs {
    /// Seconds of faults (the run then settles and checks)
    #[arg(long, default_value_t = 60.0)]
    pub duration: f64,
    /// Nodes to run
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Admins, each recording the approval queue and the union, and deciding
    #[arg(long, default_value_t = 3)]
    pub admins: usize,
    /// Members recording their own topic (they apply too)
    #[arg(long, default_value_t = 9)]
    pub watchers: usize,
    /// Clients of the TypeScript SDK beside the harness's own: the first an admin on the
    /// queue and the union, the others members on their own topic (who apply too)
    #[arg(long, default_value_t = 4)]
    pub sdk_clients: usize,
    /// The clients' workspace (its node_modules holds the SDK's packages and esbuild)
    #[arg(long, default_value_os_t = sdk::default_clients_dir())]
    pub clients_dir: PathBuf,
    /// Applications per second
    #[arg(long, default_value_t = 8.0)]
    pub rate: f64,
    /// Mean seconds between faults
    #[arg(long, default_value_t = 4.0)]
    pub fault_every: f64,
    /// Seconds the clients have to catch up once the faults stop
    #[arg(long, default_value_t = 60.0)]
    pub settle: f64,
    /// The random seed (a failed run is repeated with its seed) [default: random]
    #[arg(long)]
    pub seed: Option<u64>,
    /// The `gonghui` binary to run [default: beside this one]
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Write the results here as JSON
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Runs the scenario; false when a promise was broken.
pub async fn chaos(args: &ChaosArgs) -> anyhow::Result<bool> {
    crate::scenarios::raise_file_limit();
    let seed = args.seed.unwrap_or_else(|| rand::thread_rng().gen());
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let bin = match &args.server_bin {
        Some(bin) => bin.clone(),
        None => std::env::current_exe()?.with_file_name("gonghui"),
    };
    let postgres = Throwaway::start().context("starting a throwaway Postgres")?;
    let database_url = format!("{}/gonghui_chaos", postgres.base());
    let data_key: String = (0..32)
        .map(|_| format!("{:02x}", rng.gen::<u8>()))
        .collect();
    let logs = std::env::temp_dir().join(format!("gonghui-chaos-{}", std::process::id()));
    eprintln!(
        "chaos: seed {seed}, {} nodes, node logs in {}",
        args.nodes,
        logs.display()
    );
    let mut nodes = Nodes::start(&bin, &database_url, &data_key, args.nodes.max(2), &logs).await?;

    let sdk_members = args.sdk_clients.saturating_sub(1);
    let watchers = args.watchers + sdk_members;
    let applicants = (args.rate * args.duration).ceil() as usize + watchers;
    let store = Store::connect(&database_url, 2, Secrets::from_hex(&data_key)?)?;
    let seeded = seed::seed(
        &store,
        SeedPlan {
            members: 0,
            applicants: applicants as i64,
            admins: args.admins.max(1) as i64,
            children: 0,
            token_ttl: Duration::from_secs(24 * 3600),
        },
    )
    .await
    .context("seeding")?;
    let union = seeded.union_id;
    let ws: Vec<String> = (0..nodes.count()).map(|i| nodes.ws(i)).collect();
    let admin = |k: usize, id: i64| ClientSpec {
        name: format!("admin {id}"),
        token: seeded.token(id),
        client: ClientKind::Console,
        topics: vec![format!("union:{union}:admin"), format!("union:{union}")],
        first: k,
    };
    let member = |k: usize, id: i64| ClientSpec {
        name: format!("member {id}"),
        token: seeded.token(id),
        client: ClientKind::App,
        topics: vec![format!("member:{id}")],
        first: k,
    };
    let mut clients: Vec<Recorder> = seeded
        .admins
        .iter()
        .enumerate()
        .map(|(k, id)| admin(k, *id))
        .chain(
            seeded
                .applicants
                .iter()
                .take(args.watchers)
                .enumerate()
                .map(|(k, id)| member(k + args.admins, *id)),
        )
        .map(|spec| recorder::start(spec, ws.clone()))
        .collect();
    let sdk_specs: Vec<ClientSpec> = seeded
        .admins
        .iter()
        .take(args.sdk_clients.min(1))
        .map(|id| admin(1, *id))
        .chain(
            seeded.applicants[args.watchers..watchers]
                .iter()
                .enumerate()
                .map(|(k, id)| member(k, *id)),
        )
        .collect();
    let sdk_count = sdk_specs.len();
    let _sdk = if sdk_specs.is_empty() {
        None
    } else {
        let (recorders, process) = sdk::start(&args.clients_dir, sdk_specs, &ws)
            .await
            .context("starting the SDK's clients")?;
        clients.extend(recorders);
        Some(process)
    };

    let writer = Writer {
        nodes: Arc::new((0..nodes.count()).map(|i| nodes.http(i)).collect()),
        http: reqwest::Client::new(),
        calls: Arc::new(Mutex::new(Calls::default())),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let mut order = seeded.applicants.clone();
    let watching: Vec<i64> = order.drain(..watchers.min(order.len())).collect();
    for w in watching {
        let at = rng.gen_range(0..=order.len());
        order.insert(at, w);
    }
    let applying = tokio::spawn(apply(
        writer.clone(),
        order.into_iter().map(|u| (u, seeded.token(u))).collect(),
        union,
        args.rate,
        stop.clone(),
    ));
    let deciding: Vec<_> = seeded
        .admins
        .iter()
        .enumerate()
        .map(|(k, admin)| {
            tokio::spawn(decide(
                writer.clone(),
                seeded.token(*admin),
                (clients[k].record.clone(), format!("union:{union}:admin")),
                (k, seeded.admins.len()),
                stop.clone(),
            ))
        })
        .collect();

    let until = Instant::now() + Duration::from_secs_f64(args.duration);
    let injected = faults::inject(
        &mut rng,
        args.fault_every,
        until,
        &mut nodes,
        &postgres,
        &clients,
    )
    .await?;
    stop.store(true, Ordering::SeqCst);
    nodes.all_up().await?;
    applying.await?;
    for d in deciding {
        d.await?;
    }

    let (db, connection) = tokio_postgres::connect(&database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let settled = settle(&db, &clients, Duration::from_secs_f64(args.settle)).await?;
    let calls = std::mem::take(&mut *writer.calls.lock().unwrap());
    let verdict = checker::check(&db, union, &clients, &calls).await?;

    let tally = |clients: &[Recorder]| {
        let (mut events, mut topics, mut sessions) = (0, 0, 0);
        let mut closes: BTreeMap<u16, u32> = BTreeMap::new();
        for client in clients {
            let record = client.record.lock().unwrap();
            events += record
                .topics
                .values()
                .map(|t| t.events.len())
                .sum::<usize>();
            topics += record.topics.len();
            sessions += record.sessions;
            for (code, n) in &record.closes {
                *closes.entry(*code).or_default() += n;
            }
        }
        json!({
            "clients": clients.len(),
            "sessions_opened": sessions,
            "closes_by_code": closes,
            "events_received": events,
            "topics_checked": topics,
        })
    };
    let (own, of_sdk) = clients.split_at(clients.len() - sdk_count);
    let faults: BTreeMap<&str, u32> = injected.iter().map(|(f, n)| (f.name(), *n)).collect();
    let report = json!({
        "scenario": "chaos",
        "seed": seed,
        "nodes": nodes.count(),
        "duration_s": args.duration,
        "faults": faults,
        "faults_total": injected.values().sum::<u32>(),
        "harness_clients": tally(own),
        "sdk_clients": tally(of_sdk),
        "settled_in_s": settled.map(|d| d.as_secs_f64()),
        "calls": {
            "acknowledged": calls.acked.len(),
            "answers_by_status": calls.answers,
            "tries_repeated": calls.retried,
            "never_answered": calls.unanswered.len(),
        },
        "checks": verdict.checks,
        "violations": verdict.violations,
        "run_s": started.elapsed().as_secs_f64(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")?;
    }
    Ok(verdict.violations.is_empty() && settled.is_some())
}

/// Applies for each of `applicants` in turn, `rate` a second, until stopped; waits for
/// the calls made.
async fn apply(
    writer: Writer,
    applicants: Vec<(i64, String)>,
    union: i64,
    rate: f64,
    stop: Arc<AtomicBool>,
) {
    let mut calls = tokio::task::JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.1)));
    for (user, token) in applicants {
        tick.tick().await;
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let writer = writer.clone();
        calls.spawn(async move { writer.apply(&token, user, union).await });
    }
    while calls.join_next().await.is_some() {}
}

/// Admin `k` of `of` decides the applications whose id is `k` mod `of` as its recorder
/// sees them arrive on `queue`: four in five approved, the fifth rejected. Each event is
/// looked at once (the recorder keeps every event once, in order). Stops when told, once
/// the applications seen are decided.
async fn decide(
    writer: Writer,
    token: String,
    (record, queue): (Arc<Mutex<recorder::Record>>, String),
    (k, of): (usize, usize),
    stop: Arc<AtomicBool>,
) {
    let mut calls = tokio::task::JoinSet::new();
    let mut looked = 0;
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        let created: Vec<i64> = {
            let record = record.lock().unwrap();
            let events = &record.topics[&queue].events;
            let new = &events[looked..];
            looked = events.len();
            new.iter()
                .filter(|e| e.kind == kind::APPLICATION_CREATED)
                .filter_map(|e| e.data["application"]["id"].as_i64())
                .filter(|id| *id as usize % of == k)
                .collect()
        };
        for id in created {
            let (writer, token) = (writer.clone(), token.clone());
            calls.spawn(async move { writer.decide(&token, id, id % 5 != 0).await });
        }
        if stopping {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    while calls.join_next().await.is_some() {}
}

/// Waits until the outbox is empty (every committed event is in the log) and every
/// client holds each of its topics up to the log's head; how long it took, or `None` if
/// `limit` passed first.
async fn settle(
    db: &tokio_postgres::Client,
    clients: &[Recorder],
    limit: Duration,
) -> anyhow::Result<Option<Duration>> {
    let started = Instant::now();
    let topics: Vec<String> = clients
        .iter()
        .flat_map(|c| {
            c.record
                .lock()
                .unwrap()
                .topics
                .keys()
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect();
    while started.elapsed() < limit {
        let waiting: i64 = db
            .query_one("SELECT count(*) FROM outbox", &[])
            .await?
            .get(0);
        if waiting > 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        let heads = checker::heads(db, &topics).await?;
        let behind = clients.iter().any(|c| {
            c.record.lock().unwrap().topics.iter().any(|(topic, log)| {
                log.last().unwrap_or(0) < heads.get(topic).copied().unwrap_or(0)
                    || log.base.is_none()
            })
        });
        if !behind {
            return Ok(Some(started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("chaos: the clients did not catch up within {limit:?}");
    Ok(None)
}
