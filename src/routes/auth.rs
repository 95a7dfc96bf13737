//! `/auth`: SMS codes, login, logout.

use actix_web::{post, web, HttpResponse};
use gonghui_actors::auth::Credential;
use gonghui_actors::domain::{Phone, SmsCode};
use gonghui_actors::Error;
use gonghui_protocol::dto::{
    ErrorResponse, LoginRequest, LoginResponse, SmsCodeRequest, SmsCodeSent,
};

use crate::api_error::ApiResult;
use crate::extract::{Authed, ClientAddr};
use crate::state::AppState;

/// Sends a login code by SMS; one per phone per 60 s.
#[utoipa::path(tag = "auth", request_body = SmsCodeRequest, responses(
    (status = 202, body = SmsCodeSent), (status = 422, body = ErrorResponse), (status = 429, body = ErrorResponse)))]
#[post("/auth/sms-codes")]
#[tracing::instrument(skip_all)]
pub async fn send_sms_code(
    state: web::Data<AppState>,
    addr: ClientAddr,
    body: web::Json<SmsCodeRequest>,
) -> ApiResult<HttpResponse> {
    let phone = Phone::parse("phone", &body.phone).map_err(Error::from)?;
    let expires_in = state.auth.send_login_code(&phone, addr.0).await?;
    Ok(HttpResponse::Accepted().json(SmsCodeSent { expires_in }))
}

/// Logs in with a password or an SMS code; an SMS login registers a new phone.
#[utoipa::path(tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = LoginResponse), (status = 401, body = ErrorResponse), (status = 429, body = ErrorResponse)))]
#[post("/auth/login")]
#[tracing::instrument(skip_all, fields(client = ?body.client))]
pub async fn login(
    state: web::Data<AppState>,
    addr: ClientAddr,
    body: web::Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let LoginRequest {
        phone,
        password,
        sms_code,
        client,
    } = body.into_inner();
    let phone = Phone::parse("phone", &phone).map_err(Error::from)?;
    let credential = credential(password, sms_code, "password")?;
    Ok(HttpResponse::Ok().json(state.auth.login(&phone, credential, client, addr.0).await?))
}

/// The one secret sent: a password (in the field named `password_field`) or an SMS code.
///
/// # Errors
/// `BadRequest` for both or neither; `Invalid` for a malformed code.
pub fn credential(
    password: Option<String>,
    sms_code: Option<String>,
    password_field: &str,
) -> Result<Credential, Error> {
    match (password, sms_code) {
        (Some(password), None) => Ok(Credential::Password(password)),
        (None, Some(code)) => Ok(Credential::SmsCode(SmsCode::parse("sms_code", &code)?)),
        _ => Err(Error::BadRequest(format!(
            "send either {password_field} or sms_code"
        ))),
    }
}

/// Revokes every token of the caller, this one too; their WebSockets on every node
/// close with 4001.
#[utoipa::path(tag = "auth", responses((status = 204), (status = 401, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/auth/logout-all")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id))]
pub async fn logout_all(state: web::Data<AppState>, caller: Authed) -> ApiResult<HttpResponse> {
    state
        .store
        .revoke_user_tokens(caller.0.user_id, None)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Revokes the calling token; its WebSockets on every node close with 4001.
#[utoipa::path(tag = "auth", responses((status = 204), (status = 401, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/auth/logout")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id))]
pub async fn logout(state: web::Data<AppState>, caller: Authed) -> ApiResult<HttpResponse> {
    state.store.revoke_token(caller.0.token_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
