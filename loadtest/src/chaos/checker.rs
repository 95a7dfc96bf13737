//! The convergence checker: once the faults stop and every client has caught up, what
//! each client holds must be what the database holds — every topic's events gapless, in
//! order, once each and equal to the log; the state built from snapshot + events equal
//! to the tables (the approval queue, the member count, each member's applications and
//! memberships); and every call a node acknowledged visible in the database.

use std::collections::{BTreeMap, BTreeSet};

use gonghui_protocol::events::kind;
use serde_json::Value;
use tokio_postgres::Client;

use super::recorder::{Recorder, TopicLog};
use super::writers::{Acked, Calls};

/// What the checker found.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Comparisons made.
    pub checks: u64,
    /// Every promise broken, described.
    pub violations: Vec<String>,
}

impl Verdict {
    fn expect(&mut self, holds: bool, why: impl FnOnce() -> String) {
        self.checks += 1;
        if !holds {
            self.violations.push(why());
        }
    }
}

/// Each topic's last seq in the log.
pub async fn heads(db: &Client, topics: &[String]) -> anyhow::Result<BTreeMap<String, u64>> {
    let rows = db
        .query(
            "SELECT topic, max(seq) FROM events WHERE topic = ANY($1) GROUP BY topic",
            &[&topics],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
        .collect())
}

/// Checks every client against the database, and the acknowledged calls.
pub async fn check(
    db: &Client,
    union: i64,
    clients: &[Recorder],
    calls: &Calls,
) -> anyhow::Result<Verdict> {
    let mut verdict = Verdict::default();
    for client in clients {
        let topics = client.record.lock().unwrap().topics.clone();
        for (topic, log) in &topics {
            let name = format!("{} {topic}", client.name);
            for broken in &log.out_of_order {
                verdict.expect(false, || format!("{name}: {broken}"));
            }
            verdict.expect(log.resets == 0, || format!("{name}: {} resets", log.resets));
            let Some((base, snapshot)) = &log.base else {
                verdict.expect(false, || format!("{name}: never subscribed"));
                continue;
            };
            same_as_log(db, &name, topic, *base, log, &mut verdict).await?;
            same_state(db, &name, topic, union, snapshot, log, &mut verdict).await?;
        }
    }
    for acked in &calls.acked {
        match *acked {
            Acked::Applied { id, user } => {
                let row = db
                    .query_opt("SELECT user_id FROM applications WHERE id = $1", &[&id])
                    .await?;
                verdict.expect(row.is_some_and(|r| r.get::<_, i64>(0) == user), || {
                    format!("application {id} was acknowledged (201) but is not in the database")
                });
            }
            Acked::Decided { id, approved } => {
                let row = db
                    .query_opt("SELECT status FROM applications WHERE id = $1", &[&id])
                    .await?;
                let want = if approved { "approved" } else { "rejected" };
                verdict.expect(row.is_some_and(|r| r.get::<_, String>(0) == want), || {
                    format!("application {id} was acknowledged {want} (200) but is not")
                });
            }
        }
    }
    for call in &calls.unanswered {
        verdict.expect(false, || format!("never answered by any node: {call}"));
    }
    Ok(verdict)
}

/// The events received after the snapshot are the log's, exactly, up to its head.
async fn same_as_log(
    db: &Client,
    name: &str,
    topic: &str,
    base: u64,
    log: &TopicLog,
    verdict: &mut Verdict,
) -> anyhow::Result<()> {
    let rows = db
        .query(
            "SELECT seq, kind, data FROM events WHERE topic = $1 AND seq > $2 ORDER BY seq",
            &[&topic, &(base as i64)],
        )
        .await?;
    verdict.expect(rows.len() == log.events.len(), || {
        format!(
            "{name}: holds {} events after seq {base}, the log {}",
            log.events.len(),
            rows.len()
        )
    });
    for (row, got) in rows.iter().zip(&log.events) {
        let (seq, kind, data) = (
            row.get::<_, i64>(0) as u64,
            row.get::<_, String>(1),
            row.get::<_, Value>(2),
        );
        verdict.expect(
            got.seq == seq && got.kind == kind && got.data == data,
            || {
                format!(
                    "{name}: seq {} differs from the log's {seq} {kind}",
                    got.seq
                )
            },
        );
    }
    Ok(())
}

/// The state built from the snapshot and the events equals the tables.
async fn same_state(
    db: &Client,
    name: &str,
    topic: &str,
    union: i64,
    snapshot: &Value,
    log: &TopicLog,
    verdict: &mut Verdict,
) -> anyhow::Result<()> {
    let ids = |list: &Value| -> BTreeSet<i64> {
        list.as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["id"].as_i64())
            .collect()
    };
    if topic == format!("union:{union}:admin") {
        let mut pending = ids(&snapshot["pending"]);
        for e in &log.events {
            let id = e.data["application"]["id"].as_i64().unwrap_or_default();
            match e.kind.as_str() {
                kind::APPLICATION_CREATED => pending.insert(id),
                kind::APPLICATION_APPROVED | kind::APPLICATION_REJECTED => pending.remove(&id),
                _ => false,
            };
        }
        let rows = db
            .query(
                "SELECT id FROM applications WHERE union_id = $1 AND status = 'pending'",
                &[&union],
            )
            .await?;
        let truth: BTreeSet<i64> = rows.iter().map(|r| r.get(0)).collect();
        verdict.expect(pending == truth, || {
            format!("{name}: the queue shows {pending:?}, the database {truth:?}")
        });
    } else if topic == format!("union:{union}") {
        let joined = log
            .events
            .iter()
            .filter(|e| e.kind == kind::MEMBER_JOINED)
            .count();
        let shown = snapshot["member_count"].as_i64().unwrap_or(-1) + joined as i64;
        let truth: i64 = db
            .query_one(
                "SELECT count(*) FROM memberships WHERE union_id = $1 AND status = 'active'",
                &[&union],
            )
            .await?
            .get(0);
        verdict.expect(shown == truth, || {
            format!("{name}: shows {shown} members, the database {truth}")
        });
    } else if let Some(user) = topic
        .strip_prefix("member:")
        .and_then(|u| u.parse::<i64>().ok())
    {
        let mut applications: BTreeMap<i64, String> = snapshot["applications"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| Some((a["id"].as_i64()?, a["status"].as_str()?.to_owned())))
            .collect();
        let mut memberships: BTreeSet<i64> = snapshot["memberships"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["union_id"].as_i64())
            .collect();
        for e in &log.events {
            let application = &e.data["application"];
            if let (Some(id), Some(status)) =
                (application["id"].as_i64(), application["status"].as_str())
            {
                applications.insert(id, status.to_owned());
            }
            if e.kind == kind::MEMBERSHIP_CREATED {
                memberships.extend(e.data["membership"]["union_id"].as_i64());
            }
        }
        let rows = db
            .query(
                "SELECT id, status FROM applications WHERE user_id = $1",
                &[&user],
            )
            .await?;
        let truth: BTreeMap<i64, String> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        verdict.expect(applications == truth, || {
            format!("{name}: shows applications {applications:?}, the database {truth:?}")
        });
        let rows = db
            .query(
                "SELECT union_id FROM memberships WHERE user_id = $1 AND status IN ('active', 'retired')",
                &[&user],
            )
            .await?;
        let truth: BTreeSet<i64> = rows.iter().map(|r| r.get(0)).collect();
        verdict.expect(memberships == truth, || {
            format!("{name}: shows memberships of {memberships:?}, the database {truth:?}")
        });
    }
    Ok(())
}
