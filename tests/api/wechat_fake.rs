//! A fake WeChat on loopback over real HTTPS (a self-signed certificate the nodes are
//! told to trust), serving recorded-style article pages and the misbehaving kinds.

use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};

/// A running fake and what a node needs to reach it.
pub struct FakeWeChat {
    /// `https://127.0.0.1:{port}`
    pub base: String,
    /// `127.0.0.1:{port}`, for the allowed hosts.
    pub host: String,
    /// A file holding the certificate, for `GONGHUI_WECHAT_CA_FILE`.
    pub ca_file: std::path::PathBuf,
}

/// An article page shaped like an official-account article.
pub fn article_page(title: &str, author: Option<&str>, account: &str, body: &str) -> String {
    let author = author.map_or(String::new(), |a| {
        format!(r#"<meta name="author" content="{a}">"#)
    });
    format!(
        r#"<!DOCTYPE html><html><head><meta charset="utf-8">
<meta property="og:title" content="{title}">
<meta property="og:image" content="https://mmbiz.qpic.cn/cover.jpg">
<meta name="description" content="{title}的摘要">
{author}
<title>{title}</title></head>
<body><div id="js_article">
<h1 class="rich_media_title" id="activity-name">{title}</h1>
<div class="rich_media_meta_list"><a id="js_name">{account}</a><em id="publish_time"></em></div>
<div class="rich_media_content" id="js_content" style="visibility: hidden;">{body}</div>
</div>
<script>var ct = "1763940000"; var nickname = "{account}";</script>
<script>window.steal = function () {{}};</script>
</body></html>"#
    )
}

/// Starts the fake on a random port.
pub fn spawn() -> FakeWeChat {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert_der = certified.cert.der().clone();
    let key_der =
        rustls::pki_types::PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let tls = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key_der.into())
        .unwrap();
    let ca_file = std::env::temp_dir().join(format!(
        "gonghui-fake-wechat-{}.pem",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&ca_file, certified.cert.pem()).unwrap();

    let server = HttpServer::new(|| {
        App::new()
            .route("/s/normal", web::get().to(|| async {
                html(article_page(
                    "工会法知识问答",
                    Some("李记者"),
                    "广东工会",
                    r#"<p>正文第一段<img data-src="https://mmbiz.qpic.cn/a.jpg" onerror="steal()"></p><script>alert(1)</script>"#,
                ))
            }))
            .route("/s/noauthor", web::get().to(|| async {
                html(article_page("职工书屋开放", None, "广州工会", "<p>开放时间：周一至周五</p>"))
            }))
            .route("/s/imageonly", web::get().to(|| async {
                html(article_page(
                    "图说劳模",
                    Some("摄影部"),
                    "深圳工会",
                    r#"<p><img data-src="https://mmbiz.qpic.cn/1.jpg"></p><p><img data-src="https://mmbiz.qpic.cn/2.jpg"></p>"#,
                ))
            }))
            .route("/s/redirect-private", web::get().to(|| async {
                HttpResponse::Found().insert_header(("location", "https://10.0.0.1/admin")).finish()
            }))
            .route("/s/huge", web::get().to(|| async { html("x".repeat(20 * 1024 * 1024)) }))
            .route("/s/silent", web::get().to(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                HttpResponse::Ok().finish()
            }))
    })
    .workers(1)
    .bind_rustls_0_23("127.0.0.1:0", tls)
    .unwrap();
    let port = server.addrs()[0].port();
    actix_rt::spawn(server.run());
    FakeWeChat {
        base: format!("https://127.0.0.1:{port}"),
        host: format!("127.0.0.1:{port}"),
        ca_file,
    }
}

fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}
