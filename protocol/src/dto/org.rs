//! Union organisations: registration and changes reviewed by the parent, committees,
//! admins and their permissions, the map, and the audit log.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use super::Union;

/// `POST /unions/registrations`: a new union under `parent_id` (工会组织登记).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UnionForm {
    /// 2–100 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 2, max_length = 100))]
    pub name: String,
    /// 18 characters with a GB 32100-2015 check character.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{18}$")
    )]
    pub credit_code: String,
    pub parent_id: i64,
    /// 1–200 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub address: String,
    #[cfg_attr(feature = "openapi", schema(minimum = -90, maximum = 90))]
    pub lat: f64,
    #[cfg_attr(feature = "openapi", schema(minimum = -180, maximum = 180))]
    pub lng: f64,
    /// 1–50 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 50))]
    pub contact_name: String,
    /// A mainland mobile.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^1[3-9][0-9]{9}$"))]
    pub contact_phone: String,
}

/// `POST /unions/{id}/modifications`: the fields to change (工会信息修改); a new
/// `parent_id` moves the union and everything below it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UnionChanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 2, max_length = 100))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub address: Option<String>,
    /// With `lng`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = -90, maximum = 90))]
    pub lat: Option<f64>,
    /// With `lat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = -180, maximum = 180))]
    pub lng: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 50))]
    pub contact_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^1[3-9][0-9]{9}$"))]
    pub contact_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<i64>,
}

/// One seat on a union committee.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CommitteeMember {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 50))]
    pub name: String,
    /// `chair`, `vice_chair` or `member`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(chair|vice_chair|member)$"))]
    pub role: String,
}

/// `POST /unions/{id}/committee/terms`: a new committee (换届).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CommitteeForm {
    pub starts_on: NaiveDate,
    /// After `starts_on`.
    pub ends_on: NaiveDate,
    /// One chair, then any vice-chairs and members; 1–50 seats.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 50))]
    pub members: Vec<CommitteeMember>,
}

/// `POST /unions/{id}/committee/replacements`: one seat changes hands within the term (届内换人).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Replacement {
    /// The name of the member who leaves the committee.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 50))]
    pub replace: String,
    /// Who takes the seat, and in which role.
    pub with: CommitteeMember,
}

/// A committee as approved for a term; a replacement makes a new row for the same term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CommitteeTerm {
    pub id: i64,
    pub union_id: i64,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub members: Vec<CommitteeMember>,
    /// The approved request that made it.
    pub request_id: i64,
    #[serde(with = "crate::time::millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: DateTime<Utc>,
}

/// `GET /unions/{id}/committee`: the newest first, every earlier term and replacement after it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Committee {
    pub current: Option<CommitteeTerm>,
    pub history: Vec<CommitteeTerm>,
}

/// A registration or change waiting for (or decided by) the parent union's admins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OrgRequest {
    pub id: i64,
    /// `register`, `modify`, `committee` or `replace`.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(register|modify|committee|replace)$")
    )]
    pub kind: String,
    /// The union concerned; for a registration, set once approved.
    pub union_id: Option<i64>,
    /// The union whose admins (with `org.manage`) decide.
    pub reviewer_union_id: i64,
    pub submitted_by: i64,
    /// What was asked: a `UnionForm`, `UnionChanges`, `CommitteeForm` or `Replacement`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: serde_json::Value,
    /// `pending`, `approved` or `rejected`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(pending|approved|rejected)$"))]
    pub status: String,
    pub reason: Option<String>,
    #[serde(with = "crate::time::millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::time::millis_opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<i64>,
}

/// A list of org requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OrgRequests {
    pub items: Vec<OrgRequest>,
    /// Pass as `after` for the next page; null on the last (and on a user's own list,
    /// which holds their latest 100).
    pub next_after: Option<i64>,
}

/// The data of `org_request.created`, `org_request.approved` and `org_request.rejected`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgRequestEvent {
    pub request: OrgRequest,
}

/// The data of `union.created` (on the parent's topic) and `union.updated`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnionEvent {
    pub union: Union,
}

/// An admin of a union with the permissions held there (and below).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AdminEntry {
    pub union_id: i64,
    pub user_id: i64,
    pub name: Option<String>,
    pub phone_masked: String,
    pub permissions: Vec<String>,
    pub granted_by: Option<i64>,
    #[serde(with = "crate::time::millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub granted_at: DateTime<Utc>,
}

/// `GET /unions/{id}/admins`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Admins {
    pub items: Vec<AdminEntry>,
}

/// `PUT /unions/{id}/admins/{user_id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AdminGrant {
    /// Names from the permissions table in docs/PROTOCOL.md; at least one.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_items = 1,
            max_items = 7,
            pattern = "^(members.review|members.manage|members.pii|org.manage|admins.manage|activities.manage|news.publish)$"
        )
    )]
    pub permissions: Vec<String>,
}

/// The data of `admin.updated` and `admin.removed` on the admin's own topic.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminChanged {
    pub union_id: i64,
    /// Empty when removed.
    pub permissions: Vec<String>,
}

/// One admin action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditRecord {
    pub id: i64,
    pub union_id: Option<i64>,
    pub actor_id: Option<i64>,
    /// `console`, `app` or `miniprogram`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(console|app|miniprogram)$"))]
    pub client: Option<String>,
    /// `application.approve`, `admin.appoint`, `members.import`, …
    pub action: String,
    pub subject_type: String,
    pub subject_id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: serde_json::Value,
    #[serde(with = "crate::time::millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: DateTime<Utc>,
}

/// `GET /unions/{id}/audit`: newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditPage {
    pub items: Vec<AuditRecord>,
    /// Pass as `before` for the next page; null on the last.
    pub next_before: Option<i64>,
}

/// A page of unions (children, search).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Unions {
    pub items: Vec<Union>,
    /// Pass as `after` for the next page; null on the last.
    pub next_after: Option<i64>,
}

/// A union near a point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NearbyUnion {
    pub union: Union,
    /// Metres from the point asked about.
    pub distance_m: f64,
}

/// `GET /unions/nearby`: nearest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Nearby {
    pub items: Vec<NearbyUnion>,
    /// Pass as `offset` for the next page; null on the last.
    pub next_offset: Option<i64>,
}

/// What one row of a union-tree import did (or, when the import was not applied, would do).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TreeRowReport {
    /// The 1-based row of the file (the header is row 1).
    pub row: u32,
    /// `created` (a union registered or an admin appointed), `updated`, `unchanged` or `failed`.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(created|updated|unchanged|failed)$")
    )]
    pub outcome: String,
    /// Why it failed.
    pub reason: Option<String>,
    /// The row's union, once it exists.
    pub union_id: Option<i64>,
}

/// `POST /unions/{id}/tree/import`: the file is checked whole and applied only if every
/// row is good; otherwise nothing is written and the failed rows say why.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TreeReport {
    /// Names the operation in its progress events and its audit row.
    pub operation_id: String,
    /// Whether anything was written: false when any row failed.
    pub applied: bool,
    /// Rows in the file.
    pub total: u32,
    pub unions_created: u32,
    pub unions_updated: u32,
    pub admins_appointed: u32,
    pub admins_updated: u32,
    /// Rows that changed nothing.
    pub unchanged: u32,
    pub failed: u32,
    pub rows: Vec<TreeRowReport>,
}
