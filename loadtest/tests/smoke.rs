//! Every scenario at small scale against two real nodes on a fresh database: correctness
//! in CI (nothing lost, nothing duplicated, exit code 0), and a coarse guard on speed:
//! the figures in [`WATCHED`] may not be [`MARGIN`] times worse than the ones committed in
//! `loadtest/results/smoke.json` (recorded with `GONGHUI_SMOKE_RECORD=1 cargo test -p
//! gonghui-loadtest --test smoke`, in the same build profile). True speed belongs to
//! BENCHMARKS.md; this catches a hot path that got several times slower unnoticed.

use std::collections::BTreeMap;

use gonghui::config::{Config, Settings};
use gonghui::startup::Application;
use serde_json::Value;

/// The nodes' data key, which the harness's seeder must share.
const DATA_KEY: &str = "7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a";

async fn two_nodes() -> (String, Vec<String>) {
    let base = std::env::var("TEST_DATABASE_BASE")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let database_url = format!("{base}/gonghui_test_{}", uuid::Uuid::new_v4().simple());
    let settings = Settings {
        database_url: Some(database_url.clone()),
        data_key: Some(DATA_KEY.to_owned()),
        workers: Some(1),
        // The harness's clients all come from 127.0.0.1, hundreds reconnecting at once.
        anonymous_sockets_per_address: Some(100_000),
        ..Settings::default()
    };
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let app =
            Application::build(Config::resolve(settings.clone(), "127.0.0.1:0".into()).unwrap())
                .await
                .unwrap();
        nodes.push(format!("http://127.0.0.1:{}", app.port()));
        actix_rt::spawn(app.run());
    }
    (database_url, nodes)
}

async fn harness(args: &[&str], database_url: &str, nodes: &[String]) -> Value {
    let json = std::env::temp_dir().join(format!(
        "gonghui-smoke-{}.json",
        uuid::Uuid::new_v4().simple()
    ));
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_gonghui-loadtest"))
        .args(args)
        .env("GONGHUI_DATA_KEY", DATA_KEY)
        .args(["--database-url", database_url, "--nodes", &nodes.join(",")])
        .arg("--json")
        .arg(&json)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(json);
    for outcome in report["outcomes"].as_array().unwrap() {
        assert_eq!(outcome["lost"], 0, "{stdout}");
        assert_eq!(outcome["duplicated"], 0, "{stdout}");
        assert_eq!(outcome["failures"], serde_json::json!({}), "{stdout}");
    }
    report
}

/// The figures a smoke run is held to, by scenario and metric; each is a time, lower is
/// better, and depends on the server's work rather than on the offered rate.
const WATCHED: &[(&str, &str)] = &[
    ("idle", "connect+hello+subscribe p50 ms"),
    ("fanout", "latency p50 ms"),
    ("approvals", "apply->queue-visible p50 ms"),
    ("approvals", "decide->member-visible p50 ms"),
    ("activity", "vote call p50 ms"),
    ("reconnect-storm", "time to full resync s"),
    ("tree-import", "import s"),
    ("tree-import", "export s"),
];

/// Tails no smoke run may pass, whatever was committed: an event that reaches its screen
/// seconds late is a stall on the write or delivery path (issue 32), not a slower hot path.
/// Ten smoke runs of one commit on this box (2 cores, CI's debug build) gave maxima of 27
/// to 160 ms, both tails together; the bound is six times the largest, room for a slow
/// day but not for a stall of a second.
const TAILS: &[(&str, &str, f64)] = &[
    ("approvals", "apply->queue-visible max ms", 1_000.0),
    ("approvals", "decide->member-visible max ms", 1_000.0),
];

/// The largest of those maxima, in ms, named when the bound is passed.
const TAILS_SEEN: f64 = 160.0;

/// How many times worse than committed (the median of six runs) a watched figure may be:
/// six runs of one commit on this box spread by up to 2.1x between their best and worst,
/// and the box itself runs up to 2x slower on a bad day (docs/BENCHMARKS.md). Coarse on
/// purpose: it catches a hot path several times slower, never the weather.
const MARGIN: f64 = 4.0;

/// What a figure may grow by in absolute terms before it counts (a 2 ms p50 that becomes
/// 7 ms is noise, not a regression): in its own unit, milliseconds or seconds.
fn slack(metric: &str) -> f64 {
    if metric.ends_with(" ms") {
        50.0
    } else {
        0.5
    }
}

/// Records this run's watched figures, or holds them against the committed ones.
fn guard(figures: BTreeMap<String, f64>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results/smoke.json");
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    if std::env::var_os("GONGHUI_SMOKE_RECORD").is_some() {
        let record = serde_json::json!({ "profile": profile, "figures": figures });
        std::fs::write(&path, serde_json::to_string_pretty(&record).unwrap() + "\n").unwrap();
        return;
    }
    let committed: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    if committed["profile"] != profile {
        eprintln!(
            "smoke figures were recorded in a {} build; not compared",
            committed["profile"]
        );
        return;
    }
    let worse: Vec<String> = figures
        .iter()
        .filter_map(|(name, now)| {
            let was = committed["figures"][name].as_f64()?;
            let metric = name.split_once(": ").map_or(name.as_str(), |(_, m)| m);
            (*now > was * MARGIN && now - was > slack(metric))
                .then(|| format!("{name}: {now} (committed {was})"))
        })
        .collect();
    assert!(
        worse.is_empty(),
        "figures more than {MARGIN}x worse than loadtest/results/smoke.json:\n{}",
        worse.join("\n")
    );
}

fn metric(report: &Value, name: &str) -> f64 {
    report["outcomes"][0]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m[0] == name)
        .unwrap()[1]
        .as_f64()
        .unwrap()
}

/// Holds `report`'s tails to their bounds.
fn within_tails(scenario: &str, report: &Value) {
    for (_, name, bound) in TAILS.iter().filter(|(s, _, _)| *s == scenario) {
        let max = metric(report, name);
        println!("{scenario}: {name} {max}");
        assert!(
            max <= *bound,
            "{scenario}: {name} was {max}, over the bound of {bound} (largest seen: {TAILS_SEEN})"
        );
    }
}

/// Adds `report`'s watched figures under `scenario`.
fn watch(figures: &mut BTreeMap<String, f64>, scenario: &str, report: &Value) {
    for (_, name) in WATCHED.iter().filter(|(s, _)| *s == scenario) {
        figures.insert(format!("{scenario}: {name}"), metric(report, name));
    }
}

#[actix_rt::test]
async fn every_scenario_runs_small_without_loss() {
    let (db, nodes) = two_nodes().await;
    let mut figures = BTreeMap::new();
    let idle = harness(
        &[
            "idle",
            "--sessions",
            "200",
            "--duration",
            "1",
            "--workers",
            "2",
        ],
        &db,
        &nodes,
    )
    .await;
    assert_eq!(metric(&idle, "sessions connected"), 200.0);
    watch(&mut figures, "idle", &idle);

    let fanout = harness(
        &[
            "fanout",
            "--sessions",
            "200",
            "--duration",
            "2",
            "--rate",
            "20",
            "--codec",
            "json",
        ],
        &db,
        &nodes,
    )
    .await;
    assert_eq!(metric(&fanout, "deliveries"), 200.0 * 40.0);
    watch(&mut figures, "fanout", &fanout);

    // 50 applications/s: at 100 the two debug nodes sometimes saturate the 2 cores and
    // the p50s jump from ~6 to ~60 ms within one commit (CI failed on it once).
    let approvals = harness(
        &[
            "approvals",
            "--sessions",
            "100",
            "--rate",
            "50",
            "--admins",
            "3",
        ],
        &db,
        &nodes,
    )
    .await;
    assert_eq!(metric(&approvals, "approvals (200)"), 100.0);
    assert_eq!(metric(&approvals, "racing approvals refused (409)"), 100.0);
    watch(&mut figures, "approvals", &approvals);
    within_tails("approvals", &approvals);

    let wide = harness(
        &[
            "approvals",
            "--sessions",
            "60",
            "--rate",
            "100",
            "--admins",
            "2",
            "--unions",
            "40",
            "--backlog",
        ],
        &db,
        &nodes,
    )
    .await;
    assert_eq!(metric(&wide, "approvals (200)"), 60.0);
    assert_eq!(metric(&wide, "racing approvals refused (409)"), 60.0);

    let vote = harness(
        &["activity", "--sessions", "300", "--rate", "1000"],
        &db,
        &nodes,
    )
    .await;
    assert_eq!(metric(&vote, "votes"), 300.0);
    assert!(metric(&vote, "results events per watcher (max)") < 300.0);
    watch(&mut figures, "activity", &vote);

    let storm = harness(
        &["reconnect-storm", "--sessions", "200", "--workers", "2"],
        &db,
        &nodes,
    )
    .await;
    assert_eq!(metric(&storm, "sessions resynced"), 200.0);
    assert_eq!(metric(&storm, "resumes answered reset"), 0.0);
    watch(&mut figures, "reconnect-storm", &storm);

    let tree = harness(&["tree-import", "--sessions", "1000"], &db, &nodes).await;
    assert_eq!(metric(&tree, "unions created"), 1000.0);
    assert_eq!(metric(&tree, "admins appointed"), 2000.0);
    assert_eq!(metric(&tree, "export rows"), 2000.0);
    watch(&mut figures, "tree-import", &tree);
    guard(figures);
}
