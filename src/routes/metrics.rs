//! `/metrics`: the node's series in Prometheus's text format (see
//! `gonghui_actors::metrics`). On the public port only for `Authorization: Bearer`
//! with the configured token, and not at all without one; on the private metrics address
//! (`GONGHUI_METRICS_LISTEN`) for whoever reaches it.

use actix_web::{web, HttpRequest, HttpResponse};
use gonghui_actors::crypto::same;
use gonghui_actors::Error;

use crate::api_error::ApiError;
use crate::extract::bearer;
use crate::state::AppState;

/// The series, for a scraper on the public port.
///
/// # Errors
/// 404 when no token is configured (as for any unknown route); 401 without the token.
pub async fn public(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(token) = &state.metrics_token else {
        return Err(Error::NotFound("no such route".into()).into());
    };
    let sent = bearer(&req).unwrap_or_default();
    // Compared in time that depends only on the lengths, so it is not guessed byte by byte.
    if !same(sent.as_bytes(), token.as_bytes()) {
        return Err(Error::Unauthenticated("/metrics needs its bearer token".into()).into());
    }
    Ok(private(state).await)
}

/// The series, for a scraper on the private address.
pub async fn private(state: web::Data<AppState>) -> HttpResponse {
    state.store.measure_pool();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.store.metrics().render())
}
