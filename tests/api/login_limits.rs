//! Login under attack: concurrency cannot stretch the failure limit, a stranger cannot
//! lock a person out, SMS sends are limited per address and per cluster, and a flood of
//! password logins is queued and refused, not allowed to eat the node's memory.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{id_number, Cluster};

/// A client whose connections come from `addr` (any 127.x.y.z works on loopback).
fn from(addr: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(addr.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn login(client: &reqwest::Client, cluster: &Cluster, body: Value) -> reqwest::Response {
    client
        .post(cluster.url(0, "/auth/login"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn password(phone: &str, password: &str) -> Value {
    json!({"phone": phone, "password": password, "client": "app"})
}

#[actix_rt::test]
async fn forty_concurrent_wrong_passwords_get_exactly_five_checks() {
    let cluster = Cluster::start(2).await;
    cluster.login_sms(0, "13855560001", "app").await;
    cluster.second_device("13855560001", 0, "app").await;
    let client = from("127.0.0.2");
    let tries = (0..40).map(|n| {
        let client = client.clone();
        let url = cluster.url(n % 2, "/auth/login");
        async move {
            client
                .post(url)
                .json(&password("13855560001", "wrong-password"))
                .send()
                .await
                .unwrap()
        }
    });
    let answers = join_all(tries).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        35,
        "{statuses:?}"
    );
    let limited = answers.iter().find(|r| r.status() == 429).unwrap();
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    let recorded = cluster
        .count(
            "SELECT count(*) FROM login_failures WHERE phone = '13855560001'",
            &[],
        )
        .await;
    assert_eq!(recorded, 5);
}

#[actix_rt::test]
async fn a_stranger_cannot_lock_the_owner_out() {
    let cluster = Cluster::start(1).await;
    cluster
        .db
        .execute("INSERT INTO users (phone) VALUES ('13855560002')", &[])
        .await
        .unwrap();
    cluster.second_device("13855560002", 0, "app").await;
    let stranger = from("127.0.0.2");
    let mut last = 0;
    for _ in 0..8 {
        last = login(&stranger, &cluster, password("13855560002", "guess-guess"))
            .await
            .status()
            .as_u16();
    }
    assert_eq!(last, 429, "the stranger is made to wait");
    let owner = from("127.0.0.3");
    let right = login(&owner, &cluster, password("13855560002", "s3cret-pass")).await;
    assert_eq!(
        right.status(),
        200,
        "the owner's own address is not limited"
    );

    // Guesses spread over many addresses make the phone wait for passwords everywhere,
    // yet the owner's SMS code still works.
    for n in 10..40 {
        let spread = from(&format!("127.0.1.{n}"));
        login(&spread, &cluster, password("13855560002", "guess-guess")).await;
    }
    let limited = login(&owner, &cluster, password("13855560002", "s3cret-pass")).await;
    assert_eq!(limited.status(), 429);
    let code = cluster.sms_code_via(&owner, 0, "13855560002").await;
    let by_code = login(
        &owner,
        &cluster,
        json!({"phone": "13855560002", "sms_code": code, "client": "app"}),
    )
    .await;
    assert_eq!(by_code.status(), 200, "{}", by_code.text().await.unwrap());
}

#[actix_rt::test]
async fn sms_codes_are_limited_per_address_and_per_cluster() {
    let cluster = Cluster::start_with(1, &crate::helpers::pg_base(), |s| {
        s.sms_per_address_hour = Some(3);
        s.sms_per_hour = Some(5);
    })
    .await;
    let send = |client: reqwest::Client, phone: String| {
        let url = cluster.url(0, "/auth/sms-codes");
        async move {
            client
                .post(url)
                .json(&json!({ "phone": phone }))
                .send()
                .await
                .unwrap()
        }
    };
    let bomber = from("127.0.0.2");
    for n in 0..3 {
        assert_eq!(
            send(bomber.clone(), format!("1385557000{n}"))
                .await
                .status(),
            202
        );
    }
    let refused = send(bomber.clone(), "13855570009".into()).await;
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 3000, "until the first send is an hour old: {wait}");
    let other = from("127.0.0.3");
    assert_eq!(
        send(other.clone(), "13855570010".into()).await.status(),
        202
    );
    assert_eq!(
        send(other.clone(), "13855570011".into()).await.status(),
        202
    );
    let everyone = send(from("127.0.0.4"), "13855570012".into()).await;
    assert_eq!(everyone.status(), 429, "the cluster's allowance is used up");
    let sent = cluster.count("SELECT count(*) FROM sms_codes", &[]).await;
    assert_eq!(sent, 5);
}

#[actix_rt::test]
async fn a_login_flood_is_queued_and_refused_while_others_are_served() {
    let cluster = Cluster::start_with(1, &crate::helpers::pg_base(), |s| {
        s.login_checks = Some(1);
        s.login_queue = Some(4);
    })
    .await;
    let (token, _) = cluster.login_sms(0, "13855580001", "app").await;
    let flood = (0..100).map(|n| {
        let client = from(&format!("127.0.2.{}", n + 1));
        let url = cluster.url(0, "/auth/login");
        async move {
            let started = Instant::now();
            let r = client
                .post(url)
                .json(&password(&format!("1385558{n:04}"), "wrong-password"))
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.headers().contains_key("retry-after"),
                started.elapsed(),
            )
        }
    });
    let me = async {
        let started = Instant::now();
        let r = cluster.get(0, &token, "/me").await;
        (r.status().as_u16(), started.elapsed())
    };
    let (answers, (me_status, me_took)) = futures_util::join!(join_all(flood), me);
    assert_eq!(me_status, 200);
    assert!(me_took < Duration::from_secs(2), "GET /me took {me_took:?}");
    let busy = answers
        .iter()
        .filter(|(s, retry, _)| *s == 503 && *retry)
        .count();
    let checked = answers.iter().filter(|(s, _, _)| *s == 401).count();
    assert_eq!(busy + checked, 100, "{answers:?}");
    assert!(busy >= 80, "most are refused at once: {busy}");
    assert!(
        checked >= 5,
        "one running and four queued are checked: {checked}"
    );
}

#[actix_rt::test]
async fn verification_with_other_peoples_id_numbers_is_limited_per_user_and_per_address() {
    let cluster = Cluster::start(1).await;
    // The victim, whose number the others try.
    cluster.verified_user(0, "13800000901", "app", 901).await;
    let theirs = json!({ "name": "某某", "id_number": id_number(901) });
    let (prober, _) = cluster.login_sms(0, "13800000902", "app").await;
    for n in 0..5 {
        let r = cluster.post(0, &prober, "/me/verification", &theirs).await;
        assert_eq!(r.status(), 409, "try {n}");
    }
    let refused = cluster.post(0, &prober, "/me/verification", &theirs).await;
    assert_eq!(refused.status(), 429);
    assert!(
        refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 3600
    );
    // Even with a number of their own: the limit is on the user.
    let own = json!({ "name": "某某", "id_number": id_number(902) });
    assert_eq!(
        cluster
            .post(0, &prober, "/me/verification", &own)
            .await
            .status(),
        429
    );
    // Other users from the same address verify their own, which is not counted …
    let mut probers = Vec::new();
    for n in 0..4u32 {
        let (token, _) = cluster.login_sms(0, &format!("1380000091{n}"), "app").await;
        probers.push(token);
    }
    cluster.verified_user(0, "13800000920", "app", 920).await;
    // … until 20 conflicts from the address in the hour: 5 so far, 15 more, then none.
    for token in &probers[..3] {
        for _ in 0..5 {
            let r = cluster.post(0, token, "/me/verification", &theirs).await;
            assert_eq!(r.status(), 409);
        }
    }
    let last = cluster
        .post(0, &probers[3], "/me/verification", &theirs)
        .await;
    assert_eq!(last.status(), 429, "the address has had its 20");
}
