//! Seeding at scale: verified members, applicants, admins and their session tokens,
//! made with a handful of set-based statements (no argon2, no per-row round trips).
//!
//! The production schema knows nothing of it: a run's rows are listed in the harness's
//! own table, `loadtest_seeded` (created here on first use — the harness's migration
//! path), so `unseed` finds them. Each run's union sits under the root, which the
//! seeder makes (unmarked) when the database has none; runs never nest, so two
//! scenarios on one database unseed independently. Seeding takes an advisory lock, so
//! concurrent runs do not race for the root or for phone numbers.
//!
//! Tokens are `{secret}:{user_id}` for a random secret of the run: the seeder stores only
//! their SHA-256 like any token, and the harness rebuilds them from the secret.

use std::time::Duration;

use gonghui_actors::crypto::{new_token, token_hash};
use gonghui_actors::domain::Permission;
use gonghui_actors::store::Store;
use serde::{Deserialize, Serialize};

/// The harness's own table and the lock that serialises seeding.
const SCHEMA: &str = "
    SELECT pg_advisory_xact_lock(7474747);
    CREATE TABLE IF NOT EXISTS loadtest_seeded (
        run  text   NOT NULL,
        kind text   NOT NULL CHECK (kind IN ('user', 'union')),
        id   bigint NOT NULL,
        PRIMARY KEY (kind, id)
    );
    CREATE INDEX IF NOT EXISTS loadtest_seeded_run ON loadtest_seeded (run);";

/// What to make.
#[derive(Debug, Clone, Copy)]
pub struct SeedPlan {
    /// Verified active members of the seeded union.
    pub members: i64,
    /// Verified users who are members of no union (they can apply).
    pub applicants: i64,
    /// Admins of the seeded union with `members.review` and `activities.manage`.
    pub admins: i64,
    /// Unions below the seeded one (its admins review them too), for runs spread wide.
    pub children: i64,
    /// How long the tokens last.
    pub token_ttl: Duration,
}

/// What was made: enough for a harness to log everyone in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Seeded {
    /// The run's mark.
    pub run: String,
    /// Tokens are `{secret}:{user_id}`.
    pub secret: String,
    /// The union everyone belongs to or applies to.
    pub union_id: i64,
    /// Member user ids.
    pub members: Vec<i64>,
    /// Applicant user ids.
    pub applicants: Vec<i64>,
    /// Admin user ids.
    pub admins: Vec<i64>,
    /// The unions below the seeded one.
    #[serde(default)]
    pub children: Vec<i64>,
}

impl Seeded {
    /// The bearer token of a seeded user.
    pub fn token(&self, user_id: i64) -> String {
        format!("{}:{user_id}", self.secret)
    }
}

/// Makes a union under the root (and the root, if there is none) and the plan's users.
pub async fn seed(store: &Store, plan: SeedPlan) -> anyhow::Result<Seeded> {
    let secret = new_token();
    let run = format!("seed-{}", &secret[..12]);
    let mut conn = store.client().await?;
    let tx = conn.transaction().await?;
    tx.batch_execute(SCHEMA).await?;
    tx.execute(
        "INSERT INTO unions (id, parent_id, name, path)
         SELECT n.id, NULL, '负载测试总工会', ARRAY[n.id] FROM (SELECT nextval('unions_id_seq') AS id) n
         WHERE NOT EXISTS (SELECT 1 FROM unions WHERE parent_id IS NULL)",
        &[],
    )
    .await?;
    let union_id: i64 = tx
        .query_one(
            "WITH u AS (INSERT INTO unions (id, parent_id, name, path)
                        SELECT n.id, r.id, $1, r.path || n.id
                        FROM (SELECT nextval('unions_id_seq') AS id) n,
                             (SELECT id, path FROM unions WHERE parent_id IS NULL ORDER BY id LIMIT 1) r
                        RETURNING id)
             INSERT INTO loadtest_seeded (run, kind, id) SELECT $1, 'union', id FROM u RETURNING id",
            &[&run],
        )
        .await?
        .get("id");
    let children: Vec<i64> = tx
        .query(
            "WITH u AS (INSERT INTO unions (id, parent_id, name, path)
                        SELECT n.id, p.id, $1 || '-' || n.id, p.path || n.id
                        FROM (SELECT nextval('unions_id_seq') AS id FROM generate_series(1, $3::bigint)) n,
                             unions p WHERE p.id = $2
                        RETURNING id)
             INSERT INTO loadtest_seeded (run, kind, id) SELECT $1, 'union', id FROM u RETURNING id",
            &[&run, &union_id, &plan.children],
        )
        .await?
        .iter()
        .map(|r| r.get("id"))
        .collect();
    let first_phone: i64 = tx
        .query_one(
            "SELECT coalesce(max(u.phone::bigint) + 1, 19000000000) AS phone
             FROM loadtest_seeded s JOIN users u ON u.id = s.id WHERE s.kind = 'user'",
            &[],
        )
        .await?
        .get("phone");
    let total = plan.members + plan.applicants + plan.admins;
    let mut ids: Vec<i64> = tx
        .query(
            "WITH u AS (INSERT INTO users (phone, name, id_number_index, id_number_masked, verified_at)
                        SELECT ($2::bigint + i)::text, 'load ' || i, sha256(convert_to($1 || ':' || i, 'UTF8')),
                               '4401**********000X', now()
                        FROM generate_series(0, $3::bigint - 1) AS i ORDER BY i RETURNING id)
             INSERT INTO loadtest_seeded (run, kind, id) SELECT $1, 'user', id FROM u RETURNING id",
            &[&run, &first_phone, &total],
        )
        .await?
        .iter()
        .map(|r| r.get("id"))
        .collect();
    ids.sort_unstable();
    let (members, rest) = ids.split_at(plan.members as usize);
    let (applicants, admins) = rest.split_at(plan.applicants as usize);
    tx.execute(
        "INSERT INTO memberships (union_id, user_id, status) SELECT $1, unnest($2::bigint[]), 'active'",
        &[&union_id, &members],
    )
    .await?;
    tx.execute(
        "INSERT INTO union_admins (union_id, user_id, permissions) SELECT $1, unnest($2::bigint[]), ARRAY[$3, $4]",
        &[
            &union_id,
            &admins,
            &Permission::MembersReview.as_str(),
            &Permission::ActivitiesManage.as_str(),
        ],
    )
    .await?;
    let hashes: Vec<Vec<u8>> = ids
        .iter()
        .map(|id| token_hash(&format!("{secret}:{id}")))
        .collect();
    tx.execute(
        "INSERT INTO auth_tokens (user_id, token_hash, client, expires_at)
         SELECT unnest($1::bigint[]), unnest($2::bytea[]), 'app', now() + make_interval(secs => $3)",
        &[&ids, &hashes, &plan.token_ttl.as_secs_f64()],
    )
    .await?;
    tx.commit().await?;
    Ok(Seeded {
        run,
        secret,
        union_id,
        members: members.to_vec(),
        applicants: applicants.to_vec(),
        admins: admins.to_vec(),
        children,
    })
}

/// Lists rows a scenario made beside the seed (imported unions and accounts) with its
/// run, so `unseed` removes them too.
pub async fn adopt(
    db: &impl tokio_postgres::GenericClient,
    run: &str,
    kind: &str,
    ids: &[i64],
) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO loadtest_seeded (run, kind, id) SELECT $1, $2, unnest($3::bigint[])
         ON CONFLICT DO NOTHING",
        &[&run, &kind, &ids],
    )
    .await?;
    Ok(())
}

/// Removes everything seeded runs made (or one run's, if named), with their events.
/// Returns how many users went.
pub async fn unseed(store: &Store, run: Option<&str>) -> anyhow::Result<u64> {
    let mut conn = store.client().await?;
    let tx = conn.transaction().await?;
    tx.batch_execute(SCHEMA).await?;
    let of = |kind: &str| {
        format!("SELECT id FROM loadtest_seeded WHERE kind = '{kind}' AND ($1::text IS NULL OR run = $1)")
    };
    let (users, unions) = (of("user"), of("union"));
    let topics = format!(
        "SELECT 'member:' || id FROM ({users}) u
         UNION ALL SELECT 'union:' || id FROM ({unions}) n
         UNION ALL SELECT 'union:' || id || ':admin' FROM ({unions}) n"
    );
    for statement in [
        format!("DELETE FROM audit_log WHERE actor_id IN ({users}) OR union_id IN ({unions})"),
        format!(
            "DELETE FROM applications WHERE user_id IN ({users}) OR union_id IN ({unions})
                                            OR from_union_id IN ({unions})"
        ),
        format!(
            "DELETE FROM prize_claims WHERE user_id IN ({users}) OR activity_id IN (
                 SELECT id FROM activities WHERE union_id IN ({unions}))"
        ),
        format!(
            "DELETE FROM activity_answers WHERE user_id IN ({users}) OR activity_id IN (
                 SELECT id FROM activities WHERE union_id IN ({unions}))"
        ),
        format!(
            "DELETE FROM activity_prizes WHERE activity_id IN (SELECT id FROM activities WHERE union_id IN ({unions}))"
        ),
        format!("DELETE FROM activities WHERE union_id IN ({unions}) OR created_by IN ({users})"),
        format!(
            "DELETE FROM notification_reads WHERE user_id IN ({users}) OR notification_id IN (
                 SELECT id FROM notifications WHERE user_id IN ({users}) OR union_id IN ({unions}))"
        ),
        format!(
            "DELETE FROM notifications WHERE user_id IN ({users}) OR union_id IN ({unions})
                                             OR created_by IN ({users})"
        ),
        format!("DELETE FROM memberships WHERE user_id IN ({users}) OR union_id IN ({unions})"),
        format!("DELETE FROM union_admins WHERE user_id IN ({users}) OR union_id IN ({unions})"),
        format!("DELETE FROM outbox WHERE topic IN ({topics})"),
        format!("DELETE FROM events WHERE topic IN ({topics})"),
        format!("DELETE FROM topics WHERE topic IN ({topics})"),
    ] {
        tx.execute(statement.as_str(), &[&run]).await?;
    }
    let removed = tx
        .execute(&format!("DELETE FROM users WHERE id IN ({users})"), &[&run])
        .await?;
    tx.execute(
        &format!("DELETE FROM unions WHERE id IN ({unions})"),
        &[&run],
    )
    .await?;
    tx.execute(
        "DELETE FROM loadtest_seeded WHERE $1::text IS NULL OR run = $1",
        &[&run],
    )
    .await?;
    tx.commit().await?;
    Ok(removed)
}

/// Gives every user of a seeded run the password with this hash; returns their phones.
pub async fn give_password(store: &Store, run: &str, hash: &str) -> anyhow::Result<Vec<String>> {
    let conn = store.client().await?;
    let rows = conn
        .query(
            "UPDATE users SET password_hash = $2
             WHERE id IN (SELECT id FROM loadtest_seeded WHERE kind = 'user' AND run = $1)
             RETURNING phone",
            &[&run, &hash],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get("phone")).collect())
}
