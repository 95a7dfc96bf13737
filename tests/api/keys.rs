//! No key in the source: a node without GONGHUI_DATA_KEY makes a random one in its data
//! directory (0600) and keeps using it across restarts, so what it encrypted stays
//! readable; production refuses to start without a configured key.

use std::os::unix::fs::PermissionsExt;

use gonghui::config::Config;
use gonghui_actors::auth::SmsGateway;
use serde_json::Value;

use crate::helpers::{pg_base, spawn_node, Cluster};

#[actix_rt::test]
async fn a_development_node_generates_a_private_key_once_and_keeps_it() {
    let dir = std::env::temp_dir().join(format!("gonghui-keys-{}", uuid::Uuid::new_v4().simple()));
    let keyed_by_dir = dir.clone();
    let cluster = Cluster::start_with(1, &pg_base(), move |s| {
        s.data_key = None;
        s.data_dir = Some(keyed_by_dir.clone());
    })
    .await;
    let key_file = dir.join("data.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let key = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(key.trim().len(), 64);

    let root = cluster.root_admin_token().await;
    let (member, _) = cluster.verified_user(0, "13855640001", "app", 5640).await;
    cluster.admit(&root, &member, cluster.root_union).await;
    let roster = format!("/unions/{}/members", cluster.root_union);
    let before: Value = cluster.get(0, &root, &roster).await.json().await.unwrap();
    assert_eq!(
        before["items"][0]["id_number"],
        crate::helpers::id_number(5640)
    );

    // A second node on the same directory: the same key, so the number still decrypts.
    let mut settings =
        crate::helpers::test_settings(&cluster.database_url, "http://127.0.0.1:9/sms");
    settings.data_key = None;
    settings.data_dir = Some(dir.clone());
    let again = spawn_node(&settings).await;
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key);
    let after: Value = cluster
        .http
        .get(format!("{}/api/v1{roster}", again.http))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        after["items"][0]["id_number"],
        before["items"][0]["id_number"]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn production_refuses_to_start_without_a_configured_key() {
    let mut settings =
        crate::helpers::test_settings("postgres://unused/db", "http://127.0.0.1:9/sms");
    settings.data_key = None;
    settings.env = Some("production".into());
    let refused = Config::resolve(settings.clone(), "127.0.0.1:0".into())
        .err()
        .unwrap();
    assert!(
        refused.to_string().contains("GONGHUI_DATA_KEY"),
        "{refused}"
    );
    settings.data_key = Some("ab".repeat(32));
    settings.sms = Some("log".into());
    let config = Config::resolve(settings, "127.0.0.1:0".into()).unwrap();
    assert!(
        matches!(
            config.sms,
            SmsGateway::Log {
                codes_at_info: false
            }
        ),
        "production never writes a working code at INFO: {:?}",
        config.sms
    );
}
