//! What an approved org request does to the tree, inside its decision's transaction.

use deadpool_postgres::Transaction;
use gonghui_protocol::dto::{
    AdminChanged, CommitteeForm, OrgRequest, Replacement, Union, UnionChanges, UnionEvent,
    UnionForm,
};
use gonghui_protocol::events::kind;
use gonghui_protocol::Topic;
use serde_json::json;
use tokio_postgres::error::SqlState;

use super::committee::{current_term, insert_term};
use crate::domain::{Invalid, NewUnion, Permission, SeatChange, Term, UnionEdit, MAX_DEPTH};
use crate::store::access::{access_changed, require};
use crate::store::events::EventBatch;
use crate::store::rights::AccessChange;
use crate::store::tokens::Principal;
use crate::store::unions::{union_from_row, UNION_COLUMNS};
use crate::{Error, Result};

/// Applies an approved request; answers whose rights it changed (the registrant's, or the
/// tree's on a move), already announced.
pub(super) async fn apply(
    tx: &Transaction<'_>,
    events: &mut EventBatch,
    admin: &Principal,
    request: &mut OrgRequest,
) -> Result<Option<AccessChange>> {
    let unreadable =
        |e: serde_json::Error| Error::Unavailable(format!("a stored request does not read: {e}"));
    let union_id = request.union_id;
    let named =
        || union_id.ok_or_else(|| Error::Unavailable("a stored request names no union".into()));
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
                kind::ADMIN_UPDATED,
                AdminChanged {
                    union_id: union.id,
                    permissions: all.iter().map(|p| p.to_string()).collect(),
                },
            );
            events.push(
                Topic::Union(new.parent_id),
                kind::UNION_CREATED,
                UnionEvent { union },
            );
            Ok(Some(change))
        }
        "modify" => {
            let changes: UnionChanges =
                serde_json::from_value(request.payload.clone()).map_err(unreadable)?;
            let edit = UnionEdit::parse(&changes)?;
            let union_id = named()?;
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
                kind::UNION_UPDATED,
                UnionEvent { union },
            );
            Ok(moved)
        }
        "committee" | "replace" => {
            let union_id = named()?;
            let term = if request.kind == "committee" {
                let form: CommitteeForm =
                    serde_json::from_value(request.payload.clone()).map_err(unreadable)?;
                Term::parse(&form)?
            } else {
                let form: Replacement =
                    serde_json::from_value(request.payload.clone()).map_err(unreadable)?;
                let change = SeatChange::parse(&form)?;
                let current = current_term(tx, union_id).await?.ok_or_else(|| {
                    Error::Conflict("this union has no committee any more".into())
                })?;
                Term {
                    starts_on: current.starts_on,
                    ends_on: current.ends_on,
                    members: change.apply(&current.members)?,
                }
            };
            let term = insert_term(tx, union_id, &term, request.id).await?;
            events.push(
                Topic::Union(union_id),
                kind::COMMITTEE_UPDATED,
                json!({ "term": term }),
            );
            Ok(None)
        }
        other => Err(Error::Unavailable(format!(
            "a request of unknown kind {other}"
        ))),
    }
}

/// Checks that a new union fits below `parent` within the tree's [`MAX_DEPTH`] levels.
pub(super) async fn room_below(tx: &Transaction<'_>, parent: i64) -> Result<()> {
    let depth: Option<i32> = tx
        .query_opt(
            "SELECT cardinality(path) FROM unions WHERE id = $1",
            &[&parent],
        )
        .await?
        .map(|r| r.get(0));
    fits(depth.unwrap_or(0) as usize + 1)
}

/// Refuses a union placed at level `level` of the tree when that is past the last.
fn fits(level: usize) -> Result<()> {
    if level > MAX_DEPTH {
        return Err(Invalid::new(
            "parent_id",
            format!("the union would sit at level {level} of the union tree, which has at most {MAX_DEPTH} levels"),
        )
        .into());
    }
    Ok(())
}

/// Checks that `union_id` may move under `parent`: it exists, is not the union itself
/// nor anything below it, and the union with everything below it fits within the
/// tree's levels there. Returns the new parent's path.
pub(super) async fn check_move(
    tx: &Transaction<'_>,
    union_id: i64,
    parent: i64,
) -> Result<Vec<i64>> {
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
    // The levels the union and the deepest union below it take.
    let height: i32 = tx
        .query_one(
            "SELECT coalesce(max(cardinality(d.path)) - cardinality(u.path) + 1, 1)
             FROM unions u LEFT JOIN unions d ON d.path @> ARRAY[u.id]
             WHERE u.id = $1 GROUP BY u.path",
            &[&union_id],
        )
        .await?
        .get(0);
    fits(path.len() + height as usize)?;
    Ok(path)
}

/// Inserts an approved registration under its parent.
async fn register(tx: &Transaction<'_>, new: &NewUnion) -> Result<Union> {
    // Checked again: the parent may have moved deeper since the request was filed.
    room_below(tx, new.parent_id).await?;
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
        Err(e) => Err(Error::from(e)),
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
async fn modify(tx: &Transaction<'_>, union_id: i64, edit: &UnionEdit) -> Result<Union> {
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
