//! Admins of a union and their permissions: listed, appointed, changed and removed by
//! admins with `admins.manage` on it or an ancestor, never beyond what they hold.

use std::collections::BTreeSet;

use actix_web::{delete, get, put, web, HttpResponse};
use gonghui_actors::domain::{Invalid, Permission};
use gonghui_protocol::dto::{AdminEntry, AdminGrant, Admins, ErrorResponse};

use crate::api_error::ApiResult;
use crate::extract::Authed;
use crate::state::AppState;

/// The admins of a union (not those of unions above it).
#[utoipa::path(tag = "admins", params(("union_id" = i64, Path)), responses(
    (status = 200, body = Admins), (status = 403, body = ErrorResponse)), security(("bearer" = [])))]
#[get("/unions/{union_id}/admins")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(Admins {
        items: state.store.union_admins(&caller.0, *path).await?,
    }))
}

/// Appoints a user an admin of the union, or sets their permissions there; open
/// sockets of theirs see the change at once.
#[utoipa::path(tag = "admins", params(("union_id" = i64, Path), ("user_id" = i64, Path)), request_body = AdminGrant, responses(
    (status = 200, body = AdminEntry), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
    (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[put("/unions/{union_id}/admins/{user_id}")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id))]
pub async fn set(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<(i64, i64)>,
    body: web::Json<AdminGrant>,
) -> ApiResult<HttpResponse> {
    let (union_id, user_id) = *path;
    let permissions = body
        .permissions
        .iter()
        .map(|p| Permission::parse("permissions", p))
        .collect::<Result<BTreeSet<_>, _>>()?;
    if permissions.is_empty() {
        return Err(
            Invalid::new("permissions", "grant at least one; DELETE removes an admin").into(),
        );
    }
    let entry = state
        .store
        .set_admin(&caller.0, union_id, user_id, &permissions)
        .await?;
    Ok(HttpResponse::Ok().json(entry))
}

/// Removes an admin of the union; their admin-queue subscriptions end at once.
#[utoipa::path(tag = "admins", params(("union_id" = i64, Path), ("user_id" = i64, Path)), responses(
    (status = 204), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)), security(("bearer" = [])))]
#[delete("/unions/{union_id}/admins/{user_id}")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id))]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<(i64, i64)>,
) -> ApiResult<HttpResponse> {
    let (union_id, user_id) = *path;
    state
        .store
        .set_admin(&caller.0, union_id, user_id, &BTreeSet::new())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
