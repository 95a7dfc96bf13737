//! `tree-import`: a province's union tree brought in at once (工会信息、管理员信息同步).
//! A CSV of `--sessions` unions three levels deep (cities, districts by the city's credit
//! code, streets by code or by name path) with two admins each, one on the union's row
//! and one on a row of its own, is imported by a seeded admin. Measured: the import's
//! time, the server's peak resident memory (VmHWM: start the server fresh), the second
//! upload of the same file (which must change nothing) and the export of the tree.

use std::time::Instant;

use anyhow::{bail, Context};
use gonghui_actors::domain::{CreditCode, Permission};
use serde_json::Value;

use super::{plan, proc_kib, seed, Common};
use crate::report::Outcome;

/// The first admin phone; admin `n` has this plus `n`.
const FIRST_PHONE: u64 = 15_000_000_000;
const CITIES: usize = 20;
const DISTRICTS_PER_CITY: usize = 49;
const HEADER: &str = "工会名称,统一社会信用代码,上级工会信用代码,上级工会,地址,纬度,经度,联系人,联系电话,管理员姓名,管理员手机号,管理员权限";

fn code(n: usize) -> String {
    let first = format!("91440300TR{n:07}");
    let check = CreditCode::check_character(&first).expect("17 code characters");
    format!("{first}{check}")
}

/// The file: `unions` unions (at least the cities and districts), two admins each.
fn tree_file(unions: usize) -> (Vec<u8>, usize) {
    let districts = CITIES * DISTRICTS_PER_CITY;
    let mut lines = vec![HEADER.to_owned()];
    let city_name = |c: usize| format!("第{c}市总工会");
    let district_name = |d: usize| format!("第{}市第{d}区工会", d % CITIES);
    for n in 0..unions.max(CITIES + districts) {
        let (name, parent_code, parent_path) = if n < CITIES {
            (city_name(n), String::new(), String::new())
        } else if n < CITIES + districts {
            let d = n - CITIES;
            (district_name(d), code(d % CITIES), String::new())
        } else {
            let d = n % districts;
            let name = format!("{}第{n}街道工会", district_name(d));
            if n % 2 == 0 {
                (name, code(CITIES + d), String::new())
            } else {
                let path = format!("{}/{}", city_name(d % CITIES), district_name(d));
                (name, String::new(), path)
            }
        };
        let (first, second) = (FIRST_PHONE + 2 * n as u64, FIRST_PHONE + 2 * n as u64 + 1);
        lines.push(format!(
            "{name},{},{parent_code},{parent_path},广东省某路{n}号,23.1,113.3,联系人{n},{first},管理员{n}甲,{first},all",
            code(n)
        ));
        lines.push(format!(
            ",,,,,,,,,管理员{n}乙,{second},members.review、members.manage"
        ));
    }
    (lines.join("\n").into_bytes(), lines.len() - 1)
}

/// Runs the import against the first node.
pub async fn tree_import(c: &Common) -> anyhow::Result<bool> {
    let (store, seeded) = seed(c, plan(0, 0, 1)).await?;
    let (db, connection) = tokio_postgres::connect(&c.database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let admin = seeded.admins[0];
    let all: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
    db.execute(
        "UPDATE union_admins SET permissions = $2 WHERE user_id = $1",
        &[&admin, &all],
    )
    .await?;
    let (file, rows) = tree_file(c.sessions);
    let base = c.nodes[0].trim_end_matches('/').to_owned();
    let url = format!("{base}/api/v1/unions/{}/tree/import", seeded.union_id);
    let http = reqwest::Client::new();
    let upload = |file: Vec<u8>| {
        http.post(&url)
            .bearer_auth(seeded.token(admin))
            .header("content-type", "text/csv")
            .body(file)
            .send()
    };
    let before = proc_kib(&c.server_pid, "VmRSS:");
    let started = Instant::now();
    let answer = upload(file.clone()).await?;
    let status = answer.status();
    let report: Value = answer.json().await.context("the import's report")?;
    let took = started.elapsed();
    let peak = proc_kib(&c.server_pid, "VmHWM:");
    if status != 200 || report["applied"] != true {
        bail!(
            "the import failed ({status}): {}",
            &report.to_string()[..2000.min(report.to_string().len())]
        );
    }
    let started = Instant::now();
    let again: Value = upload(file.clone()).await?.json().await?;
    let again_took = started.elapsed();
    let started = Instant::now();
    let export = http
        .get(format!(
            "{base}/api/v1/unions/{}/tree/export",
            seeded.union_id
        ))
        .bearer_auth(seeded.token(admin))
        .send()
        .await?
        .bytes()
        .await?;
    let export_took = started.elapsed();

    let mut outcome = Outcome::new("gonghui");
    let unions = report["unions_created"].as_u64().unwrap_or(0);
    let admins = report["admins_appointed"].as_u64().unwrap_or(0);
    outcome.metric("rows", rows as f64);
    outcome.metric("file MiB", file.len() as f64 / 1_048_576.0);
    outcome.metric("unions created", unions as f64);
    outcome.metric("admins appointed", admins as f64);
    outcome.metric("import s", took.as_secs_f64());
    outcome.metric("rows per s", rows as f64 / took.as_secs_f64());
    if let (Some(before), Some(peak)) = (before, peak) {
        outcome.metric("server RSS before MiB", before as f64 / 1024.0);
        outcome.metric("server peak RSS MiB", peak as f64 / 1024.0);
    }
    outcome.metric("same file again s", again_took.as_secs_f64());
    outcome.metric("export s", export_took.as_secs_f64());
    // Every line ends with a line break; the first is the header.
    let exported_rows = export.iter().filter(|b| **b == b'\n').count() - 1;
    outcome.metric("export rows", exported_rows as f64);
    let expected_admins = 2 * (rows as u64 / 2);
    for (what, ok) in [
        ("unions created", unions as usize == rows / 2),
        ("admins appointed", admins == expected_admins),
        (
            "second upload unchanged",
            again["unchanged"] == rows as u64 && again["applied"] == true,
        ),
        ("export has every row", exported_rows == rows),
    ] {
        if !ok {
            outcome.failures.insert(what.to_owned(), 1);
        }
    }
    // The imported unions and accounts go with the seed's run when it is removed.
    let imported: Vec<i64> = db
        .query(
            "SELECT id FROM unions WHERE path @> ARRAY[$1]::bigint[] AND id <> $1",
            &[&seeded.union_id],
        )
        .await?
        .iter()
        .map(|r| r.get("id"))
        .collect();
    gonghui_loadtest::seed::adopt(&db, &seeded.run, "union", &imported).await?;
    let accounts: Vec<i64> = db
        .query(
            "SELECT id FROM users WHERE phone::bigint BETWEEN $1 AND $2
             AND id NOT IN (SELECT id FROM loadtest_seeded WHERE kind = 'user')",
            &[&(FIRST_PHONE as i64), &(FIRST_PHONE as i64 + rows as i64)],
        )
        .await?
        .iter()
        .map(|r| r.get("id"))
        .collect();
    gonghui_loadtest::seed::adopt(&db, &seeded.run, "user", &accounts).await?;
    super::finish("tree-import", c, &store, &seeded, &[outcome]).await
}
