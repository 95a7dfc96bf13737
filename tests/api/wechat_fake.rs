//! A fake WeChat on loopback over real HTTPS (a self-signed certificate the nodes are
//! told to trust), serving recorded-style article pages and the misbehaving kinds.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::{json, Value};

/// What the fake API does next, and what it saw; tests change and read it.
#[derive(Default)]
pub struct ApiState {
    /// Published messages, newest first: (article_id, [(title, url)]).
    pub published: Vec<(String, Vec<(String, String)>)>,
    /// Tokens issued so far.
    pub tokens_issued: u32,
    /// Tokens WeChat now refuses (as if expired).
    pub revoked: Vec<String>,
    /// Answer batchget with 45009.
    pub rate_limited: bool,
    /// Answer batchget with 48001.
    pub unauthorized: bool,
    /// Mini-program codes made.
    pub codes_made: u32,
    /// Refuse to make mini-program codes (as for a page not yet released).
    pub refuse_codes: bool,
    /// Article links the account has deleted: listed with `is_deleted`.
    pub deleted: Vec<String>,
    /// Article pages served.
    pub pages_served: u32,
    /// Fields of listed articles WeChat answers otherwise than usual, by the article's
    /// link as published: (link, fields to replace).
    pub overrides: Vec<(String, Value)>,
}

/// A tiny PNG the fake serves as a mini-program code.
pub const MINI_CODE: &[u8] = b"\x89PNG\r\n\x1a\nfake-mini-program-code";

/// A running fake and what a node needs to reach it.
pub struct FakeWeChat {
    /// `https://127.0.0.1:{port}`
    pub base: String,
    /// `127.0.0.1:{port}`, for the allowed hosts.
    pub host: String,
    /// A file holding the certificate, for `GONGHUI_WECHAT_CA_FILE`.
    pub ca_file: std::path::PathBuf,
    /// The API's behaviour.
    pub api: Arc<Mutex<ApiState>>,
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

/// The page of one article that both `/s/short` and its long link `/s?__biz=…` serve,
/// naming its long link in `og:url` as WeChat's pages do.
fn one_article_page() -> String {
    article_page("同一篇文章", None, "广东工会", "<p>正文</p>").replace(
        "<title>",
        r#"<meta property="og:url" content="http://mp.weixin.qq.com/s?__biz=MzA5&amp;mid=2651&amp;idx=1&amp;sn=c0ffee#rd"><title>"#,
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

    let api = Arc::new(Mutex::new(ApiState::default()));
    let shared = web::Data::from(api.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .route("/cgi-bin/token", web::get().to(token))
            .route("/cgi-bin/freepublish/batchget", web::post().to(batchget))
            .route("/sns/jscode2session", web::get().to(jscode2session))
            .route("/wxa/getwxacodeunlimit", web::post().to(wxacode))
            .route("/s/normal", web::get().to(|| async {
                html(article_page(
                    "工会法知识问答",
                    Some("李记者"),
                    "广东工会",
                    r#"<p>正文第一段<img data-src="https://mmbiz.qpic.cn/a.jpg" onerror="steal()"></p><script>alert(1)</script>"#,
                ))
            }))
            .route("/s", web::get().to(|state: web::Data<Mutex<ApiState>>| async move {
                state.lock().unwrap().pages_served += 1;
                html(one_article_page())
            }))
            .route("/s/short", web::get().to(|state: web::Data<Mutex<ApiState>>| async move {
                state.lock().unwrap().pages_served += 1;
                html(one_article_page())
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
            .route("/s/hostile", web::get().to(|| async {
                let page = article_page("恶意页面", Some(&"长".repeat(20_000)), "某号", "<p>正文</p>");
                html(page.replace("https://mmbiz.qpic.cn/cover.jpg", "javascript:alert(document.cookie)"))
            }))
            .route("/s/gone", web::get().to(|| async { HttpResponse::NotFound().finish() }))
            .route("/s/deleted", web::get().to(|| async {
                html(r#"<html><head><meta property="og:title" content="微信公众平台"></head><body><div class="weui-msg"><p class="weui-msg__desc">该内容已被发布者删除</p></div></body></html>"#.to_owned())
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
        api,
    }
}

impl Drop for FakeWeChat {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_file);
    }
}

type Query = web::Query<std::collections::HashMap<String, String>>;

async fn token(state: web::Data<Mutex<ApiState>>, q: Query) -> HttpResponse {
    if q.get("secret").map(String::as_str) == Some("bad") {
        return HttpResponse::Ok().json(json!({"errcode": 40125, "errmsg": "invalid appsecret"}));
    }
    let mut state = state.lock().unwrap();
    state.tokens_issued += 1;
    HttpResponse::Ok()
        .json(json!({"access_token": format!("tok-{}", state.tokens_issued), "expires_in": 7200}))
}

async fn batchget(
    state: web::Data<Mutex<ApiState>>,
    q: Query,
    body: web::Json<Value>,
) -> HttpResponse {
    let state = state.lock().unwrap();
    let token = q.get("access_token").cloned().unwrap_or_default();
    let error = if state.revoked.contains(&token) {
        Some((
            40001,
            "invalid credential, access_token is invalid or not latest",
        ))
    } else if state.rate_limited {
        Some((45009, "reach max api daily quota limit"))
    } else if state.unauthorized {
        Some((48001, "api unauthorized"))
    } else {
        None
    };
    if let Some((code, message)) = error {
        return HttpResponse::Ok().json(json!({"errcode": code, "errmsg": message}));
    }
    let offset = body["offset"].as_u64().unwrap_or(0) as usize;
    let count = body["count"].as_u64().unwrap_or(20) as usize;
    let items: Vec<Value> = state
        .published
        .iter()
        .skip(offset)
        .take(count)
        .map(|(id, articles)| {
            let news: Vec<Value> = articles
                .iter()
                .map(|(title, url)| {
                    let mut item = json!({"title": title, "author": "小编", "digest": format!("{title}摘要"),
                        "content": format!("<p>{title}</p><script>x()</script>"), "thumb_url": "https://mmbiz.qpic.cn/t.jpg", "url": url,
                        "is_deleted": state.deleted.contains(url)});
                    for (_, fields) in state.overrides.iter().filter(|(link, _)| link == url) {
                        for (key, value) in fields.as_object().into_iter().flatten() {
                            item[key] = value.clone();
                        }
                    }
                    item
                })
                .collect();
            json!({"article_id": id, "content": {"news_item": news}, "update_time": 1763940000})
        })
        .collect();
    HttpResponse::Ok().json(
        json!({"total_count": state.published.len(), "item_count": items.len(), "item": items}),
    )
}

async fn jscode2session(q: Query) -> HttpResponse {
    match q.get("js_code").and_then(|c| c.strip_prefix("good-")) {
        Some(who) => {
            HttpResponse::Ok().json(json!({"openid": format!("oid-{who}"), "session_key": "k"}))
        }
        None => HttpResponse::Ok().json(json!({"errcode": 40029, "errmsg": "invalid code"})),
    }
}

async fn wxacode(state: web::Data<Mutex<ApiState>>, body: web::Json<Value>) -> HttpResponse {
    assert!(body["scene"].as_str().unwrap().starts_with("a="));
    let mut state = state.lock().unwrap();
    if state.refuse_codes {
        return HttpResponse::Ok().json(json!({"errcode": 41030, "errmsg": "invalid page"}));
    }
    state.codes_made += 1;
    HttpResponse::Ok().content_type("image/png").body(MINI_CODE)
}

fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}
