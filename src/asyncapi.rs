//! The WebSocket contract as an AsyncAPI 3.0 document, served at
//! `/api/v1/asyncapi.json`: the frames' schemas come from the same Rust types as the
//! codec (through utoipa), and one message per event kind from the protocol's
//! catalogue, which the server checks every event against.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use gonghui_protocol::dto::{HelloReply, SubscribeReply};
use gonghui_protocol::events::EVENT_KINDS;
use gonghui_protocol::{ClientKind, ClientMsg, ErrorBody, EventFrame, RequestId, ServerMsg};
use serde_json::{json, Map, Value};
use utoipa::OpenApi;

/// The frame types whose schemas the document carries.
#[derive(OpenApi)]
#[openapi(components(schemas(
    ClientMsg,
    ServerMsg,
    EventFrame,
    ErrorBody,
    RequestId,
    ClientKind,
    HelloReply,
    SubscribeReply
)))]
struct Frames;

/// The document, built once.
static DOCUMENT: LazyLock<Value> = LazyLock::new(document);

/// Builds the document.
pub fn document() -> Value {
    let schemas = Frames::openapi()
        .components
        .map(|c| serde_json::to_value(c.schemas).unwrap_or_default())
        .unwrap_or_default();
    let mut messages = Map::new();
    messages.insert(
        "clientFrame".into(),
        json!({
            "name": "ClientMsg",
            "summary": "A request: hello (first, within 10 s), subscribe, unsubscribe or ping; every one has an id its reply echoes.",
            "payload": {"$ref": "#/components/schemas/ClientMsg"},
        }),
    );
    messages.insert(
        "serverFrame".into(),
        json!({
            "name": "ServerMsg",
            "summary": "A reply, an event, an unsubscribed notice or an error frame.",
            "payload": {"$ref": "#/components/schemas/ServerMsg"},
        }),
    );
    for event in EVENT_KINDS {
        messages.insert(
            event.kind.into(),
            json!({
                "name": event.kind,
                "summary": format!("On {} topics. data: {}", event.topics.join(", "), event.data),
                "payload": {"allOf": [
                    {"$ref": "#/components/schemas/EventFrame"},
                    {"type": "object", "properties": {
                        "type": {"const": "event"},
                        "kind": {"const": event.kind},
                    }},
                ]},
            }),
        );
    }
    let channel_messages: Map<String, Value> = messages
        .keys()
        .map(|name| {
            (
                name.clone(),
                json!({"$ref": format!("#/components/messages/{name}")}),
            )
        })
        .collect();
    let received: Vec<Value> = messages
        .keys()
        .filter(|name| *name != "clientFrame")
        .map(|name| json!({"$ref": format!("#/channels/socket/messages/{name}")}))
        .collect();
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "gonghui WebSocket",
            "version": "1",
            "description": "The socket of docs/PROTOCOL.md. Subprotocol gonghui.v1.msgpack (binary frames, MessagePack maps with these field names) or gonghui.v1.json (text frames); both carry the same messages.",
        },
        "defaultContentType": "application/json",
        "channels": {
            "socket": {
                "address": "/ws",
                "description": "One socket per client: hello, then subscribe to topics (member:{id}, union:{id}, union:{id}:admin, activity:{id}); events follow in seq order.",
                "messages": channel_messages,
            }
        },
        "operations": {
            "request": {
                "action": "send",
                "channel": {"$ref": "#/channels/socket"},
                "messages": [{"$ref": "#/channels/socket/messages/clientFrame"}],
            },
            "receive": {
                "action": "receive",
                "channel": {"$ref": "#/channels/socket"},
                "messages": received,
            },
        },
        "components": {"schemas": schemas, "messages": messages},
    })
}

/// Serves the document.
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(&*DOCUMENT)
}
