//! The one error type of the core. Each variant is a kind of answer a client gets
//! (the binary maps them to HTTP and to WebSocket replies in one place); database and
//! internal failures carry their detail for the log, never for the client.

use std::collections::BTreeMap;

use crate::domain::Invalid;

/// Why a command or query did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field failed validation (422).
    #[error("{0}")]
    Invalid(#[from] Invalid),
    /// The request makes no sense as sent (400).
    #[error("{0}")]
    BadRequest(String),
    /// No valid credentials (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// Valid credentials without the right (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such thing (404).
    #[error("{0}")]
    NotFound(String),
    /// The state does not allow it, e.g. already decided (409).
    #[error("{0}")]
    Conflict(String),
    /// The body did not arrive in time (408).
    #[error("{0}")]
    TooSlow(String),
    /// The upload or body is bigger than allowed (413).
    #[error("{0}")]
    TooLarge(String),
    /// Too many tries; the client may try again after `retry_after` seconds (429).
    #[error("{message}")]
    RateLimited {
        /// What was limited.
        message: String,
        /// Seconds until a try may succeed, sent as `Retry-After`.
        retry_after: u64,
    },
    /// This node has too much of this work running at once; try again shortly (503 with
    /// `Retry-After`).
    #[error("{0}")]
    Busy(String),
    /// Postgres failed or is unreachable (503).
    #[error("database error: {0}")]
    Database(#[from] tokio_postgres::Error),
    /// No connection could be had from the pool (503).
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A dependency other than the database failed (503).
    #[error("{0}")]
    Unavailable(String),
}

impl Error {
    /// The API.md code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "invalid",
            Error::BadRequest(_) => "bad_request",
            Error::Unauthenticated(_) => "unauthenticated",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not_found",
            Error::Conflict(_) => "conflict",
            Error::TooLarge(_) => "too_large",
            Error::TooSlow(_) => "timeout",
            Error::RateLimited { .. } => "rate_limited",
            Error::Database(_) | Error::Pool(_) | Error::Unavailable(_) | Error::Busy(_) => {
                "unavailable"
            }
        }
    }

    /// The sentence a client sees; infrastructure detail stays in the log.
    pub fn public_message(&self) -> String {
        match self {
            Error::Database(_) | Error::Pool(_) => {
                "the service is temporarily unavailable".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// A 429 with the seconds to wait.
    pub fn rate_limited(message: impl Into<String>, retry_after: u64) -> Error {
        Error::RateLimited {
            message: message.into(),
            retry_after: retry_after.max(1),
        }
    }

    /// Seconds a client should wait before trying again, for `Retry-After`.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::RateLimited { retry_after, .. } => Some(*retry_after),
            Error::Busy(_) => Some(1),
            _ => None,
        }
    }

    /// The per-field reasons of a 422.
    pub fn fields(&self) -> Option<BTreeMap<String, String>> {
        match self {
            Error::Invalid(inv) => Some(BTreeMap::from([(
                inv.field.to_string(),
                inv.reason.clone(),
            )])),
            _ => None,
        }
    }

    /// The API error body of this error.
    pub fn body(&self) -> gonghui_protocol::ErrorBody {
        gonghui_protocol::ErrorBody {
            code: self.code().to_owned(),
            message: self.public_message(),
            fields: self.fields(),
        }
    }

    /// Whether Postgres reported this SQLSTATE (a unique violation, say).
    pub fn is_db_state(&self, state: &tokio_postgres::error::SqlState) -> bool {
        matches!(self, Error::Database(e) if e.code() == Some(state))
    }
}

/// The result of every core operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
