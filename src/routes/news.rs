//! News (资讯): articles written in the console or imported from WeChat official-account
//! links, published to a union or its whole subtree, and each union's feed.

use actix_web::{get, post, put, web, HttpResponse};
use gonghui_actors::domain::{BoundedText, ImageUrl, Invalid, Permission, Scope};
use gonghui_actors::html::{sanitize, MAX_BODY};
use gonghui_actors::store::news::Draft;
use gonghui_actors::wechat::FetchArticle;
use gonghui_actors::Error;
use gonghui_protocol::dto::{ErrorResponse, Feed, LinkImport, News, NewsForm};
use serde::Deserialize;

use crate::api_error::ApiResult;
use crate::extract::Authed;
use crate::state::AppState;

/// The longest article link accepted, in characters (WeChat's long links are ~300).
const MAX_LINK: usize = 2_000;

/// Checks a console article; its HTML is sanitised here, once.
fn draft(form: &NewsForm) -> Result<Draft, Invalid> {
    let body_html = sanitize(&form.body_html);
    if body_html.trim().is_empty() {
        return Err(Invalid::new("body_html", "must not be empty"));
    }
    if body_html.len() > MAX_BODY {
        return Err(Invalid::new(
            "body_html",
            format!("must be at most {} KiB", MAX_BODY / 1024),
        ));
    }
    let cover_url = form
        .cover_url
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .map(|c| ImageUrl::parse("cover_url", c).map(|u| u.as_str().to_owned()))
        .transpose()?;
    Ok(Draft {
        title: BoundedText::parse("title", &form.title, 100)?,
        body_html,
        cover_url,
        digest: form
            .digest
            .as_deref()
            .map(|d| BoundedText::parse("digest", d, 200))
            .transpose()?,
        scope: Scope::parse(form.scope.as_deref())?,
    })
}

/// Saves an article written in the console as a draft.
#[utoipa::path(tag = "news", params(("union_id" = i64, Path)), request_body = NewsForm, responses(
    (status = 201, body = News), (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/unions/{union_id}/news")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    body: web::Json<NewsForm>,
) -> ApiResult<HttpResponse> {
    let draft = draft(&body)?;
    Ok(HttpResponse::Created().json(state.store.create_news(&caller.0, *path, &draft).await?))
}

/// Rewrites an article that is not published.
#[utoipa::path(tag = "news", params(("id" = i64, Path)), request_body = NewsForm, responses(
    (status = 200, body = News), (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[put("/news/{id}")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, news = *path))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    body: web::Json<NewsForm>,
) -> ApiResult<HttpResponse> {
    let draft = draft(&body)?;
    Ok(HttpResponse::Ok().json(state.store.update_news(&caller.0, *path, &draft).await?))
}

/// Imports an official-account article by its link (only HTTPS links to the allowed
/// hosts; the page is fetched within the configured time and size).
#[utoipa::path(tag = "news", params(("union_id" = i64, Path)), request_body = LinkImport, responses(
    (status = 201, body = News), (status = 403, body = ErrorResponse), (status = 409, body = ErrorResponse),
    (status = 422, body = ErrorResponse), (status = 503, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/unions/{union_id}/news/imports")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn import(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    body: web::Json<LinkImport>,
) -> ApiResult<HttpResponse> {
    let scope = Scope::parse(body.scope.as_deref())?;
    if body.url.chars().count() > MAX_LINK {
        return Err(Invalid::new("url", format!("must be at most {MAX_LINK} characters")).into());
    }
    state
        .require(caller.0.user_id, *path, Permission::NewsPublish)
        .await?;
    if state.store.news_link_known(*path, &body.url).await? {
        return Err(Error::Conflict("this article was imported here before".into()).into());
    }
    let article = state
        .ask_wechat(FetchArticle {
            url: body.url.clone(),
        })
        .await?;
    let news = state
        .store
        .import_news(
            &caller.0,
            *path,
            body.url.trim(),
            &article,
            scope,
            body.publish.unwrap_or(true),
        )
        .await?;
    Ok(HttpResponse::Created().json(news))
}

/// Publishes an article: `news.published` reaches every union in its audience at once.
#[utoipa::path(tag = "news", params(("id" = i64, Path)), responses(
    (status = 200, body = News), (status = 409, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/news/{id}/publish")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, news = *path))]
pub async fn publish(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.store.set_news_status(&caller.0, *path, true).await?))
}

/// Takes a published article back (`news.unpublished`).
#[utoipa::path(tag = "news", params(("id" = i64, Path)), responses(
    (status = 200, body = News), (status = 409, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/news/{id}/unpublish")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, news = *path))]
pub async fn unpublish(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.store.set_news_status(&caller.0, *path, false).await?))
}

/// One article (drafts only for the union's news admins).
#[utoipa::path(tag = "news", params(("id" = i64, Path)), responses(
    (status = 200, body = News), (status = 404, body = ErrorResponse)), security(("bearer" = [])))]
#[get("/news/{id}")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, news = *path))]
pub async fn one(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.store.news(caller.0.user_id, *path).await?))
}

/// Which page of a feed.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct FeedParams {
    /// The previous page's `next_before`.
    pub before: Option<i64>,
    /// 1–100, default 20.
    pub limit: Option<i64>,
}

/// A union's feed: its own news and what its ancestors published to their subtrees.
#[utoipa::path(tag = "news", params(("union_id" = i64, Path), FeedParams), responses(
    (status = 200, body = Feed), (status = 404, body = ErrorResponse)), security(("bearer" = [])))]
#[get("/unions/{union_id}/news")]
#[tracing::instrument(skip_all, fields(union = *path))]
pub async fn feed(
    state: web::Data<AppState>,
    _caller: Authed,
    path: web::Path<i64>,
    query: web::Query<FeedParams>,
) -> ApiResult<HttpResponse> {
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(Invalid::new("limit", "must be 1 to 100").into());
    }
    let (items, next_before) = state.store.feed(*path, query.before, limit).await?;
    Ok(HttpResponse::Ok().json(Feed { items, next_before }))
}
