//! Member activities: admins with `activities.manage` define them (editable while a
//! draft), publish and close them; members of the audience answer once each. Answers
//! are plain inserts, so a burst of them does not queue on one row; only a signup's
//! seats and a lottery's or quiz's prizes are counters, each taken with a conditional
//! update so capacity and stock are never exceeded. Results are published as events by
//! [`Store::publish_results`], at most a few times a second (see `hub::results`).

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Transaction};
use gonghui_protocol::dto::{Activity, ActivitySnapshot, Draw, Receipt, Results};
use gonghui_protocol::Topic;
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

use super::access::require;
use super::audit;
use super::events::EventBatch;
use super::export::Export;
use super::tokens::Principal;
use super::Store;
use crate::domain::{ActivitySpec, Answer, Config, Permission, Phone, Prize};
use crate::sheets::write::{text, FileChunk};
use crate::sheets::Format;
use crate::{Error, Result};

/// The least time between two results events of one activity.
pub const RESULTS_EVERY_MS: i64 = 250;

const COLUMNS: &str =
    "a.id, a.union_id, a.include_subordinates, a.kind, a.title, a.description, a.config,
                       a.starts_at, a.ends_at, a.results_visibility, a.status";

/// An activity as stored, with its config checked again.
pub(crate) struct Stored {
    pub(crate) activity: Activity,
    config: Config,
}

fn stored_from_row(r: &Row, public_url: &str) -> Result<Stored> {
    let kind: String = r.get(3);
    let raw: Value = r.get(6);
    let config = Config::parse(&kind, &raw)
        .map_err(|e| Error::Unavailable(format!("a stored activity does not read: {e}")))?;
    let id: i64 = r.get(0);
    Ok(Stored {
        activity: Activity {
            id,
            union_id: r.get(1),
            include_subordinates: r.get(2),
            kind,
            title: r.get(4),
            description: r.get(5),
            config: raw,
            starts_at: r.get(7),
            ends_at: r.get(8),
            results_visibility: r.get(9),
            status: r.get(10),
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

/// A lottery draw: a fresh 32-byte seed from the OS's secure generator decides, given
/// the prizes left, whether this draw wins and which prize. Everything it used is
/// returned for the record, so an auditor can recompute the outcome from it.
fn draw(win_rate: f64, remaining: &[(String, i32)]) -> (Option<String>, Draw) {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let outcome = roll(&seed, win_rate, remaining);
    let record = Draw {
        seed: hex::encode(seed),
        win_rate,
        remaining: remaining.iter().cloned().collect(),
        rule: "h = sha256(seed); win if u64_be(h[0..8]) / 2^64 < win_rate and prizes remain; prize = the one holding position u64_be(h[8..16]) mod total remaining, prizes in id order".into(),
    };
    (outcome, record)
}

/// The deterministic part of a draw, as the record describes it.
pub fn roll(seed: &[u8], win_rate: f64, remaining: &[(String, i32)]) -> Option<String> {
    let h = Sha256::digest(seed);
    let first = u64::from_be_bytes(h[0..8].try_into().expect("8 bytes"));
    let second = u64::from_be_bytes(h[8..16].try_into().expect("8 bytes"));
    let total: i64 = remaining.iter().map(|(_, n)| i64::from(*n)).sum();
    if total == 0 || (first as f64 / 18_446_744_073_709_551_616.0) >= win_rate {
        return None;
    }
    let mut position = (second % total as u64) as i64;
    for (id, n) in remaining {
        if position < i64::from(*n) {
            return Some(id.clone());
        }
        position -= i64::from(*n);
    }
    None
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
    pub async fn create_activity(
        &self,
        admin: &Principal,
        union_id: i64,
        spec: &ActivitySpec,
    ) -> Result<Activity> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        require(&tx, admin.user_id, union_id, Permission::ActivitiesManage).await?;
        let row = tx
            .query_one(
                &format!(
                    "WITH a AS (INSERT INTO activities (union_id, include_subordinates, kind, title, description, config,
                                                        starts_at, ends_at, results_visibility, created_by)
                                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *)
                     SELECT {COLUMNS} FROM a"
                ),
                &[
                    &union_id,
                    &spec.include_subordinates,
                    &spec.kind,
                    &spec.title.as_str(),
                    &spec.description,
                    &serde_json::to_value(&spec.config).expect("plain JSON"),
                    &spec.starts_at,
                    &spec.ends_at,
                    &spec.results_visibility,
                    &admin.user_id,
                ],
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
        let row = tx
            .query_one(
                &format!(
                    "WITH a AS (UPDATE activities SET include_subordinates = $2, kind = $3, title = $4, description = $5,
                                       config = $6, starts_at = $7, ends_at = $8, results_visibility = $9
                                WHERE id = $1 RETURNING *)
                     SELECT {COLUMNS} FROM a"
                ),
                &[
                    &id,
                    &spec.include_subordinates,
                    &spec.kind,
                    &spec.title.as_str(),
                    &spec.description,
                    &serde_json::to_value(&spec.config).expect("plain JSON"),
                    &spec.starts_at,
                    &spec.ends_at,
                    &spec.results_visibility,
                ],
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
            "activity.published"
        } else {
            "activity.closed"
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
        events.append(&tx).await?;
        tx.commit().await?;
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

    /// Records a member's one answer. A signup takes a seat, a lottery draws, a passed
    /// quiz takes its prize while stock lasts; the member's other devices hear of it.
    ///
    /// # Errors
    /// `NotFound` (no such activity or a draft), `Forbidden` outside the audience,
    /// `Conflict` outside the time window, once closed, when full, or a second answer;
    /// `Invalid` for an answer that does not fit the activity.
    pub async fn answer(&self, user: &Principal, id: i64, raw: &Value) -> Result<Receipt> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let Stored { activity, config } = self.stored(&tx, id, false).await?;
        match activity.status.as_str() {
            "draft" => return Err(Error::NotFound(format!("no activity {id}"))),
            "closed" => return Err(Error::Conflict("this activity is closed".into())),
            _ => {}
        }
        let now = Utc::now();
        if now < activity.starts_at {
            return Err(Error::Conflict("this activity has not started".into()));
        }
        if now >= activity.ends_at {
            return Err(Error::Conflict("this activity has ended".into()));
        }
        if !in_audience(
            &tx,
            user.user_id,
            activity.union_id,
            activity.include_subordinates,
        )
        .await?
        {
            return Err(Error::Forbidden(
                "this activity is for members of another union".into(),
            ));
        }
        let answer = Answer::parse(&config, raw)?;
        let (prize, record) = match &config {
            Config::Signup { capacity, .. } => {
                let seat = tx
                    .query_opt(
                        "UPDATE activities SET seats_taken = seats_taken + 1 WHERE id = $1 AND seats_taken < $2 RETURNING 1",
                        &[&id, capacity],
                    )
                    .await?;
                if seat.is_none() {
                    return Err(Error::Conflict("this signup is full".into()));
                }
                (None, None)
            }
            Config::Lottery { win_rate, .. } => {
                let remaining: Vec<(String, i32)> = tx
                    .query(
                        "SELECT prize_id, remaining FROM activity_prizes WHERE activity_id = $1 ORDER BY prize_id FOR UPDATE",
                        &[&id],
                    )
                    .await?
                    .iter()
                    .map(|r| (r.get(0), r.get(1)))
                    .collect();
                let (won, record) = draw(*win_rate, &remaining);
                let won = match won {
                    Some(prize) => take_prize(&tx, id, &prize).await?,
                    None => None,
                };
                (won, Some(record))
            }
            Config::Quiz {
                prize: Some(Prize { id: prize, .. }),
                ..
            } if answer.passed == Some(true) => (take_prize(&tx, id, prize).await?, None),
            _ => (None, None),
        };
        let inserted = tx
            .query_one(
                "INSERT INTO activity_answers (activity_id, user_id, answer, score, passed, prize_id, draw)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at",
                &[
                    &id,
                    &user.user_id,
                    &answer.value,
                    &answer.score,
                    &answer.passed,
                    &prize,
                    &record.as_ref().map(|d| json!(d)),
                ],
            )
            .await;
        let created_at: DateTime<Utc> = match inserted {
            Ok(row) => row.get(0),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                return Err(Error::Conflict(
                    "you have already taken part in this activity".into(),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        let receipt = Receipt {
            activity_id: id,
            user_id: user.user_id,
            answer: answer.value,
            score: answer.score,
            passed: answer.passed,
            prize,
            draw: record,
            created_at,
        };
        let mut events = EventBatch::new();
        events.push(
            Topic::Member(user.user_id),
            "activity.answered",
            json!({ "receipt": receipt }),
        );
        events.append(&tx).await?;
        tx.commit().await?;
        Ok(receipt)
    }

    /// The viewer's own receipt of an activity they may see: what each of their devices
    /// shows on its page, whichever one they answered on.
    ///
    /// # Errors
    /// `NotFound` for an activity they may not see, or when they have not taken part.
    pub async fn receipt(&self, viewer: i64, id: i64) -> Result<Receipt> {
        let conn = self.client().await?;
        self.visible(&conn, viewer, id).await?;
        let row = conn
            .query_opt(
                "SELECT answer, score, passed, prize_id, draw, created_at FROM activity_answers
                 WHERE activity_id = $1 AND user_id = $2",
                &[&id, &viewer],
            )
            .await?
            .ok_or_else(|| Error::NotFound("you have not taken part in this activity".into()))?;
        let draw = row
            .get::<_, Option<Value>>(4)
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| Error::Unavailable(format!("a stored draw does not read: {e}")))?;
        Ok(Receipt {
            activity_id: id,
            user_id: viewer,
            answer: row.get(0),
            score: row.get(1),
            passed: row.get(2),
            prize: row.get(3),
            draw,
            created_at: row.get(5),
        })
    }

    /// Results as the viewer may see them: admins always in full, the audience as the
    /// activity's visibility allows.
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
            "activity.results",
            json!({ "results": public(&activity, full.clone()) }),
        );
        events.push(
            Topic::UnionAdmin(activity.union_id),
            "activity.results",
            json!({ "results": full }),
        );
        events.append(&tx).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Which list of an activity to download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityFile {
    /// Every answer, with scores and prizes.
    Results,
    /// The winners and where their prizes go (the fulfilment list).
    Prizes,
}

const RESULTS_FILE: &str =
    "SELECT a.user_id, u.name, u.phone, a.created_at, a.answer::text, a.score, a.passed, p.name
     FROM activity_answers a JOIN users u ON u.id = a.user_id
     LEFT JOIN activity_prizes p ON p.activity_id = a.activity_id AND p.prize_id = a.prize_id
     WHERE a.activity_id = $1 ORDER BY a.created_at, a.user_id";

impl Store {
    /// Streams an activity's results or fulfilment list as CSV or XLSX for its admins,
    /// after writing the export's audit row. Members' phones in the results are masked
    /// unless the admin holds `members.pii`; a claim's address is for shipping and shown.
    ///
    /// # Errors
    /// `NotFound`, `Forbidden` without `activities.manage`.
    pub async fn export_activity(
        &self,
        admin: &Principal,
        id: i64,
        what: ActivityFile,
        format: Format,
    ) -> Result<mpsc::Receiver<FileChunk>> {
        let admitted = self.admit_export(admin.user_id)?;
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let union_id = self.managed(&tx, admin, id, false).await?.activity.union_id;
        let pii = self
            .has_permission(admin.user_id, union_id, Permission::MembersPii)
            .await?;
        let name = if what == ActivityFile::Results {
            "results"
        } else {
            "prizes"
        };
        audit::record(
            &tx,
            admin,
            union_id,
            "activity.export",
            ("activity", id),
            json!({ "file": name, "format": format.extension() }),
        )
        .await?;
        tx.commit().await?;
        let export = match what {
            ActivityFile::Results => Export {
                format,
                header: vec![
                    "用户ID",
                    "姓名",
                    "手机号",
                    "提交时间",
                    "答案",
                    "得分",
                    "通过",
                    "奖品",
                ],
                sql: RESULTS_FILE,
                params: vec![Box::new(id)],
                cells: Box::new(move |r| {
                    let phone: String = r.get(2);
                    vec![
                        r.get::<_, i64>(0).to_string(),
                        text(r.get::<_, Option<String>>(1)),
                        if pii { phone } else { Phone::masked(&phone) },
                        r.get::<_, DateTime<Utc>>(3).to_rfc3339(),
                        r.get(4),
                        text(r.get::<_, Option<i32>>(5)),
                        text(r.get::<_, Option<bool>>(6)),
                        text(r.get::<_, Option<String>>(7)),
                    ]
                }),
            },
            ActivityFile::Prizes => Export {
                format,
                header: super::prizes::FULFILMENT_HEADER.to_vec(),
                sql: super::prizes::FULFILMENTS.as_str(),
                params: vec![Box::new(id)],
                cells: Box::new(super::prizes::fulfilment_cells),
            },
        };
        Ok(self.stream_export(admitted, export))
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

/// Takes one of a prize while any is left; answers the prize's id if one was.
async fn take_prize(tx: &Transaction<'_>, id: i64, prize: &str) -> Result<Option<String>> {
    let taken = tx
        .query_opt(
            "UPDATE activity_prizes SET remaining = remaining - 1
             WHERE activity_id = $1 AND prize_id = $2 AND remaining > 0 RETURNING prize_id",
            &[&id, &prize],
        )
        .await?;
    Ok(taken.map(|r| r.get(0)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_draw_recomputes_to_its_outcome() {
        let remaining = vec![("a".to_owned(), 1), ("b".to_owned(), 2)];
        for _ in 0..50 {
            let (won, record) = draw(0.5, &remaining);
            let seed = hex::decode(&record.seed).unwrap();
            assert_eq!(roll(&seed, 0.5, &remaining), won);
        }
        assert_eq!(
            roll(&[0; 32], 1.0, &[("a".to_owned(), 0)]),
            None,
            "nothing left, nothing won"
        );
        assert!(
            roll(&[0; 32], 1.0, &remaining).is_some(),
            "a sure win while prizes last"
        );
        assert_eq!(roll(&[0; 32], 0.0, &remaining), None);
    }
}
