//! The import's writes, [`BATCH`] rows a statement, parents before children.

use std::collections::{BTreeSet, HashMap};

use deadpool_postgres::Transaction;
use gonghui_protocol::dto::{AdminChanged, Union, UnionEvent};
use gonghui_protocol::events::kind;
use gonghui_protocol::Topic;
use tokio_postgres::error::SqlState;

use super::plan::{Node, Plan};
use crate::sheets::tree::{permissions_cell, UnionCells};
use crate::store::events::EventBatch;
use crate::store::import::BATCH;
use crate::store::tokens::Principal;
use crate::store::unions::{union_from_row, UNION_COLUMNS};
use crate::store::Store;
use crate::{Error, Result};

/// Where an import's progress is told, and out of how many writes.
pub(super) struct Progress<'a> {
    pub(super) root: i64,
    pub(super) operation: &'a str,
    pub(super) total: u32,
}

impl Store {
    /// Inserts the new unions parents first, [`BATCH`] at a time; answers their ids in
    /// the plan's order.
    pub(super) async fn write_unions(
        &self,
        tx: &Transaction<'_>,
        events: &mut EventBatch,
        plan: &Plan,
        progress: &Progress<'_>,
    ) -> Result<Vec<i64>> {
        let count = plan.new_unions.len() as i64;
        let ids: Vec<i64> = tx
            .query(
                "SELECT nextval('unions_id_seq') FROM generate_series(1, $1::bigint)",
                &[&count],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        // Every parent's path: the known ones read once, each new one added as it is built.
        let mut paths: HashMap<i64, Vec<i64>> = tx
            .query(
                "SELECT id, path FROM unions WHERE id = ANY($1)",
                &[&plan
                    .new_unions
                    .iter()
                    .filter_map(|u| match u.parent {
                        Node::Existing(id) => Some(id),
                        Node::New(_) => None,
                    })
                    .collect::<Vec<i64>>()],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let stmt = tx
            .prepare_cached(
                "INSERT INTO unions (id, parent_id, name, path, credit_code, address, lat, lng, contact_name, contact_phone)
                 SELECT id, parent, name, path::bigint[], code, address, lat, lng, contact_name, contact_phone
                 FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
                             $7::float8[], $8::float8[], $9::text[], $10::text[])
                     AS x(id, parent, name, path, code, address, lat, lng, contact_name, contact_phone)",
            )
            .await?;
        let mut done = 0u32;
        for (chunk_start, chunk) in (0..).step_by(BATCH).zip(plan.new_unions.chunks(BATCH)) {
            let mut columns = UnionColumns::default();
            for (offset, new) in chunk.iter().enumerate() {
                let id = ids[chunk_start + offset];
                let parent = match new.parent {
                    Node::Existing(p) => p,
                    Node::New(n) => ids[n],
                };
                let mut path = paths
                    .get(&parent)
                    .cloned()
                    .expect("a parent is written or known before its children");
                path.push(id);
                columns.push(id, parent, &path, &new.cells);
                events.push(
                    Topic::Union(parent),
                    kind::UNION_CREATED,
                    UnionEvent {
                        union: union_of(id, parent, &new.cells),
                    },
                );
                paths.insert(id, path);
            }
            let inserted = tx
                .execute(
                    &stmt,
                    &[
                        &columns.ids,
                        &columns.parents,
                        &columns.names,
                        &columns.paths,
                        &columns.codes,
                        &columns.addresses,
                        &columns.lats,
                        &columns.lngs,
                        &columns.contact_names,
                        &columns.contact_phones,
                    ],
                )
                .await;
            match inserted {
                Ok(_) => {}
                Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                    return Err(Error::Conflict(
                        "a union of the file was registered while importing; upload the file again"
                            .into(),
                    ))
                }
                Err(e) => return Err(Error::from(e)),
            }
            done += chunk.len() as u32;
            self.import_progress(progress.root, progress.operation, done, progress.total)
                .await;
        }
        Ok(ids)
    }

    /// Gives the file's admins accounts (by phone, unverified, for SMS login) and their
    /// permissions, [`BATCH`] at a time; answers the users who were there before, whose
    /// cached rights every node must forget.
    pub(super) async fn write_admins(
        &self,
        tx: &Transaction<'_>,
        events: &mut EventBatch,
        admin: &Principal,
        plan: &Plan,
        node_id: impl Fn(Node) -> i64,
        progress: &Progress<'_>,
    ) -> Result<Vec<i64>> {
        let mut phones: Vec<&str> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        for a in &plan.admins {
            phones.push(a.cells.phone.as_str());
            names.push(a.cells.name.as_str());
        }
        let mut user_of: HashMap<String, (i64, bool)> = tx
            .query(
                "SELECT id, phone FROM users WHERE phone = ANY($1)",
                &[&phones],
            )
            .await?
            .iter()
            .map(|r| (r.get(1), (r.get(0), true)))
            .collect();
        let created = tx
            .query(
                "INSERT INTO users (phone, name) SELECT DISTINCT ON (p) p, n FROM unnest($1::text[], $2::text[]) AS x(p, n)
                 ON CONFLICT (phone) DO NOTHING RETURNING id, phone",
                &[&phones, &names],
            )
            .await?;
        for r in &created {
            user_of.insert(r.get(1), (r.get(0), false));
        }
        let stmt = tx
            .prepare_cached(
                "INSERT INTO union_admins (union_id, user_id, permissions, granted_by)
                 SELECT u, p, string_to_array(perms, ','), $4 FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS x(u, p, perms)
                 ON CONFLICT (union_id, user_id) DO UPDATE
                 SET permissions = excluded.permissions, granted_by = excluded.granted_by, granted_at = now()",
            )
            .await?;
        let mut changed = BTreeSet::new();
        let mut done = plan.new_unions.len() as u32;
        for chunk in plan.admins.chunks(BATCH) {
            let (mut unions, mut users, mut held) = (vec![], vec![], vec![]);
            for a in chunk {
                let union_id = node_id(a.union);
                let (user, existed) = *user_of.get(a.cells.phone.as_str()).ok_or_else(|| {
                    Error::Conflict(
                        "an admin's phone was taken while importing; upload the file again".into(),
                    )
                })?;
                // By name, as every other grant stores them.
                let permissions: Vec<String> = a
                    .cells
                    .permissions
                    .iter()
                    .map(|p| p.as_str().to_owned())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                if existed {
                    changed.insert(user);
                    events.push(
                        Topic::Member(user),
                        kind::ADMIN_UPDATED,
                        AdminChanged {
                            union_id,
                            permissions: permissions.clone(),
                        },
                    );
                }
                unions.push(union_id);
                users.push(user);
                held.push(permissions_cell(&permissions));
            }
            tx.execute(&stmt, &[&unions, &users, &held, &admin.user_id])
                .await?;
            done += chunk.len() as u32;
            self.import_progress(progress.root, progress.operation, done, progress.total)
                .await;
        }
        Ok(changed.into_iter().collect())
    }
}

/// Writes the file's changes to known unions: the name always, other fields when given.
pub(super) async fn write_updates(
    tx: &Transaction<'_>,
    events: &mut EventBatch,
    plan: &Plan,
) -> Result<()> {
    if plan.updates.is_empty() {
        return Ok(());
    }
    let mut columns = UnionColumns::default();
    for update in &plan.updates {
        columns.push(update.id, 0, &[], &update.cells);
    }
    let rows = tx
        .query(
            &format!(
                "WITH u AS (
                     UPDATE unions u SET name = x.name, address = coalesce(x.address, u.address),
                            lat = coalesce(x.lat, u.lat), lng = coalesce(x.lng, u.lng),
                            contact_name = coalesce(x.contact_name, u.contact_name),
                            contact_phone = coalesce(x.contact_phone, u.contact_phone)
                     FROM unnest($1::bigint[], $2::text[], $3::text[], $4::float8[], $5::float8[], $6::text[], $7::text[])
                         AS x(id, name, address, lat, lng, contact_name, contact_phone)
                     WHERE u.id = x.id RETURNING u.*)
                 SELECT {UNION_COLUMNS} FROM u"
            ),
            &[
                &columns.ids,
                &columns.names,
                &columns.addresses,
                &columns.lats,
                &columns.lngs,
                &columns.contact_names,
                &columns.contact_phones,
            ],
        )
        .await?;
    for row in &rows {
        let union = union_from_row(row);
        events.push(
            Topic::Union(union.id),
            kind::UNION_UPDATED,
            UnionEvent { union },
        );
    }
    Ok(())
}

/// The columns of a batch of unions, as arrays for `unnest`.
#[derive(Default)]
struct UnionColumns<'a> {
    ids: Vec<i64>,
    parents: Vec<i64>,
    names: Vec<&'a str>,
    /// Postgres array literals: a ragged array of arrays cannot be sent as one parameter.
    paths: Vec<String>,
    codes: Vec<&'a str>,
    addresses: Vec<Option<&'a str>>,
    lats: Vec<Option<f64>>,
    lngs: Vec<Option<f64>>,
    contact_names: Vec<Option<&'a str>>,
    contact_phones: Vec<Option<&'a str>>,
}

impl<'a> UnionColumns<'a> {
    fn push(&mut self, id: i64, parent: i64, path: &[i64], cells: &'a UnionCells) {
        self.ids.push(id);
        self.parents.push(parent);
        self.names.push(cells.name.as_str());
        let path: Vec<String> = path.iter().map(i64::to_string).collect();
        self.paths.push(format!("{{{}}}", path.join(",")));
        self.codes.push(cells.credit_code.as_str());
        self.addresses
            .push(cells.address.as_ref().map(|a| a.as_str()));
        self.lats.push(cells.at.map(|c| c.lat()));
        self.lngs.push(cells.at.map(|c| c.lng()));
        self.contact_names
            .push(cells.contact_name.as_ref().map(|n| n.as_str()));
        self.contact_phones
            .push(cells.contact_phone.as_ref().map(|p| p.as_str()));
    }
}

/// A new union as its `union.created` event shows it.
fn union_of(id: i64, parent: i64, cells: &UnionCells) -> Union {
    Union {
        id,
        name: cells.name.as_str().to_owned(),
        parent_id: Some(parent),
        credit_code: Some(cells.credit_code.as_str().to_owned()),
        address: cells.address.as_ref().map(|a| a.as_str().to_owned()),
        lat: cells.at.map(|c| c.lat()),
        lng: cells.at.map(|c| c.lng()),
        contact_name: cells.contact_name.as_ref().map(|n| n.as_str().to_owned()),
        contact_phone: cells.contact_phone.as_ref().map(|p| p.as_str().to_owned()),
    }
}
