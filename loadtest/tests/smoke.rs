//! Every scenario at small scale against two real nodes on a fresh database: correctness
//! in CI (nothing lost, nothing duplicated, exit code 0); speed belongs to BENCHMARKS.md.

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

#[actix_rt::test]
async fn every_scenario_runs_small_without_loss() {
    let (db, nodes) = two_nodes().await;
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

    let approvals = harness(
        &[
            "approvals",
            "--sessions",
            "100",
            "--rate",
            "100",
            "--admins",
            "3",
        ],
        &db,
        &nodes,
    )
    .await;
    assert_eq!(metric(&approvals, "approvals (200)"), 100.0);
    assert_eq!(metric(&approvals, "racing approvals refused (409)"), 100.0);

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

    let storm = harness(
        &["reconnect-storm", "--sessions", "200", "--workers", "2"],
        &db,
        &nodes,
    )
    .await;
    assert_eq!(metric(&storm, "sessions resynced"), 200.0);
    assert_eq!(metric(&storm, "resumes answered reset"), 0.0);

    let tree = harness(&["tree-import", "--sessions", "1000"], &db, &nodes).await;
    assert_eq!(metric(&tree, "unions created"), 1000.0);
    assert_eq!(metric(&tree, "admins appointed"), 2000.0);
    assert_eq!(metric(&tree, "export rows"), 2000.0);
}
