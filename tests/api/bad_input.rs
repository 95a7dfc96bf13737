use std::time::Duration;

use futures_util::SinkExt;
use gonghui_protocol::{encode, ClientKind, ClientMsg, Codec, RequestId, ServerMsg, WireFrame};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{Cluster, Ended};

#[actix_rt::test]
async fn bad_http_input_gets_the_documented_error_and_writes_nothing() {
    let cluster = Cluster::start(1).await;
    let (token, user) = cluster.login_sms(0, "13855550000", "app").await;
    let raw = |path: &str, body: &'static str| {
        cluster
            .http
            .post(cluster.url(0, path))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let malformed = raw("/me/verification", "{\"name\": ").await.unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(
        malformed.json::<Value>().await.unwrap()["error"]["code"],
        "bad_request"
    );
    let wrong_types = raw("/me/verification", "{\"name\": 5, \"id_number\": []}")
        .await
        .unwrap();
    assert_eq!(wrong_types.status(), 400);

    let bad_digit = cluster
        .post(
            0,
            &token,
            "/me/verification",
            &json!({"name": "张三", "id_number": "440101199003070011"}),
        )
        .await;
    assert_eq!(bad_digit.status(), 422);
    let body: Value = bad_digit.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid");
    assert!(body["error"]["fields"]["id_number"]
        .as_str()
        .unwrap()
        .contains("check digit"));

    let bad_phone = cluster
        .http
        .post(cluster.url(0, "/auth/sms-codes"))
        .json(&json!({"phone": "12345"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_phone.status(), 422);
    assert!(bad_phone.json::<Value>().await.unwrap()["error"]["fields"]["phone"].is_string());

    let bogus = cluster
        .http
        .get(cluster.url(0, "/me"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(bogus.status(), 401);
    let unknown_union = cluster
        .post(
            0,
            &token,
            "/unions/abc/applications",
            &json!({"kind": "join"}),
        )
        .await;
    assert_eq!(unknown_union.status(), 404);
    let not_verified = cluster
        .post(
            0,
            &token,
            &format!("/unions/{}/applications", cluster.root_union),
            &json!({"kind": "join"}),
        )
        .await;
    assert_eq!(not_verified.status(), 403);
    let huge = "x".repeat(70 * 1024);
    let too_big = cluster
        .http
        .post(cluster.url(0, "/me/verification"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(format!("{{\"name\": \"{huge}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);

    let verified: bool = cluster
        .db
        .query_one(
            "SELECT verified_at IS NOT NULL FROM users WHERE id = $1",
            &[&user],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!verified, "nothing was written");
    assert_eq!(
        cluster
            .http
            .get(format!("{}/healthz", cluster.nodes[0].http))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[actix_rt::test]
async fn wrong_logins_are_refused_alike_and_limited() {
    let cluster = Cluster::start(1).await;
    cluster.login_sms(0, "13855550001", "app").await;
    let try_login = |phone: &'static str| {
        cluster
            .http
            .post(cluster.url(0, "/auth/login"))
            .json(&json!({"phone": phone, "password": "wrong-password", "client": "app"}))
            .send()
    };
    let known = try_login("13855550001").await.unwrap();
    let unknown = try_login("13855559999").await.unwrap();
    assert_eq!(known.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert_eq!(
        known.json::<Value>().await.unwrap(),
        unknown.json::<Value>().await.unwrap()
    );
    for _ in 0..4 {
        assert_eq!(try_login("13855550001").await.unwrap().status(), 401);
    }
    assert_eq!(try_login("13855550001").await.unwrap().status(), 429);
    let again = cluster
        .http
        .post(cluster.url(0, "/auth/sms-codes"))
        .json(&json!({"phone": "13855550001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 429, "one code per minute");
}

#[actix_rt::test]
async fn garbage_frames_get_an_error_frame_and_the_session_lives_on() {
    let cluster = Cluster::start(1).await;
    let (token, _) = cluster.login_sms(0, "13855550002", "app").await;
    for codec in [Codec::Json, Codec::MsgPack] {
        let mut socket = cluster.ws(0, codec).await;
        socket.hello(&token, ClientKind::App).await;
        for garbage in [
            Message::Text("{not json".into()),
            Message::Binary(vec![0xc1, 0xff, 0x00]),
        ] {
            socket.stream.send(garbage).await.unwrap();
            match socket.recv().await {
                ServerMsg::Error { error } => assert_eq!(error.code, "bad_request"),
                other => panic!("expected an error frame, got {other:?}"),
            }
        }
        // A request that is readable but wrong is answered as that request, by its id.
        for (broken, id) in [
            (json!({"type": "launch", "id": 1}), RequestId::Int(1)),
            (
                json!({"type": "subscribe", "id": "s-1"}),
                RequestId::Text("s-1".into()),
            ),
        ] {
            socket
                .stream
                .send(match encode(codec, &broken).unwrap() {
                    WireFrame::Binary(b) => Message::Binary(b.to_vec()),
                    WireFrame::Text(t) => Message::Text(t),
                })
                .await
                .unwrap();
            match socket.recv().await {
                ServerMsg::Reply {
                    id: got,
                    ok: false,
                    error: Some(error),
                    ..
                } => {
                    assert_eq!(got, id);
                    assert_eq!(error.code, "bad_request");
                }
                other => panic!("expected a failed reply, got {other:?}"),
            }
        }
        let bad_topic = socket.subscribe("union:abc", None).await.unwrap_err();
        assert_eq!(bad_topic.code, "bad_request");
        let pong = socket.request(|id| ClientMsg::Ping { id }).await;
        assert!(pong.is_ok(), "the session still answers");
    }
}

#[actix_rt::test]
async fn oversized_frames_bogus_tokens_and_silence_close_the_socket_with_their_codes() {
    let cluster = Cluster::start_with(1, &crate::helpers::pg_base(), |s| {
        s.hello_timeout_secs = Some(1)
    })
    .await;
    let (token, _) = cluster.login_sms(0, "13855550003", "app").await;

    let mut big = cluster.ws(0, Codec::Json).await;
    big.hello(&token, ClientKind::App).await;
    big.stream
        .send(Message::Text("x".repeat(65 * 1024)))
        .await
        .unwrap();
    assert_eq!(
        big.until_closed().await.0,
        Ended::Closed(gonghui_protocol::close::TOO_LARGE)
    );

    let mut bogus = cluster.ws(0, Codec::MsgPack).await;
    bogus
        .send(&ClientMsg::Hello {
            id: RequestId::Int(1),
            token: "bogus".into(),
            client: ClientKind::App,
        })
        .await;
    assert_eq!(
        bogus.until_closed().await.0,
        Ended::Closed(gonghui_protocol::close::UNAUTHENTICATED)
    );

    let mut early = cluster.ws(0, Codec::Json).await;
    early
        .send(&ClientMsg::Ping {
            id: RequestId::Int(1),
        })
        .await;
    assert_eq!(
        early.until_closed().await.0,
        Ended::Closed(gonghui_protocol::close::UNAUTHENTICATED)
    );

    let mut silent = cluster.ws(0, Codec::Json).await;
    let started = std::time::Instant::now();
    assert_eq!(
        silent.until_closed().await.0,
        Ended::Closed(gonghui_protocol::close::UNAUTHENTICATED)
    );
    assert!(started.elapsed() >= Duration::from_millis(900));

    let mut fine = cluster.ws(0, Codec::Json).await;
    fine.hello(&token, ClientKind::App).await;
    assert!(
        fine.request(|id| ClientMsg::Ping { id }).await.is_ok(),
        "the server keeps serving"
    );
}

#[actix_rt::test]
async fn an_unknown_upload_format_is_a_400_and_a_body_over_the_limit_says_its_limit() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let union = cluster.root_union;
    let r = cluster
        .upload(
            &root,
            &format!("/unions/{union}/members/import?format=pdf"),
            "text/csv",
            "姓名\n".into(),
        )
        .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("csv, xlsx"),
        "{body}"
    );
    // A JSON body past 64 KiB, plain or gzip-encoded and unpacking past it.
    let big = json!({ "phone": "13912345678", "pad": "x".repeat(70_000) }).to_string();
    let plain = cluster
        .http
        .post(cluster.url(0, "/auth/sms-codes"))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 413);
    let body: Value = plain.json().await.unwrap();
    assert_eq!(body["error"]["message"], "the body is over 64 KiB");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, big.as_bytes()).unwrap();
    let packed = cluster
        .http
        .post(cluster.url(0, "/auth/sms-codes"))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(packed.status(), 413);
    let body: Value = packed.json().await.unwrap();
    assert_eq!(body["error"]["message"], "the body is over 64 KiB unpacked");
}
