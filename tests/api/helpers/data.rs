//! Valid test data: ID numbers, credit codes, registration forms, permission lists.

use gonghui_actors::domain::{CreditCode, IdNumber};
use serde_json::{json, Value};

pub fn all_permissions() -> Vec<String> {
    [
        "members.review",
        "members.manage",
        "members.pii",
        "org.manage",
        "admins.manage",
        "activities.manage",
        "news.publish",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect()
}

/// A valid resident ID number, different for each `n` (born on 1990-03-07 plus
/// `n / 1000` days).
pub fn id_number(n: u32) -> String {
    let born = chrono::NaiveDate::from_ymd_opt(1990, 3, 7).unwrap()
        + chrono::Duration::days(i64::from(n / 1000));
    let body = format!("440101{}{:03}", born.format("%Y%m%d"), n % 1000);
    format!("{body}{}", IdNumber::check_digit(&body).unwrap())
}

/// A valid unified social credit code (GB 32100-2015), different for each `n`.
pub fn credit_code(n: u32) -> String {
    let body = format!("81440101MC{n:07}");
    format!("{body}{}", CreditCode::check_character(&body).unwrap())
}

/// A registration form for a union under `parent`.
pub fn union_form(n: u32, parent: i64) -> Value {
    json!({
        "name": format!("第{n}机械厂工会"),
        "credit_code": credit_code(n),
        "parent_id": parent,
        "address": "广州市天河区",
        "lat": 23.13,
        "lng": 113.32,
        "contact_name": "王主席",
        "contact_phone": "13912340000",
    })
}
