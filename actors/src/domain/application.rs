//! Applications and decisions: what is applied for, and what an admin decides, parsed at
//! the edge.

use super::{BoundedText, Invalid};

/// What is applied for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplicationKind {
    /// Membership of a union, for someone who has none.
    Join,
    /// Moving one's active membership to this union.
    Transfer,
}

impl ApplicationKind {
    /// As stored and sent: `join` or `transfer`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationKind::Join => "join",
            ApplicationKind::Transfer => "transfer",
        }
    }
}

impl TryFrom<&str> for ApplicationKind {
    type Error = Invalid;

    fn try_from(raw: &str) -> Result<Self, Invalid> {
        match raw {
            "join" => Ok(ApplicationKind::Join),
            "transfer" => Ok(ApplicationKind::Transfer),
            _ => Err(Invalid::new("kind", "must be \"join\" or \"transfer\"")),
        }
    }
}

/// What an admin decided (on an application or an org request).
pub enum Decision {
    /// Admit the applicant.
    Approve,
    /// Turn them down, saying why.
    Reject(BoundedText),
}
