//! WebSocket upgrades. The HTTP server hands every `Upgrade: websocket` request here
//! together with its connection; a good one to `/ws` is answered 101 and its socket
//! given to a [`Session`], which owns it from then on (no HTTP dispatcher or its buffers
//! stay behind). Anything else is answered with an API error and closed.
//!
//! The codec is the first of the client's subprotocols that is ours (MessagePack when it
//! asks for none).

use actix_codec::{Framed, FramedParts};
use actix_http::body::{BodySize, MessageBody};
use actix_http::{h1, ConnectionType, Request};
use actix_service::{fn_service, ServiceFactory};
use actix_web::rt::net::TcpStream;
use actix_web::{web, HttpMessage, ResponseError};
use futures_util::SinkExt;
use gonghui_actors::Error;
use gonghui_protocol::Codec;
use std::sync::atomic::Ordering;

use crate::api_error::ApiError;
use crate::extract::client_address;
use crate::session::anonymous::Admission;
use crate::session::Session;
use crate::socket::Socket;
use crate::state::AppState;

/// The path WebSockets are served on.
pub const PATH: &str = "/ws";

/// The service the HTTP server calls with each upgrade request.
pub fn service(
    state: web::Data<AppState>,
) -> impl ServiceFactory<
    (Request, Framed<TcpStream, h1::Codec>),
    Config = (),
    Response = (),
    Error = actix_web::Error,
    InitError = (),
> {
    fn_service(move |(req, framed)| upgrade(req, framed, state.clone()))
}

/// Answers one upgrade request; for a session, resolves when its socket is closed, so the
/// server counts the connection as open until then (its limits and graceful stop).
async fn upgrade(
    req: Request,
    mut framed: Framed<TcpStream, h1::Codec>,
    state: web::Data<AppState>,
) -> Result<(), actix_web::Error> {
    let accepted = accept(&req, &state);
    // Nothing of the request, nor the HTTP codec's buffers, may live as long as the session.
    drop(req);
    let (codec, admission, response) = match accepted {
        Ok(accepted) => accepted,
        Err(refusal) => return refuse(framed, refusal).await,
    };
    framed
        .send(h1::Message::Item((response, BodySize::None)))
        .await?;
    let FramedParts { io, read_buf, .. } = framed.into_parts();
    let (socket, over) = Socket::open(io, state.clone());
    Session::start(socket, read_buf, codec, admission, state);
    let _ = over.await;
    Ok(())
}

/// The 101 answer, the codec and the socket's place among its address's anonymous
/// ones, or why not.
fn accept(
    req: &Request,
    state: &AppState,
) -> Result<(Codec, Admission, actix_http::Response<()>), ApiError> {
    if req.path() != PATH {
        return Err(ApiError(Error::NotFound(format!(
            "WebSockets are served on {PATH}"
        ))));
    }
    // Refused while the node can still answer: the files it keeps in reserve serve
    // `/healthz`, the database and the sockets it already has.
    if state
        .ws
        .max_sockets
        .is_some_and(|max| state.open_sockets.load(Ordering::SeqCst) >= max)
    {
        return Err(ApiError(Error::Busy(
            "this server holds all the connections it can; try another or later".into(),
        )));
    }
    let address = client_address(req.headers(), req.peer_addr(), state.trust_forwarded_for)
        .ok_or_else(|| ApiError(Error::BadRequest("no client address".into())))?;
    let admission = state.anonymous.admit(address).ok_or_else(|| {
        ApiError(Error::rate_limited(
            "too many connections from your address are still to say hello; try again shortly",
            1,
        ))
    })?;
    let requested: Vec<&str> = req
        .head()
        .headers()
        .get_all("sec-websocket-protocol")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    let codec = if requested.is_empty() {
        Codec::MsgPack
    } else {
        requested
            .iter()
            .find_map(|name| Codec::from_subprotocol(name))
            .ok_or_else(|| {
                ApiError(Error::BadRequest(
                    "ask for subprotocol gonghui.v1.msgpack or gonghui.v1.json".into(),
                ))
            })?
    };
    let mut response = actix_http::ws::handshake(req.head())
        .map_err(|e| ApiError(Error::BadRequest(format!("not a WebSocket handshake: {e}"))))?;
    if !requested.is_empty() {
        response.insert_header(("sec-websocket-protocol", codec.subprotocol()));
    }
    Ok((codec, admission, response.finish().drop_body()))
}

/// Answers a refused upgrade with the API's error body and closes the connection.
async fn refuse(
    mut framed: Framed<TcpStream, h1::Codec>,
    refusal: ApiError,
) -> Result<(), actix_web::Error> {
    let response = actix_http::Response::from(refusal.error_response());
    let (mut head, body) = response.into_parts();
    head.head_mut().set_connection_type(ConnectionType::Close);
    let body = body.try_into_bytes().unwrap_or_default();
    framed
        .send(h1::Message::Item((
            head,
            BodySize::Sized(body.len() as u64),
        )))
        .await?;
    framed.send(h1::Message::Chunk(Some(body))).await?;
    framed.send(h1::Message::Chunk(None)).await?;
    Ok(())
}
