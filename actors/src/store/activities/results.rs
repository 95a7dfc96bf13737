//! An activity's results: the tallies from the answers, what members may see of them, and
//! their publishing as events at most a few times a second.

use deadpool_postgres::GenericClient;
use gonghui_protocol::dto::{Activity, ActivitySnapshot, Results};
use gonghui_protocol::events::kind;
use gonghui_protocol::Topic;
use serde_json::{json, Value};
use tokio_postgres::Row;

use super::{stored_from_row, COLUMNS};
use crate::store::events::EventBatch;
use crate::store::Store;
use crate::{Error, Result};

/// The least time between two results events of one activity.
pub const RESULTS_EVERY_MS: i64 = 250;

impl Store {
    /// Results as the viewer may see them: admins always in full, the audience as the
    /// activity's visibility allows.
    #[tracing::instrument(skip_all, fields(viewer = viewer, id = id))]
    pub async fn results(&self, viewer: i64, id: i64) -> Result<Results> {
        let conn = self.client().await?;
        let (stored, admin) = self.visible(&conn, viewer, id).await?;
        let activity = stored.shown(admin);
        let full = tallies(&conn, id, &activity.kind).await?;
        Ok(if admin { full } else { public(&activity, full) })
    }

    /// The snapshot of `activity:{id}`: the activity and its public results.
    pub(crate) async fn activity_snapshot(
        &self,
        conn: &impl GenericClient,
        id: i64,
    ) -> Result<ActivitySnapshot> {
        let stored = self.stored(conn, id, false).await?;
        let activity = stored.shown(false);
        let results = public(&activity, tallies(conn, id, &activity.kind).await?);
        Ok(ActivitySnapshot { activity, results })
    }

    /// Publishes an activity's results if answers came in since the last time and (unless
    /// `force`) the last was at least [`RESULTS_EVERY_MS`] ago: `activity.results` with
    /// what members may see on `activity:{id}`, and in full on the union's admin topic.
    /// Answers `true` when nothing is left to publish, `false` when it is too soon.
    #[tracing::instrument(skip_all, fields(id = id))]
    pub async fn publish_results(&self, id: i64, force: bool) -> Result<bool> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let row = tx
            .query_opt(
                &format!(
                    "SELECT {COLUMNS}, a.results_count, a.results_at > clock_timestamp() - make_interval(secs => $2::float8 / 1000),
                            (SELECT count(*) FROM activity_answers WHERE activity_id = a.id)
                     FROM activities a WHERE a.id = $1 FOR UPDATE"
                ),
                &[&id, &(RESULTS_EVERY_MS as f64)],
            )
            .await?
            .ok_or_else(|| Error::NotFound(format!("no activity {id}")))?;
        let (published, recent, answers): (i64, bool, i64) =
            (row.get(11), row.get(12), row.get(13));
        if answers == published && !force {
            return Ok(true);
        }
        if recent && !force {
            return Ok(false);
        }
        let activity = stored_from_row(&row, &self.public_url)?.shown(false);
        let full = tallies(&tx, id, &activity.kind).await?;
        // Record what this event counts, read in the same statement as its tallies;
        // answers committed since make the next publish.
        tx.execute(
            "UPDATE activities SET results_count = $2, results_at = clock_timestamp() WHERE id = $1",
            &[&id, &full.participants],
        )
        .await?;
        let mut events = EventBatch::new();
        events.push(
            Topic::Activity(id),
            kind::ACTIVITY_RESULTS,
            json!({ "results": public(&activity, full.clone()) }),
        );
        events.push(
            Topic::UnionAdmin(activity.union_id),
            kind::ACTIVITY_RESULTS,
            json!({ "results": full }),
        );
        self.commit(tx, events).await?;
        Ok(true)
    }
}

/// Results with the tallies hidden where the activity says members may not see them yet.
fn public(activity: &Activity, mut results: Results) -> Results {
    let shown = match activity.results_visibility.as_str() {
        "public" => true,
        "after_close" => activity.status == "closed",
        _ => false,
    };
    if !shown {
        results.tallies = None;
    }
    results
}

/// Counts an activity's answers in full: the participants, and what its kind tallies
/// (only that, since results are counted a few times a second during a burst).
async fn tallies(conn: &impl GenericClient, id: i64, kind: &str) -> Result<Results> {
    const CHOICES: &str = "SELECT coalesce(jsonb_object_agg(c, n), '{}') FROM (
        SELECT c, count(*) AS n FROM activity_answers a, jsonb_array_elements_text(a.answer -> 'choices') c
        WHERE a.activity_id = $1 GROUP BY c) v";
    const QUESTIONS: &str = "SELECT coalesce(jsonb_object_agg(q, counts), '{}') FROM (
        SELECT q, jsonb_object_agg(c, n) AS counts FROM (
            SELECT e.key AS q, c, count(*) AS n
            FROM activity_answers a, jsonb_each(a.answer -> 'answers') e,
                 jsonb_array_elements_text(CASE WHEN jsonb_typeof(e.value) = 'array' THEN e.value ELSE '[]' END) c
            WHERE a.activity_id = $1 GROUP BY e.key, c) x GROUP BY q) y";
    const PRIZES: &str = "SELECT coalesce(jsonb_object_agg(prize_id, jsonb_build_object('name', name,
            'quantity', quantity, 'given', quantity - remaining)), '{}') FROM activity_prizes WHERE activity_id = $1";
    let (counted, shape): (String, fn(&Row) -> Value) = match kind {
        "vote" => (format!("({CHOICES})"), |r| json!({ "options": r.get::<_, Value>(1) })),
        "questionnaire" => (format!("({QUESTIONS})"), |r| json!({ "questions": r.get::<_, Value>(1) })),
        "signup" => (
            "(SELECT seats_taken FROM activities WHERE id = $1)".to_owned(),
            |r| json!({ "seats_taken": r.get::<_, i32>(1) }),
        ),
        "lottery" => (format!("({PRIZES})"), |r| json!({ "prizes": r.get::<_, Value>(1) })),
        _ => (
            format!("({QUESTIONS}), ({PRIZES}), (SELECT count(*) FILTER (WHERE passed) FROM activity_answers WHERE activity_id = $1)"),
            |r| json!({ "questions": r.get::<_, Value>(1), "prizes": r.get::<_, Value>(2), "passed": r.get::<_, i64>(3) }),
        ),
    };
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT (SELECT count(*) FROM activity_answers WHERE activity_id = $1), {counted}"
        ))
        .await?;
    let row = conn.query_one(&stmt, &[&id]).await?;
    Ok(Results {
        activity_id: id,
        participants: row.get(0),
        tallies: Some(shape(&row)),
    })
}
