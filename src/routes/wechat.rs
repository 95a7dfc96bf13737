//! WeChat: the official account bound to a union (pulled for news on a schedule, or
//! now), and the mini-program's login. Every call to WeChat goes through the adapter.

use actix_web::{delete, get, post, put, web, HttpResponse};
use gonghui_actors::domain::{BoundedText, Invalid, Permission, Phone, SmsCode};
use gonghui_actors::wechat::{CheckAccount, MiniSession, PollAccount};
use gonghui_protocol::dto::{
    AccountBinding, ErrorResponse, PollReport, WeChatAccount, WeChatLogin, WeChatLoginReply,
};

use crate::api_error::ApiResult;
use crate::extract::{Authed, ClientAddr};
use crate::state::AppState;

/// Binds the union's official account (checked with WeChat first); its published
/// articles are then pulled into the union's news.
#[utoipa::path(tag = "wechat", params(("union_id" = i64, Path)), request_body = AccountBinding, responses(
    (status = 200, body = WeChatAccount), (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse),
    (status = 503, body = ErrorResponse)), security(("bearer" = [])))]
#[put("/unions/{union_id}/wechat/account")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn bind(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
    body: web::Json<AccountBinding>,
) -> ApiResult<HttpResponse> {
    let app_id = BoundedText::parse("app_id", &body.app_id, 64)?;
    let secret = BoundedText::parse("secret", &body.secret, 128)?;
    state
        .require(caller.0.user_id, *path, Permission::NewsPublish)
        .await?;
    let check = CheckAccount {
        app_id: app_id.as_str().to_owned(),
        secret: secret.as_str().to_owned(),
    };
    state.ask_wechat(check).await?;
    let bound = state
        .store
        .bind_wechat_account(&caller.0, *path, app_id.as_str(), secret.as_str())
        .await?;
    Ok(HttpResponse::Ok().json(bound))
}

/// The union's bound account and how its polling goes.
#[utoipa::path(tag = "wechat", params(("union_id" = i64, Path)), responses(
    (status = 200, body = WeChatAccount), (status = 404, body = ErrorResponse)), security(("bearer" = [])))]
#[get("/unions/{union_id}/wechat/account")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn show(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.store.wechat_account(&caller.0, *path).await?))
}

/// Unbinds the union's account.
#[utoipa::path(tag = "wechat", params(("union_id" = i64, Path)), responses(
    (status = 204), (status = 404, body = ErrorResponse)), security(("bearer" = [])))]
#[delete("/unions/{union_id}/wechat/account")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn unbind(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    state.store.unbind_wechat_account(&caller.0, *path).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Pulls the union's account now: what it published since the last pull becomes news.
#[utoipa::path(tag = "wechat", params(("union_id" = i64, Path)), responses(
    (status = 200, body = PollReport), (status = 409, body = ErrorResponse), (status = 429, body = ErrorResponse),
    (status = 503, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/unions/{union_id}/wechat/account/poll")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id, union = *path))]
pub async fn poll(
    state: web::Data<AppState>,
    caller: Authed,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    state.store.wechat_account(&caller.0, *path).await?;
    let imported = state.ask_wechat(PollAccount { union_id: *path }).await?;
    Ok(HttpResponse::Ok().json(PollReport { imported }))
}

/// Mini-program login: `{"code"}` from `wx.login`; the first time, the answer asks for
/// the phone, and `{"ticket", "phone", "sms_code"}` completes it.
#[utoipa::path(tag = "auth", operation_id = "wechat_login", request_body = WeChatLogin, responses(
    (status = 200, body = WeChatLoginReply), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse),
    (status = 422, body = ErrorResponse), (status = 503, body = ErrorResponse)))]
#[post("/auth/wechat/login")]
#[tracing::instrument(skip_all)]
pub async fn login(
    state: web::Data<AppState>,
    addr: ClientAddr,
    body: web::Json<WeChatLogin>,
) -> ApiResult<HttpResponse> {
    let reply = match (&body.code, &body.ticket, &body.phone, &body.sms_code) {
        (Some(code), None, None, None) => {
            let code = BoundedText::parse("code", code, 128)?;
            let openid = state
                .ask_wechat(MiniSession {
                    code: code.as_str().to_owned(),
                })
                .await?;
            state.auth.wechat_login(&openid).await?
        }
        (None, Some(ticket), Some(phone), Some(sms_code)) => {
            let phone = Phone::parse("phone", phone)?;
            let sms_code = SmsCode::parse("sms_code", sms_code)?;
            state
                .auth
                .wechat_link(ticket, &phone, sms_code, addr.0)
                .await?
        }
        _ => {
            return Err(Invalid::new(
                "code",
                "send {\"code\"}, or {\"ticket\", \"phone\", \"sms_code\"}",
            )
            .into())
        }
    };
    Ok(HttpResponse::Ok().json(reply))
}
