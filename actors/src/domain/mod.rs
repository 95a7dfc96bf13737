//! Types that parse and validate input at the edge, so the core never checks again.
//! Each has a private field and a `parse` that is the only way to make one.

mod activity;
mod address;
mod application;
mod article;
mod coordinates;
mod credit_code;
mod day;
mod id_number;
mod member;
mod org;
mod permission;
mod person_name;
mod phone;
mod secret;
mod text;

pub use activity::{ActivitySpec, Answer, Config, Prize};
pub use address::ShippingAddress;
pub use application::{ApplicationKind, Decision};
pub use article::{link_key, AccountArticle, Article, Found, Scope};
pub use coordinates::Coordinates;
pub use credit_code::CreditCode;
pub use day::{china_today, cst, day_start};
pub use id_number::IdNumber;
pub use member::{Departed, MemberStatus};
pub(crate) use org::union_name;
pub use org::{NewUnion, SeatChange, Term, UnionEdit, MAX_DEPTH};
pub use permission::Permission;
pub use person_name::PersonName;
pub use phone::Phone;
pub use secret::{Password, SmsCode};
pub use text::{note, outside_text, BoundedText, ImageUrl, NOTE_MAX};

/// Why a value was refused: a sentence for the client, keyed by its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    /// The field's name as the client sent it.
    pub field: std::borrow::Cow<'static, str>,
    /// What is wrong with it.
    pub reason: String,
}

impl Invalid {
    /// A refusal of `field` for `reason`.
    pub fn new(
        field: impl Into<std::borrow::Cow<'static, str>>,
        reason: impl Into<String>,
    ) -> Self {
        Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
