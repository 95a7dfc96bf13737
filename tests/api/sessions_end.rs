//! Ending sessions: a password change needs proof and ends every other session of the
//! user on every node; "log out everywhere" ends them all; a socket ends when its token
//! expires.

use gonghui_protocol::{ClientKind, Codec};
use serde_json::json;

use crate::helpers::{Cluster, Ended};

async fn put_password(cluster: &Cluster, token: &str, body: serde_json::Value) -> u16 {
    cluster
        .http
        .put(cluster.url(0, "/me/password"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[actix_rt::test]
async fn a_password_change_needs_proof_and_ends_every_other_session_on_every_node() {
    let cluster = Cluster::start(2).await;
    let (phone_token, _) = cluster.login_sms(0, "13855590001", "app").await;
    let laptop = cluster.second_device("13855590001", 1, "console").await;
    let mut on_b = cluster.ws(1, Codec::Json).await;
    on_b.hello(&laptop, ClientKind::Console).await;
    let hash = "SELECT password_hash FROM users WHERE phone = '13855590001'";
    let before: Option<String> = cluster.db.query_one(hash, &[]).await.unwrap().get(0);

    let bare = json!({"password": "stolen-token-pass"});
    assert_eq!(put_password(&cluster, &phone_token, bare).await, 400);
    let wrong = json!({"password": "stolen-token-pass", "current_password": "not-it-at-all"});
    assert_eq!(put_password(&cluster, &phone_token, wrong).await, 401);
    let after: Option<String> = cluster.db.query_one(hash, &[]).await.unwrap().get(0);
    assert_eq!(before, after, "a refused change writes nothing");
    assert_eq!(
        on_b.request(|id| gonghui_protocol::ClientMsg::Ping { id })
            .await,
        Ok(json!({}))
    );

    let right = json!({"password": "a-new-password", "current_password": "s3cret-pass"});
    assert_eq!(put_password(&cluster, &phone_token, right).await, 204);
    assert_eq!(
        on_b.until_closed().await.0,
        Ended::Closed(gonghui_protocol::close::UNAUTHENTICATED)
    );
    assert_eq!(cluster.get(0, &laptop, "/me").await.status(), 401);
    assert_eq!(
        cluster.get(1, &phone_token, "/me").await.status(),
        200,
        "the caller's own session stays"
    );
    cluster
        .login_password(1, "13855590001", "a-new-password", "app")
        .await;
}

#[actix_rt::test]
async fn an_account_without_a_password_sets_one_with_a_fresh_sms_code() {
    let cluster = Cluster::start(1).await;
    let (token, _) = cluster.login_sms(0, "13855590002", "app").await;
    let reused = cluster.sms.code_for("13855590002");
    let spent = json!({"password": "first-password", "sms_code": reused});
    assert_eq!(
        put_password(&cluster, &token, spent).await,
        401,
        "a used code is no proof"
    );
    cluster
        .db
        // The resend interval has passed.
        .execute(
            "UPDATE sms_codes SET created_at = created_at - interval '2 minutes'",
            &[],
        )
        .await
        .unwrap();
    let fresh = cluster.sms_code_via(&cluster.http, 0, "13855590002").await;
    let proven = json!({"password": "first-password", "sms_code": fresh});
    assert_eq!(put_password(&cluster, &token, proven).await, 204);
    cluster
        .login_password(0, "13855590002", "first-password", "console")
        .await;
}

#[actix_rt::test]
async fn logout_all_ends_every_session_of_the_user_on_every_node() {
    let cluster = Cluster::start(2).await;
    let (phone_token, _) = cluster.login_sms(0, "13855590003", "app").await;
    let laptop = cluster.second_device("13855590003", 1, "console").await;
    let (other, _) = cluster.login_sms(0, "13855590004", "app").await;
    let mut sockets = Vec::new();
    for (node, token) in [(0, &phone_token), (1, &laptop), (1, &other)] {
        let mut socket = cluster.ws(node, Codec::MsgPack).await;
        socket.hello(token, ClientKind::App).await;
        sockets.push(socket);
    }
    let r = cluster
        .post(1, &laptop, "/auth/logout-all", &json!({}))
        .await;
    assert_eq!(r.status(), 204);
    for socket in &mut sockets[..2] {
        assert_eq!(
            socket.until_closed().await.0,
            Ended::Closed(gonghui_protocol::close::UNAUTHENTICATED)
        );
    }
    for token in [&phone_token, &laptop] {
        assert_eq!(cluster.get(0, token, "/me").await.status(), 401);
    }
    assert_eq!(
        cluster.get(0, &other, "/me").await.status(),
        200,
        "another user is untouched"
    );
    let ping = sockets[2]
        .request(|id| gonghui_protocol::ClientMsg::Ping { id })
        .await;
    assert_eq!(ping, Ok(json!({})));
}

#[actix_rt::test]
async fn a_socket_is_closed_with_4001_when_its_token_expires() {
    let cluster = Cluster::start(1).await;
    let (token, user) = cluster.login_sms(0, "13855620001", "app").await;
    // The token's life ends two seconds from now; the socket learns it at hello.
    cluster
        .db
        .execute(
            "UPDATE auth_tokens SET expires_at = now() + interval '2 seconds' WHERE user_id = $1",
            &[&user],
        )
        .await
        .unwrap();
    let mut socket = cluster.ws(0, Codec::Json).await;
    socket.hello(&token, ClientKind::App).await;
    let started = std::time::Instant::now();
    let (ended, _) = socket.until_closed().await;
    assert_eq!(
        ended,
        Ended::Closed(gonghui_protocol::close::UNAUTHENTICATED)
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "closed at expiry, not at once ({:?})",
        started.elapsed()
    );
}
