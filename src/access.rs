//! Request ids and the access log. Every HTTP request gets an id — the client's
//! `X-Request-Id` when it is a sane one, else a new one — returned in the response's
//! `X-Request-Id` and carried by every log line written while the request is served (a
//! `request{id=…}` span); when it is answered, one line at target `gonghui::access` says
//! its method, route (the pattern, never the path: paths hold ids and codes), status,
//! time and user id. Nothing of a token, a body or a query string is logged. The same
//! answer is counted in `gonghui_http_requests_total` and its time in
//! `gonghui_http_request_duration_seconds`, by route pattern.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};
use gonghui_actors::store::tokens::Principal;
use rand::RngCore;
use tracing::Instrument;

use crate::state::AppState;

/// The header a request id travels in, both ways.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// The route of a request that matched none (its path is not logged or counted: a
/// scanner would make a series per path).
const UNMATCHED: &str = "-";
/// The longest request id taken from a client.
const MAX_LEN: usize = 64;

/// A request's id: at most [`MAX_LEN`] letters, digits, `-`, `_`, `.` or `:`.
struct RequestId(HeaderValue);

impl RequestId {
    /// The client's id, when it sent a sane one.
    fn sent(req: &ServiceRequest) -> Option<Self> {
        let value = req.headers().get(&HEADER)?;
        let sane = (1..=MAX_LEN).contains(&value.len())
            && value
                .as_bytes()
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b));
        sane.then(|| RequestId(value.clone()))
    }

    /// A new id: 128 random bits in hex.
    fn new() -> Self {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        RequestId(HeaderValue::from_str(&hex).expect("hex is a header value"))
    }

    fn as_str(&self) -> &str {
        self.0.to_str().expect("checked or made ASCII")
    }
}

/// Gives each request its id and logs it once answered.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = RequestId::sent(&req).unwrap_or_else(RequestId::new);
    let span = tracing::info_span!("request", id = %id.as_str());
    let started = Instant::now();
    let method = req.method().clone();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.store.metrics().clone());
    let answered = next.call(req).instrument(span.clone()).await;
    let (route, status, user) = match &answered {
        Ok(res) => {
            let request = res.request();
            let user = request.extensions().get::<Principal>().map(|p| p.user_id);
            (request.match_pattern(), res.status(), user)
        }
        Err(e) => (None, e.as_response_error().status_code(), None),
    };
    let route = route.as_deref().unwrap_or(UNMATCHED);
    let took = started.elapsed().as_secs_f64();
    if let Some(metrics) = metrics {
        let method = known(&method);
        metrics
            .http_requests
            .with_label_values(&[method, route, status.as_str()])
            .inc();
        metrics
            .http_seconds
            .with_label_values(&[method, route])
            .observe(took);
    }
    span.in_scope(|| {
        tracing::info!(
            target: "gonghui::access",
            method = %method,
            route = %route,
            status = status.as_u16(),
            ms = took * 1e3,
            user,
            "answered"
        );
    });
    match answered {
        Ok(mut res) => {
            res.headers_mut().insert(HEADER, id.0);
            Ok(res)
        }
        // What a layer below failed with is answered as it would be, with the id.
        Err(e) => {
            let mut response = e.error_response();
            response.headers_mut().insert(HEADER, id.0);
            Err(InternalError::from_response(e, response).into())
        }
    }
}

/// A method as a label: a standard one by name, any other as `other` (a client may
/// send any token as a method, and each would be a new series).
fn known(method: &Method) -> &'static str {
    const STANDARD: [(Method, &str); 7] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
    ];
    STANDARD
        .iter()
        .find(|(m, _)| m == method)
        .map_or("other", |(_, name)| name)
}
