//! Bringing a province's union tree in (工会信息、管理员信息同步) and taking it out: a
//! file of unions (parent by credit code or by a path of names) and their admins is
//! checked whole against what is already there ([`super::tree_plan`]) and applied in one
//! transaction only if every row is good. Unions are matched by credit code, so the same
//! file twice changes nothing. Admins the file names get accounts by phone and log in by
//! SMS code; no password is carried over.

use std::collections::HashMap;

use deadpool_postgres::Transaction;
use gonghui_protocol::dto::{TreeReport, TreeRowReport};
use serde_json::json;

use super::plan::{plan, Known, Node, Outcome, Plan};
use super::write::{write_updates, Progress};
use crate::domain::Permission;
use crate::metrics::Job;
use crate::sheets::TreeLine;
use crate::store::access::{require, users_changed};
use crate::store::admins::held_in;
use crate::store::audit;
use crate::store::events::EventBatch;
use crate::store::rights::AccessChange;
use crate::store::roster::operation_id;
use crate::store::tokens::Principal;
use crate::store::unions::{union_from_row, UNION_COLUMNS};
use crate::store::Store;
use crate::{Error, Result};

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
    #[tracing::instrument(skip_all, fields(user = admin.user_id, root = root))]
    pub async fn import_tree(
        &self,
        admin: &Principal,
        root: i64,
        lines: Vec<TreeLine>,
    ) -> Result<TreeReport> {
        let _running = self.metrics().running(Job::Import);
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
        // Planning is pure and linear, but a file may have 50,000 rows: off the worker
        // that serves this node's sockets.
        let plan = tokio::task::spawn_blocking(move || plan(lines, &known))
            .await
            .map_err(|_| Error::Unavailable("the import could not be planned".into()))?;
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
        self.commit(tx, events).await?;
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
        let rows = tx
            .query(
                &format!(
                    "SELECT {UNION_COLUMNS}, cardinality(u.path) AS depth FROM unions u WHERE u.path @> ARRAY[$1]::bigint[]"
                ),
                &[&root],
            )
            .await?;
        let depths = rows
            .iter()
            .map(|r| (r.get("id"), r.get::<_, i32>("depth") as usize))
            .collect();
        let subtree = rows.iter().map(union_from_row).collect();
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
            depths,
            outside,
            pending,
            held,
            importer_phone,
            admins,
        })
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
