//! A real WebSocket client speaking the protocol crate's frames.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use gonghui_protocol::dto::{HelloReply, SubscribeReply};
use gonghui_protocol::{
    decode, encode, ClientKind, ClientMsg, Codec, ErrorBody, EventFrame, RequestId, ServerMsg,
    WireFrame,
};
use serde_json::Value;

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use super::WAIT;

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A real WebSocket client speaking the protocol crate's frames.
pub struct WsClient {
    pub stream: Stream,
    pub codec: Codec,
    next_id: i64,
    events: VecDeque<EventFrame>,
}

/// How a socket ended.
#[derive(Debug, PartialEq)]
pub enum Ended {
    Closed(u16),
    Dropped,
}

impl WsClient {
    pub async fn connect(url: &str, codec: Codec) -> WsClient {
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            codec.subprotocol().parse().unwrap(),
        );
        let (stream, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the socket opens");
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            codec.subprotocol()
        );
        Self::from_stream(stream, codec)
    }

    /// A client around a socket opened elsewhere.
    pub fn from_stream(stream: Stream, codec: Codec) -> WsClient {
        WsClient {
            stream,
            codec,
            next_id: 0,
            events: VecDeque::new(),
        }
    }

    pub async fn send(&mut self, msg: &ClientMsg) {
        let frame = match encode(self.codec, msg).unwrap() {
            WireFrame::Binary(b) => Message::Binary(b.to_vec()),
            WireFrame::Text(t) => Message::Text(t),
        };
        self.stream.send(frame).await.unwrap();
    }

    /// The next server message, skipping control frames; panics on close or timeout.
    pub async fn recv(&mut self) -> ServerMsg {
        loop {
            let frame = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("a frame in time")
                .expect("the socket is open")
                .unwrap();
            match frame {
                Message::Binary(b) => return decode(self.codec, &b).unwrap(),
                Message::Text(t) => return decode(self.codec, t.as_bytes()).unwrap(),
                Message::Close(c) => panic!("closed unexpectedly: {c:?}"),
                _ => {}
            }
        }
    }

    fn id(&mut self) -> RequestId {
        self.next_id += 1;
        RequestId::Int(self.next_id)
    }

    /// Sends a request and waits for its reply, keeping events that arrive meanwhile.
    pub async fn request(
        &mut self,
        make: impl FnOnce(RequestId) -> ClientMsg,
    ) -> Result<Value, ErrorBody> {
        let id = self.id();
        self.send(&make(id.clone())).await;
        loop {
            match self.recv().await {
                ServerMsg::Reply {
                    id: got,
                    ok,
                    data,
                    error,
                } if got == id => {
                    return if ok {
                        Ok(data.unwrap_or(Value::Null))
                    } else {
                        Err(error.unwrap())
                    };
                }
                ServerMsg::Event(e) => self.events.push_back(e),
                other => panic!("unexpected while waiting for a reply: {other:?}"),
            }
        }
    }

    /// Says hello and subscribes to each of `topics` (panicking on a refusal); returns the
    /// subscribe replies in order.
    pub async fn watch(
        &mut self,
        token: &str,
        client: ClientKind,
        topics: &[impl AsRef<str>],
    ) -> Vec<SubscribeReply> {
        self.hello(token, client).await;
        let mut replies = Vec::new();
        for topic in topics {
            replies.push(
                self.subscribe(topic.as_ref(), None)
                    .await
                    .expect("subscribed"),
            );
        }
        replies
    }

    pub async fn hello(&mut self, token: &str, client: ClientKind) -> HelloReply {
        self.hello_owned(token.to_owned(), client).await
    }

    pub async fn hello_owned(&mut self, token: String, client: ClientKind) -> HelloReply {
        let data = self
            .request(|id| ClientMsg::Hello { id, token, client })
            .await
            .expect("hello succeeds");
        serde_json::from_value(data).unwrap()
    }

    pub async fn subscribe(
        &mut self,
        topic: &str,
        since: Option<u64>,
    ) -> Result<SubscribeReply, ErrorBody> {
        let topic = topic.to_owned();
        self.request(|id| ClientMsg::Subscribe { id, topic, since })
            .await
            .map(|d| serde_json::from_value(d).unwrap())
    }

    pub async fn next_event(&mut self) -> EventFrame {
        if let Some(e) = self.events.pop_front() {
            return e;
        }
        match self.recv().await {
            ServerMsg::Event(e) => e,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    /// The next event of `kind` on `topic`, skipping others.
    pub async fn event_of(&mut self, topic: &str, kind: &str) -> EventFrame {
        loop {
            let e = self.next_event().await;
            if e.topic == topic && e.kind == kind {
                return e;
            }
        }
    }

    /// Asserts that no event arrives within `within`.
    pub async fn assert_quiet(&mut self, within: Duration) {
        assert!(
            self.events.is_empty(),
            "unexpected buffered events: {:?}",
            self.events
        );
        if let Ok(Some(Ok(frame))) = tokio::time::timeout(within, self.stream.next()).await {
            assert!(
                !matches!(frame, Message::Binary(_) | Message::Text(_)),
                "unexpected frame {frame:?}"
            );
        }
    }

    /// Reads until the server ends a subscription; returns its topic and error, and
    /// keeps events that arrive meanwhile.
    pub async fn unsubscribed(&mut self) -> (String, ErrorBody) {
        loop {
            match self.recv().await {
                ServerMsg::Unsubscribed { topic, error } => return (topic, error),
                ServerMsg::Event(e) => self.events.push_back(e),
                other => panic!("unexpected while waiting for unsubscribed: {other:?}"),
            }
        }
    }

    /// Reads until the socket ends; returns how, and the events read on the way.
    pub async fn until_closed(&mut self) -> (Ended, Vec<EventFrame>) {
        let mut events: Vec<EventFrame> = self.events.drain(..).collect();
        loop {
            match tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("the socket ends in time")
            {
                Some(Ok(Message::Close(frame))) => {
                    return (
                        Ended::Closed(frame.map_or(1005, |f| u16::from(f.code))),
                        events,
                    );
                }
                Some(Ok(Message::Binary(b))) => {
                    if let ServerMsg::Event(e) = decode(self.codec, &b).unwrap() {
                        events.push(e)
                    }
                }
                Some(Ok(Message::Text(t))) => {
                    if let ServerMsg::Event(e) = decode(self.codec, t.as_bytes()).unwrap() {
                        events.push(e)
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return (Ended::Dropped, events),
            }
        }
    }
}
