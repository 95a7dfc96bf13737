//! `gonghui bootstrap` run again: the same password changes nothing, another one is
//! refused unless `--reset-password`, which also ends every session of that admin.

use clap::Parser;
use gonghui::cli::Cli;
use gonghui_protocol::{ClientKind, Codec};

use crate::helpers::{Cluster, Ended, TEST_DATA_KEY};

async fn bootstrap(cluster: &Cluster, password: &str, reset: bool) -> anyhow::Result<()> {
    let mut args = vec![
        "gonghui",
        "--database-url",
        &cluster.database_url,
        "--data-key",
        TEST_DATA_KEY,
        "bootstrap",
        "--union-name",
        "广东省总工会",
        "--admin-phone",
        "13900000000",
        "--admin-password",
        password,
    ];
    if reset {
        args.push("--reset-password");
    }
    Cli::try_parse_from(args)?.run().await
}

#[actix_rt::test]
async fn bootstrap_again_never_silently_replaces_the_admins_password() {
    let cluster = Cluster::start(1).await;
    bootstrap(&cluster, "first-pass-1", false).await.unwrap();
    let token = cluster
        .login_password(0, "13900000000", "first-pass-1", "console")
        .await;
    let mut socket = cluster.ws(0, Codec::Json).await;
    socket.hello(&token, ClientKind::Console).await;

    bootstrap(&cluster, "first-pass-1", false).await.unwrap();
    let refused = bootstrap(&cluster, "other-pass-2", false)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("--reset-password"),
        "{refused}"
    );
    assert_eq!(cluster.get(0, &token, "/me").await.status(), 200);
    cluster
        .login_password(0, "13900000000", "first-pass-1", "console")
        .await;

    bootstrap(&cluster, "other-pass-2", true).await.unwrap();
    assert_eq!(
        socket.until_closed().await.0,
        Ended::Closed(gonghui_protocol::close::UNAUTHENTICATED)
    );
    assert_eq!(cluster.get(0, &token, "/me").await.status(), 401);
    cluster
        .login_password(0, "13900000000", "other-pass-2", "console")
        .await;
}
