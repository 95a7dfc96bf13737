//! Request extractors: the authenticated caller, and the error handlers that turn
//! unreadable bodies, paths and queries into API.md errors instead of actix's defaults.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header::HeaderMap;
use actix_web::{dev::Payload, web, FromRequest, HttpMessage, HttpRequest};
use gonghui_actors::store::tokens::Principal;
use gonghui_actors::Error;

use crate::api_error::{too_large, ApiError};
use crate::state::AppState;

/// The user behind the request's bearer token.
pub struct Authed(pub Principal);

/// The bearer token of a request, if it sent one.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

impl FromRequest for Authed {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if let Some(principal) = req.extensions().get::<Principal>() {
            return Box::pin(std::future::ready(Ok(Authed(*principal))));
        }
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req).map(str::to_owned);
        let req = req.clone();
        Box::pin(async move {
            let token = token.ok_or_else(|| {
                Error::Unauthenticated("send Authorization: Bearer <token>".into())
            })?;
            let state = state.expect("AppState is registered");
            let principal = state.store.authenticate(&token).await?;
            // Kept for the access log's user id (and any later extractor).
            req.extensions_mut().insert(principal);
            Ok(Authed(principal))
        })
    }
}

/// The client's address, which login limits count by: the peer's, or, behind a proxy
/// trusted with `GONGHUI_TRUST_FORWARDED_FOR`, the last address in `X-Forwarded-For`
/// (the one the proxy itself saw; earlier entries are the client's to forge).
pub struct ClientAddr(pub IpAddr);

impl FromRequest for ClientAddr {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let trusted = req
            .app_data::<web::Data<AppState>>()
            .is_some_and(|s| s.trust_forwarded_for);
        std::future::ready(
            client_address(req.headers(), req.peer_addr(), trusted)
                .map(ClientAddr)
                .ok_or_else(|| ApiError(Error::BadRequest("no client address".into()))),
        )
    }
}

/// The client's address from a request's headers and peer (see [`ClientAddr`]); the
/// WebSocket upgrade, which has no `HttpRequest`, asks this too.
pub fn client_address(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trust_forwarded_for: bool,
) -> Option<IpAddr> {
    let forwarded = trust_forwarded_for
        .then(|| headers.get("x-forwarded-for")?.to_str().ok())
        .flatten()
        .and_then(|list| list.rsplit(',').next()?.trim().parse().ok());
    forwarded.or(peer.map(|a| a.ip()))
}

/// Bodies: malformed JSON and well-formed JSON of the wrong shape are 400 (a field that
/// parses but fails validation is 422, later), too big is 413.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, _| {
            let answer = match &err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => {
                    return actix_web::error::InternalError::from_response(
                        err,
                        too_large(&format!(
                            "the body is over {} unpacked",
                            crate::body::size(limit)
                        )),
                    )
                    .into()
                }
                JsonPayloadError::ContentType => {
                    Error::BadRequest("send Content-Type: application/json".into())
                }
                JsonPayloadError::Deserialize(e) if e.is_data() => {
                    Error::BadRequest(format!("the body has the wrong shape: {e}"))
                }
                JsonPayloadError::Deserialize(e) => {
                    Error::BadRequest(format!("the body is not valid JSON: {e}"))
                }
                JsonPayloadError::Payload(e) => crate::body::unreadable(e),
                other => Error::BadRequest(format!("the body could not be read: {other}")),
            };
            ApiError(answer).into()
        })
}

/// Path segments that do not parse (`/unions/abc/…`) are 404: no such resource.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, _| {
        ApiError(Error::NotFound(format!("no such resource: {err}"))).into()
    })
}

/// A query value outside its closed set (`?status=`, `?format=`, `?file=` …): 400
/// `bad_request` naming the choices, the one rule for every call.
pub fn unknown_value(name: &str, value: &str, choices: &[&str]) -> Error {
    Error::BadRequest(format!(
        "{name} {:?} is not one of {}",
        value.chars().take(40).collect::<String>(),
        choices.join(", ")
    ))
}

/// Query strings that do not parse are 400.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _| {
        ApiError(Error::BadRequest(format!("bad query string: {err}"))).into()
    })
}
