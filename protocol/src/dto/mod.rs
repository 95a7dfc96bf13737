//! The JSON bodies of the HTTP API, which are also the data of events and snapshots, so
//! that a client reads an `Application` the same way from a reply, an event or a snapshot.
//! The member inbox and the roster have modules of their own.

mod activity;
mod inbox;
mod news;
mod org;
mod roster;
mod wechat;

pub use activity::*;
pub use inbox::*;
pub use news::*;
pub use org::*;
pub use roster::*;
pub use wechat::*;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::frames::{ClientKind, ErrorBody};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// A user as every client shows it; the ID number only ever masked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct User {
    pub id: i64,
    pub phone: String,
    /// Null until verified.
    pub name: Option<String>,
    pub verified: bool,
    /// `4401**********001X`; null until verified.
    pub id_number_masked: Option<String>,
}

/// A user's membership of a union.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Membership {
    pub union_id: i64,
    pub user_id: i64,
    /// `active`, `retired` (still a member, listed apart) or `left`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(active|retired|left)$"))]
    pub status: String,
    #[serde(with = "crate::time::millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub joined_at: DateTime<Utc>,
    /// The day of retirement, when retired.
    pub retired_on: Option<NaiveDate>,
    /// When it ended (transfer or removal), when it has.
    #[serde(with = "crate::time::millis_opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub left_at: Option<DateTime<Utc>>,
}

/// Who applied, as an admin's queue shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Applicant {
    pub name: Option<String>,
    pub phone_masked: String,
}

/// An application to a union, pending or decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Application {
    pub id: i64,
    pub union_id: i64,
    pub user_id: i64,
    /// `join` or `transfer`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(join|transfer)$"))]
    pub kind: String,
    /// For a transfer, the union the member moves from (`union_id` is where to).
    pub from_union_id: Option<i64>,
    /// `pending`, `approved` or `rejected`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(pending|approved|rejected)$"))]
    pub status: String,
    pub applicant: Applicant,
    pub note: Option<String>,
    /// Why it was rejected.
    pub reason: Option<String>,
    #[serde(with = "crate::time::millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::time::millis_opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub decided_at: Option<DateTime<Utc>>,
    /// The admin's user id.
    pub decided_by: Option<i64>,
}

/// A union organisation as topics and answers show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Union {
    pub id: i64,
    pub name: String,
    /// Null for the root.
    pub parent_id: Option<i64>,
    /// The unified social credit code (统一社会信用代码).
    pub credit_code: Option<String>,
    pub address: Option<String>,
    /// WGS-84 degrees north.
    pub lat: Option<f64>,
    /// WGS-84 degrees east.
    pub lng: Option<f64>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
}

/// The permissions a user holds on one union (and so on every union below it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AdminOf {
    pub union_id: i64,
    pub permissions: Vec<String>,
}

/// `GET /me`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Me {
    pub user: User,
    pub memberships: Vec<Membership>,
    pub admin_of: Vec<AdminOf>,
}

/// `POST /auth/sms-codes`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SmsCodeRequest {
    /// A mainland mobile number.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^1[3-9][0-9]{9}$", example = "13800000000")
    )]
    pub phone: String,
}

/// The answer to `POST /auth/sms-codes`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SmsCodeSent {
    /// Seconds until the code stops working.
    pub expires_in: u64,
}

/// `POST /auth/login`: a password or an SMS code, not both.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LoginRequest {
    /// A mainland mobile number.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^1[3-9][0-9]{9}$", example = "13800000000")
    )]
    pub phone: String,
    /// The password; or send `sms_code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 128))]
    pub password: Option<String>,
    /// The six digits sent by `POST /auth/sms-codes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[0-9]{6}$"))]
    pub sms_code: Option<String>,
    pub client: ClientKind,
}

/// The answer to a successful login.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>` and in the WebSocket hello.
    pub token: String,
    #[serde(with = "crate::time::millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// `PUT /me/password`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PasswordChange {
    /// The new password, 8–128 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 128))]
    pub password: String,
    /// The password now set; or send `sms_code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_password: Option<String>,
    /// A fresh code from `POST /auth/sms-codes` to the caller's phone (for an account
    /// with no password yet, or a forgotten one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_code: Option<String>,
}

/// `POST /me/verification`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VerificationRequest {
    /// The name on the ID card.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 50))]
    pub name: String,
    /// An 18-character resident ID number (GB 11643 check digit).
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^[0-9]{17}[0-9Xx]$", example = "44010119900307000X")
    )]
    pub id_number: String,
}

/// `POST /unions/{id}/applications`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewApplication {
    /// `join`, or `transfer` to move one's membership here from another union.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(join|transfer)$"))]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub note: Option<String>,
}

/// `POST /applications/{id}/reject`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Rejection {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 500))]
    pub reason: String,
}

/// A list of applications.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Applications {
    pub items: Vec<Application>,
}

/// The body of every HTTP error.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

/// The data of every `application.*` event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApplicationEvent {
    pub application: Application,
}

/// The data of `membership.created`, `membership.updated`, `membership.ended`,
/// `member.joined`, `member.retired` and `member.left`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MembershipEvent {
    pub membership: Membership,
}

/// The snapshot of `member:{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberSnapshot {
    pub user: User,
    pub memberships: Vec<Membership>,
    pub applications: Vec<Application>,
    /// Unread inbox messages.
    pub unread: i64,
}

/// The snapshot of `union:{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnionSnapshot {
    pub union: Union,
    pub member_count: i64,
}

/// The snapshot of `union:{id}:admin`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminSnapshot {
    /// Pending applications, oldest first: to this union, and transfers away from it
    /// (which only the receiving union decides).
    pub pending: Vec<Application>,
    /// Pending registrations and changes of unions below that this union reviews, and
    /// its own pending requests, oldest first.
    pub org_requests: Vec<OrgRequest>,
}

/// The reply data of a `hello`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct HelloReply {
    pub user_id: i64,
    pub session_id: String,
    /// The topics this user may read.
    pub topics: Vec<String>,
}

/// The reply data of a `subscribe`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SubscribeReply {
    /// The seq the snapshot reflects, or the `since` resumed from.
    pub seq: u64,
    /// The topic's state; null on a resume.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub snapshot: Option<serde_json::Value>,
    /// True when `since` was too old and a fresh snapshot came instead.
    pub reset: bool,
}
