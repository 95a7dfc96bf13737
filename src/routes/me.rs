//! `/me`: the caller's profile, password, real-name verification and applications.

use actix_web::{get, post, put, web, HttpResponse};
use gonghui_actors::domain::{IdNumber, Password, PersonName};
use gonghui_actors::Error;
use gonghui_protocol::dto::{
    Applications, ErrorResponse, Me, MyPrizes, PasswordChange, User, VerificationRequest,
};

use crate::api_error::ApiResult;
use crate::extract::{Authed, ClientAddr};
use crate::routes::auth::credential;
use crate::state::AppState;

/// The caller, their memberships and the unions they administer.
#[utoipa::path(tag = "me", responses((status = 200, body = Me), (status = 401, body = ErrorResponse)), security(("bearer" = [])))]
#[get("/me")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id))]
pub async fn me(state: web::Data<AppState>, caller: Authed) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.store.me(caller.0.user_id).await?))
}

/// Sets a new password (8–128 characters), proven by the current one or a fresh SMS
/// code; every other session of the caller, on every node, ends (4001).
#[utoipa::path(tag = "me", request_body = PasswordChange, responses((status = 204), (status = 429, body = ErrorResponse)), security(("bearer" = [])))]
#[put("/me/password")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id))]
pub async fn change_password(
    state: web::Data<AppState>,
    caller: Authed,
    addr: ClientAddr,
    body: web::Json<PasswordChange>,
) -> ApiResult<HttpResponse> {
    let PasswordChange {
        password,
        current_password,
        sms_code,
    } = body.into_inner();
    let password = Password::parse("password", &password).map_err(Error::from)?;
    let proof = credential(current_password, sms_code, "current_password")?;
    state
        .auth
        .change_password(
            caller.0.user_id,
            caller.0.token_id,
            proof,
            &password,
            addr.0,
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Real-name verification: the ID number is checked (GB 11643), stored encrypted, shown masked.
#[utoipa::path(tag = "me", request_body = VerificationRequest, responses(
    (status = 200, body = User), (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse),
    (status = 429, body = ErrorResponse)), security(("bearer" = [])))]
#[post("/me/verification")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id))]
pub async fn verify(
    state: web::Data<AppState>,
    caller: Authed,
    addr: ClientAddr,
    body: web::Json<VerificationRequest>,
) -> ApiResult<HttpResponse> {
    let name = PersonName::parse("name", &body.name).map_err(Error::from)?;
    let id_number = IdNumber::parse("id_number", &body.id_number).map_err(Error::from)?;
    Ok(HttpResponse::Ok().json(
        state
            .store
            .verify_identity_from(caller.0.user_id, addr.0, &name, &id_number)
            .await?,
    ))
}

/// The caller's own applications, newest first.
#[utoipa::path(tag = "me", responses((status = 200, body = Applications)), security(("bearer" = [])))]
#[get("/me/applications")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id))]
pub async fn my_applications(
    state: web::Data<AppState>,
    caller: Authed,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(Applications {
        items: state.store.applications_of(caller.0.user_id).await?,
    }))
}

/// The prizes the caller won, where each goes and whether it has shipped, newest first.
#[utoipa::path(tag = "me", responses((status = 200, body = MyPrizes), (status = 401, body = ErrorResponse)), security(("bearer" = [])))]
#[get("/me/prizes")]
#[tracing::instrument(skip_all, fields(user = caller.0.user_id))]
pub async fn my_prizes(state: web::Data<AppState>, caller: Authed) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(MyPrizes {
        items: state.store.my_prizes(caller.0.user_id).await?,
    }))
}
