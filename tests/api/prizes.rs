//! Prizes (兑奖) from the winner's side: the address as WeChat gives it, corrections
//! until it ships, the shipment heard live on every device and in the inbox, and the
//! winner's own list of prizes.

use gonghui_protocol::events::kind;
use gonghui_protocol::{ClientKind, Codec};
use serde_json::{json, Value};

use crate::activities::published;
use crate::helpers::Cluster;

/// What `wx.chooseAddress` returns, as the mini-program sends it.
fn chosen(detail: &str) -> Value {
    json!({"userName": "张三", "telNumber": "020-88886666", "provinceName": "广东省",
        "cityName": "广州市", "countyName": "天河区", "detailInfo": detail,
        "postalCode": "510000", "nationalCode": "440106", "errMsg": "chooseAddress:ok"})
}

#[actix_rt::test]
async fn a_winner_claims_with_wechats_address_and_hears_the_shipment_live_and_in_the_inbox() {
    let cluster = Cluster::start(2).await;
    let root = cluster.root_admin_token().await;
    let union = cluster.root_union;
    let (winner, winner_id) = cluster.verified_user(0, "13855650001", "app", 5650).await;
    cluster.admit(&root, &winner, union).await;
    let mini = cluster.second_device("13855650001", 1, "miniprogram").await;
    let lottery = json!({"prizes": [{"id": "tv", "name": "电视", "quantity": 1}], "win_rate": 1.0});
    let id = published(&cluster, &root, union, "lottery", lottery).await;
    let drawn = cluster
        .post(0, &winner, &format!("/activities/{id}/answers"), &json!({}))
        .await;
    assert_eq!(drawn.status(), 201);
    let topic = format!("member:{winner_id}");
    let mut device = cluster.ws(1, Codec::MsgPack).await;
    device
        .watch(&mini, ClientKind::Miniprogram, &[&topic])
        .await;

    let claim = format!("/activities/{id}/prize/claim");
    let mut bad = chosen("体育西路1号");
    bad["postalCode"] = json!("51");
    let refused = cluster.post(0, &winner, &claim, &bad).await;
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.unwrap();
    assert!(body["error"]["fields"]["postalCode"].is_string(), "{body}");
    for detail in ["体育西路1号", "体育西路2号"] {
        let r = cluster.post(0, &winner, &claim, &chosen(detail)).await;
        assert_eq!(r.status(), 204, "a claim may be corrected before it ships");
    }

    let ship = format!("/activities/{id}/prizes/{winner_id}/ship");
    let shipped = cluster
        .post(
            0,
            &root,
            &ship,
            &json!({"carrier": "顺丰速运", "tracking": "SF1234567890"}),
        )
        .await;
    assert_eq!(shipped.status(), 204);
    let event = device.event_of(&topic, kind::PRIZE_SHIPPED).await;
    assert_eq!(event.data["prize"]["carrier"], "顺丰速运");
    assert_eq!(event.data["prize"]["tracking"], "SF1234567890");
    assert_eq!(event.data["prize"]["address"]["detail"], "体育西路2号");
    let note = device.event_of(&topic, kind::NOTIFICATION_CREATED).await;
    assert!(note.data["notification"]["body"]
        .as_str()
        .unwrap()
        .contains("SF1234567890"));

    let mine: Value = cluster
        .get(1, &mini, "/me/prizes")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    assert_eq!(mine["items"][0]["prize"], "电视");
    assert_eq!(mine["items"][0]["address"]["postal_code"], "510000");
    assert!(mine["items"][0]["shipped_at"].is_string());

    let late = cluster.post(0, &winner, &claim, &chosen("别处")).await;
    assert_eq!(late.status(), 409, "too late once shipped");
    let file = cluster
        .get(0, &root, &format!("/activities/{id}/export?file=prizes"))
        .await;
    let table = gonghui_actors::sheets::read_table(
        gonghui_actors::sheets::Format::Csv,
        &file.bytes().await.unwrap(),
        10,
    )
    .unwrap();
    assert_eq!(table.header[5..9], ["省", "市", "区县", "详细地址"]);
    assert_eq!(table.rows[0].1[8], "体育西路2号");
    assert_eq!(table.rows[0].1[12], "顺丰速运");
}
