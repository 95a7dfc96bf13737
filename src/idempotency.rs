//! The `Idempotency-Key` middleware: on a write call with the header and a valid token,
//! the first answer is stored and replayed for the same key from the same user for 24 h.
//! A call is its method, path, query and a hash of its body: a key reused for another
//! call (or the same call with another body) is a 422; a key whose first request is still
//! running is a 409 `in_progress` with `Retry-After: 1` (retry with the same key to
//! learn its fate); a 5xx answer is not kept, so a retry runs again. `/auth/*` calls are
//! never kept: their answers carry session tokens, which must not rest in the database.

use actix_web::body::{to_bytes, BoxBody, MessageBody};
use actix_web::dev::Payload;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse, ResponseError};
use gonghui_actors::crypto::fingerprint;
use gonghui_actors::domain::Invalid;
use gonghui_actors::store::idempotency::Claim;
use gonghui_actors::Error;

use crate::api_error::ApiError;
use crate::extract::bearer;
use crate::files::MAX_UPLOAD;
use crate::state::AppState;

/// The header clients send.
pub const HEADER: &str = "idempotency-key";

fn answer(req: ServiceRequest, response: HttpResponse) -> ServiceResponse<BoxBody> {
    req.into_response(response)
}

/// Wraps every `/api/v1` call.
pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = req
        .headers()
        .get(HEADER)
        .map(|v| v.to_str().map(str::to_owned));
    let is_write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && !req.path().starts_with("/api/v1/auth/");
    let (Some(key), true) = (key, is_write) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let key = match key {
        Ok(k) if (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => k,
        _ => {
            let err = ApiError(Error::from(Invalid::new(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )));
            return Ok(answer(req, err.error_response()));
        }
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .expect("AppState is registered");
    let Some(token) = bearer(req.request()).map(str::to_owned) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let principal = match state.store.authenticate(&token).await {
        Ok(p) => p,
        Err(e) => return Ok(answer(req, ApiError(e).error_response())),
    };
    req.extensions_mut().insert(principal);
    let body = match crate::body::read_all(req.take_payload(), MAX_UPLOAD, "the body").await {
        Ok(body) => body,
        Err(e) => return Ok(answer(req, ApiError(e).error_response())),
    };
    let fingerprint = format!(
        "{} {} {}",
        req.method(),
        req.uri()
            .path_and_query()
            .map_or(req.path(), |p| p.as_str()),
        fingerprint(&body)
    );
    req.set_payload(Payload::from(body));
    let user = principal.user_id;
    match state
        .store
        .claim_idempotency_key(user, &key, &fingerprint)
        .await
    {
        Err(e) => Ok(answer(req, ApiError(e).error_response())),
        Ok(Claim::Replay(status, body)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut replay = HttpResponse::build(status);
            replay.insert_header(("idempotent-replayed", "true"));
            if !body.is_empty() {
                replay.content_type("application/json");
            }
            Ok(answer(req, replay.body(body)))
        }
        Ok(Claim::InFlight) => {
            let err = ApiError(Error::InProgress(
                "a request with this Idempotency-Key is still in progress; retry with the same key"
                    .into(),
            ));
            Ok(answer(req, err.error_response()))
        }
        Ok(Claim::Mismatch) => {
            let err = ApiError(Error::from(Invalid::new(
                "Idempotency-Key",
                "was already used for a different call",
            )));
            Ok(answer(req, err.error_response()))
        }
        Ok(Claim::Fresh) => {
            let response = next.call(req).await?;
            let status = response.status();
            if status.is_server_error() {
                state
                    .store
                    .release_idempotency_key(user, &key)
                    .await
                    .map_err(ApiError)?;
                return Ok(response.map_into_boxed_body());
            }
            let (request, response) = response.into_parts();
            let (head, body) = response.into_parts();
            let bytes = to_bytes(body)
                .await
                .map_err(|_| ApiError(Error::Unavailable("the answer could not be read".into())))?;
            state
                .store
                .finish_idempotent(user, &key, status.as_u16(), &bytes)
                .await
                .map_err(ApiError)?;
            Ok(ServiceResponse::new(
                request,
                head.set_body(bytes).map_into_boxed_body(),
            ))
        }
    }
}
