//! Measures the roster's bulk paths on one in-process node and a fresh database:
//! importing COUNT generated workers from XLSX files of 50,000 rows (the per-file limit),
//! importing the same files again (nothing changes), an announcement to the whole union,
//! one member's inbox, and streaming the roster out as CSV and XLSX while sampling this
//! process's resident memory, to show that an export does not hold the roster in memory.
//!
//! `cargo run --release --example roster_bulk -- [COUNT]` (default 100000), with Postgres
//! at `TEST_DATABASE_BASE` (default `postgres://postgres@127.0.0.1:5432`).

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use gonghui::config::{Config, Settings};
use gonghui::startup::Application;
use gonghui_actors::crypto::Secrets;
use gonghui_actors::domain::IdNumber;
use gonghui_actors::store::Store;
use gonghui_protocol::ClientKind;
use serde_json::Value;

/// Rows per uploaded file: the server's limit.
const PER_FILE: u32 = 50_000;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let count: u32 = std::env::args().nth(1).map_or(Ok(100_000), |n| n.parse())?;
    let base = std::env::var("TEST_DATABASE_BASE")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let database_url = format!("{base}/gonghui_roster_{}", std::process::id());
    let settings = Settings {
        database_url: Some(database_url.clone()),
        workers: Some(1),
        ..Settings::default()
    };
    let app = Application::build(Config::resolve(settings, "127.0.0.1:0".into())?).await?;
    let api = format!("http://127.0.0.1:{}/api/v1", app.port());
    actix_web::rt::spawn(app.run());

    let store = Store::connect(&database_url, 2, Secrets::like_a_node()?)?;
    let db = store.client().await?;
    let union: i64 = db.query_one(
        "INSERT INTO unions (id, name, path) SELECT id, 'bench', ARRAY[id] FROM (SELECT nextval('unions_id_seq') AS id) n RETURNING id", &[]).await?.get(0);
    let admin: i64 = db
        .query_one(
            "INSERT INTO users (phone) VALUES ('19900000000') RETURNING id",
            &[],
        )
        .await?
        .get(0);
    db.execute(
        "INSERT INTO union_admins (union_id, user_id, permissions) VALUES ($1, $2, ARRAY['members.manage', 'members.pii'])",
        &[&union, &admin],
    )
    .await?;
    let (token, _) = store
        .issue_token(admin, ClientKind::Console, Duration::from_secs(3600))
        .await?;
    let http = reqwest::Client::new();

    let files: Vec<Vec<u8>> = (0..count.div_ceil(PER_FILE))
        .map(|f| workbook(f * PER_FILE + 1..=((f + 1) * PER_FILE).min(count)))
        .collect::<anyhow::Result<_>>()?;
    let import = format!("{api}/unions/{union}/members/import");
    for pass in ["first", "again"] {
        let started = Instant::now();
        let mut changed = 0;
        for file in &files {
            let report: Value = http
                .post(&import)
                .bearer_auth(&token)
                .header(
                    "content-type",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                )
                .body(file.clone())
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            changed += report["changed"].as_u64().unwrap_or(0);
        }
        let took = started.elapsed();
        println!(
            "import ({pass}): {count} rows in {took:.2?} ({:.0} rows/s), {changed} members added",
            f64::from(count) / took.as_secs_f64()
        );
    }

    let started = Instant::now();
    http.post(format!("{api}/unions/{union}/announcements"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"title": "通知", "body": "全体会员大会"}))
        .send()
        .await?
        .error_for_status()?;
    println!("announcement to {count} members: {:.2?}", started.elapsed());
    let member: i64 = db
        .query_one(
            "SELECT max(user_id) FROM memberships WHERE union_id = $1",
            &[&union],
        )
        .await?
        .get(0);
    let (member_token, _) = store
        .issue_token(member, ClientKind::App, Duration::from_secs(3600))
        .await?;
    let started = Instant::now();
    let inbox: Value = http
        .get(format!("{api}/me/notifications"))
        .bearer_auth(&member_token)
        .send()
        .await?
        .json()
        .await?;
    println!(
        "one member's inbox: {:.2?}, unread {}",
        started.elapsed(),
        inbox["unread"]
    );

    for format in ["csv", "xlsx"] {
        let before = rss_kib();
        let mut peak = before;
        let started = Instant::now();
        let mut body = http
            .get(format!(
                "{api}/unions/{union}/members/export?format={format}"
            ))
            .bearer_auth(&token)
            .send()
            .await?
            .error_for_status()?;
        let mut bytes = 0usize;
        while let Some(chunk) = body.chunk().await? {
            bytes += chunk.len();
            peak = peak.max(rss_kib());
        }
        println!(
            "export {format}: {count} rows, {:.1} MiB in {:.2?}; resident memory {} MiB before, peak {} MiB",
            bytes as f64 / 1048576.0,
            started.elapsed(),
            before / 1024,
            peak / 1024
        );
    }
    drop(db);
    let (admin_db, connection) =
        tokio_postgres::connect(&format!("{base}/postgres"), tokio_postgres::NoTls).await?;
    actix_web::rt::spawn(connection);
    let name = database_url.rsplit('/').next().unwrap_or_default();
    admin_db
        .batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await?;
    Ok(())
}

/// An XLSX of generated workers `ns`, with the template's columns.
fn workbook(ns: std::ops::RangeInclusive<u32>) -> anyhow::Result<Vec<u8>> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["姓名", "手机号", "身份证号", "工作单位", "职务", "入会日期"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h)?;
    }
    for (r, n) in ns.enumerate() {
        let row = r as u32 + 1;
        sheet.write_string(row, 0, format!("工人{n}"))?;
        sheet.write_string(row, 1, format!("136{n:08}"))?;
        sheet.write_string(row, 2, id_number(n))?;
        sheet.write_string(row, 3, "广州机械厂")?;
        sheet.write_string(row, 4, "钳工")?;
        sheet.write_string(row, 5, "2020-01-15")?;
    }
    Ok(book.save_to_buffer()?)
}

/// A valid resident ID number, different for each `n` below 36,500,000.
fn id_number(n: u32) -> String {
    let born = NaiveDate::from_ymd_opt(1960, 1, 1).expect("a date")
        + chrono::Duration::days(i64::from(n / 1000));
    let body = format!("440101{}{:03}", born.format("%Y%m%d"), n % 1000);
    format!("{body}{}", IdNumber::check_digit(&body).expect("17 digits"))
}

/// This process's resident set size, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}
