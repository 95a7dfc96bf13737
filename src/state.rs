//! What every handler and session shares on one node.

use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use gonghui_actors::auth::Auth;
use gonghui_actors::domain::Permission;
use gonghui_actors::hub::registry::Registry;
use gonghui_actors::hub::results::ResultsPublisher;
use gonghui_actors::store::Store;
use gonghui_actors::wechat::WeChat;

use crate::session::anonymous::Anonymous;

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
    /// Whether `X-Forwarded-For`'s last entry names the client (behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// Places for uploaded spreadsheets being received and read (see [`crate::files`]).
    pub sheets: Arc<tokio::sync::Semaphore>,
    /// WebSockets open on this node now.
    pub open_sockets: AtomicUsize,
    /// WebSockets not yet past hello, by client address.
    pub anonymous: Arc<Anonymous>,
    /// The token `/metrics` on the public port asks for; without one it is not served there.
    pub metrics_token: Option<String>,
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
    /// WebSockets the node holds before refusing new ones with 503; without a setting,
    /// startup works it out from the open-file limit.
    pub max_sockets: Option<usize>,
    /// WebSockets one client address may hold before hello (429 beyond).
    pub anonymous_per_address: usize,
}

impl AppState {
    /// Asks the WeChat adapter and waits for its answer.
    ///
    /// # Errors
    /// The adapter's own error, or `Unavailable` if it is not running.
    pub async fn ask_wechat<M, T>(&self, msg: M) -> Result<T, gonghui_actors::Error>
    where
        M: actix::Message<Result = gonghui_actors::Result<T>> + Send + 'static,
        T: Send + 'static,
        WeChat: actix::Handler<M>,
    {
        self.wechat.send(msg).await.map_err(|_| {
            gonghui_actors::Error::Unavailable("the WeChat adapter is not running".into())
        })?
    }

    /// Checks, from the rights cache, that `user_id` holds `permission` on `union_id`:
    /// for calls that would otherwise read a large body or call WeChat before the
    /// store's own check refuses them.
    ///
    /// # Errors
    /// `NotFound` for no such union (as every other call answers), `Forbidden` without
    /// the permission.
    pub async fn require(
        &self,
        user_id: i64,
        union_id: i64,
        permission: Permission,
    ) -> Result<(), gonghui_actors::Error> {
        if self
            .store
            .has_permission(user_id, union_id, permission)
            .await?
        {
            Ok(())
        } else if !self.store.union_exists(union_id).await? {
            Err(gonghui_actors::Error::NotFound(format!(
                "no union {union_id}"
            )))
        } else {
            Err(gonghui_actors::Error::Forbidden(format!(
                "you need {} on union {union_id}",
                permission.as_str()
            )))
        }
    }
}
