//! Member activities (会员活动): what admins create, what members answer, and the live
//! results.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// `POST /unions/{id}/activities` and `PUT /activities/{id}` (while a draft).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ActivityForm {
    /// `vote`, `questionnaire`, `signup`, `lottery` or `quiz`.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(vote|questionnaire|signup|lottery|quiz)$")
    )]
    pub kind: String,
    /// 1–100 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub title: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 5000))]
    pub description: String,
    /// Open to members of every union below too.
    #[serde(default)]
    pub include_subordinates: bool,
    #[serde(with = "crate::time::millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub starts_at: DateTime<Utc>,
    /// After `starts_at`.
    #[serde(with = "crate::time::millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub ends_at: DateTime<Utc>,
    /// `public` (default), `after_close` or `admins`: when members see the tallies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(public|after_close|admins)$", default = "public")
    )]
    pub results_visibility: Option<String>,
    /// The kind's options, questions, capacity or prizes (docs/PROTOCOL.md).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub config: Value,
}

/// An activity as members and admins see it (members never see a quiz's answers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Activity {
    pub id: i64,
    pub union_id: i64,
    pub include_subordinates: bool,
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(vote|questionnaire|signup|lottery|quiz)$")
    )]
    pub kind: String,
    pub title: String,
    pub description: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub config: Value,
    #[serde(with = "crate::time::millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub starts_at: DateTime<Utc>,
    #[serde(with = "crate::time::millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub ends_at: DateTime<Utc>,
    #[cfg_attr(feature = "openapi", schema(pattern = "^(public|after_close|admins)$"))]
    pub results_visibility: String,
    /// `draft`, `published` or `closed`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(draft|published|closed)$"))]
    pub status: String,
    /// The link the activity's code opens.
    pub link: String,
}

/// A page of a union's activities.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Activities {
    pub items: Vec<Activity>,
}

/// What a member's answer came to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Receipt {
    pub activity_id: i64,
    pub user_id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub answer: Value,
    /// A quiz's score and whether it passed.
    pub score: Option<i32>,
    pub passed: Option<bool>,
    /// The prize won (lottery, or a passed quiz while prizes last).
    pub prize: Option<String>,
    /// A lottery draw as recorded, so anyone can recompute its outcome.
    pub draw: Option<Draw>,
    #[serde(with = "crate::time::millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: DateTime<Utc>,
}

/// A lottery draw's record. With `h = sha256(seed)`: the draw wins if the first 8 bytes
/// of `h`, read as a big-endian unsigned integer and divided by 2⁶⁴, are below
/// `win_rate` and prizes remain; the prize is the one holding position
/// `u64_be(h[8..16]) mod (total remaining)` with the prizes in id order, each holding
/// as many positions as it has left. `rule` says the same in one line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Draw {
    /// 32 random bytes from the OS, as 64 hex digits.
    pub seed: String,
    pub win_rate: f64,
    /// Prizes left before this draw, by prize id.
    pub remaining: std::collections::BTreeMap<String, i32>,
    pub rule: String,
}

/// Results: `participants` always; the kind's tallies where the viewer may see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Results {
    pub activity_id: i64,
    pub participants: i64,
    /// Per option (vote), per question and option (questionnaire, quiz), per prize
    /// (lottery, quiz), seats (signup); null when hidden from this viewer.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub tallies: Option<Value>,
}

/// The snapshot of `activity:{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActivitySnapshot {
    pub activity: Activity,
    pub results: Results,
}

/// `POST /activities/{id}/prize/claim`: where to send the prize, exactly as WeChat's
/// `wx.chooseAddress` gives it (send its result as is).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PrizeClaim {
    /// The recipient's name.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 50))]
    pub user_name: String,
    /// Their telephone: 5–20 digits, with `-`, `+` or spaces.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[0-9+\- ]{5,40}$"))]
    pub tel_number: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 30))]
    pub province_name: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 30))]
    pub city_name: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 30))]
    pub county_name: String,
    /// Street, building and room.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub detail_info: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[0-9]{6}$"))]
    pub postal_code: Option<String>,
    /// The county's national area code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[0-9]{6}$"))]
    pub national_code: Option<String>,
}

/// A checked shipping address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Address {
    pub recipient: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub county: String,
    pub detail: String,
    pub postal_code: Option<String>,
    pub national_code: Option<String>,
}

/// One winner on the fulfilment list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Fulfilment {
    pub user_id: i64,
    pub prize: String,
    #[serde(flatten)]
    pub delivery: Delivery,
}

/// Where a prize goes and whether it has gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Delivery {
    /// Null until the winner claims.
    pub address: Option<Address>,
    #[serde(with = "crate::time::millis_opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub shipped_at: Option<DateTime<Utc>>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
}

/// A prize the caller won: `GET /me/prizes`, and the data of `prize.shipped`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MyPrize {
    pub activity_id: i64,
    pub activity_title: String,
    pub prize: String,
    #[serde(flatten)]
    pub delivery: Delivery,
}

/// `GET /me/prizes`, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MyPrizes {
    pub items: Vec<MyPrize>,
}

/// `GET /activities/{id}/prizes`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Fulfilments {
    pub items: Vec<Fulfilment>,
}

/// `POST /activities/{id}/prizes/{user_id}/ship`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Shipment {
    /// The carrier (顺丰, 中国邮政 …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub carrier: Option<String>,
    /// The tracking number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub tracking: Option<String>,
}
