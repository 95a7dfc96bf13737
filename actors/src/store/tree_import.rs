//! Bringing a province's union tree in (工会信息、管理员信息同步) and taking it out: a
//! file of unions (parent by credit code or by a path of names) and their admins is
//! checked whole against what is already there ([`super::tree_plan`]) and applied in one
//! transaction only if every row is good. Unions are matched by credit code, so the same
//! file twice changes nothing. Admins the file names get accounts by phone and log in by
//! SMS code; no password is carried over.

use std::collections::{BTreeSet, HashMap};

use deadpool_postgres::Transaction;
use gonghui_protocol::dto::{AdminChanged, TreeReport, TreeRowReport, Union, UnionEvent};
use gonghui_protocol::Topic;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_postgres::error::SqlState;

use super::access::{require, users_changed};
use super::admins::held_in;
use super::audit;
use super::events::EventBatch;
use super::export::Export;
use super::import::BATCH;
use super::rights::AccessChange;
use super::roster::operation_id;
use super::tokens::Principal;
use super::tree_plan::{plan, Known, Node, Outcome, Plan};
use super::unions::{union_from_row, UNION_COLUMNS};
use super::Store;
use crate::domain::Permission;
use crate::sheets::tree::{permissions_cell, UnionCells};
use crate::sheets::write::FileChunk;
use crate::sheets::{Format, Template, TreeLine, UnionColumn};
use crate::{Error, Result};

/// Where an import's progress is told, and out of how many writes.
struct Progress<'a> {
    root: i64,
    operation: &'a str,
    total: u32,
}

impl Store {
    /// Imports a union tree below `root`: every row is checked against the file and the
    /// database first; if any fails nothing is written and the report says why (and what
    /// the others would have done). Progress goes to `union:{root}:admin` every
    /// [`BATCH`] writes; each new union is announced on its parent's topic.
    ///
    /// # Errors
    /// `NotFound` for no such union; `Forbidden` without `org.manage` there, or without
    /// `admins.manage` for a file that names admins; `Conflict` when a union of the file
    /// was registered meanwhile; a database failure rolls everything back.
    pub async fn import_tree(
        &self,
        admin: &Principal,
        root: i64,
        lines: Vec<TreeLine>,
    ) -> Result<TreeReport> {
        let operation = operation_id();
        let total = lines.len() as u32;
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        require(&tx, admin.user_id, root, Permission::OrgManage).await?;
        // One tree import at a time below a union: two would race for the same codes.
        tx.execute("SELECT 1 FROM unions WHERE id = $1 FOR UPDATE", &[&root])
            .await?;
        let known = self.known_for(&tx, admin, root, &lines).await?;
        let names_admins = lines
            .iter()
            .any(|l| l.parsed.as_ref().is_ok_and(|r| r.admin.is_some()));
        if names_admins && !known.held.contains(&Permission::AdminsManage) {
            return Err(Error::Forbidden(format!(
                "the file names admins: you need admins.manage on union {root}"
            )));
        }
        let plan = plan(lines, &known);
        if !plan.is_clean() {
            return Ok(report(operation, total, false, &plan, &HashMap::new()));
        }
        let mut events = EventBatch::new();
        let progress = Progress {
            root,
            operation: &operation,
            total: (plan.new_unions.len() + plan.admins.len()) as u32,
        };
        let ids = self
            .write_unions(&tx, &mut events, &plan, &progress)
            .await?;
        let node_id = |node: Node| match node {
            Node::Existing(id) => id,
            Node::New(n) => ids[n],
        };
        write_updates(&tx, &mut events, &plan).await?;
        let changed_users = self
            .write_admins(&tx, &mut events, admin, &plan, node_id, &progress)
            .await?;
        users_changed(&tx, &changed_users).await?;
        let ids_by_row: HashMap<u32, i64> = plan
            .rows
            .iter()
            .filter_map(|r| Some((r.row, node_id(r.union?))))
            .collect();
        let report = report(operation, total, true, &plan, &ids_by_row);
        audit::record(
            &tx,
            admin,
            root,
            "unions.import",
            ("union", root),
            json!({
                "operation_id": report.operation_id,
                "total": report.total,
                "unions_created": report.unions_created,
                "unions_updated": report.unions_updated,
                "admins_appointed": report.admins_appointed,
                "admins_updated": report.admins_updated,
            }),
        )
        .await?;
        events.append(&tx).await?;
        tx.commit().await?;
        for user in changed_users {
            self.rights().forget(AccessChange::User(user));
        }
        Ok(report)
    }

    /// Reads what the plan depends on: the subtree, the file's codes elsewhere or
    /// pending, the importer's rights and phone, and the file's admins already there.
    async fn known_for(
        &self,
        tx: &Transaction<'_>,
        admin: &Principal,
        root: i64,
        lines: &[TreeLine],
    ) -> Result<Known> {
        let rows = lines.iter().filter_map(|l| l.parsed.as_ref().ok());
        let mut codes: Vec<&str> = Vec::new();
        let mut phones: Vec<&str> = Vec::new();
        for row in rows {
            if let Some(u) = &row.union {
                codes.push(u.credit_code.as_str());
                codes.extend(u.parent.code.as_ref().map(|c| c.as_str()));
            }
            phones.extend(row.admin.as_ref().map(|a| a.phone.as_str()));
        }
        let subtree = tx
            .query(
                &format!(
                    "SELECT {UNION_COLUMNS} FROM unions u WHERE u.path @> ARRAY[$1]::bigint[]"
                ),
                &[&root],
            )
            .await?
            .iter()
            .map(union_from_row)
            .collect();
        let outside = tx
            .query(
                "SELECT credit_code, id FROM unions WHERE credit_code = ANY($1) AND NOT path @> ARRAY[$2]::bigint[]",
                &[&codes, &root],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let pending = tx
            .query(
                "SELECT payload ->> 'credit_code' FROM org_requests
                 WHERE status = 'pending' AND kind = 'register' AND payload ->> 'credit_code' = ANY($1)",
                &[&codes],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let admins = tx
            .query(
                "SELECT a.union_id, u.phone, a.permissions FROM union_admins a
                 JOIN users u ON u.id = a.user_id JOIN unions x ON x.id = a.union_id
                 WHERE u.phone = ANY($1) AND x.path @> ARRAY[$2]::bigint[]",
                &[&phones, &root],
            )
            .await?
            .iter()
            .map(|r| {
                let held: Vec<String> = r.get(2);
                ((r.get(0), r.get(1)), held.into_iter().collect())
            })
            .collect();
        let held = held_in(tx, admin.user_id, root)
            .await?
            .iter()
            .filter_map(|p| Permission::parse("permission", p).ok())
            .collect();
        let importer_phone = tx
            .query_one("SELECT phone FROM users WHERE id = $1", &[&admin.user_id])
            .await?
            .get(0);
        Ok(Known {
            root,
            subtree,
            outside,
            pending,
            held,
            importer_phone,
            admins,
        })
    }

    /// Inserts the new unions parents first, [`BATCH`] at a time; answers their ids in
    /// the plan's order.
    async fn write_unions(
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
                    "union.created",
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
                Err(e) => return Err(e.into()),
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
    async fn write_admins(
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
                        "admin.updated",
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
async fn write_updates(tx: &Transaction<'_>, events: &mut EventBatch, plan: &Plan) -> Result<()> {
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
            "union.updated",
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

/// The answer: counts, then every row in file order.
fn report(
    operation_id: String,
    total: u32,
    applied: bool,
    plan: &Plan,
    ids: &HashMap<u32, i64>,
) -> TreeReport {
    let rows: Vec<TreeRowReport> = plan
        .rows
        .iter()
        .map(|r| TreeRowReport {
            row: r.row,
            outcome: match &r.result {
                Ok(outcome) => outcome.as_str().to_owned(),
                Err(_) => "failed".to_owned(),
            },
            reason: r.result.as_ref().err().cloned(),
            union_id: ids.get(&r.row).copied().or(match r.union {
                Some(Node::Existing(id)) => Some(id),
                _ => None,
            }),
        })
        .collect();
    let count = |outcome: &str| rows.iter().filter(|r| r.outcome == outcome).count() as u32;
    TreeReport {
        operation_id,
        applied,
        total,
        unions_created: plan.new_unions.len() as u32,
        unions_updated: plan.updates.len() as u32,
        admins_appointed: plan.admins.iter().filter(|a| !a.existed).count() as u32,
        admins_updated: plan.admins.iter().filter(|a| a.existed).count() as u32,
        unchanged: count(Outcome::Unchanged.as_str()),
        failed: count("failed"),
        rows,
    }
}

/// The tree below a union, one union per row and each further admin on a row of its
/// own, parents first; `$2` says whether admins are included.
const TREE: &str = "
    SELECT u.name, u.credit_code,
           CASE WHEN u.parent_id = $1 THEN NULL ELSE p.credit_code END,
           (SELECT string_agg(x.name, '/' ORDER BY t.ord)
              FROM unnest(u.path[array_position(u.path, $1) + 1 : array_length(u.path, 1) - 1])
                   WITH ORDINALITY AS t(id, ord)
              JOIN unions x ON x.id = t.id),
           u.address, u.lat, u.lng, u.contact_name, u.contact_phone,
           usr.name, usr.phone, a.permissions,
           row_number() OVER (PARTITION BY u.id ORDER BY a.granted_at, a.user_id) AS nth
    FROM unions u
    JOIN unions p ON p.id = u.parent_id
    LEFT JOIN union_admins a ON a.union_id = u.id AND $2
    LEFT JOIN users usr ON usr.id = a.user_id
    WHERE u.path @> ARRAY[$1]::bigint[] AND u.id <> $1
    ORDER BY u.path, nth";

impl Store {
    /// Streams the tree below `root` in the import's format, so an export imports back
    /// unchanged; admins (with their phones) only for a caller holding `admins.manage`.
    /// Each export is audited.
    ///
    /// # Errors
    /// `NotFound` for no such union, `Forbidden` without `org.manage`.
    pub async fn export_tree(
        &self,
        admin: &Principal,
        root: i64,
        format: Format,
    ) -> Result<mpsc::Receiver<FileChunk>> {
        let admitted = self.admit_export(admin.user_id)?;
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        require(&tx, admin.user_id, root, Permission::OrgManage).await?;
        let with_admins = self
            .has_permission(admin.user_id, root, Permission::AdminsManage)
            .await?;
        audit::record(
            &tx,
            admin,
            root,
            "unions.export",
            ("union", root),
            json!({ "format": format.extension(), "admins": with_admins }),
        )
        .await?;
        tx.commit().await?;
        Ok(self.stream_export(
            admitted,
            Export {
                format,
                header: UnionColumn::ALL.iter().map(|c| c.headers().0).collect(),
                sql: TREE,
                params: vec![Box::new(root), Box::new(with_admins)],
                cells: Box::new(|row| {
                    let text = |i: usize| row.get::<_, Option<String>>(i).unwrap_or_default();
                    let degrees = |i: usize| {
                        row.get::<_, Option<f64>>(i)
                            .map(|d| d.to_string())
                            .unwrap_or_default()
                    };
                    let admin = [
                        text(9),
                        text(10),
                        row.get::<_, Option<Vec<String>>>(11)
                            .map(|p| permissions_cell(&p))
                            .unwrap_or_default(),
                    ];
                    if row.get::<_, i64>(12) > 1 {
                        let mut cells = vec![String::new(); UnionColumn::ALL.len() - 3];
                        cells.extend(admin);
                        return cells;
                    }
                    let mut cells = vec![
                        text(0),
                        text(1),
                        text(2),
                        text(3),
                        text(4),
                        degrees(5),
                        degrees(6),
                        text(7),
                        text(8),
                    ];
                    cells.extend(admin);
                    cells
                }),
            },
        ))
    }
}
