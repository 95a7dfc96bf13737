//! A union's roster (会员名册) and the bulk operations on it: import, removal,
//! retirement, export.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// One membership as the roster lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RosterEntry {
    pub membership_id: i64,
    pub user_id: i64,
    pub name: Option<String>,
    pub phone: String,
    /// Masked (`4401**********001X`) unless the caller holds `members.pii`.
    pub id_number: Option<String>,
    pub employer: Option<String>,
    pub job: Option<String>,
    /// `active`, `retired` or `left`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(active|retired|left)$"))]
    pub status: String,
    #[serde(with = "crate::time::millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub joined_at: DateTime<Utc>,
    pub retired_on: Option<NaiveDate>,
    pub retired_note: Option<String>,
    #[serde(with = "crate::time::millis_opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub left_at: Option<DateTime<Utc>>,
    pub left_reason: Option<String>,
}

/// `GET /unions/{id}/members`: one page, in membership order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Roster {
    pub items: Vec<RosterEntry>,
    /// Pass as `after` for the next page; null on the last.
    pub next_after: Option<i64>,
}

/// `POST /unions/{id}/members/{user_id}/retire`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Retirement {
    /// `YYYY-MM-DD`, not in the future.
    pub retired_on: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 500))]
    pub note: Option<String>,
}

/// `POST /unions/{id}/members/remove`: whom (by user id or ID number), and why.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Removal {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(max_items = 2000))]
    pub user_ids: Vec<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(max_items = 2000))]
    pub id_numbers: Vec<String>,
    /// 1–500 characters, kept on each membership and told to each member.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 500))]
    pub reason: String,
}

/// What happened to one row (or list item) of a bulk operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RowReport {
    /// The 1-based row of the file (the header is row 1), or position in the list.
    pub row: u32,
    /// `added`, `removed`, `unchanged` or `failed`.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(added|removed|unchanged|failed)$")
    )]
    pub outcome: String,
    /// Why it failed, or why nothing changed.
    pub reason: Option<String>,
    pub user_id: Option<i64>,
}

/// The answer to an import or a removal: counts, then every row.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BulkReport {
    /// Names the operation in its progress events and its audit row.
    pub operation_id: String,
    pub total: u32,
    /// Rows that added (import) or removed (removal) a member.
    pub changed: u32,
    pub unchanged: u32,
    pub failed: u32,
    pub rows: Vec<RowReport>,
}

/// The data of `import.progress` on `union:{id}:admin` during a long import.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportProgress {
    pub operation_id: String,
    /// Rows checked and written so far.
    pub processed: u32,
    pub total: u32,
}

/// The data of `members.imported` and `members.removed` on `union:{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MembersChanged {
    pub operation_id: String,
    /// Members added or removed.
    pub count: u32,
    /// Active members after the change.
    pub member_count: i64,
}
