//! Applications to join a union (入会) or to transfer into it (会籍转移): filed by a
//! verified user, listed and decided by admins with `members.review` on the receiving
//! union or an ancestor (the union a transfer leaves sees it in its queue, read-only).

use actix_web::{get, post, web, HttpResponse};
use gonghui_actors::domain::{note, ApplicationKind, Decision, Permission};
use gonghui_actors::Error;
use gonghui_protocol::dto::{Application, Applications, ErrorResponse, NewApplication, Rejection};
use serde::Deserialize;

use crate::api_error::ApiResult;
use crate::extract::{unknown_value, Authed};
use crate::state::AppState;

/// Applies to join a union, or to transfer one's membership to it.
#[utoipa::path(tag = "applications", params(("union_id" = i64, Path)), request_body = NewApplication, responses(
    (status = 201, body = Application), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
    (status = 409, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/unions/{union_id}/applications")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    body: web::Json<NewApplication>,
) -> ApiResult<HttpResponse> {
    let kind = ApplicationKind::try_from(body.kind.as_str()).map_err(Error::from)?;
    let note = body
        .note
        .as_deref()
        .map(|n| note("note", n))
        .transpose()
        .map_err(Error::from)?;
    let application = state
        .store
        .create_application(caller.0.user_id, *path, kind, note.as_ref())
        .await?;
    Ok(HttpResponse::Created().json(application))
}

/// Which applications to list.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Only `pending` is listed here; decided ones reach the applicant's own list.
    #[param(pattern = "^pending$")]
    pub status: Option<String>,
}

/// A union's pending applications, oldest first, including transfers away from it.
#[utoipa::path(tag = "applications", params(("union_id" = i64, Path), ListQuery), responses(
    (status = 200, body = Applications), (status = 403, body = ErrorResponse)), security(("bearer" = [])))]
#[get("/unions/{union_id}/applications")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    if let Some(other) = query.status.as_deref().filter(|s| *s != "pending") {
        return Err(unknown_value("status", other, &["pending"]).into());
    }
    if !state
        .store
        .has_permission(caller.0.user_id, *path, Permission::MembersReview)
        .await?
    {
        return Err(
            Error::Forbidden("you may not review applications of this union".into()).into(),
        );
    }
    Ok(HttpResponse::Ok().json(Applications {
        items: state.store.pending_applications(*path).await?,
    }))
}

/// Approves a pending application; the applicant becomes a member (a transfer moves
/// their membership here in the same transaction).
#[utoipa::path(tag = "applications", params(("id" = i64, Path)), responses(
    (status = 200, body = Application), (status = 403, body = ErrorResponse), (status = 409, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/applications/{id}/approve")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, application = *path))]
pub async fn approve(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(
        state
            .store
            .decide_application(&caller.0, *path, Decision::Approve)
            .await?,
    ))
}

/// Rejects a pending application with a reason.
#[utoipa::path(tag = "applications", params(("id" = i64, Path)), request_body = Rejection, responses(
    (status = 200, body = Application), (status = 403, body = ErrorResponse), (status = 409, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/applications/{id}/reject")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, application = *path))]
pub async fn reject(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    body: web::Json<Rejection>,
) -> ApiResult<HttpResponse> {
    let reason = note("reason", &body.reason).map_err(Error::from)?;
    Ok(HttpResponse::Ok().json(
        state
            .store
            .decide_application(&caller.0, *path, Decision::Reject(reason))
            .await?,
    ))
}
