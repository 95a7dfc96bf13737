//! A union's committee (委员会): its terms, each from an approved 换届 or 届内换人 request.

use deadpool_postgres::Transaction;
use gonghui_protocol::dto::{Committee, CommitteeMember, CommitteeTerm};
use tokio_postgres::Row;

use crate::domain::Term;
use crate::store::unions::union_in;
use crate::store::Store;
use crate::{Error, Result};

/// The columns [`term_from_row`] reads.
const TERM_COLUMNS: &str = "id, union_id, starts_on, ends_on, members, request_id, created_at";

fn term_from_row(r: &Row) -> Result<CommitteeTerm> {
    let members: Vec<CommitteeMember> = serde_json::from_value(r.get("members"))
        .map_err(|e| Error::Unavailable(format!("a stored committee does not read: {e}")))?;
    Ok(CommitteeTerm {
        id: r.get("id"),
        union_id: r.get("union_id"),
        starts_on: r.get("starts_on"),
        ends_on: r.get("ends_on"),
        members,
        request_id: r.get("request_id"),
        created_at: r.get("created_at"),
    })
}

/// The newest committee row of a union, locked.
pub(super) async fn current_term(
    tx: &Transaction<'_>,
    union_id: i64,
) -> Result<Option<CommitteeTerm>> {
    let row = tx
        .query_opt(
            &format!("SELECT {TERM_COLUMNS} FROM committee_terms WHERE union_id = $1 ORDER BY id DESC LIMIT 1 FOR UPDATE"),
            &[&union_id],
        )
        .await?;
    row.as_ref().map(term_from_row).transpose()
}

/// Records a new term (or the current one with a seat changed) for an approved request.
pub(super) async fn insert_term(
    tx: &Transaction<'_>,
    union_id: i64,
    term: &Term,
    request_id: i64,
) -> Result<CommitteeTerm> {
    let members = serde_json::to_value(&term.members).expect("committee members are plain JSON");
    let row = tx
        .query_one(
            &format!(
                "WITH t AS (INSERT INTO committee_terms (union_id, starts_on, ends_on, members, request_id)
                            VALUES ($1, $2, $3, $4, $5) RETURNING *)
                 SELECT {TERM_COLUMNS} FROM t"
            ),
            &[&union_id, &term.starts_on, &term.ends_on, &members, &request_id],
        )
        .await?;
    term_from_row(&row)
}

impl Store {
    /// A union's committee: the current one and every earlier term and replacement.
    #[tracing::instrument(skip_all, fields(union_id = union_id))]
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
