//! The WeChat official account bound to a union, and the mini-program login.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use super::User;

/// `PUT /unions/{id}/wechat/account`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AccountBinding {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub app_id: String,
    /// Stored encrypted; never shown again.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub secret: String,
}

/// A bound official account as admins see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WeChatAccount {
    pub union_id: i64,
    pub app_id: String,
    /// `active`, or `broken` until an admin binds it again.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(active|broken)$"))]
    pub status: String,
    pub broken_reason: Option<String>,
    #[serde(with = "crate::time::millis_opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_polled_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::time::millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub next_poll_at: DateTime<Utc>,
}

/// The answer to `POST /unions/{id}/wechat/account/poll`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PollReport {
    /// Articles new since the last poll.
    pub imported: u32,
}

/// `POST /auth/wechat/login`: a `wx.login` code; or, the first time, the ticket it
/// answered with and the phone and SMS code that link the WeChat user to an account.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WeChatLogin {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^1[3-9][0-9]{9}$"))]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[0-9]{6}$"))]
    pub sms_code: Option<String>,
}

/// The answer to a mini-program login: a session, or a request for the phone.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WeChatLoginReply {
    /// Set once logged in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// True on a first login: send `ticket`, `phone` and `sms_code` (from `POST /auth/sms-codes`).
    pub needs_phone: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}
