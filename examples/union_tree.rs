//! Measures the union tree's hot queries on a seeded tree of 20,000 unions six levels
//! deep with 5,000 admins: the permission check (`holds_permission`, and the rights
//! cache's load), the nearby query of the map, a subtree and a name search. Each is run
//! under `EXPLAIN (ANALYZE)` for random inputs; it prints the plan's index use and the
//! database execution time (p50 / p99 / max).
//!
//! `cargo run --release --example union_tree -- [UNIONS]` (default 20000), with Postgres
//! at `TEST_DATABASE_BASE` (default `postgres://postgres@127.0.0.1:5432`).

use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};

/// Unions per level below the root, as shares of the total.
const LEVEL_SHARES: [f64; 5] = [0.001, 0.008, 0.05, 0.25, 0.691];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let total: usize = std::env::args().nth(1).map_or(Ok(20_000), |n| n.parse())?;
    let base = std::env::var("TEST_DATABASE_BASE")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let url = format!("{base}/gonghui_tree_{}", std::process::id());
    gonghui_actors::store::create_database_if_missing(&url).await?;
    gonghui_actors::store::migrate(&url).await?;
    let (db, connection) = tokio_postgres::connect(&url, NoTls).await?;
    tokio::spawn(connection);

    let started = std::time::Instant::now();
    seed(&db, total).await?;
    db.batch_execute("ANALYZE").await?;
    println!(
        "seeded {total} unions, 6 levels, 5000 admins in {:.1?}",
        started.elapsed()
    );

    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let leaves: Vec<i64> = db
        .query("SELECT id FROM unions WHERE array_length(path, 1) = 6", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let admins: Vec<i64> = db
        .query("SELECT DISTINCT user_id FROM union_admins", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();

    // The body of `holds_permission` (migration V14), written out: EXPLAIN shows nothing
    // inside a function call, and the plan is what this checks.
    let check =
        "SELECT EXISTS (SELECT 1 FROM unions u JOIN union_admins a ON a.union_id = ANY (u.path)
                 WHERE u.id = $2 AND a.user_id = $1 AND 'members.review' = ANY (a.permissions))";
    let load = "SELECT (SELECT path FROM unions WHERE id = $2),
                       (SELECT coalesce(array_agg(union_id ORDER BY union_id), '{}') FROM union_admins WHERE user_id = $1)";
    let nearby = "SELECT id FROM (
                    SELECT c.id, 2 * 6371008.8 * asin(sqrt(power(sin(radians(c.lat - $1) / 2), 2)
                        + cos(radians($1)) * cos(radians(c.lat)) * power(sin(radians(c.lng - $2) / 2), 2))) AS d
                    FROM unions c WHERE c.lat IS NOT NULL
                      AND point(c.lng, c.lat) <@ box(point($2 - $4, $1 - $3), point($2 + $4, $1 + $3))) u
                  WHERE u.d <= 5000 ORDER BY u.d, u.id LIMIT 21";
    let subtree = "SELECT count(*) FROM unions WHERE path @> ARRAY[$1]::bigint[]";
    let search = "SELECT id FROM unions WHERE name ILIKE $1 ORDER BY id LIMIT 21";

    let mut runs: Vec<(&str, Vec<f64>, String)> = Vec::new();
    for (name, sql) in [("permission check", check), ("rights cache load", load)] {
        let mut times = Vec::new();
        let mut plan = String::new();
        for _ in 0..1000 {
            let (user, union) = (
                admins[rng.gen_range(0..admins.len())],
                leaves[rng.gen_range(0..leaves.len())],
            );
            let (t, p) = explain(&db, sql, &[&user, &union]).await?;
            times.push(t);
            plan = p;
        }
        runs.push((name, times, plan));
    }
    let mut times = Vec::new();
    let mut plan = String::new();
    let mut found = 0usize;
    for _ in 0..1000 {
        let (lat, lng) = (rng.gen_range(21.5..25.5f64), rng.gen_range(109.5..117.3f64));
        let dlat = 5000.0 / 111_194.9;
        let dlng = dlat / lat.to_radians().cos();
        let (t, p) = explain(&db, nearby, &[&lat, &lng, &dlat, &dlng]).await?;
        found += db.query(nearby, &[&lat, &lng, &dlat, &dlng]).await?.len();
        times.push(t);
        plan = p;
    }
    println!(
        "nearby (5 km): {:.1} unions found on average",
        found as f64 / 1000.0
    );
    runs.push(("nearby 5 km", times, plan));
    for (name, sql) in [("subtree count", subtree)] {
        let mut times = Vec::new();
        let mut plan = String::new();
        for _ in 0..200 {
            let union: i64 = db
                .query_one("SELECT id FROM unions WHERE array_length(path, 1) = 4 ORDER BY random() LIMIT 1", &[])
                .await?
                .get(0);
            let (t, p) = explain(&db, sql, &[&union]).await?;
            times.push(t);
            plan = p;
        }
        runs.push((name, times, plan));
    }
    let mut times = Vec::new();
    let mut plan = String::new();
    for n in 0..200 {
        let pattern = format!("%{}号%", 100 + n * 37);
        let (t, p) = explain(&db, search, &[&pattern]).await?;
        times.push(t);
        plan = p;
    }
    runs.push(("name search", times, plan));

    for (name, mut times, plan) in runs {
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        println!(
            "{name:18} execution p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms   plan: {plan}",
            at(0.5),
            at(0.99),
            times[times.len() - 1]
        );
    }
    if std::env::var("KEEP").is_ok() {
        println!("kept {url}");
        return Ok(());
    }
    drop(db);
    let (admin, connection) = tokio_postgres::connect(&format!("{base}/postgres"), NoTls).await?;
    tokio::spawn(connection);
    let name = url.rsplit('/').next().unwrap_or_default();
    admin
        .batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await?;
    Ok(())
}

/// Runs `EXPLAIN (ANALYZE, FORMAT JSON)`: the execution time in ms, and the indexes the
/// plan scans (or "no index").
async fn explain(
    db: &Client,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> anyhow::Result<(f64, String)> {
    let row = db
        .query_one(&format!("EXPLAIN (ANALYZE, FORMAT JSON) {sql}"), params)
        .await?;
    let plan: Value = row.get(0);
    let time = plan[0]["Execution Time"].as_f64().unwrap_or(f64::NAN);
    let mut indexes = Vec::new();
    collect_indexes(&plan[0]["Plan"], &mut indexes);
    indexes.sort();
    indexes.dedup();
    let described = if indexes.is_empty() {
        "no index".to_owned()
    } else {
        indexes.join(", ")
    };
    Ok((time, described))
}

fn collect_indexes(node: &Value, into: &mut Vec<String>) {
    if let Some(index) = node["Index Name"].as_str() {
        into.push(format!(
            "{} on {index}",
            node["Node Type"].as_str().unwrap_or("")
        ));
    }
    if node["Node Type"] == "Seq Scan" {
        into.push(format!(
            "Seq Scan on {}",
            node["Relation Name"].as_str().unwrap_or("")
        ));
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        collect_indexes(child, into);
    }
}

/// The root, then five levels whose parents are spread evenly over the level above,
/// scattered over Guangdong; 5,000 admins on random unions of the top four levels below
/// the root, with random permissions.
async fn seed(db: &Client, total: usize) -> anyhow::Result<()> {
    db.batch_execute(
        "INSERT INTO unions (id, name, path, lat, lng) SELECT id, '广东省总工会', ARRAY[id], 23.13, 113.26
         FROM (SELECT nextval('unions_id_seq') AS id) n",
    )
    .await?;
    let mut remaining = total as i64 - 1;
    for (depth, share) in LEVEL_SHARES.iter().enumerate() {
        let count = if depth == LEVEL_SHARES.len() - 1 {
            remaining
        } else {
            ((total as f64 * share).round() as i64).max(1)
        };
        remaining -= count;
        db.execute(
            "WITH parents AS (SELECT id, path, row_number() OVER (ORDER BY id) - 1 AS k, count(*) OVER () AS n
                              FROM unions WHERE array_length(path, 1) = $1),
                  new AS (SELECT nextval('unions_id_seq') AS id, g FROM generate_series(0, $2::bigint - 1) g)
             INSERT INTO unions (id, parent_id, name, path, lat, lng)
             SELECT new.id, p.id, '第' || new.id || '号工会', p.path || new.id,
                    21.5 + random() * 4, 109.5 + random() * 7.8
             FROM new JOIN parents p ON p.k = new.g % p.n",
            &[&(depth as i32 + 1), &count],
        )
        .await?;
    }
    db.execute(
        "INSERT INTO users (phone) SELECT '1' || (3000000000 + g)::text FROM generate_series(1, 5000) g",
        &[],
    )
    .await?;
    db.execute(
        "INSERT INTO union_admins (union_id, user_id, permissions)
         SELECT (SELECT id FROM unions WHERE array_length(path, 1) BETWEEN 2 AND 5 AND u.id > 0
                 ORDER BY random() LIMIT 1),
                u.id,
                CASE WHEN random() < 0.5 THEN ARRAY['members.review', 'members.manage'] ELSE ARRAY['org.manage'] END
         FROM users u",
        &[],
    )
    .await?;
    Ok(())
}
