//! gonghui-loadtest: seeds users at scale and drives one or several gonghui nodes (and,
//! side by side, a Node.js `ws` peer) through the scenarios of docs/BENCHMARKS.md, over
//! the real protocol. Exits non-zero when any event is lost or duplicated, or a call fails.
//!
//! # Layout
//! - [`scenarios`]: one file per scenario (`idle`, `fanout`, `storm`, `approvals`,
//!   `activity`: a union-wide vote, `login`: a flood of wrong passwords, `tree`: a
//!   province's union tree imported) and what they share.
//! - [`workers`] and [`fleet`]: sessions spread over worker processes, and what each holds.
//! - [`wire`]: connecting from a chosen source address; frames through the protocol crate.
//! - [`histogram`], [`report`]: latency figures, the final table and `--json`.
//! - [`timeline`], [`plot`]: each run second by second, drawn as SVG beside its `--json`.
//! - [`chaos`]: nodes and Postgres failing under recording clients, and the checker that
//!   proves every client converged on the database.

mod chaos;
mod fleet;
mod histogram;
mod plot;
mod report;
mod scenarios;
use gonghui_loadtest::seed;
mod timeline;
mod wire;
mod workers;

use clap::{Parser, Subcommand};

use crate::scenarios::Common;

/// Load tests for gonghui.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// N authenticated sessions subscribed to their member and union topics: connect rate, RSS per session, failures
    Idle(Common),
    /// N sessions on one union topic, events published at --rate per second: deliveries/s and latency
    Fanout(Common),
    /// --sessions applicants and --admins admins deciding across nodes: latencies, decisions/s, exactly-once
    Approvals {
        #[command(flatten)]
        common: Common,
        /// Admins deciding (two race for every application)
        #[arg(long, default_value_t = 4)]
        admins: usize,
        /// Apply first, then decide the whole queue as fast as possible: the decision rate one union sustains
        #[arg(long)]
        backlog: bool,
        /// Approvals each admin keeps in flight in a --backlog run
        #[arg(long, default_value_t = 16)]
        in_flight: usize,
        /// Spread the applicants over this many unions below the admins' (0: one hot union)
        #[arg(long, default_value_t = 0)]
        unions: usize,
    },
    /// N members watch a vote and all vote at --rate per second: votes/s, coalesced results, final tally on every screen
    Activity(Common),
    /// N wrong-password logins at once against members with passwords: peak server memory, how they were answered
    LoginFlood(Common),
    /// N sessions dropped at once and resumed with `since`: time to resync, nothing missed
    ReconnectStorm(Common),
    /// A tree of --sessions unions with two admins each imported from CSV: time, peak server memory, idempotence, export
    TreeImport(Common),
    /// Postgres's NOTIFY as the log writer sends it, to 1, 4, 16 … listening bridges: where the event path caps
    Bridge(scenarios::bridge::BridgeArgs),
    /// Nodes killed, paused and cut off from a restarting Postgres while clients record every frame and writers apply and decide: every client must end equal to the database
    Chaos(chaos::ChaosArgs),
    /// Remove every seeded user and union (or one run's)
    Unseed {
        /// The Postgres URL
        #[arg(
            long,
            env = "DATABASE_URL",
            default_value = "postgres://postgres@127.0.0.1:5432/gonghui"
        )]
        database_url: String,
        /// Only this run
        #[arg(long)]
        run: Option<String>,
    },
    /// Redraw the pictures of results files the harness wrote (their timelines, as SVG beside them)
    Plot {
        /// Results files (`--json` of a run)
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// (internal) hold a share of the sessions, steered through stdin
    #[command(hide = true)]
    Worker,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let clean = runtime.block_on(async move {
        match cli.command {
            Command::Worker => fleet::worker().await.map(|()| true),
            Command::Plot { files } => {
                for file in files {
                    for drawn in plot::redraw(&file)? {
                        println!("{}", drawn.display());
                    }
                }
                Ok(true)
            }
            Command::Unseed { database_url, run } => {
                let store = scenarios::store(&database_url)?;
                println!(
                    "removed {} seeded users",
                    seed::unseed(&store, run.as_deref()).await?
                );
                Ok(true)
            }
            Command::Idle(c) => scenarios::run("idle", &c, true, scenarios::idle::idle).await,
            Command::Fanout(c) => {
                scenarios::run("fanout", &c, true, scenarios::fanout::fanout).await
            }
            Command::ReconnectStorm(c) => {
                scenarios::run(
                    "reconnect-storm",
                    &c,
                    false,
                    scenarios::storm::reconnect_storm,
                )
                .await
            }
            Command::Approvals {
                common,
                admins,
                backlog,
                in_flight,
                unions,
            } => {
                let deciding = scenarios::approvals::Deciding {
                    admins,
                    backlog,
                    in_flight,
                    unions,
                };
                scenarios::approvals::approvals(&common, deciding).await
            }
            Command::Chaos(args) => chaos::chaos(&args).await,
            Command::Bridge(args) => scenarios::bridge::bridge(&args).await,
            Command::Activity(c) => scenarios::activity::activity(&c).await,
            Command::TreeImport(c) => scenarios::tree::tree_import(&c).await,
            Command::LoginFlood(c) => {
                scenarios::run("login-flood", &c, false, scenarios::login::login_flood).await
            }
        }
    })?;
    if !clean {
        eprintln!("FAILED: events were lost or duplicated, or calls failed (see the table)");
        std::process::exit(1);
    }
    Ok(())
}
