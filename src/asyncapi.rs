//! The WebSocket contract as an AsyncAPI 3.0 document, served at
//! `/api/v1/asyncapi.json`: the frames' schemas come from the same Rust types as the
//! codec (through utoipa), and one message per event kind from the protocol's
//! catalogue, which the server's debug builds (every test) check each event against.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use gonghui_protocol::dto::{
    Activity, Application, CommitteeTerm, HelloReply, MembersChanged, Membership, MyPrize,
    NewsSummary, Notification, OrgRequest, Receipt, Results, SubscribeReply, Union, User,
};
use gonghui_protocol::events::{Data, EVENT_KINDS};
use gonghui_protocol::{ClientKind, ClientMsg, ErrorBody, EventFrame, RequestId, ServerMsg};
use serde_json::{json, Map, Value};
use utoipa::OpenApi;

/// The frame types, and the contract types events carry, whose schemas the document holds.
#[derive(OpenApi)]
#[openapi(components(schemas(
    ClientMsg,
    ServerMsg,
    EventFrame,
    ErrorBody,
    RequestId,
    ClientKind,
    HelloReply,
    SubscribeReply,
    Activity,
    Application,
    CommitteeTerm,
    Membership,
    MembersChanged,
    MyPrize,
    NewsSummary,
    Notification,
    OrgRequest,
    Receipt,
    Results,
    Union,
    User
)))]
struct Frames;

/// The JSON Schema of one field type of [`Data`].
fn field_schema(ty: &str) -> Value {
    match ty {
        "integer" => json!({"type": "integer"}),
        "string" => json!({"type": "string"}),
        "date-time" => json!({"type": "string", "format": "date-time"}),
        "integer[]" => json!({"type": "array", "items": {"type": "integer"}}),
        "string[]" => json!({"type": "array", "items": {"type": "string"}}),
        name => json!({"$ref": format!("#/components/schemas/{name}")}),
    }
}

/// The JSON Schema of an event's `data`.
fn data_schema(data: &Data) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (name, ty) in data.0 {
        let bare = name.trim_end_matches('?');
        if bare == *name {
            required.push(json!(bare));
        }
        properties.insert(bare.to_owned(), field_schema(ty));
    }
    json!({"type": "object", "required": required, "properties": properties})
}

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
        let topics: Vec<&str> = event.topics.iter().map(|t| t.as_str()).collect();
        messages.insert(
            event.kind.into(),
            json!({
                "name": event.kind,
                "summary": format!("On {} topics.", topics.join(", ")),
                // The same, for generators: the topic kinds that carry this event.
                "x-topics": topics,
                "payload": {"allOf": [
                    {"$ref": "#/components/schemas/EventFrame"},
                    {"type": "object", "properties": {
                        "type": {"const": "event"},
                        "kind": {"const": event.kind},
                        "data": data_schema(&event.data),
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
    let mut doc = json!({
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
    });
    crate::openapi::enumerate_closed_sets(&mut doc);
    doc
}

/// Serves the document.
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(&*DOCUMENT)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_reference_resolves() {
        let doc = super::document();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(
                schemas.contains_key(&name),
                "{name} is referenced but missing"
            );
        }
    }
}
