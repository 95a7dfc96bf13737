//! The member inbox (消息): personal notifications and union announcements, an unread
//! count, and read state that every device of the member sees change at once.

use actix_web::{get, post, web, HttpResponse};
use gonghui_actors::domain::{BoundedText, Invalid};
use gonghui_actors::store::notifications::{MAX_PAGE, MAX_READ_IDS};
use gonghui_actors::Error;
use gonghui_protocol::dto::{
    ErrorResponse, Inbox, MarkRead, NewAnnouncement, Notification, ReadState,
};
use serde::Deserialize;

use crate::api_error::ApiResult;
use crate::extract::Authed;
use crate::state::AppState;

/// Which page of the inbox.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct InboxQuery {
    /// Messages with ids below this (the previous page's `next_before`).
    pub before: Option<i64>,
    /// 1–100, default 20.
    pub limit: Option<i64>,
}

/// The caller's inbox, newest first, with the unread count.
#[utoipa::path(tag = "inbox", params(InboxQuery), responses((status = 200, body = Inbox)), security(("bearer" = [])))]
#[get("/me/notifications")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Authed,
    query: web::Query<InboxQuery>,
) -> ApiResult<HttpResponse> {
    let limit = query.limit.unwrap_or(20);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::from(Invalid::new("limit", format!("must be 1 to {MAX_PAGE}"))).into());
    }
    Ok(HttpResponse::Ok().json(
        state
            .store
            .inbox(caller.0.user_id, query.before, limit)
            .await?,
    ))
}

/// Marks messages read (`ids`) or the whole inbox (`all`); every device of the caller
/// gets `notification.read` with the new unread count.
#[utoipa::path(tag = "inbox", request_body = MarkRead, responses(
    (status = 200, body = ReadState), (status = 404, body = ErrorResponse), (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/me/notifications/read")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id))]
pub async fn mark_read(
    state: web::Data<AppState>,
    caller: Authed,
    body: web::Json<MarkRead>,
) -> ApiResult<HttpResponse> {
    let ids = match (&body.ids, body.all) {
        (Some(_), true) | (None, false) => {
            return Err(Error::from(Invalid::new("ids", "send either ids or \"all\": true")).into())
        }
        (Some(ids), false) if ids.is_empty() || ids.len() > MAX_READ_IDS => {
            return Err(Error::from(Invalid::new(
                "ids",
                format!("must name 1 to {MAX_READ_IDS} messages"),
            ))
            .into())
        }
        (Some(ids), false) => Some(ids.as_slice()),
        (None, true) => None,
    };
    Ok(HttpResponse::Ok().json(state.store.mark_read(caller.0.user_id, ids).await?))
}

/// Sends an announcement to every member of a union (`members.manage`); it arrives as
/// `notification.created` on `union:{id}` and in each member's inbox.
#[utoipa::path(tag = "inbox", params(("union_id" = i64, Path)), request_body = NewAnnouncement, responses(
    (status = 201, body = Notification), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
    (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/unions/{union_id}/announcements")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn announce(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    body: web::Json<NewAnnouncement>,
) -> ApiResult<HttpResponse> {
    let title = BoundedText::parse("title", &body.title, 100).map_err(Error::from)?;
    let text = BoundedText::parse("body", &body.body, 5000).map_err(Error::from)?;
    let notification = state
        .store
        .announce(&caller.0, *path, &title, &text)
        .await?;
    Ok(HttpResponse::Created().json(notification))
}
