//! The one place core errors become HTTP answers: API.md's status codes and
//! `{"error": {"code", "message", "fields"?}}` body. Infrastructure failures are logged
//! here with their detail and answered 503 without it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use gonghui_actors::Error;
use gonghui_protocol::dto::ErrorResponse;

/// A core error on its way to an HTTP client.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ApiError(#[from] pub Error);

impl From<gonghui_actors::domain::Invalid> for ApiError {
    fn from(invalid: gonghui_actors::domain::Invalid) -> Self {
        ApiError(Error::Invalid(invalid))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self.0 {
            Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) | Error::InProgress(_) => StatusCode::CONFLICT,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::TooSlow(_) => StatusCode::REQUEST_TIMEOUT,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Database { .. }
            | Error::Pool { .. }
            | Error::Unavailable(_)
            | Error::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status == StatusCode::SERVICE_UNAVAILABLE && !matches!(self.0, Error::Busy(_)) {
            tracing::error!(error = %self.0, "answering 503");
        }
        let mut answer = HttpResponse::build(status);
        if let Some(secs) = self.0.retry_after() {
            answer.insert_header(("retry-after", secs.to_string()));
        }
        answer.json(ErrorResponse {
            error: self.0.body(),
        })
    }
}

/// A 413 for a body over the limit, which the core never sees.
pub fn too_large(message: &str) -> HttpResponse {
    HttpResponse::PayloadTooLarge().json(ErrorResponse {
        error: gonghui_protocol::ErrorBody::new("too_large", message),
    })
}

/// The result of every handler.
pub type ApiResult<T> = Result<T, ApiError>;
