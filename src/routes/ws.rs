//! `GET /ws`: picks the codec from the subprotocol and starts a [`Session`].

use std::sync::atomic::Ordering;

use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws::WsResponseBuilder;
use gonghui_actors::Error;
use gonghui_protocol::Codec;

use crate::api_error::ApiError;
use crate::session::Session;
use crate::state::AppState;

const MSGPACK: &[&str] = &["gonghui.v1.msgpack"];
const JSON: &[&str] = &["gonghui.v1.json"];

/// Upgrades to a WebSocket speaking the first of the client's subprotocols that is ours
/// (MessagePack when it asks for none).
pub async fn ws(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    // Refused while the node can still answer: the files it keeps in reserve serve
    // `/healthz`, the database and the sockets it already has.
    if state
        .ws
        .max_sockets
        .is_some_and(|max| state.open_sockets.load(Ordering::SeqCst) >= max)
    {
        return Err(ApiError(Error::Busy(
            "this server holds all the connections it can; try another or later".into(),
        ))
        .into());
    }
    let requested: Vec<&str> = req
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
    let max_frame = state.ws.max_frame;
    let builder =
        WsResponseBuilder::new(Session::new(codec, state), &req, stream).frame_size(max_frame);
    let builder = match (requested.is_empty(), codec) {
        (true, _) => builder,
        (false, Codec::MsgPack) => builder.protocols(MSGPACK),
        (false, Codec::Json) => builder.protocols(JSON),
    };
    builder.start()
}
