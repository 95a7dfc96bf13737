//! The union tree in bulk (工会信息、管理员信息同步): importing a province's existing
//! unions and their admins from CSV or XLSX, and exporting the tree in the same format.
//! Both need `org.manage` on the union; admins in the file need `admins.manage` too.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use gonghui_actors::domain::Permission;
use gonghui_actors::sheets::{Header, TreeLine, UnionColumn};
use gonghui_protocol::dto::{ErrorResponse, TreeReport};

use crate::api_error::ApiResult;
use crate::extract::Authed;
use crate::files::{download, download_format, read_upload, DownloadParams};
use crate::routes::members::UploadParams;
use crate::state::AppState;

/// Imports unions (one per row, parent by credit code or name path) and their admins
/// below this union (columns in docs/PROTOCOL.md). The file is checked whole and applied
/// in one transaction only if every row is good; the same file twice changes nothing.
#[utoipa::path(tag = "org", params(("union_id" = i64, Path), UploadParams),
    request_body(content = Vec<u8>, content_type = "text/csv"), responses(
    (status = 200, body = TreeReport), (status = 403, body = ErrorResponse), (status = 409, body = ErrorResponse),
    (status = 413, body = ErrorResponse), (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/unions/{union_id}/tree/import")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn import(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    query: web::Query<UploadParams>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    state
        .require(caller.0.user_id, *path, Permission::OrgManage)
        .await?;
    let (lines, _give_back) = read_upload(&req, payload, query.format.as_deref(), |table| {
        let header = Header::parse(&table.header, &UnionColumn::REQUIRED)?;
        Ok(table
            .rows
            .iter()
            .map(|(line, cells)| TreeLine::read(&header, *line, cells))
            .collect())
    })
    .await?;
    let started = std::time::Instant::now();
    let report = state.store.import_tree(&caller.0, *path, lines).await?;
    tracing::info!(
        rows = report.total,
        applied = report.applied,
        unions = report.unions_created,
        admins = report.admins_appointed,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "tree imported"
    );
    Ok(HttpResponse::Ok().json(report))
}

/// Every union below this one, parents first, in the import's columns: an export imports
/// back unchanged. Admins and their phones are included for callers with `admins.manage`.
#[utoipa::path(tag = "org", params(("union_id" = i64, Path), DownloadParams), responses(
    (status = 200, content_type = "text/csv", body = Vec<u8>), (status = 403, body = ErrorResponse), (status = 429, body = ErrorResponse)),
    security(("bearer" = [])))]
#[get("/unions/{union_id}/tree/export")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn export(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    query: web::Query<DownloadParams>,
) -> ApiResult<HttpResponse> {
    let format = download_format(query.format.as_deref())?;
    let file = state.store.export_tree(&caller.0, *path, format).await?;
    Ok(download(format, &format!("union-{}-tree", *path), file))
}
