//! A union's members: the roster with filters, bulk import (批量导入) and removal
//! (批量移出) from CSV or XLSX, retirement (退休), and the streamed export (导出). All
//! need `members.manage` on the union or an ancestor.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use gonghui_actors::domain::{
    note, BoundedText, Departed, IdNumber, Invalid, MemberStatus, Permission,
};
use gonghui_actors::sheets::{Column, Header, MemberRow};
use gonghui_actors::store::roster::{RosterQuery, MAX_PAGE};
use gonghui_actors::Error;
use gonghui_protocol::dto::{BulkReport, ErrorResponse, Membership, Removal, Retirement, Roster};
use serde::Deserialize;

use crate::api_error::{ApiError, ApiResult};
use crate::extract::{unknown_value, Authed};
use crate::files::{download, download_format, read_upload, GiveBack};
use crate::state::AppState;

/// The most members one removal list may name (within the 64 KiB JSON limit; longer
/// lists go as a file).
const MAX_REMOVALS: usize = 2_000;

/// Roster filters.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct RosterParams {
    /// `active` (default), `retired` or `left`.
    #[param(pattern = "^(active|retired|left)$")]
    pub status: Option<String>,
    /// Part of a name or phone number.
    pub q: Option<String>,
    /// The previous page's `next_after`.
    pub after: Option<i64>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

fn status_of(raw: Option<&str>) -> Result<MemberStatus, Error> {
    let raw = raw.unwrap_or("active");
    MemberStatus::parse("status", raw)
        .map_err(|_| unknown_value("status", raw, &["active", "retired", "left"]))
}

/// One page of the roster, in membership order; ID numbers masked without `members.pii`.
#[utoipa::path(tag = "members", params(("union_id" = i64, Path), RosterParams), responses(
    (status = 200, body = Roster), (status = 403, body = ErrorResponse)), security(("bearer" = [])))]
#[get("/unions/{union_id}/members")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn roster(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    query: web::Query<RosterParams>,
) -> ApiResult<HttpResponse> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::from(Invalid::new("limit", format!("must be 1 to {MAX_PAGE}"))).into());
    }
    let search = query
        .q
        .as_deref()
        .filter(|q| !q.trim().is_empty())
        .map(|q| BoundedText::parse("q", q, 50))
        .transpose()
        .map_err(Error::from)?;
    let query = RosterQuery {
        status: status_of(query.status.as_deref())?,
        search,
        after: query.after.unwrap_or(0),
        limit,
    };
    let (items, next_after) = state.store.roster(&caller.0, *path, &query).await?;
    Ok(HttpResponse::Ok().json(Roster { items, next_after }))
}

/// An uploaded file, not yet read.
struct Upload<'a> {
    req: HttpRequest,
    payload: web::Payload,
    /// The `format` query value.
    format: Option<&'a str>,
}

/// Reads an upload to `union_id` once the caller is known to hold `members.manage`
/// (so nobody else's 16 MiB is read), checks its header for `required`, and each row
/// with `parse`.
async fn uploaded_rows<T: Send + 'static>(
    state: &AppState,
    caller: &Authed,
    union_id: i64,
    upload: Upload<'_>,
    required: &'static [Column],
    parse: impl Fn(&Header, u32, &[String]) -> Result<T, Invalid> + Send + 'static,
) -> Result<(Vec<(u32, Result<T, Invalid>)>, GiveBack), ApiError> {
    state
        .require(caller.0.user_id, union_id, Permission::MembersManage)
        .await?;
    let read = read_upload(&upload.req, upload.payload, upload.format, move |table| {
        let header = Header::parse(&table.header, required)?;
        Ok(table
            .rows
            .iter()
            .map(|(line, cells)| (*line, parse(&header, *line, cells)))
            .collect())
    })
    .await?;
    Ok(read)
}

/// The file's format, when the Content-Type does not say it.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct UploadParams {
    /// `csv` or `xlsx`.
    #[param(pattern = "^(csv|xlsx)$")]
    pub format: Option<String>,
}

/// Imports workers from a CSV or XLSX body (columns in docs/PROTOCOL.md): valid rows
/// become active members at once; the answer reports every row. Same file twice: no change.
#[utoipa::path(tag = "members", params(("union_id" = i64, Path), UploadParams),
    request_body(content = Vec<u8>, content_type = "text/csv"), responses(
    (status = 200, body = BulkReport), (status = 403, body = ErrorResponse), (status = 413, body = ErrorResponse),
    (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/unions/{union_id}/members/import")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn import(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    query: web::Query<UploadParams>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let upload = Upload {
        req,
        payload,
        format: query.format.as_deref(),
    };
    let (rows, _give_back) = uploaded_rows(
        &state,
        &caller,
        *path,
        upload,
        &Column::REQUIRED,
        MemberRow::parse,
    )
    .await?;
    let started = std::time::Instant::now();
    let report = state.store.import_members(&caller.0, *path, rows).await?;
    tracing::info!(
        rows = report.total,
        added = report.changed,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "imported"
    );
    Ok(HttpResponse::Ok().json(report))
}

/// Removes members named by user id or ID number, with a reason; each sees it live.
#[utoipa::path(tag = "members", params(("union_id" = i64, Path)), request_body = Removal, responses(
    (status = 200, body = BulkReport), (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/unions/{union_id}/members/remove")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    body: web::Json<Removal>,
) -> ApiResult<HttpResponse> {
    let reason = note("reason", &body.reason).map_err(Error::from)?;
    let count = body.user_ids.len() + body.id_numbers.len();
    if count == 0 || count > MAX_REMOVALS {
        return Err(Error::from(Invalid::new(
            "user_ids",
            format!("name 1 to {MAX_REMOVALS} members in user_ids or id_numbers"),
        ))
        .into());
    }
    let by_id = body.user_ids.iter().map(|id| Ok(Departed::UserId(*id)));
    let by_number = body
        .id_numbers
        .iter()
        .map(|n| IdNumber::parse("id_number", n).map(Departed::IdNumber));
    let rows = by_id
        .chain(by_number)
        .zip(1..)
        .map(|(r, i)| (i, r))
        .collect();
    Ok(HttpResponse::Ok().json(
        state
            .store
            .remove_members(&caller.0, *path, rows, &reason)
            .await?,
    ))
}

/// A removal from a file: its 身份证号 (id_number) column names whom.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct RemoveFileParams {
    /// Why they leave (1–500 characters).
    pub reason: String,
    /// `csv` or `xlsx`, when the Content-Type does not say it.
    pub format: Option<String>,
}

/// Removes the members an uploaded CSV or XLSX names by ID number, with a reason.
#[utoipa::path(tag = "members", params(("union_id" = i64, Path), RemoveFileParams),
    request_body(content = Vec<u8>, content_type = "text/csv"), responses(
    (status = 200, body = BulkReport), (status = 403, body = ErrorResponse), (status = 413, body = ErrorResponse),
    (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/unions/{union_id}/members/remove-file")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn remove_file(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    query: web::Query<RemoveFileParams>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let reason = note("reason", &query.reason)?;
    let upload = Upload {
        req,
        payload,
        format: query.format.as_deref(),
    };
    let (rows, _give_back) = uploaded_rows(
        &state,
        &caller,
        *path,
        upload,
        &[Column::IdNumber],
        |header, _, cells| {
            IdNumber::parse("id_number", header.cell(cells, Column::IdNumber))
                .map(Departed::IdNumber)
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(
        state
            .store
            .remove_members(&caller.0, *path, rows, &reason)
            .await?,
    ))
}

/// Marks a member retired (会员退休管理); they stay a member, listed apart.
#[utoipa::path(tag = "members", params(("union_id" = i64, Path), ("user_id" = i64, Path)), request_body = Retirement, responses(
    (status = 200, body = Membership), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse),
    (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/unions/{union_id}/members/{user_id}/retire")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id))]
pub async fn retire(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<(i64, i64)>,
    body: web::Json<Retirement>,
) -> ApiResult<HttpResponse> {
    let (union_id, user_id) = *path;
    if body.retired_on > gonghui_actors::domain::china_today() {
        return Err(Error::from(Invalid::new("retired_on", "must not be in the future")).into());
    }
    let note = body
        .note
        .as_deref()
        .map(|n| note("note", n))
        .transpose()
        .map_err(Error::from)?;
    Ok(HttpResponse::Ok().json(
        state
            .store
            .retire(&caller.0, union_id, user_id, body.retired_on, note.as_ref())
            .await?,
    ))
}

/// What to export.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ExportParams {
    /// `active` (default), `retired` or `left`.
    #[param(pattern = "^(active|retired|left)$")]
    pub status: Option<String>,
    /// `csv` (default) or `xlsx`.
    #[param(pattern = "^(csv|xlsx)$")]
    pub format: Option<String>,
}

/// The roster as a CSV or XLSX download in the import template's columns, streamed;
/// ID numbers masked without `members.pii`; each export is audited.
#[utoipa::path(tag = "members", params(("union_id" = i64, Path), ExportParams), responses(
    (status = 200, content_type = "text/csv", body = Vec<u8>), (status = 403, body = ErrorResponse), (status = 429, body = ErrorResponse)),
    security(("bearer" = [])))]
#[get("/unions/{union_id}/members/export")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn export(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    query: web::Query<ExportParams>,
) -> ApiResult<HttpResponse> {
    let status = status_of(query.status.as_deref())?;
    let format = download_format(query.format.as_deref())?;
    let file = state
        .store
        .export_roster(&caller.0, *path, status, format)
        .await?;
    Ok(download(format, &format!("union-{}-members", *path), file))
}
