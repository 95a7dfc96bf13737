//! The roster: bulk import and removal, retirement, listing and export.

use std::time::Instant;

use gonghui_actors::sheets::{read_table, Format};
use gonghui_protocol::events::kind;
use gonghui_protocol::{ClientKind, Codec};
use serde_json::{json, Value};

use crate::helpers::{id_number, Cluster};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A workbook with `header` and `rows`, written by rust_xlsxwriter as Excel would.
fn workbook(header: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            sheet.write_string(r as u32 + 1, c as u16, cell).unwrap();
        }
    }
    book.save_to_buffer().unwrap()
}

fn csv(lines: &[String]) -> Vec<u8> {
    lines.join("\n").into_bytes()
}

/// A member row: name, phone, ID number, employer, job, join day.
fn worker(n: u32) -> Vec<String> {
    vec![
        format!("工人{n}"),
        format!("137{n:08}"),
        id_number(n),
        "广州机械厂".into(),
        if n.is_multiple_of(2) {
            "钳工"
        } else {
            "车工"
        }
        .into(),
        format!("2020-01-{:02}", n % 28 + 1),
    ]
}

const TEMPLATE: [&str; 6] = ["姓名", "手机号", "身份证号", "工作单位", "职务", "入会日期"];

async fn report_of(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

fn reason_of(report: &Value, row: u32) -> String {
    let line = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["row"] == row)
        .unwrap_or_else(|| panic!("row {row} is reported"));
    assert_eq!(line["outcome"], "failed", "{line}");
    line["reason"].as_str().unwrap().to_owned()
}

#[actix_rt::test]
async fn a_10000_row_workbook_imports_with_each_bad_row_named_and_a_second_upload_changes_nothing()
{
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let union = cluster
        .child_union(cluster.root_union, "广州机械厂工会")
        .await;
    let elsewhere = cluster.child_union(cluster.root_union, "别的工会").await;
    // Someone already in another union, and appearing in the file.
    let (taken, _) = cluster.verified_user(0, "13700000007", "app", 7).await;
    cluster.admit(&root, &taken, elsewhere).await;

    let mut rows: Vec<Vec<String>> = (1..=10_000).map(worker).collect();
    let mut bad_check = worker(20_001);
    let wrong = if bad_check[2].ends_with('0') {
        "1"
    } else {
        "0"
    };
    bad_check[2].replace_range(17.., wrong);
    rows[99] = bad_check; // row 101
    rows[199] = worker(5); // row 201: the same person as row 6
    let mut same_phone = worker(20_002);
    same_phone[1] = worker(6)[1].clone();
    rows[299] = same_phone; // row 301
    let mut bad_phone = worker(20_003);
    bad_phone[1] = "12345".into();
    rows[399] = bad_phone; // row 401
    let mut future = worker(20_004);
    future[5] = "2999-01-01".into();
    rows[499] = future; // row 501
                        // Row 8 is worker 7: phone 13700000007 with id_number(7), already in `elsewhere`.
    let file = workbook(&TEMPLATE, &rows);

    let mut console = cluster.ws(0, Codec::MsgPack).await;
    let topics = [format!("union:{union}:admin"), format!("union:{union}")];
    console.watch(&root, ClientKind::Console, &topics).await;

    let started = Instant::now();
    let path = format!("/unions/{union}/members/import");
    let report = report_of(cluster.upload(&root, &path, XLSX, file.clone()).await).await;
    let first_took = started.elapsed();
    println!("imported 10,000 rows in {first_took:?}");
    assert_eq!(report["total"], 10_000);
    assert_eq!(report["failed"], 6, "{}", report["failed"]);
    assert_eq!(report["changed"], 9_994);
    assert!(reason_of(&report, 101).contains("check digit"));
    assert!(reason_of(&report, 201).contains("same ID number as row 6"));
    assert!(reason_of(&report, 301).contains("same phone as row 7"));
    assert!(reason_of(&report, 401).starts_with("phone"));
    assert!(reason_of(&report, 501).contains("future"));
    // Row 8's person is in a union the importing admin also covers here, but the report
    // names no other union either way.
    assert!(reason_of(&report, 8).contains("a member of another union"));

    let mut progress = Vec::new();
    loop {
        let e = console.next_event().await;
        match e.kind.as_str() {
            kind::IMPORT_PROGRESS => progress.push(e.data["processed"].as_u64().unwrap()),
            kind::MEMBERS_IMPORTED => {
                assert_eq!(e.data["count"], 9_994);
                assert_eq!(e.data["member_count"], 9_994);
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(progress.len() >= 10, "{progress:?}");
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
    assert_eq!(progress.last(), Some(&10_000));

    let members = "SELECT count(*) FROM memberships WHERE union_id = $1 AND status = 'active'";
    assert_eq!(cluster.count(members, &[&union]).await, 9_994);
    let users = cluster.count("SELECT count(*) FROM users", &[]).await;
    let again = report_of(cluster.upload(&root, &path, XLSX, file).await).await;
    assert_eq!(
        (
            again["changed"].as_u64(),
            again["unchanged"].as_u64(),
            again["failed"].as_u64()
        ),
        (Some(0), Some(9_994), Some(6))
    );
    assert_eq!(cluster.count(members, &[&union]).await, 9_994);
    assert_eq!(
        cluster.count("SELECT count(*) FROM users", &[]).await,
        users
    );
    assert_eq!(
        cluster
            .count(
                "SELECT count(*) FROM audit_log WHERE action = 'members.import'",
                &[]
            )
            .await,
        2
    );
}

#[actix_rt::test]
async fn an_exported_roster_reimports_to_the_same_roster() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let union = cluster.child_union(cluster.root_union, "港务工会").await;
    let (viewer, viewer_id) = cluster.login_sms(0, "13900000201", "console").await;
    cluster.appoint(union, viewer_id, &["members.manage"]).await;
    let mut lines = vec![TEMPLATE.join(",")];
    lines.extend((1..=30).map(|n| worker(n).join(",")));
    let import = format!("/unions/{union}/members/import");
    let report = report_of(
        cluster
            .upload(&root, &import, "text/csv", csv(&lines))
            .await,
    )
    .await;
    assert_eq!(report["changed"], 30);

    let roster = |token: String| {
        let cluster = &cluster;
        async move {
            let mut all = Vec::new();
            let mut after = 0;
            loop {
                let page: Value = cluster
                    .get(
                        0,
                        &token,
                        &format!("/unions/{union}/members?limit=7&after={after}"),
                    )
                    .await
                    .json()
                    .await
                    .unwrap();
                for e in page["items"].as_array().unwrap() {
                    all.push((
                        e["name"].clone(),
                        e["phone"].clone(),
                        e["id_number"].clone(),
                        e["employer"].clone(),
                        e["job"].clone(),
                        e["joined_at"].clone(),
                    ));
                }
                match page["next_after"].as_i64() {
                    Some(next) => after = next,
                    None => return all,
                }
            }
        }
    };
    let before = roster(root.clone()).await;
    assert_eq!(before.len(), 30);
    assert_eq!(
        before[0].2,
        id_number(1),
        "the pii holder sees numbers in full"
    );
    assert_eq!(
        roster(viewer.clone()).await[0].2,
        format!("4401**********{}", &id_number(1)[14..])
    );

    let exported = cluster
        .get(
            0,
            &root,
            &format!("/unions/{union}/members/export?format=xlsx"),
        )
        .await;
    assert_eq!(exported.status(), 200);
    assert!(exported.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(".xlsx"));
    let xlsx = exported.bytes().await.unwrap().to_vec();
    let table = read_table(Format::Xlsx, &xlsx, 100).unwrap();
    assert_eq!(table.rows.len(), 30);
    assert_eq!(&table.rows[0].1[..6], &worker(1)[..]);
    let masked = cluster
        .get(0, &viewer, &format!("/unions/{union}/members/export"))
        .await;
    let masked = read_table(Format::Csv, &masked.bytes().await.unwrap(), 100).unwrap();
    assert!(masked.rows[0].1[2].contains("**********"));
    let exports = "SELECT count(*) FROM audit_log WHERE action = 'members.export'";
    assert_eq!(cluster.count(exports, &[]).await, 2);

    // Everyone leaves (the export names them), then the export comes back in.
    let remove = format!("/unions/{union}/members/remove-file?reason=%E8%BD%AC%E5%87%BA");
    let removed = report_of(cluster.upload(&root, &remove, XLSX, xlsx.clone()).await).await;
    assert_eq!(removed["changed"], 30);
    assert_eq!(roster(root.clone()).await.len(), 0);
    let back = report_of(cluster.upload(&root, &import, XLSX, xlsx).await).await;
    assert_eq!(back["changed"], 30, "{back}");
    assert_eq!(roster(root.clone()).await, before);
}

#[actix_rt::test]
async fn retirement_and_removal_reach_the_member_live_and_sort_the_roster() {
    let cluster = Cluster::start(2).await;
    let root = cluster.root_admin_token().await;
    let union = cluster.root_union;
    let (token, member) = cluster.verified_user(1, "13800000501", "app", 501).await;
    let (other, other_id) = cluster.verified_user(1, "13800000502", "app", 502).await;
    cluster.admit(&root, &token, union).await;
    cluster.admit(&root, &other, union).await;
    let mut app = cluster.ws(1, Codec::Json).await;
    let me = format!("member:{member}");
    let union_topic = format!("union:{union}");
    app.watch(&token, ClientKind::App, &[&me, &union_topic])
        .await;

    let retire = format!("/unions/{union}/members/{member}/retire");
    let early = cluster
        .post(0, &root, &retire, &json!({"retired_on": "2020-06-30"}))
        .await;
    assert_eq!(early.status(), 422, "before they joined");
    // Days are China's: from 16:00 UTC it is already tomorrow there.
    let today = gonghui_actors::domain::china_today().to_string();
    let done = cluster
        .post(
            0,
            &root,
            &retire,
            &json!({"retired_on": &today, "note": "到龄退休"}),
        )
        .await;
    assert_eq!(done.status(), 200, "{}", done.text().await.unwrap());
    let updated = app.event_of(&me, kind::MEMBERSHIP_UPDATED).await;
    assert_eq!(updated.data["membership"]["status"], "retired");
    assert_eq!(updated.data["membership"]["retired_on"], today.as_str());
    let notice = app.event_of(&me, kind::NOTIFICATION_CREATED).await;
    assert_eq!(notice.data["notification"]["kind"], "membership.retired");
    let again = cluster
        .post(0, &root, &retire, &json!({"retired_on": &today}))
        .await;
    assert_eq!(again.status(), 409);
    let future = cluster
        .post(0, &root, &retire, &json!({"retired_on": "2999-01-01"}))
        .await;
    assert_eq!(future.status(), 422);
    let listed = |status: &'static str| {
        let (cluster, root) = (&cluster, &root);
        async move {
            let page: Value = cluster
                .get(0, root, &format!("/unions/{union}/members?status={status}"))
                .await
                .json()
                .await
                .unwrap();
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["user_id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed("retired").await, [member]);
    assert_eq!(listed("active").await, [other_id]);
    let found: Value = cluster
        .get(0, &root, &format!("/unions/{union}/members?q=0502"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["items"][0]["user_id"], other_id);

    let removal = json!({"user_ids": [member, 999_999], "id_numbers": ["440101199003070011"], "reason": "调离本单位"});
    let report = report_of(
        cluster
            .post(
                0,
                &root,
                &format!("/unions/{union}/members/remove"),
                &removal,
            )
            .await,
    )
    .await;
    assert_eq!(
        (report["changed"].as_u64(), report["failed"].as_u64()),
        (Some(1), Some(2))
    );
    assert!(reason_of(&report, 2).contains("not a member"));
    assert!(reason_of(&report, 3).contains("check digit"));
    let (topic, error) = app.unsubscribed().await;
    assert_eq!(
        (topic.as_str(), error.code.as_str()),
        (union_topic.as_str(), "forbidden"),
        "the union's stream ends"
    );
    let ended = app.event_of(&me, kind::MEMBERSHIP_ENDED).await;
    assert_eq!(ended.data["membership"]["status"], "left");
    let told = app.event_of(&me, kind::NOTIFICATION_CREATED).await;
    assert_eq!(told.data["notification"]["body"], "原因：调离本单位");
    assert_eq!(listed("left").await, [member]);
    let me_now: Value = cluster.get(1, &token, "/me").await.json().await.unwrap();
    assert_eq!(me_now["memberships"], json!([]));
}

#[actix_rt::test]
async fn corrupt_wrong_oversized_and_forbidden_uploads_are_refused_and_change_nothing() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let union = cluster.root_union;
    let (member, _) = cluster.verified_user(0, "13800000601", "app", 601).await;
    let import = format!("/unions/{union}/members/import");
    let rows = "SELECT (SELECT count(*) FROM memberships) + (SELECT count(*) FROM users)";
    let before = cluster.count(rows, &[]).await;

    let mut corrupt = workbook(&TEMPLATE, &[worker(1)]);
    corrupt.truncate(corrupt.len() / 2);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (XLSX, corrupt, 422, "not a readable XLSX"),
        (
            "text/csv",
            csv(&["姓名,电话,身份证".into(), worker(2).join(",")]),
            422,
            "unknown column",
        ),
        (
            "text/csv",
            csv(&["姓名,手机号".into(), "张三,13700000001".into()]),
            422,
            "身份证号 (id_number) is missing",
        ),
        (
            "image/png",
            b"\x89PNG".to_vec(),
            422,
            "not a spreadsheet format",
        ),
        ("text/csv", Vec::new(), 400, "request body"),
        ("text/csv", vec![b'a'; 50 * 1024 * 1024], 413, "over 16 MiB"),
    ];
    for (content_type, file, status, says) in cases {
        let r = cluster.upload(&root, &import, content_type, file).await;
        assert_eq!(r.status(), status, "{says}");
        let body: Value = r.json().await.unwrap();
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{body}"
        );
    }
    let mut many = vec![TEMPLATE.join(",")];
    many.extend((0..50_001).map(|n| format!("x,{n},y")));
    let r = cluster.upload(&root, &import, "text/csv", csv(&many)).await;
    assert_eq!(r.status(), 422);
    let forbidden = cluster
        .upload(
            &member,
            &import,
            "text/csv",
            csv(&[TEMPLATE.join(","), worker(3).join(",")]),
        )
        .await;
    assert_eq!(forbidden.status(), 403);
    assert_eq!(cluster.count(rows, &[]).await, before);
    assert_eq!(
        cluster.count("SELECT count(*) FROM audit_log", &[]).await,
        0
    );
}
