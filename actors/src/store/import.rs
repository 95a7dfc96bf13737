//! Bulk import of workers (批量导入): checked rows become active members of a union
//! directly, without applications. The import is one transaction, so it lands whole or
//! not at all; it works in batches of [`BATCH`] rows with a handful of statements each,
//! and after each batch tells the union's admin topic how far it has come (those
//! progress events commit on their own). Rows are matched to people by ID number, so
//! uploading the same file again changes nothing.

use std::collections::HashMap;

use chrono::Utc;
use deadpool_postgres::Transaction;
use gonghui_protocol::dto::{BulkReport, ImportProgress, MembershipEvent, RowReport, User};
use gonghui_protocol::events::kind;
use gonghui_protocol::Topic;
use serde_json::json;

use super::access::require;
use super::events::EventBatch;
use super::roster::{finish_bulk, finish_report, operation_id, row_report};
use super::tokens::Principal;
use super::unions::{membership_from_row, MEMBERSHIP_COLUMNS};
use super::Store;
use crate::domain::day_start;
use crate::domain::{Invalid, Permission};
use crate::metrics::Job;
use crate::sheets::MemberRow;
use crate::Result;

/// Rows written per batch.
pub const BATCH: usize = 1000;

/// A checked row with its secrets worked out.
struct Prepared {
    row: MemberRow,
    index: Vec<u8>,
}

/// Who a row turned out to be.
enum Person {
    /// A user already registered under this ID number (and this phone).
    Known(i64),
    /// A user registered by phone who had not verified: the import verifies them.
    Unverified(i64),
    /// Nobody yet: the import registers them.
    New,
}

/// Why a row whose phone and ID number belong to different people cannot be added.
const MISMATCH: &str = "cannot be added: the phone and the ID number do not match our records";

impl Store {
    /// Imports member rows into `union_id`. Rows that could not be read arrive as `Err`
    /// and are reported as failed; every other row is `added`, `unchanged` (already a
    /// member here) or `failed` with the reason.
    ///
    /// # Errors
    /// `NotFound` for no such union, `Forbidden` without `members.manage`; a database
    /// failure rolls the whole import back.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, union_id = union_id))]
    pub async fn import_members(
        &self,
        admin: &Principal,
        union_id: i64,
        rows: Vec<(u32, std::result::Result<MemberRow, Invalid>)>,
    ) -> Result<BulkReport> {
        let _running = self.metrics().running(Job::Import);
        let operation = operation_id();
        let total = rows.len() as u32;
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        require(&tx, admin.user_id, union_id, Permission::MembersManage).await?;
        let mut report = Vec::with_capacity(rows.len());
        let mut seen_ids: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut seen_phones: HashMap<String, u32> = HashMap::new();
        let mut prepared = Vec::with_capacity(rows.len());
        for (line, parsed) in rows {
            let row = match parsed {
                Ok(row) => row,
                Err(invalid) => {
                    report.push(row_report(line, "failed", Some(invalid.to_string()), None));
                    continue;
                }
            };
            let index = self.secrets().blind_index(row.id_number.expose());
            if let Some(first) = seen_ids.get(&index) {
                let why = format!("the same ID number as row {first}");
                report.push(row_report(line, "failed", Some(why), None));
            } else if let Some(first) = seen_phones.get(row.phone.as_str()) {
                let why = format!("the same phone as row {first}");
                report.push(row_report(line, "failed", Some(why), None));
            } else {
                seen_ids.insert(index.clone(), line);
                seen_phones.insert(row.phone.as_str().to_owned(), line);
                prepared.push(Prepared { row, index });
            }
        }
        let mut events = EventBatch::new();
        let mut processed = total - prepared.len() as u32;
        for batch in prepared.chunks(BATCH) {
            self.import_batch(&tx, &mut events, union_id, batch, &mut report)
                .await?;
            processed += batch.len() as u32;
            self.import_progress(union_id, &operation, processed, total)
                .await;
        }
        let report = finish_report(operation, report);
        finish_bulk(
            &tx,
            &mut events,
            admin,
            union_id,
            "members.import",
            &report,
            json!({}),
        )
        .await?;
        self.commit(tx, events).await?;
        Ok(report)
    }

    async fn import_batch(
        &self,
        tx: &Transaction<'_>,
        events: &mut EventBatch,
        union_id: i64,
        batch: &[Prepared],
        report: &mut Vec<RowReport>,
    ) -> Result<()> {
        let indexes: Vec<&[u8]> = batch.iter().map(|p| p.index.as_slice()).collect();
        let phones: Vec<&str> = batch.iter().map(|p| p.row.phone.as_str()).collect();
        let found = tx
            .query(
                "SELECT id, phone, id_number_index FROM users WHERE id_number_index = ANY($1) OR phone = ANY($2)",
                &[&indexes, &phones],
            )
            .await?;
        let mut by_index: HashMap<Vec<u8>, (i64, String)> = HashMap::new();
        let mut by_phone: HashMap<String, (i64, bool)> = HashMap::new();
        for r in &found {
            let (id, phone, index): (i64, String, Option<Vec<u8>>) = (r.get(0), r.get(1), r.get(2));
            by_phone.insert(phone.clone(), (id, index.is_some()));
            if let Some(index) = index {
                by_index.insert(index, (id, phone));
            }
        }
        let mut people = Vec::with_capacity(batch.len());
        for p in batch {
            let person = match (by_index.get(&p.index), by_phone.get(p.row.phone.as_str())) {
                (Some((id, phone)), _) if phone == p.row.phone.as_str() => Ok(Person::Known(*id)),
                // Another person's facts are not the importing admin's to learn: one
                // answer, naming nobody, whichever of the two does not match.
                (Some(_), _) | (None, Some((_, true))) => Err(MISMATCH.to_owned()),
                (None, Some((id, false))) => Ok(Person::Unverified(*id)),
                (None, None) => Ok(Person::New),
            };
            match person {
                Ok(person) => people.push((p, person)),
                Err(why) => report.push(row_report(p.row.row, "failed", Some(why), None)),
            }
        }
        let mut user_of: HashMap<u32, (i64, bool)> = HashMap::new();
        self.register(tx, events, &people, &mut user_of, report)
            .await?;
        for (p, person) in &people {
            if let Person::Known(id) = person {
                user_of.insert(p.row.row, (*id, true));
            }
        }
        self.admit_rows(tx, events, union_id, &people, &user_of, report)
            .await
    }

    /// Registers the batch's new people and verifies its unverified ones, noting each
    /// row's user and whether they existed before (and so may have sessions to tell).
    async fn register(
        &self,
        tx: &Transaction<'_>,
        events: &mut EventBatch,
        people: &[(&Prepared, Person)],
        user_of: &mut HashMap<u32, (i64, bool)>,
        report: &mut Vec<RowReport>,
    ) -> Result<()> {
        let (mut ids, mut phones, mut names, mut sealed, mut indexes, mut masked) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        let mut row_of_phone: HashMap<&str, &Prepared> = HashMap::new();
        for (p, person) in people {
            let id = match person {
                Person::Known(_) => continue,
                Person::Unverified(id) => *id,
                Person::New => 0,
            };
            ids.push(id);
            phones.push(p.row.phone.as_str());
            names.push(p.row.name.as_str());
            sealed.push(self.secrets().encrypt(p.row.id_number.expose()));
            indexes.push(p.index.as_slice());
            masked.push(p.row.id_number.masked());
            row_of_phone.insert(p.row.phone.as_str(), p);
        }
        if ids.is_empty() {
            return Ok(());
        }
        let stmt = tx
            .prepare_cached(
                "WITH input AS (
                     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bytea[], $5::bytea[], $6::text[])
                         AS i(id, phone, name, sealed, index, masked)),
                 inserted AS (
                     INSERT INTO users (phone, name, id_number_enc, id_number_index, id_number_masked, verified_at)
                     SELECT phone, name, sealed, index, masked, now() FROM input WHERE id = 0
                     ON CONFLICT DO NOTHING RETURNING id, phone),
                 verified AS (
                     UPDATE users u SET name = i.name, id_number_enc = i.sealed, id_number_index = i.index,
                            id_number_masked = i.masked, verified_at = now()
                     FROM input i WHERE i.id > 0 AND u.id = i.id AND u.id_number_index IS NULL
                     RETURNING u.id, u.phone)
                 SELECT id, phone, false FROM inserted UNION ALL SELECT id, phone, true FROM verified",
            )
            .await?;
        let rows = tx
            .query(&stmt, &[&ids, &phones, &names, &sealed, &indexes, &masked])
            .await?;
        for r in &rows {
            let (id, phone, existed): (i64, String, bool) = (r.get(0), r.get(1), r.get(2));
            let Some(p) = row_of_phone.remove(phone.as_str()) else {
                continue;
            };
            user_of.insert(p.row.row, (id, existed));
            if existed {
                let user = User {
                    id,
                    phone,
                    name: Some(p.row.name.as_str().to_owned()),
                    verified: true,
                    id_number_masked: Some(p.row.id_number.masked()),
                };
                events.push(
                    Topic::Member(id),
                    kind::USER_UPDATED,
                    json!({ "user": user }),
                );
            }
        }
        for p in row_of_phone.into_values() {
            let why = "registered by someone else while importing; upload the file again";
            report.push(row_report(p.row.row, "failed", Some(why.into()), None));
        }
        Ok(())
    }

    /// Gives each row's person an active membership of the union, unless they are a
    /// member already (here: unchanged; elsewhere: failed).
    async fn admit_rows(
        &self,
        tx: &Transaction<'_>,
        events: &mut EventBatch,
        union_id: i64,
        people: &[(&Prepared, Person)],
        user_of: &HashMap<u32, (i64, bool)>,
        report: &mut Vec<RowReport>,
    ) -> Result<()> {
        let rows: Vec<(&Prepared, i64, bool)> = people
            .iter()
            .filter_map(|(p, _)| {
                user_of
                    .get(&p.row.row)
                    .map(|(id, existed)| (*p, *id, *existed))
            })
            .collect();
        let users: Vec<i64> = rows.iter().map(|r| r.1).collect();
        let current: HashMap<i64, i64> = tx
            .query(
                "SELECT user_id, union_id FROM memberships WHERE user_id = ANY($1) AND status IN ('active', 'retired')",
                &[&users],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let (mut joining, mut employers, mut jobs, mut joined) = (vec![], vec![], vec![], vec![]);
        for (p, user, _) in &rows {
            match current.get(user) {
                Some(u) if *u == union_id => report.push(row_report(
                    p.row.row,
                    "unchanged",
                    Some("already a member of this union".into()),
                    Some(*user),
                )),
                Some(_) => report.push(row_report(
                    p.row.row,
                    "failed",
                    Some(
                        "cannot be added: a member of another union (they may apply to transfer)"
                            .into(),
                    ),
                    None,
                )),
                None => {
                    joining.push(*user);
                    employers.push(p.row.employer.as_ref().map(|t| t.as_str()));
                    jobs.push(p.row.job.as_ref().map(|t| t.as_str()));
                    joined.push(p.row.joined_on.map_or_else(Utc::now, day_start));
                }
            }
        }
        let stmt = tx
            .prepare_cached(&format!(
                "INSERT INTO memberships (union_id, user_id, status, employer, job, joined_at)
                 SELECT $1, u, 'active', e, j, d
                 FROM unnest($2::bigint[], $3::text[], $4::text[], $5::timestamptz[]) AS x(u, e, j, d)
                 ON CONFLICT (user_id) WHERE status IN ('active', 'retired') DO NOTHING
                 RETURNING {MEMBERSHIP_COLUMNS}"
            ))
            .await?;
        let added = tx
            .query(&stmt, &[&union_id, &joining, &employers, &jobs, &joined])
            .await?;
        let mut added: HashMap<i64, _> = added
            .iter()
            .map(|r| {
                let m = membership_from_row(r);
                (m.user_id, m)
            })
            .collect();
        for (p, user, existed) in rows {
            if current.contains_key(&user) {
                continue;
            }
            match added.remove(&user) {
                Some(membership) => {
                    if existed {
                        events.push(
                            Topic::Member(user),
                            kind::MEMBERSHIP_CREATED,
                            MembershipEvent { membership },
                        );
                    }
                    report.push(row_report(p.row.row, "added", None, Some(user)));
                }
                None => report.push(row_report(
                    p.row.row,
                    "failed",
                    Some("became a member of another union while importing".into()),
                    Some(user),
                )),
            }
        }
        Ok(())
    }

    /// Tells the union's admins how far an import has come, in a transaction of its own
    /// so it is seen while the import's own transaction is still open. A failure here is
    /// logged and the import goes on.
    pub(crate) async fn import_progress(
        &self,
        union_id: i64,
        operation: &str,
        processed: u32,
        total: u32,
    ) {
        let progress = ImportProgress {
            operation_id: operation.to_owned(),
            processed,
            total,
        };
        let sent = async {
            let mut conn = self.client().await?;
            let tx = conn.transaction().await?;
            let mut events = EventBatch::new();
            events.push(
                Topic::UnionAdmin(union_id),
                kind::IMPORT_PROGRESS,
                &progress,
            );
            self.commit(tx, events).await?;
            Ok::<_, crate::Error>(())
        };
        if let Err(e) = sent.await {
            tracing::warn!(error = %e, union_id, "an import progress event was not sent");
        }
    }
}
