//! The web apps (the console, the member H5) are served by every node from the binary: the app, its hashed assets with
//! long caching, the app again for its own routes, a strict Content-Security-Policy.

use crate::helpers::Cluster;

#[actix_rt::test]
async fn every_node_serves_the_console_with_caching_fallback_and_a_strict_policy() {
    let cluster = Cluster::start_with(1, &crate::helpers::pg_base(), |s| {
        s.console_nodes = Some("http://127.0.0.1:1,https://gh2.example.cn/".into());
        s.console_map_tiles = Some("https://{s}.tiles.example.cn/{z}/{x}/{y}.png".into());
    })
    .await;
    let base = &cluster.nodes[0].http;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let root = plain.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(root.status(), 302);
    assert_eq!(root.headers()["location"], "/console/");

    let page = plain.get(format!("{base}/console/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(policy.contains("connect-src 'self' http://127.0.0.1:1 ws://127.0.0.1:1 https://gh2.example.cn wss://gh2.example.cn;"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(
        policy.contains("img-src 'self' data: blob: https: https://*.tiles.example.cn;"),
        "{policy}"
    );
    assert_eq!(page.headers()["cache-control"], "no-cache");
    let html = page.text().await.unwrap();
    assert!(html.contains("工会管理后台"));
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page loads a script")
        .to_owned();
    assert!(script.starts_with("/console/assets/"), "{script}");

    let asset = plain
        .get(format!("{base}{script}"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(asset.headers()["content-encoding"], "gzip");
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(asset.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));

    // The app's own routes get the app; a missing file is a 404, not the app.
    let route = plain
        .get(format!("{base}/console/queue"))
        .send()
        .await
        .unwrap();
    assert_eq!(route.status(), 200);
    assert!(route.text().await.unwrap().contains("<div id=\"app\">"));
    let missing = plain
        .get(format!("{base}/console/assets/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let config: serde_json::Value = plain
        .get(format!("{base}/console/config.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        config["nodes"],
        serde_json::json!(["http://127.0.0.1:1", "https://gh2.example.cn"])
    );
    assert_eq!(
        config["map_tiles"],
        "https://{s}.tiles.example.cn/{z}/{x}/{y}.png"
    );
}

#[actix_rt::test]
async fn the_api_lets_listed_consoles_call_it_and_no_one_else() {
    let cluster = Cluster::start_with(1, &crate::helpers::pg_base(), |s| {
        s.console_nodes = Some("https://gh2.example.cn".into());
    })
    .await;
    let me = cluster.url(0, "/me");
    let preflight = cluster
        .http
        .request(reqwest::Method::OPTIONS, &me)
        .header("origin", "https://gh2.example.cn")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://gh2.example.cn"
    );
    assert!(preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("idempotency-key"));

    let token = cluster.root_admin_token().await;
    let listed = cluster
        .http
        .get(&me)
        .bearer_auth(&token)
        .header("origin", "https://gh2.example.cn")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    assert_eq!(
        listed.headers()["access-control-allow-origin"],
        "https://gh2.example.cn"
    );
    assert!(listed.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .contains("retry-after"));

    let stranger = cluster
        .http
        .get(&me)
        .bearer_auth(&token)
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(stranger
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[actix_rt::test]
async fn every_node_serves_the_member_app_and_an_activity_link_opens_its_page() {
    let cluster = Cluster::start(1).await;
    let base = &cluster.nodes[0].http;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let page = plain.get(format!("{base}/h5/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self';"));
    let html = page.text().await.unwrap();
    assert!(html.contains("工会会员服务"), "{html}");
    assert!(html.contains("/h5/assets/"), "{html}");
    // The app routes itself: its pages get the app.
    let route = plain
        .get(format!("{base}/h5/activities/7"))
        .send()
        .await
        .unwrap();
    assert_eq!(route.status(), 200);
    assert!(route.text().await.unwrap().contains("<div id=\"app\">"));
    assert_eq!(
        plain
            .get(format!("{base}/h5/config.json"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // What an activity's code encodes leads to its page in the app; nothing else does.
    let link = plain
        .get(format!("{base}/activities/42"))
        .send()
        .await
        .unwrap();
    assert_eq!(link.status(), 302);
    assert_eq!(link.headers()["location"], "/h5/activities/42");
    for bad in ["/activities/%2F%2Fevil.example.com", "/activities/42x"] {
        let answer = plain.get(format!("{base}{bad}")).send().await.unwrap();
        assert_eq!(answer.status(), 404, "{bad}");
        assert!(answer.headers().get("location").is_none(), "{bad}");
    }
}
