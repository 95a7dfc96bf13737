//! Request bodies arrive within a deadline: a client that declares a body and then
//! trickles or withholds it is answered 408 and its connection freed, instead of
//! holding a worker's attention (and, behind it, anything the handler holds) for as long
//! as it likes. The deadline runs from the start of the request: the configured base
//! (30 s), plus a second per 64 KiB declared, so large uploads on slow links still arrive.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use gonghui_actors::domain::Invalid;
use gonghui_actors::Error;

use crate::api_error::ApiError;
use crate::startup::MAX_JSON;
use crate::state::AppState;

/// A payload that fails with a timeout once its deadline passes.
struct Deadline<S> {
    inner: S,
    sleep: Pin<Box<tokio::time::Sleep>>,
    expired: bool,
}

impl<S> Stream for Deadline<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.expired = true;
                Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the body did not arrive in time",
                )))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The slowest a large body may come: an upload of 16 MiB over a poor mobile link still
/// makes it, a trickle of a byte a second does not.
const MIN_RATE: u64 = 64 * 1024;

/// How long a body of `declared` bytes may take: the base deadline, plus a second for
/// every [`MIN_RATE`] bytes.
fn deadline(base: Duration, declared: u64) -> Duration {
    base + Duration::from_secs(declared / MIN_RATE)
}

/// Wraps every `/api/v1` request's body in the node's body deadline, and refuses a JSON
/// body with a NUL character in any string (422, naming the field): Postgres cannot
/// store one, and no field of ours means one.
pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let base = req
        .app_data::<web::Data<AppState>>()
        .map_or(Duration::from_secs(30), |s| s.body_timeout);
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .unwrap_or(0);
    let limit = deadline(base, declared);
    let inner = req.take_payload();
    let bounded = Deadline {
        inner,
        sleep: Box::pin(tokio::time::sleep(limit)),
        expired: false,
    };
    let mut payload: Payload = Payload::Stream {
        payload: Box::pin(bounded),
    };
    let json = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if json {
        let body = match read_all(payload, MAX_JSON, "the body").await {
            Ok(body) => body,
            Err(e) => return Ok(req.error_response(ApiError(e)).map_into_right_body()),
        };
        // Only a body that spells a NUL is parsed a second time, to name the field.
        let named = escapes_nul(&body)
            .then(|| serde_json::from_slice::<serde_json::Value>(&body).ok())
            .flatten()
            .and_then(|v| nul_in(&v, String::new()));
        if let Some(field) = named {
            let invalid = Invalid::new(field, "must not contain a NUL character");
            return Ok(req
                .error_response(ApiError(Error::from(invalid)))
                .map_into_right_body());
        }
        payload = Payload::from(body);
    }
    req.set_payload(payload);
    Ok(next.call(req).await?.map_into_left_body())
}

/// Whether JSON text spells a NUL (`\u0000` after an odd run of backslashes, so an
/// escaped backslash followed by `u0000` does not count). A raw NUL byte is not JSON at
/// all, and the extractor refuses it.
fn escapes_nul(json: &[u8]) -> bool {
    json.windows(5).enumerate().any(|(i, w)| {
        w == b"u0000" && json[..i].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 1
    })
}

/// The path (`a.b[2]`) of the first string or key holding a NUL, if any.
fn nul_in(value: &serde_json::Value, at: String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => Some(at),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_in(v, format!("{at}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            if k.contains('\0') {
                Some(here)
            } else {
                nul_in(v, here)
            }
        }),
        _ => None,
    }
}

/// The core error for a body that could not be read: 408 when it came too slowly.
pub fn unreadable(e: &PayloadError) -> Error {
    match e {
        PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            Error::TooSlow("the request body did not arrive in time; send it at once".into())
        }
        other => Error::BadRequest(format!("the body could not be read: {other}")),
    }
}

/// Reads a whole body of at most `limit` bytes.
///
/// # Errors
/// `TooLarge` beyond the limit (named by `what`), `TooSlow` past the deadline,
/// `BadRequest` when the connection fails.
pub async fn read_all(mut payload: Payload, limit: usize, what: &str) -> Result<Bytes, Error> {
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| unreadable(&e))?;
        if body.len() + chunk.len() > limit {
            return Err(Error::TooLarge(format!("{what} is over {}", size(limit))));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A limit as a person reads it: `64 KiB`, `16 MiB`.
pub fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_in_the_unit_they_are_set_in() {
        assert_eq!(size(MAX_JSON), "64 KiB");
        assert_eq!(size(16 << 20), "16 MiB");
    }

    #[test]
    fn only_an_escaped_nul_is_found() {
        assert!(escapes_nul(br#"{"a": "x\u0000y"}"#));
        assert!(!escapes_nul(br#"{"a": "x\\u0000y"}"#));
        assert!(escapes_nul(br#"{"a": "x\\\u0000"}"#));
        assert!(!escapes_nul(br#"{"a": "u0000"}"#));
    }

    #[test]
    fn large_bodies_get_time_in_proportion() {
        let base = Duration::from_secs(30);
        assert_eq!(deadline(base, 100), base);
        assert_eq!(
            deadline(base, 16 * 1024 * 1024),
            Duration::from_secs(30 + 256)
        );
    }
}
