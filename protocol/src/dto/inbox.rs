//! The member inbox: notifications to one member, and announcements to a whole union.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// One message in a member's inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Notification {
    pub id: i64,
    /// `application.approved`, `application.rejected`, `transfer.approved`,
    /// `transfer.rejected`, `membership.removed`, `membership.retired` or `announcement`.
    pub kind: String,
    pub title: String,
    pub body: String,
    /// What it is about (`{"application_id": 7}`), for the client to link to.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: serde_json::Value,
    /// Set on an announcement: the union it was sent to.
    pub union_id: Option<i64>,
    #[serde(with = "crate::time::millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: DateTime<Utc>,
    pub read: bool,
}

/// `GET /me/notifications`: newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Inbox {
    pub items: Vec<Notification>,
    /// Unread messages in the whole inbox (the badge).
    pub unread: i64,
    /// Pass as `before` for the next page; null on the last.
    pub next_before: Option<i64>,
}

/// `POST /me/notifications/read`: some messages, or all of them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MarkRead {
    /// At most 500 ids from the caller's inbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 500))]
    pub ids: Option<Vec<i64>>,
    /// Marks the whole inbox read instead.
    #[serde(default)]
    pub all: bool,
}

/// The answer to a read, and the data of the `notification.read` event that every
/// device of the member gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ReadState {
    /// The messages this call marked read (those already read are not repeated).
    pub ids: Vec<i64>,
    /// Unread messages left.
    pub unread: i64,
}

/// The data of `notification.created`: on `member:{id}` with the member's new unread
/// count, or on `union:{id}` for an announcement (each member's badge goes up by one).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotificationEvent {
    pub notification: Notification,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread: Option<i64>,
}

/// `POST /unions/{id}/announcements`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewAnnouncement {
    /// 1–100 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub title: String,
    /// 1–5,000 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 5000))]
    pub body: String,
}
