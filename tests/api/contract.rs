//! One rule for every call: an unknown value of a closed query parameter is 400
//! `bad_request` naming the choices, and a union that does not exist is 404, whatever
//! else the call would have checked first.

use serde_json::{json, Value};

use crate::activities::published;
use crate::helpers::Cluster;

#[actix_rt::test]
async fn unknown_query_values_are_400_and_a_missing_union_is_404_everywhere() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let union = cluster.root_union;
    let vote = json!({"options": [{"id": "a", "text": "甲"}, {"id": "b", "text": "乙"}], "max_choices": 1});
    let activity = published(&cluster, &root, union, "vote", vote).await;
    for (path, names) in [
        (
            format!("/unions/{union}/members?status=bogus"),
            "active, retired, left",
        ),
        (
            format!("/unions/{union}/members/export?format=pdf"),
            "csv, xlsx",
        ),
        (
            format!("/unions/{union}/applications?status=approved"),
            "pending",
        ),
        (
            format!("/activities/{activity}/code?format=gif"),
            "png, svg",
        ),
        (
            format!("/activities/{activity}/export?file=all"),
            "results, prizes",
        ),
        (
            format!("/activities/{activity}/export?file=prizes&format=ods"),
            "csv, xlsx",
        ),
    ] {
        let r = cluster.get(0, &root, &path).await;
        assert_eq!(r.status(), 400, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "bad_request", "{path}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(names),
            "{path}: {body}"
        );
    }

    let missing = 999_999;
    let csv = "姓名,手机号,身份证号\n".as_bytes().to_vec();
    let uploads = [
        format!("/unions/{missing}/members/import"),
        format!("/unions/{missing}/members/remove-file?reason=x"),
    ];
    for path in uploads {
        let r = cluster.upload(&root, &path, "text/csv", csv.clone()).await;
        assert_eq!(r.status(), 404, "{path}");
    }
    let posts = [
        (
            format!("/unions/{missing}/news/imports"),
            json!({"url": "https://mp.weixin.qq.com/s/x"}),
        ),
        (
            format!("/unions/{missing}/applications"),
            json!({"kind": "join"}),
        ),
    ];
    for (path, body) in posts {
        let r = cluster.post(0, &root, &path, &body).await;
        assert_eq!(r.status(), 404, "{path}");
    }
    for path in [
        format!("/unions/{missing}/members"),
        format!("/unions/{missing}/members/export"),
    ] {
        assert_eq!(cluster.get(0, &root, &path).await.status(), 404, "{path}");
    }
}
