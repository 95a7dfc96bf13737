//! The WebSocket messages of API.md. Every request carries a client-chosen `id` that its
//! reply echoes; events carry a per-topic `seq` that counts 1, 2, 3 … without gaps.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The client-chosen id of a request: a number or a string, echoed as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum RequestId {
    /// A numeric id.
    Int(i64),
    /// A textual id.
    Text(String),
}

/// Which of the three clients opened a session or a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    /// The admin web console.
    Console,
    /// The member app.
    App,
    /// The WeChat mini-program.
    Miniprogram,
}

impl ClientKind {
    /// The name stored in the database and shown on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::Console => "console",
            ClientKind::App => "app",
            ClientKind::Miniprogram => "miniprogram",
        }
    }

    /// Reads a stored name back; `None` for anything else.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "console" => Some(ClientKind::Console),
            "app" => Some(ClientKind::App),
            "miniprogram" => Some(ClientKind::Miniprogram),
            _ => None,
        }
    }
}

/// A frame a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ClientMsg {
    /// Authenticates the session; must come first, within 10 s.
    Hello {
        /// Echoed in the reply.
        id: RequestId,
        /// The bearer token from `POST /auth/login`.
        token: String,
        /// Which client this is.
        client: ClientKind,
    },
    /// Starts a topic's stream: a snapshot, or a resume after `since`.
    Subscribe {
        /// Echoed in the reply.
        id: RequestId,
        /// The topic name; parsed by the server so a bad one gets a reply with this id.
        topic: String,
        /// The last seq the client holds; omitted for a fresh snapshot.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
    },
    /// Stops a topic's stream.
    Unsubscribe {
        /// Echoed in the reply.
        id: RequestId,
        /// The topic name.
        topic: String,
    },
    /// Keeps the session alive and measures the round trip.
    Ping {
        /// Echoed in the reply.
        id: RequestId,
    },
}

/// The `{"code", "message", "fields"?}` object of every error, on HTTP and WebSocket alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// A stable machine-readable code (`bad_request`, `forbidden`, …).
    pub code: String,
    /// A sentence for people; never SQL or a stack trace.
    pub message: String,
    /// On `invalid`, which field was wrong and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
}

impl ErrorBody {
    /// An error without field details.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ErrorBody {
            code: code.to_owned(),
            message: message.into(),
            fields: None,
        }
    }
}

/// One change to one topic, as it reaches subscribers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventFrame {
    /// The topic name.
    pub topic: String,
    /// 1, 2, 3 … per topic, no gaps.
    pub seq: u64,
    /// What happened (`application.created`, …).
    pub kind: String,
    /// The commit time.
    #[serde(with = "crate::time::millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: DateTime<Utc>,
    /// The event's payload: see the kind's message.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Value,
}

/// A frame the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerMsg {
    /// The answer to one request.
    Reply {
        /// The request's id.
        id: RequestId,
        /// Whether it succeeded; then `data`, else `error`.
        ok: bool,
        /// The result on success.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        data: Option<Value>,
        /// The failure otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ErrorBody>,
    },
    /// A change on a subscribed topic.
    Event(EventFrame),
    /// The server ended a subscription because the user may no longer read the topic
    /// (an admin removed or demoted, a member who left); no more events of it follow.
    Unsubscribed {
        /// The topic that ended.
        topic: String,
        /// Why (`forbidden`).
        error: ErrorBody,
    },
    /// A frame that could not be read; the connection stays open.
    Error {
        /// What was wrong with it.
        error: ErrorBody,
    },
}

impl ServerMsg {
    /// A successful reply.
    pub fn ok(id: RequestId, data: Value) -> Self {
        ServerMsg::Reply {
            id,
            ok: true,
            data: Some(data),
            error: None,
        }
    }

    /// A failed reply.
    pub fn failed(id: RequestId, error: ErrorBody) -> Self {
        ServerMsg::Reply {
            id,
            ok: false,
            data: None,
            error: Some(error),
        }
    }
}
