//! Member activities: admins with `activities.manage` define them (editable while a
//! draft), publish and close them; members of the audience answer once each. Answers
//! are plain inserts, so a burst of them does not queue on one row; only a signup's
//! seats and a lottery's or quiz's prizes are counters, each taken with a conditional
//! update so capacity and stock are never exceeded. Results are published as events by
//! [`Store::publish_results`], at most a few times a second (see `hub::results`).
//!
//! # Layout
//! - this file: what an activity is and its lifecycle (create, edit, publish, close), who
//!   may see it (its audience);
//! - [`answers`]: taking part, lottery draws, one's receipt;
//! - [`results`]: the tallies, as members may see them, and their publishing;
//! - [`prizes`]: claims, the fulfilment list, shipping;
//! - [`export`]: the results and fulfilment downloads.

mod answers;
mod export;
mod prizes;
mod results;

use deadpool_postgres::{GenericClient, Transaction};
use gonghui_protocol::dto::Activity;
use gonghui_protocol::events::kind;
use gonghui_protocol::Topic;
use serde_json::{json, Value};
use tokio_postgres::Row;

use crate::domain::{ActivitySpec, Config, Permission, Prize};
use crate::store::access::require;
use crate::store::audit;
use crate::store::events::EventBatch;
use crate::store::tokens::Principal;
use crate::store::Store;
use crate::{Error, Result};

pub use answers::roll;
pub use export::ActivityFile;
pub use results::RESULTS_EVERY_MS;

const COLUMNS: &str =
    "a.id, a.union_id, a.include_subordinates, a.kind, a.title, a.description, a.config,
                       a.starts_at, a.ends_at, a.results_visibility, a.status";

/// An activity as stored, with its config checked again.
pub(crate) struct Stored {
    pub(crate) activity: Activity,
    config: Config,
}

fn stored_from_row(r: &Row, public_url: &str) -> Result<Stored> {
    let kind: String = r.get("kind");
    let raw: Value = r.get("config");
    let config = Config::parse(&kind, &raw)
        .map_err(|e| Error::Unavailable(format!("a stored activity does not read: {e}")))?;
    let id: i64 = r.get("id");
    Ok(Stored {
        activity: Activity {
            id,
            union_id: r.get("union_id"),
            include_subordinates: r.get("include_subordinates"),
            kind,
            title: r.get("title"),
            description: r.get("description"),
            config: raw,
            starts_at: r.get("starts_at"),
            ends_at: r.get("ends_at"),
            results_visibility: r.get("results_visibility"),
            status: r.get("status"),
            link: format!("{public_url}/activities/{id}"),
        },
        config,
    })
}

impl Stored {
    /// The activity as this viewer may see it.
    fn shown(mut self, admin: bool) -> Activity {
        if !admin {
            self.activity.config = self.config.public();
        }
        self.activity
    }
}

/// The SQL condition "`user` is in the audience of an activity of `union`, which is
/// open to unions below it when `subordinates`": a current member of that union, or of
/// one below it.
fn audience(user: &str, union: &str, subordinates: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM memberships m JOIN unions u ON u.id = m.union_id
                 WHERE m.user_id = {user} AND m.status IN ('active', 'retired')
                   AND (u.id = {union} OR ({subordinates} AND u.path @> ARRAY[{union}]::bigint[])))"
    )
}

/// Whether a member of `user_id` may take part in an activity of `union_id`.
async fn in_audience(
    conn: &impl GenericClient,
    user_id: i64,
    union_id: i64,
    include_subordinates: bool,
) -> Result<bool> {
    let stmt = conn
        .prepare_cached(&format!("SELECT {}", audience("$1", "$2", "$3")))
        .await?;
    Ok(conn
        .query_one(&stmt, &[&user_id, &union_id, &include_subordinates])
        .await?
        .get(0))
}

/// A statement parameter.
type Param<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);

/// An activity's definition as the eight columns that creating and editing both write,
/// in that order (`include_subordinates` … `results_visibility`).
fn definition<'a>(spec: &'a ActivitySpec, title: &'a &'a str, config: &'a Value) -> [Param<'a>; 8] {
    [
        &spec.include_subordinates,
        &spec.kind,
        title,
        &spec.description,
        config,
        &spec.starts_at,
        &spec.ends_at,
        &spec.results_visibility,
    ]
}

impl Store {
    async fn stored(&self, conn: &impl GenericClient, id: i64, lock: bool) -> Result<Stored> {
        let sql = format!(
            "SELECT {COLUMNS} FROM activities a WHERE a.id = $1{}",
            if lock { " FOR UPDATE" } else { "" }
        );
        let row = conn
            .query_opt(&sql, &[&id])
            .await?
            .ok_or_else(|| Error::NotFound(format!("no activity {id}")))?;
        stored_from_row(&row, &self.public_url)
    }

    /// An activity for an admin who must hold `activities.manage` on its union.
    pub(crate) async fn managed(
        &self,
        conn: &impl GenericClient,
        admin: &Principal,
        id: i64,
        lock: bool,
    ) -> Result<Stored> {
        let stored = self.stored(conn, id, lock).await?;
        require(
            conn,
            admin.user_id,
            stored.activity.union_id,
            Permission::ActivitiesManage,
        )
        .await?;
        Ok(stored)
    }

    /// Creates a draft activity of a union.
    ///
    /// # Errors
    /// `NotFound`/`Forbidden` without `activities.manage` on the union.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, union_id = union_id))]
    pub async fn create_activity(
        &self,
        admin: &Principal,
        union_id: i64,
        spec: &ActivitySpec,
    ) -> Result<Activity> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        require(&tx, admin.user_id, union_id, Permission::ActivitiesManage).await?;
        let (title, config) = (
            spec.title.as_str(),
            serde_json::to_value(&spec.config).expect("plain JSON"),
        );
        let row = tx
            .query_one(
                &format!(
                    "WITH a AS (INSERT INTO activities (union_id, include_subordinates, kind, title, description, config,
                                                        starts_at, ends_at, results_visibility, created_by)
                                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *)
                     SELECT {COLUMNS} FROM a"
                ),
                &[&[&union_id as Param], &definition(spec, &title, &config)[..], &[&admin.user_id]].concat(),
            )
            .await?;
        let activity = stored_from_row(&row, &self.public_url)?.activity;
        audit::record(
            &tx,
            admin,
            union_id,
            "activity.create",
            ("activity", activity.id),
            json!({ "kind": spec.kind }),
        )
        .await?;
        tx.commit().await?;
        Ok(activity)
    }

    /// Replaces a draft's definition.
    ///
    /// # Errors
    /// `Conflict` once published; `Forbidden` without `activities.manage`.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, id = id))]
    pub async fn update_activity(
        &self,
        admin: &Principal,
        id: i64,
        spec: &ActivitySpec,
    ) -> Result<Activity> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let current = self.managed(&tx, admin, id, true).await?.activity;
        if current.status != "draft" {
            return Err(Error::Conflict("only a draft can be edited".into()));
        }
        let (title, config) = (
            spec.title.as_str(),
            serde_json::to_value(&spec.config).expect("plain JSON"),
        );
        let row = tx
            .query_one(
                &format!(
                    "WITH a AS (UPDATE activities SET include_subordinates = $2, kind = $3, title = $4, description = $5,
                                       config = $6, starts_at = $7, ends_at = $8, results_visibility = $9
                                WHERE id = $1 RETURNING *)
                     SELECT {COLUMNS} FROM a"
                ),
                &[&[&id as Param], &definition(spec, &title, &config)[..]].concat(),
            )
            .await?;
        audit::record(
            &tx,
            admin,
            current.union_id,
            "activity.update",
            ("activity", id),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(stored_from_row(&row, &self.public_url)?.activity)
    }

    /// Publishes a draft (its prizes are stocked) or closes a published activity (its
    /// final results go out at once); the union's topic hears of either.
    ///
    /// # Errors
    /// `Conflict` from any other status; `Forbidden` without `activities.manage`.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, id = id))]
    pub async fn set_activity_status(
        &self,
        admin: &Principal,
        id: i64,
        to: &'static str,
    ) -> Result<Activity> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let stored = self.managed(&tx, admin, id, true).await?;
        let union_id = stored.activity.union_id;
        let from = if to == "published" {
            "draft"
        } else {
            "published"
        };
        if stored.activity.status != from {
            return Err(Error::Conflict(format!(
                "a {} activity cannot become {to}",
                stored.activity.status
            )));
        }
        tx.execute(
            "UPDATE activities SET status = $2 WHERE id = $1",
            &[&id, &to],
        )
        .await?;
        if to == "published" {
            stock(&tx, id, &stored.config.prizes()).await?;
        }
        let mut activity = stored.shown(false);
        activity.status = to.to_owned();
        let kind = if to == "published" {
            kind::ACTIVITY_PUBLISHED
        } else {
            kind::ACTIVITY_CLOSED
        };
        let mut events = EventBatch::new();
        events.push(
            Topic::Union(union_id),
            kind,
            json!({ "activity": activity }),
        );
        events.push(Topic::Activity(id), kind, json!({ "activity": activity }));
        audit::record(
            &tx,
            admin,
            union_id,
            if to == "published" {
                "activity.publish"
            } else {
                "activity.close"
            },
            ("activity", id),
            json!({}),
        )
        .await?;
        self.commit(tx, events).await?;
        if to == "closed" {
            self.publish_results(id, true).await?;
        }
        Ok(activity)
    }

    /// An activity as the viewer may see it: admins (with `activities.manage`) see drafts
    /// and a quiz's answers; the audience sees published and closed ones.
    ///
    /// # Errors
    /// `NotFound` for a draft or an activity outside the viewer's audience.
    #[tracing::instrument(skip_all, fields(viewer = viewer, id = id))]
    pub async fn activity(&self, viewer: i64, id: i64) -> Result<Activity> {
        let conn = self.client().await?;
        let (stored, admin) = self.visible(&conn, viewer, id).await?;
        Ok(stored.shown(admin))
    }

    /// An activity the viewer may see, and whether they are one of its admins.
    async fn visible(
        &self,
        conn: &impl GenericClient,
        viewer: i64,
        id: i64,
    ) -> Result<(Stored, bool)> {
        let stored = self.stored(conn, id, false).await?;
        let admin = self
            .has_permission(
                viewer,
                stored.activity.union_id,
                Permission::ActivitiesManage,
            )
            .await?;
        let visible = admin
            || (stored.activity.status != "draft"
                && in_audience(
                    conn,
                    viewer,
                    stored.activity.union_id,
                    stored.activity.include_subordinates,
                )
                .await?);
        if !visible {
            return Err(Error::NotFound(format!("no activity {id}")));
        }
        Ok((stored, admin))
    }

    /// A union's activities, newest first: every one for its admins; for anyone else,
    /// the published and closed ones whose audience they are in.
    #[tracing::instrument(skip_all, fields(viewer = viewer, union_id = union_id))]
    pub async fn activities_of(&self, viewer: i64, union_id: i64) -> Result<Vec<Activity>> {
        let conn = self.client().await?;
        let admin = self
            .has_permission(viewer, union_id, Permission::ActivitiesManage)
            .await?;
        let rows = conn
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM activities a WHERE a.union_id = $1 AND ($2 OR (a.status <> 'draft' AND {}))
                     ORDER BY a.id DESC LIMIT 200",
                    audience("$3", "a.union_id", "a.include_subordinates")
                ),
                &[&union_id, &admin, &viewer],
            )
            .await?;
        rows.iter()
            .map(|r| Ok(stored_from_row(r, &self.public_url)?.shown(admin)))
            .collect()
    }

    /// Whether `user_id` may watch `activity:{id}`.
    pub(crate) async fn can_watch_activity(&self, user_id: i64, id: i64) -> Result<bool> {
        match self.activity(user_id, id).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Stocks a published activity's prizes.
async fn stock(tx: &Transaction<'_>, id: i64, prizes: &[Prize]) -> Result<()> {
    for p in prizes {
        tx.execute(
            "INSERT INTO activity_prizes (activity_id, prize_id, name, quantity, remaining) VALUES ($1, $2, $3, $4, $4)",
            &[&id, &p.id, &p.name, &p.quantity],
        )
        .await?;
    }
    Ok(())
}
