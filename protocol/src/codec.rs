//! The two subprotocols and the one place frames are encoded and decoded. MessagePack is
//! written with named fields (maps, not arrays) so that both codecs carry the same shape.

use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::frames::RequestId;
use serde::Serialize;

/// Which subprotocol a session speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// `gonghui.v1.msgpack`: binary frames, the default.
    MsgPack,
    /// `gonghui.v1.json`: text frames.
    Json,
}

impl Codec {
    /// Every subprotocol, in the server's order of preference.
    pub const ALL: [Codec; 2] = [Codec::MsgPack, Codec::Json];

    /// The `Sec-WebSocket-Protocol` name.
    pub fn subprotocol(self) -> &'static str {
        match self {
            Codec::MsgPack => "gonghui.v1.msgpack",
            Codec::Json => "gonghui.v1.json",
        }
    }

    /// The codec for a subprotocol name, if it is ours.
    pub fn from_subprotocol(name: &str) -> Option<Self> {
        Codec::ALL
            .into_iter()
            .find(|c| c.subprotocol() == name.trim())
    }
}

/// An encoded frame: binary for MessagePack, text for JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireFrame {
    /// A binary WebSocket frame.
    Binary(Bytes),
    /// A text WebSocket frame.
    Text(String),
}

/// A frame that could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Invalid JSON or a JSON value of the wrong shape.
    #[error("unreadable JSON frame: {0}")]
    Json(#[from] serde_json::Error),
    /// Invalid MessagePack or a value of the wrong shape.
    #[error("unreadable MessagePack frame: {0}")]
    MsgPackDecode(#[from] rmp_serde::decode::Error),
    /// A value MessagePack cannot represent.
    #[error("cannot encode MessagePack: {0}")]
    MsgPackEncode(#[from] rmp_serde::encode::Error),
}

/// Encodes any wire message in the session's codec.
///
/// # Errors
/// Only for values the codec cannot represent, which none of ours are.
pub fn encode<T: Serialize>(codec: Codec, msg: &T) -> Result<WireFrame, CodecError> {
    Ok(match codec {
        Codec::MsgPack => WireFrame::Binary(Bytes::from(rmp_serde::to_vec_named(msg)?)),
        Codec::Json => WireFrame::Text(serde_json::to_string(msg)?),
    })
}

/// Decodes a frame's payload in the session's codec, whichever frame type carried it.
///
/// # Errors
/// When the bytes are not valid in that codec or not of the expected shape.
pub fn decode<T: DeserializeOwned>(codec: Codec, payload: &[u8]) -> Result<T, CodecError> {
    Ok(match codec {
        Codec::MsgPack => rmp_serde::from_slice(payload)?,
        Codec::Json => serde_json::from_slice(payload)?,
    })
}

/// The `id` of a request frame that did not decode as a whole (a missing or mistyped
/// field), so its error can still answer that request.
pub fn request_id(codec: Codec, payload: &[u8]) -> Option<RequestId> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: Option<RequestId>,
    }
    decode::<IdOnly>(codec, payload).ok()?.id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::{ClientKind, ClientMsg, ErrorBody, EventFrame, RequestId, ServerMsg};
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    fn payload(frame: &WireFrame) -> &[u8] {
        match frame {
            WireFrame::Binary(b) => b,
            WireFrame::Text(t) => t.as_bytes(),
        }
    }

    fn client_msgs() -> Vec<ClientMsg> {
        vec![
            ClientMsg::Hello {
                id: RequestId::Int(1),
                token: "t".into(),
                client: ClientKind::Miniprogram,
            },
            ClientMsg::Subscribe {
                id: RequestId::Text("a".into()),
                topic: "union:1".into(),
                since: Some(9),
            },
            ClientMsg::Subscribe {
                id: RequestId::Int(2),
                topic: "member:1".into(),
                since: None,
            },
            ClientMsg::Unsubscribe {
                id: RequestId::Int(3),
                topic: "union:1:admin".into(),
            },
            ClientMsg::Ping {
                id: RequestId::Int(-4),
            },
        ]
    }

    fn server_msgs() -> Vec<ServerMsg> {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap();
        vec![
            ServerMsg::ok(
                RequestId::Int(1),
                json!({"seq": 3, "snapshot": {"pending": []}, "reset": false}),
            ),
            ServerMsg::failed(
                RequestId::Text("x".into()),
                ErrorBody::new("forbidden", "no"),
            ),
            ServerMsg::Unsubscribed {
                topic: "union:1:admin".into(),
                error: ErrorBody::new("forbidden", "you may no longer read union:1:admin"),
            },
            ServerMsg::Event(EventFrame {
                topic: "union:1".into(),
                seq: 7,
                kind: "member.joined".into(),
                at,
                data: json!({"membership": {"union_id": 1, "user_id": 2}}),
            }),
            ServerMsg::Error {
                error: ErrorBody::new("bad_request", "unreadable"),
            },
        ]
    }

    #[test]
    fn a_broken_request_still_gives_up_its_id() {
        let frame = json!({"type": "subscribe", "id": 7});
        for codec in [Codec::Json, Codec::MsgPack] {
            let bytes = encode(codec, &frame).unwrap();
            assert!(decode::<ClientMsg>(codec, payload(&bytes)).is_err());
            assert_eq!(request_id(codec, payload(&bytes)), Some(RequestId::Int(7)));
        }
        assert_eq!(request_id(Codec::Json, b"{not json"), None);
    }

    #[test]
    fn every_message_round_trips_in_both_codecs() {
        for codec in Codec::ALL {
            for msg in client_msgs() {
                let frame = encode(codec, &msg).unwrap();
                assert_eq!(decode::<ClientMsg>(codec, payload(&frame)).unwrap(), msg);
            }
            for msg in server_msgs() {
                let frame = encode(codec, &msg).unwrap();
                assert_eq!(decode::<ServerMsg>(codec, payload(&frame)).unwrap(), msg);
            }
        }
    }

    #[test]
    fn msgpack_uses_named_fields_like_json() {
        let msg = ServerMsg::ok(RequestId::Int(5), json!({"seq": 1}));
        let frame = encode(Codec::MsgPack, &msg).unwrap();
        let as_json: serde_json::Value = rmp_serde::from_slice(payload(&frame)).unwrap();
        assert_eq!(
            as_json,
            json!({"type": "reply", "id": 5, "ok": true, "data": {"seq": 1}})
        );
        assert!(matches!(frame, WireFrame::Binary(_)));
        assert!(matches!(
            encode(Codec::Json, &msg).unwrap(),
            WireFrame::Text(_)
        ));
    }

    #[test]
    fn json_frames_read_as_api_md_writes_them() {
        let raw = br#"{"type": "subscribe", "id": 4, "topic": "union:3:admin", "since": 12}"#;
        let msg: ClientMsg = decode(Codec::Json, raw).unwrap();
        assert_eq!(
            msg,
            ClientMsg::Subscribe {
                id: RequestId::Int(4),
                topic: "union:3:admin".into(),
                since: Some(12)
            }
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for codec in Codec::ALL {
            for raw in [
                &b""[..],
                b"\xc1\xff",
                b"{\"type\":\"launch\",\"id\":1}",
                b"[1,2,3]",
                b"{\"type\":\"hello\"}",
            ] {
                assert!(decode::<ClientMsg>(codec, raw).is_err());
            }
        }
    }

    #[test]
    fn subprotocol_names_map_to_codecs() {
        assert_eq!(
            Codec::from_subprotocol("gonghui.v1.json"),
            Some(Codec::Json)
        );
        assert_eq!(
            Codec::from_subprotocol(" gonghui.v1.msgpack"),
            Some(Codec::MsgPack)
        );
        assert_eq!(Codec::from_subprotocol("chat"), None);
    }
}
