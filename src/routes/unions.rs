//! The union tree as signed-in users read it: one union, its children and ancestors, a
//! search by name, the map (工会地图) of unions near a point, the committee, and the
//! audit log for admins.

use actix_web::{get, web, HttpResponse};
use gonghui_actors::domain::{BoundedText, Coordinates, Invalid};
use gonghui_protocol::dto::{AuditPage, Committee, ErrorResponse, Nearby, Union, Unions};
use serde::Deserialize;

use crate::api_error::ApiResult;
use crate::extract::Authed;
use crate::state::AppState;

/// The most items of one page.
const MAX_PAGE: i64 = 100;
/// The widest map search, in metres.
const MAX_RADIUS: f64 = 50_000.0;
/// The deepest map page.
const MAX_OFFSET: i64 = 10_000;

/// A page size: 1 to 100, 20 when not given.
pub(crate) fn limit_of(raw: Option<i64>) -> Result<i64, Invalid> {
    let limit = raw.unwrap_or(20);
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(Invalid::new("limit", format!("must be 1 to {MAX_PAGE}")))
    }
}

/// One union.
#[utoipa::path(tag = "unions", params(("union_id" = i64, Path)), responses(
    (status = 200, body = Union), (status = 404, body = ErrorResponse)), security(("bearer" = [])))]
#[get("/unions/{union_id}")]
#[tracing::instrument(skip_all, fields(union = *path))]
pub async fn one(
    state: web::Data<AppState>,
    _caller: Authed,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.store.union(*path).await?))
}

/// Which page of a list of unions.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct PageParams {
    /// The previous page's `next_after`.
    pub after: Option<i64>,
    /// 1–100, default 20.
    pub limit: Option<i64>,
}

/// The unions directly below one, by id.
#[utoipa::path(tag = "unions", params(("union_id" = i64, Path), PageParams), responses(
    (status = 200, body = Unions), (status = 404, body = ErrorResponse)), security(("bearer" = [])))]
#[get("/unions/{union_id}/children")]
#[tracing::instrument(skip_all, fields(union = *path))]
pub async fn children(
    state: web::Data<AppState>,
    _caller: Authed,
    path: web::Path<i64>,
    query: web::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let limit = limit_of(query.limit)?;
    let (items, next_after) = state
        .store
        .children(*path, query.after.unwrap_or(0), limit)
        .await?;
    Ok(HttpResponse::Ok().json(Unions { items, next_after }))
}

/// The unions above one, the root first.
#[utoipa::path(tag = "unions", params(("union_id" = i64, Path)), responses(
    (status = 200, body = Unions), (status = 404, body = ErrorResponse)), security(("bearer" = [])))]
#[get("/unions/{union_id}/ancestors")]
#[tracing::instrument(skip_all, fields(union = *path))]
pub async fn ancestors(
    state: web::Data<AppState>,
    _caller: Authed,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(Unions {
        items: state.store.ancestors(*path).await?,
        next_after: None,
    }))
}

/// A search by name.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct SearchParams {
    /// Part of the name (1–50 characters).
    pub q: String,
    /// The previous page's `next_after`.
    pub after: Option<i64>,
    /// 1–100, default 20.
    pub limit: Option<i64>,
}

/// Unions whose name contains `q`, by id.
#[utoipa::path(tag = "unions", params(SearchParams), responses(
    (status = 200, body = Unions), (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[get("/unions")]
#[tracing::instrument(skip_all)]
pub async fn search(
    state: web::Data<AppState>,
    _caller: Authed,
    query: web::Query<SearchParams>,
) -> ApiResult<HttpResponse> {
    let text = BoundedText::parse("q", &query.q, 50)?;
    let limit = limit_of(query.limit)?;
    let (items, next_after) = state
        .store
        .search_unions(&text, query.after.unwrap_or(0), limit)
        .await?;
    Ok(HttpResponse::Ok().json(Unions { items, next_after }))
}

/// A point and a radius on the map.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct NearbyParams {
    pub lat: f64,
    pub lng: f64,
    /// 1–50,000 metres, default 5,000.
    pub radius_m: Option<f64>,
    /// 1–100, default 20.
    pub limit: Option<i64>,
    /// The previous page's `next_offset` (at most 10,000).
    pub offset: Option<i64>,
}

/// Unions within `radius_m` of a point, nearest first (工会地图).
#[utoipa::path(tag = "unions", params(NearbyParams), responses(
    (status = 200, body = Nearby), (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[get("/unions/nearby")]
#[tracing::instrument(skip_all)]
pub async fn nearby(
    state: web::Data<AppState>,
    _caller: Authed,
    query: web::Query<NearbyParams>,
) -> ApiResult<HttpResponse> {
    let at = Coordinates::parse(query.lat, query.lng)?;
    let radius = query.radius_m.unwrap_or(5_000.0);
    if !(1.0..=MAX_RADIUS).contains(&radius) {
        return Err(Invalid::new("radius_m", "must be 1 to 50000 metres").into());
    }
    let offset = query.offset.unwrap_or(0);
    if !(0..=MAX_OFFSET).contains(&offset) {
        return Err(Invalid::new("offset", "must be 0 to 10000").into());
    }
    let (items, next_offset) = state
        .store
        .nearby(at, radius, limit_of(query.limit)?, offset)
        .await?;
    Ok(HttpResponse::Ok().json(Nearby { items, next_offset }))
}

/// A union's committee: the current term and every earlier one.
#[utoipa::path(tag = "unions", params(("union_id" = i64, Path)), responses(
    (status = 200, body = Committee), (status = 404, body = ErrorResponse)), security(("bearer" = [])))]
#[get("/unions/{union_id}/committee")]
#[tracing::instrument(skip_all, fields(union = *path))]
pub async fn committee(
    state: web::Data<AppState>,
    _caller: Authed,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.store.committee(*path).await?))
}

/// Which page of the audit log.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct AuditParams {
    /// The previous page's `next_before`.
    pub before: Option<i64>,
    /// 1–100, default 20.
    pub limit: Option<i64>,
}

/// A union's audit log, newest first, for admins of it or an ancestor.
#[utoipa::path(tag = "unions", params(("union_id" = i64, Path), AuditParams), responses(
    (status = 200, body = AuditPage), (status = 403, body = ErrorResponse)), security(("bearer" = [])))]
#[get("/unions/{union_id}/audit")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn audit(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    query: web::Query<AuditParams>,
) -> ApiResult<HttpResponse> {
    let limit = limit_of(query.limit)?;
    let (items, next_before) = state
        .store
        .audit_page(&caller.0, *path, query.before, limit)
        .await?;
    Ok(HttpResponse::Ok().json(AuditPage { items, next_before }))
}
