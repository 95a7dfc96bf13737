//! Applications filed in groups (`store/group.rs`): a joining campaign puts hundreds of
//! applications a second on a node, and those that arrive while one is being written
//! are filed together — their standing read in one statement, the valid ones inserted in
//! one, their events in one. If any insert finds a pending application already there (a
//! second tap, or one filed on another node meanwhile), the group is rolled back and each
//! is filed on its own, which answers each with its own outcome.

use std::collections::HashMap;

use gonghui_protocol::dto::Application;
use gonghui_protocol::events::kind;
use tokio::sync::oneshot;

use super::{application_from_row, push_everywhere, source_union, APPLICATION};
use crate::domain::{ApplicationKind, BoundedText};
use crate::store::events::EventBatch;
use crate::store::group::{Queued, Turns};
use crate::store::Store;
use crate::{Error, Result};

/// A node's applications waiting to be filed together.
pub(crate) type Filings = Turns<Filing>;

/// An application asked for and the caller waiting for its outcome.
pub(crate) struct Filing {
    user_id: i64,
    union_id: i64,
    kind: ApplicationKind,
    note: Option<BoundedText>,
    answer: oneshot::Sender<Result<Application>>,
}

impl Queued for Filing {
    type Outcome = Application;
    fn answer(self, outcome: Result<Application>) {
        let _ = self.answer.send(outcome);
    }
}

impl Store {
    /// Files an application of `kind` to `union_id`.
    ///
    /// # Errors
    /// `NotFound` for no such union, `Forbidden` if the user is not verified, `Conflict`
    /// for a join by someone already a member, a transfer by someone who is not an
    /// active member elsewhere (or to their own union), or a second pending one.
    pub async fn create_application(
        &self,
        user_id: i64,
        union_id: i64,
        kind: ApplicationKind,
        note: Option<&BoundedText>,
    ) -> Result<Application> {
        let filing = |answer| Filing {
            user_id,
            union_id,
            kind,
            note: note.cloned(),
            answer,
        };
        self.filings
            .make(
                self,
                filing,
                "the application",
                |store, group| Box::pin(store.file_together(group)),
                |store, f| Box::pin(store.file_one(f.user_id, f.union_id, f.kind, f.note.as_ref())),
            )
            .await
    }

    /// Files a group in one transaction: each application whose applicant may file it is
    /// inserted, every other one is answered why not. `Err` means nothing was written
    /// and each must be filed on its own.
    #[tracing::instrument(skip_all, fields(applications = group.len()))]
    async fn file_together(&self, group: &[Filing]) -> Result<Vec<Result<Application>>> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let standing = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM unions WHERE id = r.union_id) AS union_exists,
                        u.verified_at IS NOT NULL AS verified, m.union_id, m.status
                 FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS r(user_id, union_id, n)
                 JOIN users u ON u.id = r.user_id
                 LEFT JOIN memberships m ON m.user_id = u.id AND m.status IN ('active', 'retired')
                 ORDER BY r.n",
            )
            .await?;
        let users: Vec<i64> = group.iter().map(|f| f.user_id).collect();
        let unions: Vec<i64> = group.iter().map(|f| f.union_id).collect();
        let rows = tx.query(&standing, &[&users, &unions]).await?;
        if rows.len() != group.len() {
            return Err(Error::Conflict("an applicant's account is gone".into()));
        }
        let verdicts: Vec<Result<Option<i64>>> = group
            .iter()
            .zip(&rows)
            .map(|(f, standing)| source_union(f.kind, f.union_id, standing))
            .collect();
        let valid: Vec<(&Filing, Option<i64>)> = group
            .iter()
            .zip(&verdicts)
            .filter_map(|(f, v)| Some((f, *v.as_ref().ok()?)))
            .collect();
        let insert = tx
            .prepare_cached(&format!(
                "WITH a AS (INSERT INTO applications (union_id, user_id, kind, from_union_id, note)
                            SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[])
                            ON CONFLICT DO NOTHING RETURNING *)
                 {APPLICATION} FROM a JOIN users u ON u.id = a.user_id"
            ))
            .await?;
        let unions: Vec<i64> = valid.iter().map(|(f, _)| f.union_id).collect();
        let users: Vec<i64> = valid.iter().map(|(f, _)| f.user_id).collect();
        let kinds: Vec<&str> = valid.iter().map(|(f, _)| f.kind.as_str()).collect();
        let from: Vec<Option<i64>> = valid.iter().map(|(_, from)| *from).collect();
        let notes: Vec<Option<&str>> = valid
            .iter()
            .map(|(f, _)| f.note.as_ref().map(BoundedText::as_str))
            .collect();
        let inserted = tx
            .query(&insert, &[&unions, &users, &kinds, &from, &notes])
            .await?;
        if inserted.len() != valid.len() {
            return Err(Error::Conflict(
                "an applicant has a pending application already".into(),
            ));
        }
        let mut filed: HashMap<(i64, i64, String), Application> = inserted
            .iter()
            .map(application_from_row)
            .map(|a| ((a.user_id, a.union_id, a.kind.clone()), a))
            .collect();
        let mut events = EventBatch::new();
        let mut outcomes = Vec::with_capacity(group.len());
        for (f, verdict) in group.iter().zip(verdicts) {
            outcomes.push(match verdict {
                Err(e) => Err(e),
                Ok(_) => {
                    let key = (f.user_id, f.union_id, f.kind.as_str().to_owned());
                    let application = filed.remove(&key).ok_or_else(|| {
                        Error::Conflict("an application of the group was not filed".into())
                    })?;
                    push_everywhere(&mut events, &application, kind::APPLICATION_CREATED);
                    Ok(application)
                }
            });
        }
        self.commit(tx, events).await?;
        Ok(outcomes)
    }
}
