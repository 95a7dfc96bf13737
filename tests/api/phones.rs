//! Every place a person's phone leaves the server — lists, exports, events, snapshots
//! and the audit log — shows it whole only to a holder of `members.pii` on the union,
//! masked (`138****0001`) to everyone else (docs/SECURITY.md).

use gonghui_actors::sheets::{read_table, Format};
use gonghui_protocol::events::kind;
use gonghui_protocol::{ClientKind, Codec};
use serde_json::Value;

use crate::helpers::Cluster;

const PHONE: &str = "13800000611";
const MASKED: &str = "138****0611";

/// Every string in a JSON document.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

fn shows_whole(value: &Value) -> bool {
    let mut all = Vec::new();
    strings(value, &mut all);
    all.iter().any(|s| s.contains(PHONE))
}

#[actix_rt::test]
async fn a_phone_is_whole_only_for_members_pii_in_every_list_export_event_snapshot_and_the_audit_log(
) {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let union = cluster.root_union;
    // An admin with every permission but members.pii.
    let (clerk, clerk_id) = cluster.login_sms(0, "13900000612", "console").await;
    let all_but_pii = [
        "members.review",
        "members.manage",
        "org.manage",
        "admins.manage",
        "activities.manage",
        "news.publish",
    ];
    cluster.appoint(union, clerk_id, &all_but_pii).await;
    let (member, member_id) = cluster.verified_user(0, PHONE, "app", 611).await;
    // The member is also an admin of a union below, so the tree export names them.
    let branch = cluster.child_union(union, "码头工会").await;
    cluster.appoint(branch, member_id, &["news.publish"]).await;

    // The queue, as a snapshot and as events.
    let mut console = cluster.ws(0, Codec::Json).await;
    let queue = format!("union:{union}:admin");
    let union_topic = format!("union:{union}");
    console
        .watch(&clerk, ClientKind::Console, &[&queue, &union_topic])
        .await;
    let applied = cluster.apply(0, &member, union, "").await;
    let created = console.event_of(&queue, kind::APPLICATION_CREATED).await;
    assert_eq!(
        created.data["application"]["applicant"]["phone_masked"],
        MASKED
    );
    assert!(!shows_whole(&created.data));
    let mut late = cluster.ws(0, Codec::Json).await;
    let snapshot = late.watch(&clerk, ClientKind::Console, &[&queue]).await;
    assert!(!shows_whole(snapshot[0].snapshot.as_ref().unwrap()));
    let pending: Value = cluster
        .get(
            0,
            &clerk,
            &format!("/unions/{union}/applications?status=pending"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pending["items"][0]["applicant"]["phone_masked"], MASKED);
    assert!(!shows_whole(&pending));
    let r = cluster
        .post(
            0,
            &clerk,
            &format!("/applications/{applied}/approve"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let joined = console.event_of(&union_topic, kind::MEMBER_JOINED).await;
    assert!(!shows_whole(&joined.data));

    // The roster and its export, for the clerk and for the root admin (all permissions).
    for (token, whole) in [(&clerk, false), (&root, true)] {
        let roster: Value = cluster
            .get(0, token, &format!("/unions/{union}/members"))
            .await
            .json()
            .await
            .unwrap();
        let entry = roster["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["user_id"] == member_id)
            .expect("the member is listed");
        assert_eq!(entry["phone"], if whole { PHONE } else { MASKED });
        let file = cluster
            .get(0, token, &format!("/unions/{union}/members/export"))
            .await
            .bytes()
            .await
            .unwrap();
        let table = read_table(Format::Csv, &file, 100).unwrap();
        let cells: Vec<&String> = table.rows.iter().flat_map(|(_, c)| c).collect();
        assert_eq!(
            cells.iter().any(|c| c.as_str() == PHONE),
            whole,
            "roster export"
        );
        assert_eq!(
            cells.iter().any(|c| c.as_str() == MASKED),
            !whole,
            "roster export"
        );
        // The tree export names admins (by their phones) only with members.pii.
        let tree = cluster
            .get(0, token, &format!("/unions/{union}/tree/export"))
            .await
            .bytes()
            .await
            .unwrap();
        let tree = String::from_utf8(tree.to_vec()).unwrap();
        assert_eq!(tree.contains(PHONE), whole, "tree export: {tree}");
        // The admins of the branch, listed.
        let admins: Value = cluster
            .get(0, token, &format!("/unions/{branch}/admins"))
            .await
            .json()
            .await
            .unwrap();
        assert!(!shows_whole(&admins), "{admins}");
    }

    // The audit log, which records the decisions and exports above.
    let audit: Value = cluster
        .get(0, &root, &format!("/unions/{union}/audit"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        audit["items"].as_array().is_some_and(|a| !a.is_empty()),
        "{audit}"
    );
    assert!(!shows_whole(&audit), "{audit}");
}
