use serde_json::Value;

use crate::helpers::{json_of, Cluster};

/// Every call of API.md's fixed core, as `METHOD /path`.
const CORE: &[&str] = &[
    "post /api/v1/auth/sms-codes",
    "post /api/v1/auth/login",
    "post /api/v1/auth/logout",
    "post /api/v1/auth/logout-all",
    "put /api/v1/me/password",
    "get /api/v1/me",
    "post /api/v1/me/verification",
    "get /api/v1/me/applications",
    "post /api/v1/unions/{union_id}/applications",
    "get /api/v1/unions/{union_id}/applications",
    "post /api/v1/applications/{id}/approve",
    "post /api/v1/applications/{id}/reject",
];

#[actix_rt::test]
async fn the_openapi_document_lists_every_core_call_and_every_listed_call_is_routed() {
    let cluster = Cluster::start(1).await;
    let node = &cluster.nodes[0].http;
    let doc = json_of(cluster.http.get(format!("{node}/api/v1/openapi.json"))).await;
    let mut listed = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            listed.push(format!("{method} {path}"));
        }
    }
    for call in CORE {
        assert!(
            listed.iter().any(|l| l == call),
            "{call} is not documented; listed: {listed:?}"
        );
    }
    for call in &listed {
        let (method, path) = call.split_once(' ').unwrap();
        let concrete = path
            .replace("{union_id}", "1")
            .replace("{user_id}", "1")
            .replace("{id}", "1");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let answer = cluster
            .http
            .request(method, format!("{node}{concrete}"))
            .send()
            .await
            .unwrap();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        assert_ne!(
            body["error"]["message"], "no such route",
            "{call} is documented but not routed"
        );
        assert!(
            body["error"]["code"].is_string(),
            "{call} answers an unauthenticated call with an API error"
        );
    }
}

#[actix_rt::test]
async fn every_operation_declares_the_errors_its_shape_can_answer() {
    let cluster = Cluster::start(1).await;
    let node = &cluster.nodes[0].http;
    let doc = json_of(cluster.http.get(format!("{node}/api/v1/openapi.json"))).await;
    assert!(doc["components"]["schemas"]["ErrorResponse"].is_object());
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = &operation["responses"];
            let declares = |status: &str| {
                responses[status]["content"]["application/json"]["schema"]["$ref"]
                    == "#/components/schemas/ErrorResponse"
            };
            assert!(declares("503"), "{method} {path}: 503");
            if operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty())
            {
                assert!(declares("401"), "{method} {path}: 401");
            }
            if operation.get("requestBody").is_some() {
                for status in ["400", "408", "413", "422"] {
                    assert!(declares(status), "{method} {path}: {status}");
                }
            }
            if path.contains('{') {
                assert!(declares("404"), "{method} {path}: 404");
            }
            let queried = operation["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            if queried {
                assert!(
                    declares("400") && declares("422"),
                    "{method} {path}: query errors"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 60, "{checked} operations");
    let import = &doc["paths"]["/api/v1/unions/{union_id}/members/import"]["post"];
    let export =
        &doc["paths"]["/api/v1/unions/{union_id}/members/export"]["get"]["responses"]["200"];
    for content in [&import["requestBody"]["content"], &export["content"]] {
        for media in [
            "text/csv",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ] {
            assert_eq!(content[media]["schema"]["format"], "binary", "{content}");
            assert_eq!(content[media]["schema"]["type"], "string");
        }
    }
}

#[actix_rt::test]
async fn the_socket_contract_lists_every_frame_and_every_event_kind() {
    let cluster = Cluster::start(1).await;
    let node = &cluster.nodes[0].http;
    let doc = json_of(cluster.http.get(format!("{node}/api/v1/asyncapi.json"))).await;
    assert_eq!(doc["asyncapi"], "3.0.0");
    assert_eq!(doc["channels"]["socket"]["address"], "/ws");
    let schemas = &doc["components"]["schemas"];
    for frame in [
        "ClientMsg",
        "ServerMsg",
        "EventFrame",
        "ErrorBody",
        "HelloReply",
        "SubscribeReply",
    ] {
        assert!(schemas[frame].is_object(), "{frame} has a schema");
    }
    let client_types: Vec<String> = schemas["ClientMsg"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| {
            v["properties"]["type"]["enum"][0]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(client_types, ["hello", "subscribe", "unsubscribe", "ping"]);
    let messages = doc["components"]["messages"].as_object().unwrap();
    for event in gonghui_protocol::events::EVENT_KINDS {
        let message = &messages[event.kind];
        assert_eq!(
            message["payload"]["allOf"][1]["properties"]["kind"]["const"],
            event.kind
        );
    }
    let received = doc["operations"]["receive"]["messages"].as_array().unwrap();
    assert_eq!(
        received.len(),
        gonghui_protocol::events::EVENT_KINDS.len() + 1
    );
}

#[actix_rt::test]
async fn closed_sets_are_enums_and_fields_carry_the_bounds_the_server_enforces() {
    let cluster = Cluster::start(1).await;
    let node = &cluster.nodes[0].http;
    let doc = json_of(cluster.http.get(format!("{node}/api/v1/openapi.json"))).await;
    let schemas = &doc["components"]["schemas"];
    let field = |schema: &str, name: &str| schemas[schema]["properties"][name].clone();
    let choices = |v: &Value| -> Vec<String> {
        v["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("no enum in {v}"))
            .iter()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(
        choices(&field("ActivityForm", "kind")),
        ["vote", "questionnaire", "signup", "lottery", "quiz"]
    );
    assert_eq!(
        choices(&field("Activity", "status")),
        ["draft", "published", "closed"]
    );
    assert_eq!(choices(&field("NewsForm", "scope")), ["union", "subtree"]);
    assert_eq!(
        choices(&field("Membership", "status")),
        ["active", "retired", "left"]
    );
    assert_eq!(
        choices(&field("AdminGrant", "permissions")["items"]).len(),
        7
    );
    assert_eq!(field("UnionForm", "name")["maxLength"], 100);
    assert_eq!(field("UnionForm", "lat")["maximum"], 90.0);
    assert_eq!(field("CommitteeForm", "members")["maxItems"], 50);
    let export = &doc["paths"]["/api/v1/unions/{union_id}/members/export"]["get"]["parameters"];
    let format = export
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "format")
        .unwrap();
    assert_eq!(choices(&format["schema"]), ["csv", "xlsx"]);
    assert!(
        !doc.to_string().contains(r#""pattern":"^("#),
        "every closed set is an enum"
    );
    let mut ids = std::collections::BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_owned()), "operationId {id} twice");
        }
    }

    // What the document closes, the server refuses: a value outside a set, a text too long.
    let root = cluster.root_admin_token().await;
    let union = cluster.root_union;
    let (_, user) = cluster.login_sms(0, "13500000031", "app").await;
    let grant = cluster
        .http
        .put(cluster.url(0, &format!("/unions/{union}/admins/{user}")))
        .bearer_auth(&root)
        .json(&serde_json::json!({ "permissions": ["members.review", "god"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(grant.status(), 422);
    let long = "工".repeat(101);
    let news = cluster
        .post(
            0,
            &root,
            &format!("/unions/{union}/news"),
            &serde_json::json!({ "title": long, "body_html": "<p>x</p>" }),
        )
        .await;
    assert_eq!(news.status(), 422);
    let link = format!("https://mp.weixin.qq.com/s/{}", "a".repeat(2_000));
    let import = cluster
        .post(
            0,
            &root,
            &format!("/unions/{union}/news/imports"),
            &serde_json::json!({ "url": link }),
        )
        .await;
    assert_eq!(import.status(), 422);
    assert!(import.text().await.unwrap().contains("at most 2000"));
}
