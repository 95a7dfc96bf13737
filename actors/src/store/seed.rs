//! Seeding at scale for load tests: verified members, applicants, admins and their
//! session tokens, made with a handful of set-based statements (no argon2, no per-row
//! round trips), and every row marked with the run's name so `unseed` can remove it.
//!
//! Tokens are `{secret}:{user_id}` for a random secret of the run: the seeder stores only
//! their SHA-256 like any token, and the harness rebuilds them from the secret.

use std::time::Duration;

use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::Store;
use crate::crypto::token_hash;
use crate::domain::Permission;
use crate::Result;

/// What to make.
#[derive(Debug, Clone, Copy)]
pub struct SeedPlan {
    /// Verified active members of the seeded union.
    pub members: i64,
    /// Verified users who are members of no union (they can apply).
    pub applicants: i64,
    /// Admins of the seeded union with `members.review` and `activities.manage`.
    pub admins: i64,
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
}

impl Seeded {
    /// The bearer token of a seeded user.
    pub fn token(&self, user_id: i64) -> String {
        format!("{}:{user_id}", self.secret)
    }
}

impl Store {
    /// Makes a union under the root (or a root, if there is none) and the plan's users.
    pub async fn seed(&self, plan: SeedPlan) -> Result<Seeded> {
        let mut raw = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut raw);
        let secret = hex::encode(raw);
        let run = format!("seed-{}", &secret[..12]);
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let union_id: i64 = tx
            .query_one(
                "INSERT INTO unions (id, parent_id, name, path, seed_run)
                 SELECT n.id, r.id, $1, coalesce(r.path, '{}') || n.id, $1
                 FROM (SELECT nextval('unions_id_seq') AS id) n
                 LEFT JOIN unions r ON r.parent_id IS NULL
                 RETURNING id",
                &[&run],
            )
            .await?
            .get(0);
        let first_phone: i64 = tx
            .query_one("SELECT coalesce(max(phone::bigint) + 1, 19000000000) FROM users WHERE seed_run IS NOT NULL", &[])
            .await?
            .get(0);
        let total = plan.members + plan.applicants + plan.admins;
        let ids: Vec<i64> = tx
            .query(
                "INSERT INTO users (phone, name, id_number_index, id_number_masked, verified_at, seed_run)
                 SELECT ($2::bigint + i)::text, 'load ' || i, sha256(convert_to($1 || ':' || i, 'UTF8')), '4401**********000X', now(), $1
                 FROM generate_series(0, $3::bigint - 1) AS i ORDER BY i RETURNING id",
                &[&run, &first_phone, &total],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
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
        })
    }

    /// Removes everything seeded runs made (or one run's, if named), with their events.
    /// Returns how many users went.
    pub async fn unseed(&self, run: Option<&str>) -> Result<u64> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let filter = "seed_run IS NOT NULL AND ($1::text IS NULL OR seed_run = $1)";
        let users = format!("SELECT id FROM users WHERE {filter}");
        let unions = format!("SELECT id FROM unions WHERE {filter}");
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
            format!(
                "DELETE FROM union_admins WHERE user_id IN ({users}) OR union_id IN ({unions})"
            ),
            format!("DELETE FROM events WHERE topic IN ({topics})"),
            format!("DELETE FROM topics WHERE topic IN ({topics})"),
        ] {
            tx.execute(statement.as_str(), &[&run]).await?;
        }
        let removed = tx
            .execute(&format!("DELETE FROM users WHERE {filter}"), &[&run])
            .await?;
        tx.execute(&format!("DELETE FROM unions WHERE {filter}"), &[&run])
            .await?;
        tx.commit().await?;
        Ok(removed)
    }
}

impl Store {
    /// Gives every user of a seeded run the password with this hash; returns their phones.
    pub async fn give_seeded_password(&self, run: &str, hash: &str) -> Result<Vec<String>> {
        let conn = self.client().await?;
        let rows = conn
            .query(
                "UPDATE users SET password_hash = $2 WHERE seed_run = $1 RETURNING phone",
                &[&run, &hash],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}
