//! Decisions committed in groups (`store/group.rs`). A busy union's admins decide
//! hundreds of applications a second; measured with pgbench on the decision's own
//! statements, 562 decisions/s one at a time against 2,888/s twenty to a transaction
//! (docs/BENCHMARKS.md). If anything in a group fails (an applicant who meanwhile joined
//! elsewhere, a transfer whose old membership ended, a database error), the group's
//! transaction is rolled back and each of its decisions is made on its own, which answers
//! each with its own outcome.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::Transaction;
use gonghui_protocol::dto::{Application, Membership};
use tokio::sync::oneshot;

use super::{
    application_from_row, audit_detail, decision_notice, decision_parts, push_everywhere,
    push_joined, push_left, undecided, APPLICATION,
};
use crate::domain::{Decision, Permission};
use crate::store::access::users_changed;
use crate::store::audit::{self, Entry};
use crate::store::events::EventBatch;
use crate::store::group::{Queued, Turns};
use crate::store::notifications::notify_each;
use crate::store::tokens::Principal;
use crate::store::unions::{membership_from_row, MEMBERSHIP_COLUMNS};
use crate::store::Store;
use crate::{Error, Result};

/// How long a group waits for a row another transaction holds before it gives up and
/// its decisions are made one by one: the node's next decisions wait behind a group, so
/// one blocked applicant must not hold them all.
const LOCK_WAIT: &str = "SET LOCAL lock_timeout = '1s'";

/// A node's decisions waiting to be made together.
pub(crate) type Decisions = Turns<Waiting>;

impl Queued for Waiting {
    type Outcome = Application;
    fn answer(self, outcome: Result<Application>) {
        let _ = self.answer.send(outcome);
    }
}

/// A decision asked for and the caller waiting for its outcome.
pub(crate) struct Waiting {
    admin: Principal,
    id: i64,
    decision: Decision,
    answer: oneshot::Sender<Result<Application>>,
}

impl Store {
    /// Decides a pending application once, for an admin with `members.review` on its
    /// (receiving) union or an ancestor, checked in the deciding statement itself (so a
    /// right revoked meanwhile cannot decide). Approval creates or moves the membership;
    /// every decision tells the applicant in their inbox and writes an audit row.
    ///
    /// # Errors
    /// `NotFound`, `Forbidden`, or `Conflict` when already decided (or, on approval, when
    /// the applicant's memberships changed meanwhile).
    pub async fn decide_application(
        &self,
        admin: &Principal,
        id: i64,
        decision: Decision,
    ) -> Result<Application> {
        let waiting = |answer| Waiting {
            admin: *admin,
            id,
            decision,
            answer,
        };
        self.decisions
            .make(
                self,
                waiting,
                "the decision",
                |store, group| Box::pin(store.decide_together(group)),
                |store, w| Box::pin(store.decide_one(&w.admin, w.id, &w.decision)),
            )
            .await
    }

    /// Makes a group of decisions in one transaction: each application that is still
    /// pending, not held by another decision, and decidable by its admin is decided by
    /// the first of the group to ask; every other one is answered why not. `Err` means
    /// nothing was written and each must be made on its own.
    #[tracing::instrument(skip_all, fields(decisions = group.len()))]
    async fn decide_together(&self, group: &[Waiting]) -> Result<Vec<Result<Application>>> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        tx.batch_execute(LOCK_WAIT).await?;
        let mut seen = HashSet::new();
        let firsts: Vec<bool> = group.iter().map(|w| seen.insert(w.id)).collect();
        let first: Vec<&Waiting> = group
            .iter()
            .zip(&firsts)
            .filter_map(|(w, first)| first.then_some(w))
            .collect();
        let decided = claim(&tx, &first).await?;
        let wins: Vec<bool> = group
            .iter()
            .zip(firsts)
            .map(|(w, first)| first && decided.contains_key(&w.id))
            .collect();
        let winners: Vec<(&Waiting, &Application, &str)> = group
            .iter()
            .zip(&wins)
            .filter(|(_, won)| **won)
            .map(|(w, _)| {
                let (application, union_name) = &decided[&w.id];
                (w, application, union_name.as_str())
            })
            .collect();
        let approved: Vec<&Application> = winners
            .iter()
            .filter(|(w, ..)| matches!(w.decision, Decision::Approve))
            .map(|(_, a, _)| *a)
            .collect();
        let mut left = end_transferred(&tx, &approved).await?;
        let mut joined = start_memberships(&tx, &approved).await?;
        let losers: Vec<&Waiting> = group
            .iter()
            .zip(&wins)
            .filter(|(_, won)| !**won)
            .map(|(w, _)| w)
            .collect();
        let why = why_each_undecided(&tx, &losers).await?;
        let mut events = EventBatch::new();
        let mut notices = Vec::new();
        let mut entries = Vec::new();
        for (w, application, union_name) in &winners {
            let (_, reason, kind, action) = decision_parts(&w.decision);
            push_everywhere(&mut events, application, kind);
            if let Some(membership) = left.remove(&application.user_id) {
                push_left(&mut events, membership);
            }
            if let Some(membership) = joined.remove(&application.user_id) {
                push_joined(&mut events, membership);
            }
            notices.push((
                application.user_id,
                decision_notice(application, union_name, reason),
            ));
            entries.push(Entry {
                admin: &w.admin,
                union_id: application.union_id,
                action,
                subject: ("application", application.id),
                detail: audit_detail(application),
            });
        }
        notify_each(&tx, &mut events, &notices).await?;
        audit::record_each(&tx, &entries).await?;
        self.commit(tx, events).await?;
        Ok(group
            .iter()
            .zip(wins)
            .map(|(w, won)| match won {
                true => Ok(decided[&w.id].0.clone()),
                false => Err(undecided(
                    w.id,
                    why.get(&(w.id, w.admin.user_id))
                        .map(|(allowed, status)| (*allowed, status.as_str())),
                )),
            })
            .collect())
    }
}

/// Decides every application of `first` that can be, in one statement; answers the
/// decided ones by id, each with its union's name.
async fn claim(
    tx: &Transaction<'_>,
    first: &[&Waiting],
) -> Result<HashMap<i64, (Application, String)>> {
    let stmt = tx
        .prepare_cached(&format!(
            "WITH r AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[])
                        AS r(id, status, reason, admin)),
                  free AS (SELECT p.id FROM applications p JOIN r ON r.id = p.id
                           WHERE p.status = 'pending' AND holds_permission(r.admin, p.union_id, $5)
                           ORDER BY p.id FOR UPDATE OF p SKIP LOCKED),
                  a AS (UPDATE applications a SET status = r.status, reason = r.reason, decided_at = now(),
                               decided_by = r.admin
                        FROM r WHERE a.id = r.id AND a.id IN (SELECT id FROM free)
                        RETURNING a.*)
             {APPLICATION}, n.name AS union_name
             FROM a JOIN users u ON u.id = a.user_id JOIN unions n ON n.id = a.union_id"
        ))
        .await?;
    let ids: Vec<i64> = first.iter().map(|w| w.id).collect();
    let parts: Vec<_> = first.iter().map(|w| decision_parts(&w.decision)).collect();
    let statuses: Vec<&str> = parts.iter().map(|p| p.0).collect();
    let reasons: Vec<Option<&str>> = parts.iter().map(|p| p.1).collect();
    let admins: Vec<i64> = first.iter().map(|w| w.admin.user_id).collect();
    let review = Permission::MembersReview.as_str();
    let rows = tx
        .query(&stmt, &[&ids, &statuses, &reasons, &admins, &review])
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let application = application_from_row(r);
            (application.id, (application, r.get("union_name")))
        })
        .collect())
}

/// Ends the memberships the approved transfers leave; `Err` if any has ended already.
async fn end_transferred(
    tx: &Transaction<'_>,
    approved: &[&Application],
) -> Result<HashMap<i64, Membership>> {
    let (users, unions): (Vec<i64>, Vec<i64>) = approved
        .iter()
        .filter_map(|a| Some((a.user_id, a.from_union_id?)))
        .unzip();
    if users.is_empty() {
        return Ok(HashMap::new());
    }
    let stmt = tx
        .prepare_cached(
            "UPDATE memberships m SET status = 'left', left_at = now(), left_reason = 'transferred'
             FROM unnest($1::bigint[], $2::bigint[]) AS t(user_id, union_id)
             WHERE m.user_id = t.user_id AND m.union_id = t.union_id AND m.status = 'active'
             RETURNING m.*",
        )
        .await?;
    let rows = tx.query(&stmt, &[&users, &unions]).await?;
    if rows.len() != users.len() {
        return Err(Error::Conflict(
            "an applicant is no longer a member of the union they transfer from".into(),
        ));
    }
    users_changed(tx, &users).await?;
    Ok(by_user(&rows))
}

/// Starts the approved applicants' memberships (a transfer's carrying its employer and
/// job over), in user order so two nodes' groups never wait on each other in a cycle;
/// `Err` if any applicant has meanwhile become a member elsewhere.
async fn start_memberships(
    tx: &Transaction<'_>,
    approved: &[&Application],
) -> Result<HashMap<i64, Membership>> {
    if approved.is_empty() {
        return Ok(HashMap::new());
    }
    let stmt = tx
        .prepare_cached(&format!(
            "INSERT INTO memberships (union_id, user_id, status, employer, job)
             SELECT j.union_id, j.user_id, 'active', l.employer, l.job
             FROM unnest($1::bigint[], $2::bigint[], $3::bool[]) AS j(union_id, user_id, carry)
             LEFT JOIN LATERAL (SELECT employer, job FROM memberships
                                WHERE user_id = j.user_id AND j.carry ORDER BY id DESC LIMIT 1) l ON true
             ORDER BY j.user_id
             ON CONFLICT DO NOTHING
             RETURNING {MEMBERSHIP_COLUMNS}"
        ))
        .await?;
    let unions: Vec<i64> = approved.iter().map(|a| a.union_id).collect();
    let users: Vec<i64> = approved.iter().map(|a| a.user_id).collect();
    let carry: Vec<bool> = approved.iter().map(|a| a.from_union_id.is_some()).collect();
    let rows = tx.query(&stmt, &[&unions, &users, &carry]).await?;
    if rows.len() != approved.len() {
        return Err(Error::Conflict(
            "an applicant has meanwhile become a member of another union".into(),
        ));
    }
    Ok(by_user(&rows))
}

/// Memberships read with their columns, by user.
fn by_user(rows: &[tokio_postgres::Row]) -> HashMap<i64, Membership> {
    rows.iter()
        .map(membership_from_row)
        .map(|m| (m.user_id, m))
        .collect()
}

/// Whether each of `losers`' admin may decide its application and the application's
/// status, by id and admin, read in one statement after the group's own decisions.
async fn why_each_undecided(
    tx: &Transaction<'_>,
    losers: &[&Waiting],
) -> Result<HashMap<(i64, i64), (bool, String)>> {
    if losers.is_empty() {
        return Ok(HashMap::new());
    }
    let (ids, admins): (Vec<i64>, Vec<i64>) =
        losers.iter().map(|w| (w.id, w.admin.user_id)).unzip();
    let stmt = tx
        .prepare_cached(
            "SELECT r.id, r.admin, holds_permission(r.admin, a.union_id, $3) AS allowed, a.status
             FROM unnest($1::bigint[], $2::bigint[]) AS r(id, admin) JOIN applications a ON a.id = r.id",
        )
        .await?;
    let review = Permission::MembersReview.as_str();
    Ok(tx
        .query(&stmt, &[&ids, &admins, &review])
        .await?
        .iter()
        .map(|r| {
            (
                (r.get("id"), r.get("admin")),
                (r.get("allowed"), r.get("status")),
            )
        })
        .collect())
}
