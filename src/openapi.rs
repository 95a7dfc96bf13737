//! The OpenAPI document served at `/api/v1/openapi.json`. Paths are collected from the
//! routes as they are registered (utoipa-actix-web), so a route cannot be left out.

use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document's fixed parts: title, version, the bearer scheme.
#[derive(OpenApi)]
#[openapi(
    info(title = "gonghui", description = "Real-time messaging and sync for trade-union platforms. The WebSocket protocol is in docs/PROTOCOL.md."),
    modifiers(&Bearer)
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Serves the document.
pub async fn serve(api: web::Data<utoipa::openapi::OpenApi>) -> HttpResponse {
    HttpResponse::Ok().json(api.get_ref())
}
