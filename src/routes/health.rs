//! `/healthz` (the process answers) and `/readyz` (database reachable, bridge listening).

use std::sync::atomic::Ordering;

use actix_web::{web, HttpResponse};
use serde_json::json;

use gonghui_actors::hub::registry::Counts;

use crate::state::AppState;

/// Liveness: the process serves HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Readiness: 200 only when events can flow; 503 names what is missing. Also counts the
/// node's live owner actors and authenticated sessions.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = state.store.ping().await;
    let bridge = state.bridge_listening.load(Ordering::SeqCst);
    let (owners, sessions) = state.registry.send(Counts).await.unwrap_or_default();
    let body =
        json!({ "database": database, "bridge": bridge, "owners": owners, "sessions": sessions });
    if database && bridge {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
