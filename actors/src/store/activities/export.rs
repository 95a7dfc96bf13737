//! The downloads of an activity: every answer, or the fulfilment list, streamed.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::json;
use tokio::sync::mpsc;

use crate::domain::{Permission, Phone};
use crate::sheets::write::{text, FileChunk};
use crate::sheets::Format;
use crate::store::audit;
use crate::store::export::Export;
use crate::store::tokens::Principal;
use crate::store::Store;
use crate::Result;

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
    #[tracing::instrument(skip_all, fields(user = admin.user_id, id = id))]
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
