//! The one error type of the core. Each variant is a kind of answer a client gets
//! (the binary maps them to HTTP and to WebSocket replies in one place); database and
//! internal failures carry their detail for the log, never for the client.

use std::collections::BTreeMap;
use std::fmt;
use std::panic::Location;

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
    /// The first request with this `Idempotency-Key` is still running (409 with the
    /// code `in_progress` and `Retry-After`): not a refusal of the call, whose fate a
    /// retry with the same key learns once it is done.
    #[error("{0}")]
    InProgress(String),
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
    #[error("database error in {during}: {source}")]
    Database {
        /// What the store was doing.
        during: Step,
        /// What Postgres said.
        source: tokio_postgres::Error,
    },
    /// No connection could be had from the pool (503).
    #[error("database pool in {during}: {source}")]
    Pool {
        /// What the store was about to do.
        during: Step,
        /// Why there was no connection.
        source: deadpool_postgres::PoolError,
    },
    /// A dependency other than the database failed (503).
    #[error("{0}")]
    Unavailable(String),
}

/// Where a database call gave up: the store operation running (its tracing span, from
/// `#[tracing::instrument]`) and the line of the `?` that returned, so a 503 in the log
/// names what the node was doing without a backtrace.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    operation: Option<&'static str>,
    at: &'static Location<'static>,
}

impl Step {
    /// The step of the caller's caller: the `?` that converts an error.
    #[track_caller]
    fn here() -> Step {
        Step {
            operation: tracing::Span::current().metadata().map(|m| m.name()),
            at: Location::caller(),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (file, line) = (self.at.file(), self.at.line());
        match self.operation {
            Some(operation) => write!(f, "{operation} ({file}:{line})"),
            None => write!(f, "{file}:{line}"),
        }
    }
}

impl From<tokio_postgres::Error> for Error {
    #[track_caller]
    fn from(source: tokio_postgres::Error) -> Self {
        Error::Database {
            during: Step::here(),
            source,
        }
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    #[track_caller]
    fn from(source: deadpool_postgres::PoolError) -> Self {
        Error::Pool {
            during: Step::here(),
            source,
        }
    }
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
            Error::InProgress(_) => "in_progress",
            Error::TooLarge(_) => "too_large",
            Error::TooSlow(_) => "timeout",
            Error::RateLimited { .. } => "rate_limited",
            Error::Database { .. }
            | Error::Pool { .. }
            | Error::Unavailable(_)
            | Error::Busy(_) => "unavailable",
        }
    }

    /// The sentence a client sees; infrastructure detail stays in the log.
    pub fn public_message(&self) -> String {
        match self {
            Error::Database { .. } | Error::Pool { .. } => {
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
            Error::Busy(_) | Error::Pool { .. } | Error::InProgress(_) => Some(1),
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
        matches!(self, Error::Database { source, .. } if source.code() == Some(state))
    }
}

/// The result of every core operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl crate::metrics::Outcome for Error {
    fn outcome(&self) -> &'static str {
        self.code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tracing::instrument]
    fn fails_in_a_step() -> Result<()> {
        Err(deadpool_postgres::PoolError::Closed)?;
        Ok(())
    }

    #[test]
    fn a_database_error_names_the_line_of_its_question_mark() {
        let error = fails_in_a_step().unwrap_err();
        let Error::Pool { during, .. } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(during.at.file(), file!());
        assert_eq!(during.at.line(), line!() - 11, "{during}");
        assert!(error.to_string().contains("src/error.rs"), "{error}");
    }

    #[test]
    fn the_step_is_named_by_the_running_span() {
        let subscriber = tracing_subscriber::fmt().with_test_writer().finish();
        tracing::subscriber::with_default(subscriber, || {
            let error = fails_in_a_step().unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with("database pool in fails_in_a_step ("),
                "{error}"
            );
        });
    }
}
