//! Union organisations: registration and changes reviewed by the parent, admins and
//! their rights, the tree and the map, and what happens on open sockets.

use gonghui_protocol::events::kind;
use gonghui_protocol::{ClientKind, Codec};
use serde_json::{json, Value};

use crate::helpers::{credit_code, union_form, Cluster};

#[actix_rt::test]
async fn a_registration_approved_by_the_parent_makes_the_registrant_its_admin_at_once() {
    let cluster = Cluster::start(2).await;
    let root = cluster.root_admin_token().await;
    let parent = cluster.root_union;
    let (registrant, registrant_id) = cluster.verified_user(1, "13800000701", "app", 701).await;

    let mut console = cluster.ws(0, Codec::Json).await;
    let queue = format!("union:{parent}:admin");
    let subs = console
        .watch(
            &root,
            ClientKind::Console,
            &[&queue, &format!("union:{parent}")],
        )
        .await;
    assert_eq!(
        subs[0].snapshot.as_ref().unwrap()["org_requests"],
        json!([])
    );
    let mut app = cluster.ws(1, Codec::MsgPack).await;
    let me = format!("member:{registrant_id}");
    app.watch(&registrant, ClientKind::App, &[&me]).await;

    let filed = cluster
        .post(
            1,
            &registrant,
            "/unions/registrations",
            &union_form(1, parent),
        )
        .await;
    assert_eq!(filed.status(), 201, "{}", filed.text().await.unwrap());
    let request: Value = filed.json().await.unwrap();
    assert_eq!(
        (request["kind"].as_str(), request["status"].as_str()),
        (Some("register"), Some("pending"))
    );
    let seen = console.event_of(&queue, kind::ORG_REQUEST_CREATED).await;
    assert_eq!(seen.data["request"]["id"], request["id"]);
    app.event_of(&me, kind::ORG_REQUEST_CREATED).await;

    let id = request["id"].as_i64().unwrap();
    let approved = cluster
        .post(0, &root, &format!("/org-requests/{id}/approve"), &json!({}))
        .await;
    assert_eq!(approved.status(), 200, "{}", approved.text().await.unwrap());
    let approved: Value = approved.json().await.unwrap();
    let union = approved["union_id"].as_i64().expect("the new union's id");
    let rights = app.event_of(&me, kind::ADMIN_UPDATED).await;
    assert_eq!(rights.data["union_id"], union);
    assert_eq!(rights.data["permissions"].as_array().unwrap().len(), 7);
    let done = app.event_of(&me, kind::ORG_REQUEST_APPROVED).await;
    assert_eq!(done.data["request"]["union_id"], union);
    let created = console
        .event_of(&format!("union:{parent}"), kind::UNION_CREATED)
        .await;
    assert_eq!(created.data["union"]["credit_code"], credit_code(1));

    let me_now: Value = cluster
        .get(1, &registrant, "/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me_now["admin_of"][0]["union_id"], union, "{me_now}");
    // At once: the new admin subscribes to the queue and decides an application there.
    let queue_of_new = format!("union:{union}:admin");
    app.subscribe(&queue_of_new, None)
        .await
        .expect("may read the new queue");
    let (worker, _) = cluster.verified_user(0, "13800000702", "app", 702).await;
    let application = cluster.apply(0, &worker, union, "").await;
    app.event_of(&queue_of_new, kind::APPLICATION_CREATED).await;
    let decided = cluster
        .post(
            1,
            &registrant,
            &format!("/applications/{application}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(decided.status(), 200);
    let ancestors: Value = cluster
        .get(0, &worker, &format!("/unions/{union}/ancestors"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ancestors["items"][0]["id"], parent);
}

#[actix_rt::test]
async fn a_siblings_admin_is_refused_everywhere_in_the_other_union_and_an_ancestors_admin_is_not() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let a = cluster.child_union(cluster.root_union, "甲").await;
    let b = cluster.child_union(cluster.root_union, "乙").await;
    let (sibling, sibling_id) = cluster.login_sms(0, "13900000801", "console").await;
    cluster
        .appoint(
            a,
            sibling_id,
            &crate::helpers::all_permissions()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )
        .await;
    let (_, target_id) = cluster.login_sms(0, "13900000802", "console").await;

    let gets = [
        format!("/unions/{b}/applications"),
        format!("/unions/{b}/members"),
        format!("/unions/{b}/members/export"),
        format!("/unions/{b}/admins"),
        format!("/unions/{b}/audit"),
        format!("/unions/{b}/org-requests"),
    ];
    let posts = [
        (
            format!("/unions/{b}/announcements"),
            json!({"title": "t", "body": "b"}),
        ),
        (
            format!("/unions/{b}/members/remove"),
            json!({"user_ids": [1], "reason": "x"}),
        ),
        (
            format!("/unions/{b}/members/{target_id}/retire"),
            json!({"retired_on": "2020-01-01"}),
        ),
        (
            format!("/unions/{b}/modifications"),
            json!({"name": "改名"}),
        ),
        (
            format!("/unions/{b}/committee/terms"),
            json!({"starts_on": "2026-01-01", "ends_on": "2030-12-31", "members": [{"name": "甲", "role": "chair"}]}),
        ),
    ];
    for path in &gets {
        assert_eq!(
            cluster.get(0, &sibling, path).await.status(),
            403,
            "GET {path}"
        );
        assert_eq!(
            cluster.get(0, &root, path).await.status(),
            200,
            "root GET {path}"
        );
    }
    for (path, body) in &posts {
        assert_eq!(
            cluster.post(0, &sibling, path, body).await.status(),
            403,
            "POST {path}"
        );
    }
    let import = cluster
        .upload(
            &sibling,
            &format!("/unions/{b}/members/import"),
            "text/csv",
            b"x".to_vec(),
        )
        .await;
    assert_eq!(import.status(), 403);
    let grant = cluster
        .http
        .put(cluster.url(0, &format!("/unions/{b}/admins/{target_id}")))
        .bearer_auth(&sibling)
        .json(&json!({"permissions": ["members.review"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(grant.status(), 403);
    let mut socket = cluster.ws(0, Codec::Json).await;
    socket.hello(&sibling, ClientKind::Console).await;
    for topic in [format!("union:{b}:admin"), format!("union:{b}")] {
        assert_eq!(
            socket.subscribe(&topic, None).await.unwrap_err().code,
            "forbidden",
            "{topic}"
        );
    }
    socket
        .subscribe(&format!("union:{a}:admin"), None)
        .await
        .expect("its own queue");
    let mut ancestor = cluster.ws(0, Codec::Json).await;
    ancestor.hello(&root, ClientKind::Console).await;
    ancestor
        .subscribe(&format!("union:{b}:admin"), None)
        .await
        .expect("an ancestor reads below");
    assert_eq!(
        cluster
            .count("SELECT count(*) FROM org_requests", &[])
            .await,
        0
    );
    let appointed = "SELECT count(*) FROM union_admins WHERE user_id = $1";
    assert_eq!(
        cluster.count(appointed, &[&target_id]).await,
        0,
        "the refused grant wrote nothing"
    );
}

#[actix_rt::test]
async fn an_admin_grants_only_what_they_hold_and_a_removed_admins_queue_ends_live() {
    let cluster = Cluster::start(2).await;
    let root = cluster.root_admin_token().await;
    let a = cluster.child_union(cluster.root_union, "甲").await;
    let (manager, manager_id) = cluster.login_sms(0, "13900000901", "console").await;
    let (deputy, deputy_id) = cluster.login_sms(1, "13900000902", "console").await;
    let put = |token: &str, union: i64, user: i64, permissions: Value| {
        cluster
            .http
            .put(cluster.url(0, &format!("/unions/{union}/admins/{user}")))
            .bearer_auth(token)
            .json(&json!({ "permissions": permissions }))
            .send()
    };
    let appointed = put(
        &root,
        a,
        manager_id,
        json!(["admins.manage", "members.review"]),
    )
    .await
    .unwrap();
    assert_eq!(
        appointed.status(),
        200,
        "{}",
        appointed.text().await.unwrap()
    );

    let beyond = put(
        &manager,
        a,
        deputy_id,
        json!(["members.review", "members.pii"]),
    )
    .await
    .unwrap();
    assert_eq!(beyond.status(), 403);
    assert!(beyond.text().await.unwrap().contains("members.pii"));
    let own = put(&manager, a, manager_id, json!(["members.review"]))
        .await
        .unwrap();
    assert_eq!(own.status(), 403);
    let unknown = put(&manager, a, deputy_id, json!(["root.everything"]))
        .await
        .unwrap();
    assert_eq!(unknown.status(), 422);
    let granted = put(&manager, a, deputy_id, json!(["members.review"]))
        .await
        .unwrap();
    assert_eq!(granted.status(), 200);

    // The deputy watches A's queue on node B; the manager removes them on node A.
    let mut console = cluster.ws(1, Codec::MsgPack).await;
    let queue = format!("union:{a}:admin");
    console
        .watch(
            &deputy,
            ClientKind::Console,
            &[&queue, &format!("member:{deputy_id}")],
        )
        .await;
    let removed = cluster
        .http
        .delete(cluster.url(0, &format!("/unions/{a}/admins/{deputy_id}")))
        .bearer_auth(&manager)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    let (topic, error) = console.unsubscribed().await;
    assert_eq!(
        (topic.as_str(), error.code.as_str()),
        (queue.as_str(), "forbidden")
    );
    let told = console
        .event_of(&format!("member:{deputy_id}"), kind::ADMIN_REMOVED)
        .await;
    assert_eq!(told.data["union_id"], a);
    // Nothing more of the queue reaches them.
    let (worker, _) = cluster.verified_user(0, "13800000903", "app", 903).await;
    cluster.apply(0, &worker, a, "").await;
    console
        .assert_quiet(std::time::Duration::from_millis(300))
        .await;
    assert_eq!(
        console.subscribe(&queue, None).await.unwrap_err().code,
        "forbidden"
    );
    let audit: Value = cluster
        .get(0, &root, &format!("/unions/{a}/audit"))
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["admin.remove", "admin.appoint", "admin.appoint"]);
    assert_eq!(audit["items"][0]["client"], "console");
}

#[actix_rt::test]
async fn approved_changes_reach_every_session_and_committee_history_keeps_every_term() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let a = cluster.child_union(cluster.root_union, "甲").await;
    let b = cluster.child_union(cluster.root_union, "乙").await;
    let (admin, admin_id) = cluster.login_sms(0, "13900001001", "console").await;
    cluster.appoint(a, admin_id, &["org.manage"]).await;
    let (member, _) = cluster.verified_user(0, "13800001002", "app", 1002).await;
    cluster.admit(&root, &member, a).await;
    let mut app = cluster.ws(0, Codec::Json).await;
    let topic = format!("union:{a}");
    app.watch(&member, ClientKind::App, &[&topic]).await;

    let approve = |r: reqwest::Response| {
        let (cluster, root) = (&cluster, &root);
        async move {
            assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
            let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
            let done = cluster
                .post(0, root, &format!("/org-requests/{id}/approve"), &json!({}))
                .await;
            assert_eq!(done.status(), 200, "{}", done.text().await.unwrap());
        }
    };
    let changes = json!({"name": "甲集团工会", "lat": 23.1, "lng": 113.2, "parent_id": b});
    approve(
        cluster
            .post(0, &admin, &format!("/unions/{a}/modifications"), &changes)
            .await,
    )
    .await;
    let updated = app.event_of(&topic, kind::UNION_UPDATED).await;
    assert_eq!(updated.data["union"]["name"], "甲集团工会");
    assert_eq!(updated.data["union"]["parent_id"], b);
    let ancestors: Value = cluster
        .get(0, &member, &format!("/unions/{a}/ancestors"))
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = ancestors["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [cluster.root_union, b]);

    let term = json!({"starts_on": "2021-01-01", "ends_on": "2026-12-31",
        "members": [{"name": "张主席", "role": "chair"}, {"name": "李委员", "role": "member"}]});
    approve(
        cluster
            .post(0, &admin, &format!("/unions/{a}/committee/terms"), &term)
            .await,
    )
    .await;
    let swap = json!({"replace": "李委员", "with": {"name": "赵委员", "role": "vice_chair"}});
    approve(
        cluster
            .post(
                0,
                &admin,
                &format!("/unions/{a}/committee/replacements"),
                &swap,
            )
            .await,
    )
    .await;
    let committee: Value = cluster
        .get(0, &member, &format!("/unions/{a}/committee"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        committee["current"]["members"][1],
        json!({"name": "赵委员", "role": "vice_chair"})
    );
    assert_eq!(committee["history"][0]["members"][1]["name"], "李委员");
    app.event_of(&topic, kind::COMMITTEE_UPDATED).await;

    let missing = json!({"replace": "无此人", "with": {"name": "钱", "role": "member"}});
    let refused = cluster
        .post(
            0,
            &admin,
            &format!("/unions/{a}/committee/replacements"),
            &missing,
        )
        .await;
    assert_eq!(refused.status(), 422);
}

#[actix_rt::test]
async fn bad_org_input_is_refused_with_its_reason_and_writes_nothing() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let a = cluster.child_union(cluster.root_union, "甲").await;
    let below = cluster.child_union(a, "甲一").await;
    let (registrant, _) = cluster.verified_user(0, "13800001101", "app", 1101).await;
    let (unverified, _) = cluster.login_sms(0, "13800001102", "app").await;
    let mut bad_code = union_form(5, a);
    let code = credit_code(5);
    let wrong = if code.ends_with('0') { "1" } else { "0" };
    bad_code["credit_code"] = json!(format!("{}{wrong}", &code[..17]));
    let mut far = union_form(6, a);
    far["lat"] = json!(91.0);
    let mut no_parent = union_form(7, 999_999);
    no_parent["name"] = json!("无上级工会");
    let cases = [
        (
            &registrant,
            "/unions/registrations".to_owned(),
            bad_code,
            422,
            "check character",
        ),
        (
            &registrant,
            "/unions/registrations".to_owned(),
            far,
            422,
            "lat",
        ),
        (
            &registrant,
            "/unions/registrations".to_owned(),
            no_parent,
            404,
            "no union",
        ),
        (
            &unverified,
            "/unions/registrations".to_owned(),
            union_form(8, a),
            403,
            "verification",
        ),
        (
            &root,
            format!("/unions/{a}/modifications"),
            json!({"parent_id": a}),
            422,
            "own parent",
        ),
        (
            &root,
            format!("/unions/{a}/modifications"),
            json!({"parent_id": below}),
            422,
            "cycle",
        ),
        (
            &root,
            format!("/unions/{a}/modifications"),
            json!({"lat": 23.0}),
            422,
            "together",
        ),
        (
            &root,
            format!("/unions/{a}/modifications"),
            json!({}),
            422,
            "at least one",
        ),
        (
            &root,
            format!("/unions/{a}/committee/terms"),
            json!({"starts_on": "2026-01-01", "ends_on": "2025-12-31", "members": [{"name": "甲", "role": "chair"}]}),
            422,
            "after starts_on",
        ),
        (
            &root,
            format!("/unions/{a}/committee/replacements"),
            json!({"replace": "甲", "with": {"name": "乙", "role": "chair"}}),
            409,
            "no committee",
        ),
    ];
    for (token, path, body, status, says) in cases {
        let r = cluster.post(0, token, &path, &body).await;
        assert_eq!(r.status(), status, "{path} {body}");
        let text = r.text().await.unwrap();
        assert!(text.contains(says), "{path}: {text}");
    }
    let far_away = cluster
        .get(0, &root, "/unions/nearby?lat=23.1&lng=200")
        .await;
    assert_eq!(far_away.status(), 422);
    assert_eq!(
        cluster
            .count("SELECT count(*) FROM org_requests", &[])
            .await,
        0
    );
    assert_eq!(cluster.count("SELECT count(*) FROM unions", &[]).await, 3);

    let first = cluster
        .post(0, &registrant, "/unions/registrations", &union_form(9, a))
        .await;
    assert_eq!(first.status(), 201);
    let again = cluster
        .post(0, &registrant, "/unions/registrations", &union_form(9, a))
        .await;
    assert_eq!(
        again.status(),
        409,
        "the same credit code is already pending"
    );
}

#[actix_rt::test]
async fn the_map_lists_unions_within_the_radius_nearest_first_in_pages() {
    let cluster = Cluster::start(1).await;
    let (token, _) = cluster.login_sms(0, "13800001201", "app").await;
    // Unions 0 to 9 km east of Tianhe, along latitude 23.13, and one in Beijing.
    for km in 0..10 {
        let lng = 113.32 + f64::from(km) * 0.00978;
        cluster
            .db
            .execute(
                "INSERT INTO unions (id, parent_id, name, path, lat, lng)
                 SELECT n.id, p.id, $2, p.path || n.id, 23.13, $3 FROM unions p, (SELECT nextval('unions_id_seq') AS id) n
                 WHERE p.id = $1",
                &[&cluster.root_union, &format!("东{km}公里工会"), &lng],
            )
            .await
            .unwrap();
    }
    cluster
        .db
        .execute(
            "INSERT INTO unions (id, parent_id, name, path, lat, lng)
             SELECT n.id, p.id, '北京工会', p.path || n.id, 39.9, 116.4 FROM unions p, (SELECT nextval('unions_id_seq') AS id) n WHERE p.id = $1",
            &[&cluster.root_union],
        )
        .await
        .unwrap();
    let page: Value = cluster
        .get(
            0,
            &token,
            "/unions/nearby?lat=23.13&lng=113.32&radius_m=5500&limit=4",
        )
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["union"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["东0公里工会", "东1公里工会", "东2公里工会", "东3公里工会"]
    );
    let d1 = page["items"][1]["distance_m"].as_f64().unwrap();
    assert!((990.0..1010.0).contains(&d1), "{d1}");
    let rest: Value = cluster
        .get(
            0,
            &token,
            &format!(
                "/unions/nearby?lat=23.13&lng=113.32&radius_m=5500&limit=4&offset={}",
                page["next_offset"]
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        rest["items"].as_array().unwrap().len(),
        2,
        "4 and 5 km; 6 km is outside"
    );
    assert_eq!(rest["next_offset"], Value::Null);
    let found: Value = cluster
        .get(0, &token, "/unions?q=%E5%8C%97%E4%BA%AC")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["items"][0]["name"], "北京工会");
    let children: Value = cluster
        .get(
            0,
            &token,
            &format!("/unions/{}/children?limit=5", cluster.root_union),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(children["items"].as_array().unwrap().len(), 5);
    assert!(children["next_after"].is_i64());
}

#[actix_rt::test]
async fn a_union_at_the_trees_last_level_takes_no_registration_below_it() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_union;
    // Fifteen unions below the root, one under the other: the last is at level 16.
    let deepest: i64 = cluster
        .db
        .query_one(
            "WITH RECURSIVE c(id, parent, path) AS (
                 SELECT $1::bigint, NULL::bigint, ARRAY[$1::bigint]
               UNION ALL
                 SELECT n.id, c.id, c.path || n.id
                 FROM c, LATERAL (SELECT nextval('unions_id_seq') AS id) n
                 WHERE cardinality(c.path) < 16),
             made AS (INSERT INTO unions (id, parent_id, name, path)
                      SELECT id, parent, '第' || cardinality(path) || '级工会', path FROM c WHERE parent IS NOT NULL
                      RETURNING id, path)
             SELECT id FROM made WHERE cardinality(path) = 16",
            &[&root],
        )
        .await
        .unwrap()
        .get(0);
    let (registrant, _) = cluster.verified_user(0, "13800000791", "app", 791).await;
    let filed = cluster
        .post(
            0,
            &registrant,
            "/unions/registrations",
            &union_form(91, deepest),
        )
        .await;
    assert_eq!(filed.status(), 422);
    let body: Value = filed.json().await.unwrap();
    let why = body["error"]["fields"]["parent_id"].as_str().unwrap();
    assert!(why.contains("level 17"), "{body}");
    let parent: i64 = cluster
        .db
        .query_one("SELECT parent_id FROM unions WHERE id = $1", &[&deepest])
        .await
        .unwrap()
        .get(0);
    let filed = cluster
        .post(
            0,
            &registrant,
            "/unions/registrations",
            &union_form(92, parent),
        )
        .await;
    assert_eq!(filed.status(), 201, "one level up there is room");
}

#[actix_rt::test]
async fn a_user_has_at_most_five_registrations_waiting_and_the_queue_is_read_in_pages() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let parent = cluster.root_union;
    let (registrant, _) = cluster.verified_user(0, "13800000781", "app", 781).await;
    let filings = (0..8).map(|n| {
        let form = union_form(800 + n, parent);
        let registrant = registrant.clone();
        let cluster = &cluster;
        async move {
            cluster
                .post(0, &registrant, "/unions/registrations", &form)
                .await
                .status()
                .as_u16()
        }
    });
    let mut statuses = futures_util::future::join_all(filings).await;
    statuses.sort();
    assert_eq!(statuses, [201, 201, 201, 201, 201, 409, 409, 409]);
    let page = |query: String| {
        let root = root.clone();
        let cluster = &cluster;
        async move {
            let r = cluster
                .get(0, &root, &format!("/unions/{parent}/org-requests{query}"))
                .await;
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, first) = page("?limit=3".into()).await;
    assert_eq!(status, 200);
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    let after = first["next_after"].as_i64().expect("a next page");
    let (_, rest) = page(format!("?limit=3&after={after}")).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 2);
    assert!(rest["next_after"].is_null());
    assert!(rest["items"][0]["id"].as_i64().unwrap() > after);
    assert_eq!(page("?limit=1000".into()).await.0, 422);
}
