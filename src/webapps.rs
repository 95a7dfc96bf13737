//! The web apps people use, embedded in the binary so every node serves them without
//! Node: the admin console (管理后台, `clients/console`) at `/console/` and the member H5
//! app (会员端, `clients/h5`) at `/h5/`. Hashed assets are cached for a year, every other
//! path of an app gets its `index.html` (the app routes itself), and every answer carries
//! a Content-Security-Policy that lets the page talk only to this node and the nodes
//! `GONGHUI_CONSOLE_NODES` lists.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

/// An app built into the binary, named for the message of a binary built without it.
pub trait App: rust_embed::Embed {
    /// Where its sources are.
    const SOURCE: &'static str;
}

/// The built console (run `npm run build` in clients/console after changing it).
#[derive(rust_embed::Embed)]
#[folder = "clients/console/dist"]
pub struct Console;

impl App for Console {
    const SOURCE: &'static str = "clients/console";
}

/// The built member app (run `npm run build` in clients/h5 after changing it).
#[derive(rust_embed::Embed)]
#[folder = "clients/h5/dist"]
pub struct H5;

impl App for H5 {
    const SOURCE: &'static str = "clients/h5";
}

/// What every answer of the apps shares: the other nodes a page may fail over to, and
/// where its map's tiles come from.
pub struct WebApps {
    nodes: Vec<String>,
    map_tiles: Option<String>,
    policy: HeaderValue,
}

impl WebApps {
    /// The apps of a node whose peers are `nodes` (base URLs, `https://host:port`),
    /// with map tiles from `map_tiles` (a URL template) if given.
    pub fn new(nodes: &[String], map_tiles: Option<&str>) -> Self {
        // Images from this node, data: and blob: (codes, downloads) and the tile host.
        let tiles = map_tiles
            .and_then(|t| {
                let (scheme, rest) = t.split_once("://")?;
                Some(format!(
                    " {scheme}://{}",
                    rest.split('/').next()?.replace("{s}", "*")
                ))
            })
            .unwrap_or_default();
        let mut connect = vec!["'self'".to_owned()];
        for node in nodes {
            connect.push(node.clone());
            connect.push(node.replacen("http", "ws", 1));
        }
        // Element Plus and Vant position popups with style attributes, hence
        // 'unsafe-inline' for styles only; scripts come from this node alone. Images may
        // come from any HTTPS host: articles embed WeChat's image servers (and covers are
        // `https` URLs); the pages send no referrer.
        let policy = format!(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:{tiles}; \
             font-src 'self' data:; connect-src {}; object-src 'none'; base-uri 'self'; form-action 'self'; \
             frame-ancestors 'none'",
            connect.join(" ")
        );
        WebApps {
            nodes: nodes.to_vec(),
            map_tiles: map_tiles.map(str::to_owned),
            policy: HeaderValue::from_str(&policy).expect("the policy is ASCII"),
        }
    }

    fn respond(&self, mut response: HttpResponse) -> HttpResponse {
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_SECURITY_POLICY, self.policy.clone());
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        response
    }
}

/// The request headers an app on another node sends to the API.
const ALLOWED_HEADERS: &str = "authorization, content-type, idempotency-key";
/// The answer headers it may read.
const EXPOSED_HEADERS: &str = "retry-after, idempotent-replayed, content-disposition";

/// Lets the apps of another listed node call this node's API (their failover): an
/// `Origin` in `GONGHUI_CONSOLE_NODES` gets CORS headers and its preflights are answered;
/// any other request passes untouched (the browser enforces the rest). Tokens travel in
/// `Authorization`, never cookies, so no credentials are allowed.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let allowed = req
        .headers()
        .get(header::ORIGIN)
        .filter(|origin| {
            req.app_data::<web::Data<WebApps>>()
                .is_some_and(|apps| apps.nodes.iter().any(|n| n.as_bytes() == origin.as_bytes()))
        })
        .cloned();
    let Some(origin) = allowed else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        let answer = HttpResponse::NoContent()
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_METHODS,
                "GET, POST, PUT, DELETE",
            ))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
            .finish();
        req.into_response(answer).map_into_right_body()
    } else {
        let mut response = next.call(req).await?.map_into_left_body();
        response.headers_mut().insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(header::VARY, HeaderValue::from_static("origin"));
    Ok(response)
}

fn found(location: String) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// `/` and `/console` lead to the console.
pub async fn to_console() -> HttpResponse {
    found("/console/".to_owned())
}

/// `/h5` leads to the member app.
pub async fn to_h5() -> HttpResponse {
    found("/h5/".to_owned())
}

/// An activity's link (`GONGHUI_PUBLIC_URL/activities/{id}`, what its 葵花码 encodes)
/// opens its page in the member app. The id is a number, so the target stays on this site.
pub async fn activity_link(id: web::Path<i64>) -> HttpResponse {
    found(format!("/h5/activities/{id}"))
}

/// The peers a page may fail over to, and the map's tiles.
pub async fn config(apps: web::Data<WebApps>) -> HttpResponse {
    apps.respond(
        HttpResponse::Ok()
            .json(serde_json::json!({ "nodes": apps.nodes, "map_tiles": apps.map_tiles })),
    )
}

/// A file of app `A`, or the app itself for any other path under its prefix.
pub async fn asset<A: App>(apps: web::Data<WebApps>, path: web::Path<String>) -> HttpResponse {
    let path = path.into_inner();
    let (name, file) = match A::get(&path) {
        Some(file) if !path.is_empty() => (path.as_str(), file),
        // A file-like path that is not there is a 404, not the app.
        _ if path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.')) =>
        {
            return apps.respond(HttpResponse::NotFound().finish())
        }
        _ => match A::get("index.html") {
            Some(file) => ("index.html", file),
            None => {
                return apps.respond(
                    HttpResponse::ServiceUnavailable()
                        .body(format!("this binary was built without {}/dist", A::SOURCE)),
                )
            }
        },
    };
    // Vite names what it builds by content hash: those never change; index.html always may.
    let cache = if name.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    apps.respond(
        HttpResponse::Ok()
            .content_type(file.metadata.mimetype())
            .insert_header((header::CACHE_CONTROL, cache))
            // Embedded files are static: sent as they are, not copied per request.
            .body(match file.data {
                std::borrow::Cow::Borrowed(bytes) => actix_web::body::BoxBody::new(bytes),
                std::borrow::Cow::Owned(bytes) => actix_web::body::BoxBody::new(bytes),
            }),
    )
}
