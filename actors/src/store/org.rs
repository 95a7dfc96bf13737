//! Changes to the union tree that the parent reviews (工会组织登记, 信息修改, 换届,
//! 届内换人). A request is stored with its checked payload and decided once by an admin
//! holding `org.manage` on the reviewing union (the parent; the root reviews itself),
//! with the same conditional update as applications; approval applies it in the same
//! transaction.

use deadpool_postgres::Transaction;
use gonghui_protocol::dto::{
    AdminChanged, Committee, CommitteeForm, CommitteeMember, CommitteeTerm, OrgRequest,
    OrgRequestEvent, Replacement, UnionChanges, UnionEvent, UnionForm,
};
use gonghui_protocol::Topic;
use serde_json::json;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

use super::access::{access_changed, require};
use super::audit;
use super::events::EventBatch;
use super::notifications::{notify, Notice};
use super::rights::AccessChange;
use super::tokens::Principal;
use super::unions::{union_from_row, union_in, UNION_COLUMNS};
use super::Store;
use crate::domain::Decision;
use crate::domain::{Invalid, NewUnion, Permission, SeatChange, Term, UnionEdit};
use crate::{Error, Result};

/// Selects a request from `r`.
const REQUEST: &str =
    "SELECT r.id, r.kind, r.union_id, r.reviewer_union_id, r.submitted_by, r.payload,
            r.status, r.reason, r.created_at, r.decided_at, r.decided_by";

fn request_from_row(r: &Row) -> OrgRequest {
    OrgRequest {
        id: r.get(0),
        kind: r.get(1),
        union_id: r.get(2),
        reviewer_union_id: r.get(3),
        submitted_by: r.get(4),
        payload: r.get(5),
        status: r.get(6),
        reason: r.get(7),
        created_at: r.get(8),
        decided_at: r.get(9),
        decided_by: r.get(10),
    }
}

/// What a request asks for, checked.
#[derive(Debug, Clone)]
pub enum OrgChange {
    /// A new union under `parent_id`, by a verified user who becomes its admin.
    Register(NewUnion),
    /// Changes to a union, by an admin with `org.manage` on it.
    Modify(i64, UnionEdit),
    /// A new committee term for a union.
    Committee(i64, Term),
    /// One seat of the current committee changes hands.
    Replace(i64, SeatChange),
}

impl OrgChange {
    fn kind(&self) -> &'static str {
        match self {
            OrgChange::Register(_) => "register",
            OrgChange::Modify(..) => "modify",
            OrgChange::Committee(..) => "committee",
            OrgChange::Replace(..) => "replace",
        }
    }

    fn payload(&self) -> serde_json::Value {
        let value = match self {
            OrgChange::Register(u) => serde_json::to_value(u.form()),
            OrgChange::Modify(_, e) => serde_json::to_value(e.changes()),
            OrgChange::Committee(_, t) => serde_json::to_value(t.form()),
            OrgChange::Replace(_, s) => serde_json::to_value(s.form()),
        };
        value.expect("forms are plain JSON")
    }
}

/// The union whose admins review changes to `union_id`: its parent, or itself for the root.
async fn reviewer_of(tx: &Transaction<'_>, union_id: i64) -> Result<i64> {
    let row = tx
        .query_opt(
            "SELECT coalesce(parent_id, id) FROM unions WHERE id = $1",
            &[&union_id],
        )
        .await?
        .ok_or_else(|| Error::NotFound(format!("no union {union_id}")))?;
    Ok(row.get(0))
}

/// Checks that `union_id` may move under `parent`: it exists and is not the union itself
/// nor anything below it. Returns the new parent's path.
async fn check_move(tx: &Transaction<'_>, union_id: i64, parent: i64) -> Result<Vec<i64>> {
    if parent == union_id {
        return Err(Invalid::new("parent_id", "a union cannot be its own parent").into());
    }
    let path: Vec<i64> = tx
        .query_opt("SELECT path FROM unions WHERE id = $1", &[&parent])
        .await?
        .ok_or_else(|| Invalid::new("parent_id", format!("no union {parent}")))?
        .get(0);
    if path.contains(&union_id) {
        return Err(Invalid::new(
            "parent_id",
            format!("union {parent} is below this union: the move would make a cycle"),
        )
        .into());
    }
    Ok(path)
}

/// The newest committee row of a union, locked.
async fn current_term(tx: &Transaction<'_>, union_id: i64) -> Result<Option<CommitteeTerm>> {
    let row = tx
        .query_opt(
            &format!("SELECT {TERM_COLUMNS} FROM committee_terms WHERE union_id = $1 ORDER BY id DESC LIMIT 1 FOR UPDATE"),
            &[&union_id],
        )
        .await?;
    row.as_ref().map(term_from_row).transpose()
}

/// The columns of a committee row, in [`term_from_row`]'s order.
const TERM_COLUMNS: &str = "id, union_id, starts_on, ends_on, members, request_id, created_at";

fn term_from_row(r: &Row) -> Result<CommitteeTerm> {
    let members: Vec<CommitteeMember> = serde_json::from_value(r.get(4))
        .map_err(|e| Error::Unavailable(format!("a stored committee does not read: {e}")))?;
    Ok(CommitteeTerm {
        id: r.get(0),
        union_id: r.get(1),
        starts_on: r.get(2),
        ends_on: r.get(3),
        members,
        request_id: r.get(5),
        created_at: r.get(6),
    })
}

/// Adds an `org_request.*` event to every topic that shows the request: the reviewer's
/// queue, the union's own (when it is another), and the submitter's.
fn push_everywhere(events: &mut EventBatch, request: &OrgRequest, kind: &'static str) {
    let data = OrgRequestEvent {
        request: request.clone(),
    };
    events.push(Topic::UnionAdmin(request.reviewer_union_id), kind, &data);
    if let Some(union_id) = request.union_id.filter(|u| *u != request.reviewer_union_id) {
        events.push(Topic::UnionAdmin(union_id), kind, &data);
    }
    events.push(Topic::Member(request.submitted_by), kind, &data);
}

impl Store {
    /// Files a request for the reviewing union's admins.
    ///
    /// # Errors
    /// `Forbidden` for an unverified registrant or an admin without `org.manage`,
    /// `NotFound` for no such union, `Conflict` for a credit code in use or a request of
    /// the same kind already pending, `Invalid` for a move that would make a cycle or a
    /// replacement of someone not on the committee.
    pub async fn submit_org_request(
        &self,
        user: &Principal,
        change: OrgChange,
    ) -> Result<OrgRequest> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let (union_id, reviewer) = match &change {
            OrgChange::Register(new) => {
                let verified: bool = tx
                    .query_one(
                        "SELECT verified_at IS NOT NULL FROM users WHERE id = $1",
                        &[&user.user_id],
                    )
                    .await?
                    .get(0);
                if !verified {
                    return Err(Error::Forbidden(
                        "complete real-name verification before registering a union".into(),
                    ));
                }
                union_in(&tx, new.parent_id).await?;
                let taken = tx
                    .query_opt(
                        "SELECT id FROM unions WHERE credit_code = $1",
                        &[&new.credit_code.as_str()],
                    )
                    .await?;
                if let Some(row) = taken {
                    return Err(Error::Conflict(format!(
                        "union {} is registered with this credit code",
                        row.get::<_, i64>(0)
                    )));
                }
                (None, new.parent_id)
            }
            OrgChange::Modify(union_id, edit) => {
                require(&tx, user.user_id, *union_id, Permission::OrgManage).await?;
                if let Some(parent) = edit.parent_id {
                    check_move(&tx, *union_id, parent).await?;
                }
                (Some(*union_id), reviewer_of(&tx, *union_id).await?)
            }
            OrgChange::Committee(union_id, _) => {
                require(&tx, user.user_id, *union_id, Permission::OrgManage).await?;
                (Some(*union_id), reviewer_of(&tx, *union_id).await?)
            }
            OrgChange::Replace(union_id, change) => {
                require(&tx, user.user_id, *union_id, Permission::OrgManage).await?;
                let term = current_term(&tx, *union_id).await?.ok_or_else(|| {
                    Error::Conflict("this union has no committee yet: submit a term first".into())
                })?;
                change.apply(&term.members)?;
                (Some(*union_id), reviewer_of(&tx, *union_id).await?)
            }
        };
        let inserted = tx
            .query_one(
                &format!(
                    "WITH r AS (INSERT INTO org_requests (kind, union_id, reviewer_union_id, submitted_by, payload)
                                VALUES ($1, $2, $3, $4, $5) RETURNING *)
                     {REQUEST} FROM r"
                ),
                &[&change.kind(), &union_id, &reviewer, &user.user_id, &change.payload()],
            )
            .await;
        let request = match inserted {
            Ok(row) => request_from_row(&row),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                return Err(Error::Conflict(
                    "a request of this kind is already pending for this union (or this credit code)".into(),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        let mut events = EventBatch::new();
        push_everywhere(&mut events, &request, "org_request.created");
        events.append(&tx).await?;
        tx.commit().await?;
        Ok(request)
    }

    /// The pending requests a union reviews, and its own, oldest first.
    ///
    /// # Errors
    /// `Forbidden` without `org.manage` on the union or an ancestor.
    pub async fn pending_org_requests(
        &self,
        admin: &Principal,
        union_id: i64,
    ) -> Result<Vec<OrgRequest>> {
        let conn = self.client().await?;
        require(&conn, admin.user_id, union_id, Permission::OrgManage).await?;
        pending_org_requests_in(&conn, union_id).await
    }

    /// A user's own requests, newest first.
    pub async fn org_requests_of(&self, user_id: i64) -> Result<Vec<OrgRequest>> {
        let conn = self.client().await?;
        let rows = conn
            .query(
                &format!("{REQUEST} FROM org_requests r WHERE r.submitted_by = $1 ORDER BY r.id DESC LIMIT 100"),
                &[&user_id],
            )
            .await?;
        Ok(rows.iter().map(request_from_row).collect())
    }

    /// Decides a pending request once, for an admin with `org.manage` on the reviewing
    /// union or an ancestor; approval applies it in the same transaction.
    ///
    /// # Errors
    /// `NotFound`, `Forbidden` (also for moving a union under one the admin does not
    /// manage), `Conflict` when already decided or the tree changed so that it cannot
    /// apply, `Invalid` when a move has become a cycle.
    pub async fn decide_org_request(
        &self,
        admin: &Principal,
        id: i64,
        decision: Decision,
    ) -> Result<OrgRequest> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let reviewer: i64 = tx
            .query_opt(
                "SELECT reviewer_union_id FROM org_requests WHERE id = $1",
                &[&id],
            )
            .await?
            .ok_or_else(|| Error::NotFound(format!("no request {id}")))?
            .get(0);
        require(&tx, admin.user_id, reviewer, Permission::OrgManage).await?;
        let (status, reason) = match &decision {
            Decision::Approve => ("approved", None),
            Decision::Reject(reason) => ("rejected", Some(reason.as_str())),
        };
        let row = tx
            .query_opt(
                &format!(
                    "WITH r AS (UPDATE org_requests SET status = $2, reason = $3, decided_at = now(), decided_by = $4
                                WHERE id = $1 AND status = 'pending' RETURNING *)
                     {REQUEST} FROM r"
                ),
                &[&id, &status, &reason, &admin.user_id],
            )
            .await?
            .ok_or_else(|| Error::Conflict("this request has already been decided".into()))?;
        let mut request = request_from_row(&row);
        let mut events = EventBatch::new();
        let rights_changed = match decision {
            Decision::Approve => self.apply(&tx, &mut events, admin, &mut request).await?,
            Decision::Reject(_) => None,
        };
        let kind = if reason.is_some() {
            "org_request.rejected"
        } else {
            "org_request.approved"
        };
        push_everywhere(&mut events, &request, kind);
        let title = if reason.is_some() {
            "组织申请未通过"
        } else {
            "组织申请已通过"
        };
        let notice = Notice {
            kind,
            title,
            body: reason.map_or_else(
                || "您提交的工会组织申请已获批准。".to_owned(),
                |r| format!("原因：{r}"),
            ),
            data: json!({ "request_id": request.id, "union_id": request.union_id }),
        };
        notify(&tx, &mut events, &[request.submitted_by], notice).await?;
        audit::record(
            &tx,
            admin,
            request.union_id.unwrap_or(reviewer),
            if reason.is_some() {
                "org_request.reject"
            } else {
                "org_request.approve"
            },
            ("org_request", id),
            json!({ "kind": request.kind, "reason": reason }),
        )
        .await?;
        events.append(&tx).await?;
        tx.commit().await?;
        if let Some(change) = rights_changed {
            // What the bridge will also hear; forgotten here too so this node reads its writes.
            self.rights().forget(change);
        }
        Ok(request)
    }

    /// Applies an approved request inside its decision's transaction; answers whose
    /// rights it changed (the registrant's, or the tree's on a move), already announced.
    async fn apply(
        &self,
        tx: &Transaction<'_>,
        events: &mut EventBatch,
        admin: &Principal,
        request: &mut OrgRequest,
    ) -> Result<Option<AccessChange>> {
        let unreadable = |e: serde_json::Error| {
            Error::Unavailable(format!("a stored request does not read: {e}"))
        };
        match request.kind.as_str() {
            "register" => {
                let form: UnionForm =
                    serde_json::from_value(request.payload.clone()).map_err(unreadable)?;
                let new = NewUnion::parse(&form)?;
                let union = register(tx, &new).await?;
                tx.execute(
                    "UPDATE org_requests SET union_id = $2 WHERE id = $1",
                    &[&request.id, &union.id],
                )
                .await?;
                request.union_id = Some(union.id);
                let all: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
                tx.execute(
                    "INSERT INTO union_admins (union_id, user_id, permissions, granted_by) VALUES ($1, $2, $3, $4)",
                    &[&union.id, &request.submitted_by, &all, &admin.user_id],
                )
                .await?;
                let change = AccessChange::User(request.submitted_by);
                access_changed(tx, change).await?;
                events.push(
                    Topic::Member(request.submitted_by),
                    "admin.updated",
                    AdminChanged {
                        union_id: union.id,
                        permissions: all.iter().map(|p| p.to_string()).collect(),
                    },
                );
                events.push(
                    Topic::Union(new.parent_id),
                    "union.created",
                    UnionEvent { union },
                );
                Ok(Some(change))
            }
            "modify" => {
                let changes: UnionChanges =
                    serde_json::from_value(request.payload.clone()).map_err(unreadable)?;
                let edit = UnionEdit::parse(&changes)?;
                let union_id = request.union_id.expect("a modification names its union");
                let moved = match edit.parent_id {
                    Some(parent) => {
                        require(tx, admin.user_id, parent, Permission::OrgManage).await?;
                        move_union(tx, union_id, parent).await?;
                        Some(AccessChange::Tree)
                    }
                    None => None,
                };
                let union = modify(tx, union_id, &edit).await?;
                events.push(
                    Topic::Union(union_id),
                    "union.updated",
                    UnionEvent { union },
                );
                Ok(moved)
            }
            "committee" | "replace" => {
                let union_id = request
                    .union_id
                    .expect("a committee request names its union");
                let (starts_on, ends_on, members) = if request.kind == "committee" {
                    let form: CommitteeForm =
                        serde_json::from_value(request.payload.clone()).map_err(unreadable)?;
                    let term = Term::parse(&form)?;
                    (term.starts_on, term.ends_on, term.members)
                } else {
                    let form: Replacement =
                        serde_json::from_value(request.payload.clone()).map_err(unreadable)?;
                    let change = SeatChange::parse(&form)?;
                    let term = current_term(tx, union_id).await?.ok_or_else(|| {
                        Error::Conflict("this union has no committee any more".into())
                    })?;
                    (term.starts_on, term.ends_on, change.apply(&term.members)?)
                };
                let row = tx
                    .query_one(
                        &format!(
                            "WITH t AS (INSERT INTO committee_terms (union_id, starts_on, ends_on, members, request_id)
                                        VALUES ($1, $2, $3, $4, $5) RETURNING *)
                             SELECT {TERM_COLUMNS} FROM t"
                        ),
                        &[&union_id, &starts_on, &ends_on, &serde_json::to_value(&members).expect("plain JSON"), &request.id],
                    )
                    .await?;
                let term = term_from_row(&row)?;
                events.push(
                    Topic::Union(union_id),
                    "committee.updated",
                    json!({ "term": term }),
                );
                Ok(None)
            }
            other => Err(Error::Unavailable(format!(
                "a request of unknown kind {other}"
            ))),
        }
    }

    /// A union's committee: the current one and every earlier term and replacement.
    pub async fn committee(&self, union_id: i64) -> Result<Committee> {
        let conn = self.client().await?;
        union_in(&conn, union_id).await?;
        let rows = conn
            .query(
                &format!("SELECT {TERM_COLUMNS} FROM committee_terms WHERE union_id = $1 ORDER BY id DESC"),
                &[&union_id],
            )
            .await?;
        let mut terms = rows.iter().map(term_from_row).collect::<Result<Vec<_>>>()?;
        let current = (!terms.is_empty()).then(|| terms.remove(0));
        Ok(Committee {
            current,
            history: terms,
        })
    }
}

/// Inserts an approved registration under its parent.
async fn register(tx: &Transaction<'_>, new: &NewUnion) -> Result<gonghui_protocol::dto::Union> {
    let inserted = tx
        .query_one(
            &format!(
                "WITH n AS (SELECT nextval('unions_id_seq') AS id),
                      u AS (INSERT INTO unions (id, parent_id, name, path, credit_code, address, lat, lng, contact_name, contact_phone)
                            SELECT n.id, p.id, $2, p.path || n.id, $3, $4, $5, $6, $7, $8 FROM unions p, n WHERE p.id = $1
                            RETURNING *)
                 SELECT {UNION_COLUMNS} FROM u"
            ),
            &[
                &new.parent_id,
                &new.name.as_str(),
                &new.credit_code.as_str(),
                &new.address.as_str(),
                &new.at.lat(),
                &new.at.lng(),
                &new.contact_name.as_str(),
                &new.contact_phone.as_str(),
            ],
        )
        .await;
    match inserted {
        Ok(row) => Ok(union_from_row(&row)),
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Err(Error::Conflict(
            "a union with this credit code was registered meanwhile".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Moves a union and everything below it under `parent`.
async fn move_union(tx: &Transaction<'_>, union_id: i64, parent: i64) -> Result<()> {
    let parent_path = check_move(tx, union_id, parent).await?;
    tx.execute(
        "UPDATE unions SET parent_id = $2 WHERE id = $1",
        &[&union_id, &parent],
    )
    .await?;
    tx.execute(
        "UPDATE unions SET path = $2 || path[array_position(path, $1):] WHERE path @> ARRAY[$1]::bigint[]",
        &[&union_id, &parent_path],
    )
    .await?;
    access_changed(tx, AccessChange::Tree).await
}

/// Writes a modification's fields; those not given stay.
async fn modify(
    tx: &Transaction<'_>,
    union_id: i64,
    edit: &UnionEdit,
) -> Result<gonghui_protocol::dto::Union> {
    let row = tx
        .query_one(
            &format!(
                "WITH u AS (UPDATE unions SET name = coalesce($2, name), address = coalesce($3, address),
                                   lat = coalesce($4, lat), lng = coalesce($5, lng),
                                   contact_name = coalesce($6, contact_name), contact_phone = coalesce($7, contact_phone)
                            WHERE id = $1 RETURNING *)
                 SELECT {UNION_COLUMNS} FROM u"
            ),
            &[
                &union_id,
                &edit.name.as_ref().map(|n| n.as_str()),
                &edit.address.as_ref().map(|a| a.as_str()),
                &edit.at.map(|c| c.lat()),
                &edit.at.map(|c| c.lng()),
                &edit.contact_name.as_ref().map(|n| n.as_str()),
                &edit.contact_phone.as_ref().map(|p| p.as_str()),
            ],
        )
        .await?;
    Ok(union_from_row(&row))
}

/// Pending requests a union reviews or made, read through any client or transaction.
pub(crate) async fn pending_org_requests_in(
    conn: &impl deadpool_postgres::GenericClient,
    union_id: i64,
) -> Result<Vec<OrgRequest>> {
    let stmt = conn
        .prepare_cached(&format!(
            "{REQUEST} FROM org_requests r
             WHERE (r.reviewer_union_id = $1 OR r.union_id = $1) AND r.status = 'pending' ORDER BY r.id"
        ))
        .await?;
    let rows = conn.query(&stmt, &[&union_id]).await?;
    Ok(rows.iter().map(request_from_row).collect())
}
