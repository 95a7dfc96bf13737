//! Member activities: the five kinds end to end, bursts, capacity and prizes under
//! concurrency, the scannable code, and bad answers.

use std::time::Duration;

use chrono::Utc;
use futures_util::{stream, StreamExt};
use gonghui_actors::sheets::{read_table, Format};
use gonghui_protocol::events::kind;
use gonghui_protocol::{ClientKind, Codec};
use serde_json::{json, Value};

use crate::helpers::{Cluster, WsClient};

/// Creates and publishes an activity of `union` open from a minute ago for an hour.
pub async fn published(
    cluster: &Cluster,
    admin: &str,
    union: i64,
    kind: &str,
    config: Value,
) -> i64 {
    let form = json!({
        "kind": kind,
        "title": format!("{kind}活动"),
        "starts_at": (Utc::now() - chrono::Duration::minutes(1)).to_rfc3339(),
        "ends_at": (Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
        "config": config,
    });
    let created = cluster
        .post(0, admin, &format!("/unions/{union}/activities"), &form)
        .await;
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let done = cluster
        .post(0, admin, &format!("/activities/{id}/publish"), &json!({}))
        .await;
    assert_eq!(done.status(), 200, "{}", done.text().await.unwrap());
    id
}

/// Reads `activity.results` events on `topic` until one counts `participants`; returns
/// how many came and the last.
async fn results_until(socket: &mut WsClient, topic: &str, participants: i64) -> (usize, Value) {
    let mut seen = 0;
    loop {
        let e = socket.event_of(topic, kind::ACTIVITY_RESULTS).await;
        seen += 1;
        if e.data["results"]["participants"] == participants {
            return (seen, e.data["results"].clone());
        }
    }
}

fn options(ids: &[&str]) -> Value {
    json!(ids
        .iter()
        .map(|id| json!({"id": id, "text": format!("选项{id}")}))
        .collect::<Vec<_>>())
}

#[actix_rt::test]
async fn each_kind_runs_end_to_end_with_one_member_answering_while_another_watches() {
    let cluster = Cluster::start(2).await;
    let root = cluster.root_admin_token().await;
    let union = cluster.root_union;
    let (answerer, answerer_id) = cluster.verified_user(0, "13800001301", "app", 1301).await;
    let (watcher, _) = cluster
        .verified_user(1, "13800001302", "miniprogram", 1302)
        .await;
    cluster.admit(&root, &answerer, union).await;
    cluster.admit(&root, &watcher, union).await;

    let kinds = [
        (
            "vote",
            json!({"options": options(&["a", "b", "c"]), "max_choices": 2}),
            json!({"choices": ["a", "c"]}),
        ),
        (
            "questionnaire",
            json!({"questions": [
                {"id": "q1", "type": "single", "text": "满意吗", "options": options(&["y", "n"])},
                {"id": "q2", "type": "text", "text": "建议"}]}),
            json!({"answers": {"q1": "y", "q2": "多办活动"}}),
        ),
        (
            "signup",
            json!({"capacity": 10, "fields": [{"id": "size", "label": "尺码", "required": true}]}),
            json!({"fields": {"size": "L"}}),
        ),
        (
            "lottery",
            json!({"prizes": [{"id": "tv", "name": "电视", "quantity": 1}], "win_rate": 1.0}),
            json!({}),
        ),
        (
            "quiz",
            json!({"questions": [
                {"id": "q1", "text": "工会法哪年施行", "options": options(&["a", "b"]), "answer": ["a"]},
                {"id": "q2", "text": "会费比例", "options": options(&["a", "b"]), "answer": ["b"]}],
                "pass_mark": 2, "prize": {"id": "book", "name": "图书", "quantity": 5}}),
            json!({"answers": {"q1": "a", "q2": "b"}}),
        ),
    ];
    let mut mini = cluster.ws(1, Codec::Json).await;
    mini.hello(&watcher, ClientKind::Miniprogram).await;
    for (kind, config, answer) in kinds {
        let id = published(&cluster, &root, union, kind, config).await;
        let topic = format!("activity:{id}");
        let sub = mini.subscribe(&topic, None).await.unwrap();
        let snapshot = sub.snapshot.unwrap();
        assert_eq!(snapshot["activity"]["kind"], kind);
        assert!(
            !snapshot["activity"]["config"]
                .to_string()
                .contains("\"answer\""),
            "no quiz answers for members"
        );
        assert_eq!(snapshot["results"]["participants"], 0);

        let r = cluster
            .post(0, &answerer, &format!("/activities/{id}/answers"), &answer)
            .await;
        assert_eq!(r.status(), 201, "{kind}: {}", r.text().await.unwrap());
        let receipt: Value = r.json().await.unwrap();
        let (_, results) = results_until(&mut mini, &topic, 1).await;
        let tallies = &results["tallies"];
        match kind {
            "vote" => assert_eq!(tallies["options"], json!({"a": 1, "c": 1})),
            "questionnaire" => assert_eq!(tallies["questions"]["q1"], json!({"y": 1})),
            "signup" => assert_eq!(tallies["seats_taken"], 1),
            "lottery" => {
                assert_eq!(receipt["prize"], "tv");
                assert!(receipt["draw"]["seed"].as_str().unwrap().len() == 64);
                assert_eq!(tallies["prizes"]["tv"]["given"], 1);
                let claim = json!({"userName": "张三", "telNumber": "13800001301", "provinceName": "广东省",
                    "cityName": "广州市", "countyName": "天河区", "detailInfo": "体育西路1号", "postalCode": "510000"});
                assert_eq!(
                    cluster
                        .post(
                            1,
                            &answerer,
                            &format!("/activities/{id}/prize/claim"),
                            &claim
                        )
                        .await
                        .status(),
                    204
                );
                let list: Value = cluster
                    .get(0, &root, &format!("/activities/{id}/prizes"))
                    .await
                    .json()
                    .await
                    .unwrap();
                assert_eq!(list["items"][0]["address"]["detail"], "体育西路1号");
                let ship = format!("/activities/{id}/prizes/{answerer_id}/ship");
                assert_eq!(
                    cluster
                        .post(0, &root, &ship, &json!({"tracking": "SF123"}))
                        .await
                        .status(),
                    204
                );
                assert_eq!(
                    cluster.post(0, &root, &ship, &json!({})).await.status(),
                    409
                );
                let file = cluster
                    .get(0, &root, &format!("/activities/{id}/export?file=prizes"))
                    .await;
                assert_eq!(file.status(), 200);
                let table = read_table(Format::Csv, &file.bytes().await.unwrap(), 10).unwrap();
                assert_eq!(table.rows.len(), 1);
                assert!(
                    table.rows[0].1.contains(&"SF123".to_owned()),
                    "{:?}",
                    table.rows[0]
                );
                let results = cluster
                    .get(
                        0,
                        &root,
                        &format!("/activities/{id}/export?file=results&format=xlsx"),
                    )
                    .await;
                let table = read_table(Format::Xlsx, &results.bytes().await.unwrap(), 10).unwrap();
                assert_eq!(
                    table.rows[0].1[2], "13800001301",
                    "the root holds members.pii: phones in full"
                );
                let loser = cluster
                    .post(
                        1,
                        &watcher,
                        &format!("/activities/{id}/answers"),
                        &json!({}),
                    )
                    .await;
                assert_eq!(
                    loser.json::<Value>().await.unwrap()["prize"],
                    Value::Null,
                    "one television only"
                );
            }
            _ => {
                assert_eq!(
                    (receipt["score"].as_i64(), receipt["passed"].as_bool()),
                    (Some(2), Some(true))
                );
                assert_eq!(receipt["prize"], "book");
                assert_eq!(tallies["passed"], 1);
            }
        }
        let closed = cluster
            .post(0, &root, &format!("/activities/{id}/close"), &json!({}))
            .await;
        assert_eq!(closed.status(), 200);
        mini.event_of(&topic, kind::ACTIVITY_CLOSED).await;
    }
}

#[actix_rt::test]
async fn a_burst_of_2000_votes_is_counted_once_each_and_reaches_watchers_in_few_updates() {
    let cluster = Cluster::start(2).await;
    let root = cluster.root_admin_token().await;
    let seeded = cluster.seed_members(2000).await;
    let id = published(
        &cluster,
        &root,
        seeded.union_id,
        "vote",
        json!({"options": options(&["a", "b", "c"]), "max_choices": 1}),
    )
    .await;
    let topic = format!("activity:{id}");
    let mut watchers = Vec::new();
    for (node, codec) in [(0, Codec::MsgPack), (1, Codec::Json)] {
        let mut socket = cluster.ws(node, codec).await;
        socket
            .watch(
                &seeded.token(seeded.members[node]),
                ClientKind::Miniprogram,
                &[&topic],
            )
            .await;
        watchers.push(socket);
    }
    let statuses: Vec<u16> = stream::iter(seeded.members.iter().enumerate())
        .map(|(i, member)| {
            let (cluster, token) = (&cluster, seeded.token(*member));
            let choice = ["a", "b", "c"][i % 3];
            async move {
                cluster
                    .http
                    .post(cluster.url(i % 2, &format!("/activities/{id}/answers")))
                    .bearer_auth(token)
                    .json(&json!({"choices": [choice]}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    assert!(
        statuses.iter().all(|s| *s == 201),
        "{:?}",
        statuses
            .iter()
            .filter(|s| **s != 201)
            .take(5)
            .collect::<Vec<_>>()
    );
    let counted: Vec<(String, i64)> = cluster
        .db
        .query(
            "SELECT c, count(*) FROM activity_answers, jsonb_array_elements_text(answer -> 'choices') c
             WHERE activity_id = $1 GROUP BY c ORDER BY c",
            &[&id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        counted,
        [("a".into(), 667), ("b".into(), 667), ("c".into(), 666)]
    );
    for socket in &mut watchers {
        let (updates, results) = results_until(socket, &topic, 2000).await;
        println!("a watcher saw {updates} results updates for 2000 answers");
        assert!(updates < 200, "{updates} updates");
        assert_eq!(
            results["tallies"]["options"],
            json!({"a": 667, "b": 667, "c": 666})
        );
        socket.assert_quiet(Duration::from_millis(600)).await;
    }
}

#[actix_rt::test]
async fn capacity_and_prizes_hold_under_concurrent_bursts() {
    let cluster = Cluster::start(2).await;
    let root = cluster.root_admin_token().await;
    let seeded = cluster.seed_members(1000).await;
    let burst = |id: i64, members: &[i64], body: Value| {
        let cluster = &cluster;
        let tokens: Vec<String> = members.iter().map(|m| seeded.token(*m)).collect();
        async move {
            stream::iter(tokens.into_iter().enumerate())
                .map(|(i, token)| {
                    let body = body.clone();
                    async move {
                        let r = cluster
                            .http
                            .post(cluster.url(i % 2, &format!("/activities/{id}/answers")))
                            .bearer_auth(token)
                            .json(&body)
                            .send()
                            .await
                            .unwrap();
                        (r.status().as_u16(), r.json::<Value>().await.unwrap())
                    }
                })
                .buffer_unordered(64)
                .collect::<Vec<_>>()
                .await
        }
    };
    let signup = published(
        &cluster,
        &root,
        seeded.union_id,
        "signup",
        json!({"capacity": 100}),
    )
    .await;
    let answers = burst(signup, &seeded.members[..500], json!({})).await;
    let ok = answers.iter().filter(|(s, _)| *s == 201).count();
    let full = answers
        .iter()
        .filter(|(s, b)| *s == 409 && b["error"]["message"].as_str().unwrap().contains("full"))
        .count();
    assert_eq!((ok, full), (100, 400));
    assert_eq!(
        cluster
            .count(
                "SELECT count(*) FROM activity_answers WHERE activity_id = $1",
                &[&signup]
            )
            .await,
        100
    );

    let lottery = published(
        &cluster,
        &root,
        seeded.union_id,
        "lottery",
        json!({"prizes": [{"id": "gold", "name": "金奖", "quantity": 1}, {"id": "silver", "name": "银奖", "quantity": 2}], "win_rate": 1.0}),
    )
    .await;
    let draws = burst(lottery, &seeded.members, json!({})).await;
    assert!(draws.iter().all(|(s, _)| *s == 201));
    let winners: Vec<&Value> = draws
        .iter()
        .filter(|(_, b)| !b["prize"].is_null())
        .map(|(_, b)| b)
        .collect();
    assert_eq!(winners.len(), 3);
    let mut prizes: Vec<&str> = winners
        .iter()
        .map(|w| w["prize"].as_str().unwrap())
        .collect();
    prizes.sort();
    assert_eq!(prizes, ["gold", "silver", "silver"]);
    let left = cluster
        .count(
            "SELECT sum(remaining) FROM activity_prizes WHERE activity_id = $1",
            &[&lottery],
        )
        .await;
    assert_eq!(left, 0);
}

#[actix_rt::test]
async fn the_activity_code_decodes_to_its_link() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let id = published(
        &cluster,
        &root,
        cluster.root_union,
        "vote",
        json!({"options": options(&["a", "b"]), "max_choices": 1}),
    )
    .await;
    let activity: Value = cluster
        .get(0, &root, &format!("/activities/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let link = activity["link"].as_str().unwrap();
    assert!(link.ends_with(&format!("/activities/{id}")), "{link}");
    let png = cluster
        .get(0, &root, &format!("/activities/{id}/code"))
        .await;
    assert_eq!(png.headers()["content-type"], "image/png");
    let bytes = png.bytes().await.unwrap();
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    let (w, h) = (frame.width as usize, frame.height as usize);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, content) = grids[0].decode().unwrap();
    assert_eq!(content, link);
    let svg = cluster
        .get(0, &root, &format!("/activities/{id}/code?format=svg"))
        .await;
    assert!(svg.text().await.unwrap().starts_with("<?xml"));
}

#[actix_rt::test]
async fn bad_answers_and_activities_are_refused_and_write_nothing() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let union = cluster.child_union(cluster.root_union, "甲").await;
    let other = cluster.child_union(cluster.root_union, "乙").await;
    let (member, _) = cluster.verified_user(0, "13800001401", "app", 1401).await;
    let (outsider, _) = cluster.verified_user(0, "13800001402", "app", 1402).await;
    cluster.admit(&root, &member, union).await;
    cluster.admit(&root, &outsider, other).await;
    let vote = json!({"options": options(&["a", "b"]), "max_choices": 1});
    let open = published(&cluster, &root, union, "vote", vote.clone()).await;
    let closed = published(&cluster, &root, union, "vote", vote.clone()).await;
    cluster
        .post(0, &root, &format!("/activities/{closed}/close"), &json!({}))
        .await;
    let draft_form = json!({"kind": "vote", "title": "草稿", "starts_at": Utc::now().to_rfc3339(),
        "ends_at": (Utc::now() + chrono::Duration::hours(1)).to_rfc3339(), "config": vote});
    let draft = cluster
        .post(
            0,
            &root,
            &format!("/unions/{union}/activities"),
            &draft_form,
        )
        .await;
    let draft = draft.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let first = cluster
        .post(
            0,
            &member,
            &format!("/activities/{open}/answers"),
            &json!({"choices": ["a"]}),
        )
        .await;
    assert_eq!(first.status(), 201);
    let before = cluster
        .count("SELECT count(*) FROM activity_answers", &[])
        .await;

    let cases = [
        (&member, closed, json!({"choices": ["a"]}), 409, "closed"),
        (
            &member,
            draft,
            json!({"choices": ["a"]}),
            404,
            "no activity",
        ),
        (&member, open, json!({"choices": ["a"]}), 409, "already"),
        (
            &outsider,
            open,
            json!({"choices": ["z"]}),
            403,
            "another union",
        ),
    ];
    for (token, id, body, status, says) in cases {
        let r = cluster
            .post(0, token, &format!("/activities/{id}/answers"), &body)
            .await;
        assert_eq!(r.status(), status, "{says}");
        assert!(r.text().await.unwrap().contains(says), "{says}");
    }
    let seen_by_outsider: Value = cluster
        .get(0, &outsider, &format!("/unions/{union}/activities"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen_by_outsider["items"], json!([]), "not their union's");
    let seen_by_member: Value = cluster
        .get(0, &member, &format!("/unions/{union}/activities"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        seen_by_member["items"].as_array().unwrap().len(),
        2,
        "open and closed, not the draft"
    );
    let (fresh, _) = cluster.verified_user(0, "13800001403", "app", 1403).await;
    cluster.admit(&root, &fresh, union).await;
    let missing = cluster
        .post(
            0,
            &fresh,
            &format!("/activities/{open}/answers"),
            &json!({"choices": ["z"]}),
        )
        .await;
    assert_eq!(missing.status(), 422);
    assert!(missing.text().await.unwrap().contains("no option"));
    assert_eq!(
        cluster
            .count("SELECT count(*) FROM activity_answers", &[])
            .await,
        before
    );

    let activities = cluster.count("SELECT count(*) FROM activities", &[]).await;
    let mut backwards = draft_form.clone();
    backwards["ends_at"] = json!((Utc::now() - chrono::Duration::hours(1)).to_rfc3339());
    let r = cluster
        .post(0, &root, &format!("/unions/{union}/activities"), &backwards)
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("ends_at"));
    let not_admin = cluster
        .post(
            0,
            &member,
            &format!("/unions/{union}/activities"),
            &draft_form,
        )
        .await;
    assert_eq!(not_admin.status(), 403);
    let edit_published = cluster
        .http
        .put(cluster.url(0, &format!("/activities/{open}")))
        .bearer_auth(&root)
        .json(&draft_form)
        .send()
        .await
        .unwrap();
    assert_eq!(edit_published.status(), 409);
    assert_eq!(
        cluster.count("SELECT count(*) FROM activities", &[]).await,
        activities
    );
}

#[actix_rt::test]
async fn each_device_reads_its_members_receipt_and_no_one_else_does() {
    let cluster = Cluster::start(2).await;
    let root = cluster.root_admin_token().await;
    let seeded = cluster.seed_members(2).await;
    let (winner, other) = (seeded.members[0], seeded.members[1]);
    let lottery = published(
        &cluster,
        &root,
        seeded.union_id,
        "lottery",
        json!({"prizes": [{"id": "p1", "name": "电饭煲", "quantity": 1}], "win_rate": 1.0}),
    )
    .await;
    let path = format!("/activities/{lottery}/receipt");
    let before = cluster.get(1, &seeded.token(winner), &path).await;
    assert_eq!(before.status(), 404);

    let answered = cluster
        .http
        .post(cluster.url(0, &format!("/activities/{lottery}/answers")))
        .bearer_auth(seeded.token(winner))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 201);
    let receipt: Value = answered.json().await.unwrap();
    // Read on the other node (another device): the same receipt, the draw included.
    let read = cluster.get(1, &seeded.token(winner), &path).await;
    assert_eq!(read.status(), 200);
    let read: Value = read.json().await.unwrap();
    assert_eq!(read, receipt);
    assert_eq!(read["prize"], "p1");
    assert!(read["draw"]["seed"].is_string());

    // Another member has none; outside the activity's audience it does not exist.
    assert_eq!(
        cluster.get(0, &seeded.token(other), &path).await.status(),
        404
    );
    let (outsider, _) = cluster.verified_user(0, "13900009999", "app", 9999).await;
    let refused = cluster.get(0, &outsider, &path).await;
    assert_eq!(refused.status(), 404);
}
