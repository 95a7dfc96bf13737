//! Decisions and applications that reach a node while it is writing another of theirs
//! are made together, in one transaction (`store/group.rs`). Each test holds the first
//! call back (a table it writes locked) so the rest queue behind it and form one group.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::Cluster;

/// A call to send: token, path, body.
type Call<'a> = (&'a str, String, Value);

/// `n` verified users numbered from `from` (their phones and ID numbers follow it):
/// (token, user).
async fn verified_users(cluster: &Cluster, n: u32, from: u32) -> Vec<(String, i64)> {
    let mut all = Vec::new();
    for i in from..from + n {
        all.push(
            cluster
                .verified_user(0, &format!("1361{i:07}"), "app", i)
                .await,
        );
    }
    all
}

/// Applicants, each with a pending application to the root union: (token, user, application).
async fn applicants(cluster: &Cluster, n: u32, from: u32) -> Vec<(String, i64, i64)> {
    let mut all = Vec::new();
    for (token, user) in verified_users(cluster, n, 400 + from).await {
        let id = cluster.apply(0, &token, cluster.root_union, "").await;
        all.push((token, user, id));
    }
    all
}

/// A decision call (a rejection's reason included; an approval ignores it).
fn decide(token: &str, path: String) -> Call<'_> {
    (token, path, json!({ "reason": "不符合条件" }))
}

/// A join application to `union`.
fn join(token: &str, union: i64) -> Call<'_> {
    (
        token,
        format!("/unions/{union}/applications"),
        json!({ "kind": "join" }),
    )
}

/// POSTs a call and reads the answer.
async fn send(cluster: &Cluster, (token, path, body): &Call<'_>) -> (u16, Value) {
    let r = cluster.post(0, token, path, body).await;
    (r.status().as_u16(), r.json::<Value>().await.unwrap())
}

/// Runs `first` while `table` is locked, waits until it is stuck inserting into it,
/// sends `rest` behind it, and lets it go: answers `first`'s status and `rest`'s.
async fn held_back(
    cluster: &Cluster,
    table: &str,
    first: Call<'_>,
    rest: Vec<Call<'_>>,
) -> (u16, Vec<(u16, Value)>) {
    cluster
        .db
        .batch_execute(&format!("BEGIN; LOCK TABLE {table} IN EXCLUSIVE MODE"))
        .await
        .unwrap();
    let (first, rest) = tokio::join!(send(cluster, &first), async {
        loop {
            cluster
                .db
                .execute("SELECT pg_stat_clear_snapshot()", &[])
                .await
                .unwrap();
            let stuck = cluster
                .count(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
                     AND query LIKE '%INSERT INTO ' || $1::text || '%'",
                    &[&table],
                )
                .await;
            if stuck > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let rest = join_all(rest.iter().map(|r| send(cluster, r)));
        let release = async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            cluster.db.batch_execute("ROLLBACK").await.unwrap();
        };
        tokio::join!(rest, release).0
    });
    (first.0, rest)
}

#[actix_rt::test]
async fn decisions_queued_together_are_made_in_one_transaction_each_exactly_once() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let people = applicants(&cluster, 9, 0).await;
    let (member, _) = cluster.verified_user(0, "13610009999", "app", 499).await;
    let approve = |id: i64| format!("/applications/{id}/approve");
    let reject = |id: i64| format!("/applications/{id}/reject");

    // Behind the first: each other application approved (odd) or rejected (even) twice
    // over, one decided by someone who is no admin, and one that does not exist.
    let mut rest = Vec::new();
    for (i, (_, _, id)) in people.iter().enumerate().skip(1) {
        let path = if i % 2 == 1 {
            approve(*id)
        } else {
            reject(*id)
        };
        rest.push(decide(&root, path.clone()));
        rest.push(decide(&root, path));
    }
    rest.push(decide(&member, approve(people[1].2)));
    rest.push(decide(&root, approve(999_999)));
    let first = decide(&root, approve(people[0].2));
    let (first, answers) = held_back(&cluster, "audit_log", first, rest).await;
    assert_eq!(first, 200);

    for (i, pair) in answers[..16].chunks(2).enumerate() {
        let mut statuses: Vec<u16> = pair.iter().map(|(s, _)| *s).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "application {}: {pair:?}", i + 1);
        let refused = pair.iter().find(|(s, _)| *s == 409).unwrap();
        assert_eq!(
            refused.1["error"]["message"],
            "this application has already been decided"
        );
    }
    assert_eq!(answers[16].0, 403, "{:?}", answers[16].1);
    assert_eq!(answers[17].0, 404, "{:?}", answers[17].1);

    let ids: Vec<i64> = people.iter().map(|p| p.2).collect();
    assert_eq!(
        cluster
            .count(
                "SELECT count(DISTINCT decided_at) FROM applications WHERE id = ANY($1) AND id <> $2",
                &[&ids, &ids[0]]
            )
            .await,
        1,
        "the eight queued decisions were committed together"
    );
    for (i, (_, _, id)) in people.iter().enumerate() {
        let status = if i % 2 == 1 || i == 0 {
            "approved"
        } else {
            "rejected"
        };
        assert_eq!(
            cluster
                .count(
                    "SELECT count(*) FROM applications WHERE id = $1 AND status = $2",
                    &[id, &status]
                )
                .await,
            1,
            "application {i} {status}"
        );
    }
    let users: Vec<i64> = people.iter().map(|p| p.1).collect();
    for (sql, expected) in [
        ("SELECT count(*) FROM memberships WHERE user_id = ANY($1) AND status = 'active'", 5),
        ("SELECT count(*) FROM notifications WHERE user_id = ANY($1)", 9),
        ("SELECT count(DISTINCT user_id) FROM notifications WHERE user_id = ANY($1)", 9),
        (
            "SELECT count(*) FROM audit_log WHERE subject_type = 'application' AND actor_id IS NOT NULL AND subject_id IN (SELECT id FROM applications WHERE user_id = ANY($1))",
            9,
        ),
    ] {
        assert_eq!(cluster.count(sql, &[&users]).await, expected, "{sql}");
    }
    cluster.logged().await;
    for (_, user, _) in &people {
        let kinds: Vec<String> = cluster
            .db
            .query(
                "SELECT kind FROM events WHERE topic = $1 ORDER BY seq",
                &[&format!("member:{user}")],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let decided = kinds
            .iter()
            .position(|k| k.starts_with("application.") && k != "application.created");
        assert!(decided.is_some(), "member:{user} heard {kinds:?}");
        assert_eq!(kinds.last().unwrap(), "notification.created", "{kinds:?}");
    }
}

#[actix_rt::test]
async fn a_group_holding_a_refused_approval_makes_the_others_and_writes_nothing_for_it() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let other = cluster.child_union(cluster.root_union, "第二工会").await;
    let people = applicants(&cluster, 6, 20).await;
    let (elsewhere, _, refused) = &people[5];
    let there = cluster.apply(0, elsewhere, other, "").await;
    let r = cluster
        .post(
            0,
            &root,
            &format!("/applications/{there}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);

    let rest = people[1..]
        .iter()
        .map(|(_, _, id)| decide(&root, format!("/applications/{id}/approve")))
        .collect();
    let first = decide(&root, format!("/applications/{}/approve", people[0].2));
    let (first, answers) = held_back(&cluster, "audit_log", first, rest).await;
    assert_eq!(first, 200);
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 409], "{answers:?}");
    assert!(answers[4].1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("meanwhile become a member"));
    assert_eq!(
        cluster
            .count(
                "SELECT count(*) FROM applications WHERE id = $1 AND status = 'pending' AND decided_at IS NULL",
                &[refused]
            )
            .await,
        1
    );
    assert_eq!(
        cluster
            .count(
                "SELECT count(*) FROM audit_log WHERE subject_type = 'application' AND subject_id = $1",
                &[refused]
            )
            .await,
        0
    );
    let users: Vec<i64> = people.iter().map(|p| p.1).collect();
    assert_eq!(
        cluster
            .count(
                "SELECT count(*) FROM memberships WHERE user_id = ANY($1) AND status = 'active'",
                &[&users]
            )
            .await,
        6,
        "five joined the root union, the sixth stays in the other"
    );
}

#[actix_rt::test]
async fn applications_queued_together_are_filed_in_one_transaction_each_answered_for_itself() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_union;
    let people = verified_users(&cluster, 6, 600).await;
    let (unverified, _) = cluster.login_sms(0, "13620009998", "app").await;
    let rest: Vec<Call> = people[1..]
        .iter()
        .map(|(token, _)| join(token, root))
        .chain([join(&unverified, root), join(&people[1].0, 999_999)])
        .collect();
    let first = join(&people[0].0, root);
    let (first, answers) = held_back(&cluster, "applications", first, rest).await;
    assert_eq!(first, 201);
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [201, 201, 201, 201, 201, 403, 404], "{answers:?}");
    let users: Vec<i64> = people.iter().map(|p| p.1).collect();
    for (i, (_, body)) in answers[..5].iter().enumerate() {
        assert_eq!(body["user_id"], users[i + 1], "answers in the order asked");
        assert_eq!(body["status"], "pending");
    }
    assert_eq!(
        cluster
            .count(
                "SELECT count(DISTINCT created_at) FROM applications WHERE user_id = ANY($1) AND user_id <> $2",
                &[&users, &users[0]]
            )
            .await,
        1,
        "the five queued applications were filed together"
    );
    cluster.logged().await;
    assert_eq!(
        cluster
            .count(
                "SELECT count(*) FROM events WHERE topic = $1 AND kind = 'application.created'",
                &[&format!("union:{root}:admin")]
            )
            .await,
        6
    );
}

#[actix_rt::test]
async fn a_second_tap_in_a_group_of_applications_is_refused_and_the_rest_are_filed() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_union;
    let people = verified_users(&cluster, 4, 700).await;
    let rest: Vec<Call> = people[1..]
        .iter()
        .map(|(token, _)| join(token, root))
        .chain([join(&people[2].0, root)])
        .collect();
    let first = join(&people[0].0, root);
    let (first, answers) = held_back(&cluster, "applications", first, rest).await;
    assert_eq!(first, 201);
    let mut statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 201, 201, 409], "{answers:?}");
    let refused = answers.iter().find(|(s, _)| *s == 409).unwrap();
    assert_eq!(
        refused.1["error"]["message"],
        "you already have a pending application to this union"
    );
    let users: Vec<i64> = people.iter().map(|p| p.1).collect();
    assert_eq!(
        cluster
            .count(
                "SELECT count(*) FROM applications WHERE user_id = ANY($1) AND status = 'pending'",
                &[&users]
            )
            .await,
        4,
        "one application each"
    );
}
