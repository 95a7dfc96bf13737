//! What every handler and session shares on one node.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use gonghui_actors::auth::Auth;
use gonghui_actors::hub::registry::Registry;
use gonghui_actors::hub::results::ResultsPublisher;
use gonghui_actors::store::Store;
use gonghui_actors::wechat::WeChat;

/// The node's shared handles.
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Login.
    pub auth: Auth,
    /// Where sessions subscribe.
    pub registry: Addr<Registry>,
    /// The only way to WeChat.
    pub wechat: Addr<WeChat>,
    /// Where answered activities are marked for a results event.
    pub results: Addr<ResultsPublisher>,
    /// True while the bridge LISTENs, for `/readyz`.
    pub bridge_listening: Arc<AtomicBool>,
    /// WebSocket limits.
    pub ws: WsSettings,
}

/// The limits of a WebSocket session.
#[derive(Debug, Clone)]
pub struct WsSettings {
    /// Time to say hello.
    pub hello_timeout: Duration,
    /// Messages queued for a session before it is closed with 4008.
    pub queue: usize,
    /// The largest frame read (1009 beyond).
    pub max_frame: usize,
}
