//! Members as the roster names them: the state of a membership, and whom a removal names.

use super::{IdNumber, Invalid};

/// Which memberships a roster lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberStatus {
    Active,
    Retired,
    Left,
}

impl MemberStatus {
    /// Reads `active`, `retired` or `left`.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, Invalid> {
        match raw {
            "active" => Ok(MemberStatus::Active),
            "retired" => Ok(MemberStatus::Retired),
            "left" => Ok(MemberStatus::Left),
            _ => Err(Invalid::new(field, "must be active, retired or left")),
        }
    }

    /// As stored: `active`, `retired` or `left`.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Active => "active",
            MemberStatus::Retired => "retired",
            MemberStatus::Left => "left",
        }
    }
}

/// Whom a removal names: a row of the list or file, by user id or by ID number.
#[derive(Debug, Clone)]
pub enum Departed {
    UserId(i64),
    IdNumber(IdNumber),
}
