//! Requests the parent union reviews: registering a union (工会组织登记), changing one
//! (工会信息修改), a new committee term (换届) and an in-term replacement (届内换人);
//! decided by admins with `org.manage` on the reviewing union or an ancestor.

use actix_web::{get, post, web, HttpResponse};
use gonghui_actors::domain::{note, Decision, NewUnion, SeatChange, Term, UnionEdit};
use gonghui_actors::store::org::OrgChange;
use gonghui_protocol::dto::{
    CommitteeForm, ErrorResponse, OrgRequest, OrgRequests, Rejection, Replacement, UnionChanges,
    UnionForm,
};

use crate::api_error::ApiResult;
use crate::extract::Authed;
use crate::routes::unions::{limit_of, PageParams};
use crate::state::AppState;

async fn submit(state: &AppState, caller: &Authed, change: OrgChange) -> ApiResult<HttpResponse> {
    let request = state.store.submit_org_request(&caller.0, change).await?;
    Ok(HttpResponse::Created().json(request))
}

/// Registers a new union under a parent; the parent's admins decide, and on approval
/// the registrant becomes its admin with every permission.
#[utoipa::path(tag = "org", request_body = UnionForm, responses(
    (status = 201, body = OrgRequest), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
    (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/unions/registrations")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id))]
pub async fn register(
    state: web::Data<AppState>,
    caller: Authed,
    body: web::Json<UnionForm>,
) -> ApiResult<HttpResponse> {
    let new = NewUnion::parse(&body)?;
    submit(&state, &caller, OrgChange::Register(new)).await
}

/// Asks to change a union's details or move it under another parent.
#[utoipa::path(tag = "org", params(("union_id" = i64, Path)), request_body = UnionChanges, responses(
    (status = 201, body = OrgRequest), (status = 403, body = ErrorResponse), (status = 409, body = ErrorResponse),
    (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/unions/{union_id}/modifications")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn modify(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    body: web::Json<UnionChanges>,
) -> ApiResult<HttpResponse> {
    let edit = UnionEdit::parse(&body)?;
    submit(&state, &caller, OrgChange::Modify(*path, edit)).await
}

/// Submits a new committee term (换届).
#[utoipa::path(tag = "org", params(("union_id" = i64, Path)), request_body = CommitteeForm, responses(
    (status = 201, body = OrgRequest), (status = 403, body = ErrorResponse), (status = 409, body = ErrorResponse),
    (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/unions/{union_id}/committee/terms")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn term(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    body: web::Json<CommitteeForm>,
) -> ApiResult<HttpResponse> {
    let term = Term::parse(&body)?;
    submit(&state, &caller, OrgChange::Committee(*path, term)).await
}

/// Submits the replacement of one committee member within the term (届内换人).
#[utoipa::path(tag = "org", params(("union_id" = i64, Path)), request_body = Replacement, responses(
    (status = 201, body = OrgRequest), (status = 403, body = ErrorResponse), (status = 409, body = ErrorResponse),
    (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/unions/{union_id}/committee/replacements")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn replace(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    body: web::Json<Replacement>,
) -> ApiResult<HttpResponse> {
    let change = SeatChange::parse(&body)?;
    submit(&state, &caller, OrgChange::Replace(*path, change)).await
}

/// The pending requests a union reviews, and its own, oldest first, a page at a time.
#[utoipa::path(tag = "org", params(("union_id" = i64, Path), PageParams), responses(
    (status = 200, body = OrgRequests), (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)),
    security(("bearer" = [])))]
#[get("/unions/{union_id}/org-requests")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn pending(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    query: web::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let limit = limit_of(query.limit)?;
    let (items, next_after) = state
        .store
        .pending_org_requests(&caller.0, *path, query.after.unwrap_or(0), limit)
        .await?;
    Ok(HttpResponse::Ok().json(OrgRequests { items, next_after }))
}

/// The caller's own requests, newest first.
#[utoipa::path(tag = "org", responses((status = 200, body = OrgRequests)), security(("bearer" = [])))]
#[get("/me/org-requests")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id))]
pub async fn mine(state: web::Data<AppState>, caller: Authed) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(OrgRequests {
        items: state.store.org_requests_of(caller.0.user_id).await?,
        next_after: None,
    }))
}

/// Approves a pending request; it applies at once.
#[utoipa::path(tag = "org", params(("id" = i64, Path)), responses(
    (status = 200, body = OrgRequest), (status = 403, body = ErrorResponse), (status = 409, body = ErrorResponse),
    (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/org-requests/{id}/approve")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, request = *path))]
pub async fn approve(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(
        state
            .store
            .decide_org_request(&caller.0, *path, Decision::Approve)
            .await?,
    ))
}

/// Rejects a pending request with a reason.
#[utoipa::path(tag = "org", params(("id" = i64, Path)), request_body = Rejection, responses(
    (status = 200, body = OrgRequest), (status = 403, body = ErrorResponse), (status = 409, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/org-requests/{id}/reject")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, request = *path))]
pub async fn reject(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    body: web::Json<Rejection>,
) -> ApiResult<HttpResponse> {
    let reason = note("reason", &body.reason)?;
    Ok(HttpResponse::Ok().json(
        state
            .store
            .decide_org_request(&caller.0, *path, Decision::Reject(reason))
            .await?,
    ))
}
