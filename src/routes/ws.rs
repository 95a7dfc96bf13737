//! `GET /ws` without an upgrade: WebSockets are taken over before routing
//! ([`crate::upgrade`]), so a request that reaches this route did not ask for one.

use gonghui_actors::Error;

use crate::api_error::ApiError;

/// Tells the client to ask for a WebSocket upgrade.
pub async fn ws() -> Result<(), ApiError> {
    Err(ApiError(Error::BadRequest(
        "this address speaks WebSocket only: send an Upgrade: websocket request".into(),
    )))
}
