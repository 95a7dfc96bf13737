//! Member activities (会员活动): admins with `activities.manage` define, publish and
//! close votes, questionnaires, signups, lotteries and quizzes; members answer; results
//! go live on `activity:{id}`; winners claim prizes (兑奖); each activity has a
//! scannable code (葵花码).

use actix_web::{get, post, put, web, HttpResponse};
use gonghui_actors::domain::{ActivitySpec, BoundedText, ShippingAddress};
use gonghui_actors::hub::results::Dirty;
use gonghui_actors::store::activities::ActivityFile;
use gonghui_actors::wechat::MiniCode;
use gonghui_protocol::dto::{
    Activities, Activity, ActivityForm, ErrorResponse, Fulfilments, PrizeClaim, Receipt, Results,
    Shipment,
};
use serde::Deserialize;
use serde_json::Value;

use crate::api_error::ApiResult;
use crate::extract::unknown_value;
use crate::extract::Authed;
use crate::files::{download, download_format};
use crate::state::AppState;

/// Creates a draft activity of a union.
#[utoipa::path(tag = "activities", params(("union_id" = i64, Path)), request_body = ActivityForm, responses(
    (status = 201, body = Activity), (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/unions/{union_id}/activities")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    body: web::Json<ActivityForm>,
) -> ApiResult<HttpResponse> {
    let spec = ActivitySpec::parse(&body)?;
    let activity = state.store.create_activity(&caller.0, *path, &spec).await?;
    Ok(HttpResponse::Created().json(activity))
}

/// A union's activities, newest first (drafts only for its admins).
#[utoipa::path(tag = "activities", params(("union_id" = i64, Path)), responses((status = 200, body = Activities)), security(("bearer" = [])))]
#[get("/unions/{union_id}/activities")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(Activities {
        items: state.store.activities_of(caller.0.user_id, *path).await?,
    }))
}

/// One activity (a quiz's answers only for its admins).
#[utoipa::path(tag = "activities", params(("id" = i64, Path)), responses(
    (status = 200, body = Activity), (status = 404, body = ErrorResponse)), security(("bearer" = [])))]
#[get("/activities/{id}")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, activity = *path))]
pub async fn one(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.store.activity(caller.0.user_id, *path).await?))
}

/// Replaces a draft's definition.
#[utoipa::path(tag = "activities", params(("id" = i64, Path)), request_body = ActivityForm, responses(
    (status = 200, body = Activity), (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[put("/activities/{id}")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, activity = *path))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    body: web::Json<ActivityForm>,
) -> ApiResult<HttpResponse> {
    let spec = ActivitySpec::parse(&body)?;
    Ok(HttpResponse::Ok().json(state.store.update_activity(&caller.0, *path, &spec).await?))
}

/// Publishes a draft: members may answer between its start and end.
#[utoipa::path(tag = "activities", params(("id" = i64, Path)), responses(
    (status = 200, body = Activity), (status = 409, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/activities/{id}/publish")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, activity = *path))]
pub async fn publish(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let activity = state
        .store
        .set_activity_status(&caller.0, *path, "published")
        .await?;
    Ok(HttpResponse::Ok().json(activity))
}

/// Closes a published activity; its final results go out at once.
#[utoipa::path(tag = "activities", params(("id" = i64, Path)), responses(
    (status = 200, body = Activity), (status = 409, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/activities/{id}/close")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, activity = *path))]
pub async fn close(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let activity = state
        .store
        .set_activity_status(&caller.0, *path, "closed")
        .await?;
    Ok(HttpResponse::Ok().json(activity))
}

/// Takes part: a vote's choices, a questionnaire's or quiz's answers, a signup's fields,
/// or an empty body to draw in a lottery. One per member.
#[utoipa::path(tag = "activities", params(("id" = i64, Path)), request_body(content = Object), responses(
    (status = 201, body = Receipt), (status = 403, body = ErrorResponse), (status = 409, body = ErrorResponse),
    (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/activities/{id}/answers")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, activity = *path))]
pub async fn answer(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let receipt = state.store.answer(&caller.0, *path, &body).await?;
    state.results.do_send(Dirty(*path));
    Ok(HttpResponse::Created().json(receipt))
}

/// The caller's own receipt, so every device of theirs shows that they took part (and
/// what they won), not only the one they answered on.
#[utoipa::path(tag = "activities", params(("id" = i64, Path)), responses(
    (status = 200, body = Receipt), (status = 404, body = ErrorResponse)), security(("bearer" = [])))]
#[get("/activities/{id}/receipt")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, activity = *path))]
pub async fn my_receipt(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.store.receipt(caller.0.user_id, *path).await?))
}

/// The results: in full for admins, as the activity allows for members.
#[utoipa::path(tag = "activities", params(("id" = i64, Path)), responses(
    (status = 200, body = Results), (status = 404, body = ErrorResponse)), security(("bearer" = [])))]
#[get("/activities/{id}/results")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, activity = *path))]
pub async fn results(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.store.results(caller.0.user_id, *path).await?))
}

/// Which image of the code.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct CodeParams {
    /// `png` (default) or `svg`.
    #[param(pattern = "^(png|svg)$")]
    pub format: Option<String>,
}

/// Which code an answer holds: `miniprogram` (葵花码) or `qr`.
const CODE_KIND: &str = "x-code-kind";
/// Why a mini-program code was wanted but a QR code came instead.
const CODE_FALLBACK: &str = "x-code-fallback";

/// A header value of printable ASCII: WeChat's reasons may hold anything.
fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(200)
        .collect()
}

/// The activity's scannable code (葵花码): the mini-program's code (opening
/// `GONGHUI_WECHAT_MINIPROGRAM_PAGE` with scene `a={id}`) when a mini-program is
/// configured, made by WeChat once for the cluster and kept; else, or when WeChat
/// refuses, a QR code of its link (`X-Code-Kind` says which, `X-Code-Fallback` why).
/// SVG is always the QR code.
#[utoipa::path(tag = "activities", params(("id" = i64, Path), CodeParams), responses(
    (status = 200, content_type = "image/png", body = Vec<u8>)), security(("bearer" = [])))]
#[get("/activities/{id}/code")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, activity = *path))]
pub async fn code(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    query: web::Query<CodeParams>,
) -> ApiResult<HttpResponse> {
    let activity = state.store.activity(caller.0.user_id, *path).await?;
    let mut fallback = None;
    if query.format.as_deref().is_none_or(|f| f == "png") {
        let scene = format!("a={}", activity.id);
        match state.ask_wechat(MiniCode { scene }).await {
            Ok(Some(png)) => {
                return Ok(HttpResponse::Ok()
                    .content_type("image/png")
                    .insert_header((CODE_KIND, "miniprogram"))
                    .body(png))
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "WeChat made no mini-program code; answering the QR code");
                fallback = Some(e.public_message());
            }
        }
    }
    match query.format.as_deref() {
        None | Some("png") => {
            let mut qr = HttpResponse::Ok();
            qr.content_type("image/png")
                .insert_header((CODE_KIND, "qr"));
            if let Some(why) = fallback {
                qr.insert_header((CODE_FALLBACK, header_safe(&why)));
            }
            Ok(qr.body(gonghui_actors::code::png(&activity.link)?))
        }
        Some("svg") => Ok(HttpResponse::Ok()
            .content_type("image/svg+xml")
            .body(gonghui_actors::code::svg(&activity.link)?)),
        Some(other) => Err(unknown_value("format", other, &["png", "svg"]).into()),
    }
}

/// A winner says where to send the prize (the result of `wx.chooseAddress`, as is), or
/// corrects it until it ships.
#[utoipa::path(tag = "activities", params(("id" = i64, Path)), request_body = PrizeClaim, responses(
    (status = 204), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/activities/{id}/prize/claim")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, activity = *path))]
pub async fn claim(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    body: web::Json<PrizeClaim>,
) -> ApiResult<HttpResponse> {
    let address = ShippingAddress::parse(&body)?;
    state.store.claim_prize(&caller.0, *path, &address).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The winners and where their prizes go, for the activity's admins.
#[utoipa::path(tag = "activities", params(("id" = i64, Path)), responses(
    (status = 200, body = Fulfilments), (status = 403, body = ErrorResponse)), security(("bearer" = [])))]
#[get("/activities/{id}/prizes")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, activity = *path))]
pub async fn prizes(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(Fulfilments {
        items: state.store.fulfilments(&caller.0, *path).await?,
    }))
}

/// Marks a claimed prize shipped, with its carrier and tracking number; the winner hears
/// of it live and in their inbox.
#[utoipa::path(tag = "activities", params(("id" = i64, Path), ("user_id" = i64, Path)), request_body = Shipment, responses(
    (status = 204), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/activities/{id}/prizes/{user_id}/ship")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id))]
pub async fn ship(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<(i64, i64)>,
    body: web::Json<Shipment>,
) -> ApiResult<HttpResponse> {
    let (id, winner) = *path;
    let optional = |field: &'static str, value: &Option<String>| {
        value
            .as_deref()
            .filter(|v| !v.trim().is_empty())
            .map(|v| BoundedText::parse(field, v, 100))
            .transpose()
    };
    let carrier = optional("carrier", &body.carrier)?;
    let tracking = optional("tracking", &body.tracking)?;
    state
        .store
        .ship_prize(&caller.0, id, winner, carrier.as_ref(), tracking.as_ref())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Which file of an activity, in which format.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ExportParams {
    /// `results` (every answer) or `prizes` (the fulfilment list).
    #[param(pattern = "^(results|prizes)$")]
    pub file: String,
    /// `csv` (default) or `xlsx`.
    #[param(pattern = "^(csv|xlsx)$")]
    pub format: Option<String>,
}

/// Downloads an activity's results or fulfilment list, streamed; each download is audited.
#[utoipa::path(tag = "activities", params(("id" = i64, Path), ExportParams), responses(
    (status = 200, content_type = "text/csv", body = Vec<u8>), (status = 403, body = ErrorResponse), (status = 429, body = ErrorResponse)),
    security(("bearer" = [])))]
#[get("/activities/{id}/export")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, activity = *path))]
pub async fn export(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    query: web::Query<ExportParams>,
) -> ApiResult<HttpResponse> {
    let what = match query.file.as_str() {
        "results" => ActivityFile::Results,
        "prizes" => ActivityFile::Prizes,
        other => return Err(unknown_value("file", other, &["results", "prizes"]).into()),
    };
    let format = download_format(query.format.as_deref())?;
    let file = state
        .store
        .export_activity(&caller.0, *path, what, format)
        .await?;
    Ok(download(
        format,
        &format!("activity-{}-{}", *path, query.file),
        file,
    ))
}
