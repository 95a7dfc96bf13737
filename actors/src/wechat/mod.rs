//! The WeChat adapter: one actor per node, the only code that talks to WeChat. Its
//! client fetches only HTTPS pages of the allowed hosts (redirects included), within a
//! timeout and a size limit, so an admin's link cannot make the server reach anywhere
//! else (no SSRF), and a slow or failing WeChat costs the caller a clear error and
//! nobody else anything. It keeps each app's access token (refreshed before expiry, one
//! refresh at a time on the node, once more when WeChat refuses it), polls bound
//! official accounts on a schedule, and serves the mini-program's login and codes.
//!
//! # Layout
//! - [`fetch`]: the link check, the guarded client, the bounded page read.
//! - [`article`]: an official-account article page read into its fields.
//! - [`api`]: the WeChat HTTP API calls and their error codes.

pub mod api;
pub mod article;
pub mod fetch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;

pub use api::WxError;

use crate::domain::Invalid;
use crate::domain::{AccountArticle, Article};
use crate::store::wechat::Credentials;
use crate::store::Store;
use crate::{Error, Result};

/// A token this close to expiry is refreshed first.
const REFRESH_AHEAD: Duration = Duration::from_secs(300);
/// Articles asked for per page of `batchget` (WeChat's maximum is 20).
const PAGE: i64 = 20;

/// Where and how the adapter may reach WeChat.
#[derive(Debug, Clone)]
pub struct WeChatSettings {
    /// Hosts article links may point to (`host` or `host:port`).
    pub allowed_hosts: Vec<String>,
    /// The longest a fetch may take, start to end.
    pub timeout: Duration,
    /// The largest page read, in bytes.
    pub max_page: usize,
    /// A PEM root certificate to trust besides the public ones (a private proxy, tests).
    pub extra_root_pem: Option<Vec<u8>>,
    /// The API's base address.
    pub api_base: String,
    /// How often a bound account is polled; zero turns scheduled polls off.
    pub poll_every: Duration,
    /// The mini-program's app id and secret, when there is one.
    pub miniprogram: Option<(String, String)>,
    /// The mini-program page an activity's code opens.
    pub activity_page: String,
}

impl Default for WeChatSettings {
    fn default() -> Self {
        WeChatSettings {
            allowed_hosts: vec!["mp.weixin.qq.com".into()],
            timeout: Duration::from_secs(10),
            max_page: 5 * 1024 * 1024,
            extra_root_pem: None,
            api_base: "https://api.weixin.qq.com".into(),
            poll_every: Duration::from_secs(600),
            miniprogram: None,
            activity_page: "pages/activity/index".into(),
        }
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<(String, Instant)>>>;

struct Inner {
    settings: WeChatSettings,
    client: reqwest::Client,
    api: api::Api,
    store: Store,
    tokens: Mutex<HashMap<String, Slot>>,
}

impl Inner {
    /// An app's token: the cached one unless it is `stale` or about to expire; refreshed
    /// under the app's lock, so one refresh runs at a time on this node.
    async fn token(
        &self,
        app_id: &str,
        secret: &str,
        stale: Option<&str>,
    ) -> Result<String, WxError> {
        let slot = self
            .tokens
            .lock()
            .expect("never poisoned")
            .entry(app_id.to_owned())
            .or_default()
            .clone();
        let mut cached = slot.lock().await;
        if let Some((token, until)) = cached.as_ref() {
            if Some(token.as_str()) != stale && Instant::now() + REFRESH_AHEAD < *until {
                return Ok(token.clone());
            }
        }
        let (token, secs) = self.api.token(app_id, secret).await?;
        *cached = Some((token.clone(), Instant::now() + Duration::from_secs(secs)));
        Ok(token)
    }

    /// Runs `call` with a token, and once more with a fresh one if WeChat refuses it.
    async fn with_token<T, F, Fut>(&self, app_id: &str, secret: &str, call: F) -> Result<T, WxError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<T, WxError>>,
    {
        let token = self.token(app_id, secret, None).await?;
        match call(token.clone()).await {
            Err(WxError::InvalidToken(_)) => {
                let fresh = self.token(app_id, secret, Some(&token)).await?;
                call(fresh).await
            }
            other => other,
        }
    }

    /// Imports what an account published since the last poll: pages newest first until
    /// an article already imported.
    async fn pull(&self, account: &Credentials) -> Result<u32, WxError> {
        let (mut imported, mut offset) = (0, 0);
        loop {
            let page = self
                .with_token(&account.app_id, &account.secret, |token| {
                    let api = self.api.clone();
                    async move { api.published(&token, offset, PAGE).await }
                })
                .await?;
            let mut reached_old = false;
            for article in page.item.iter().flat_map(|i| &i.content.news_item) {
                if article.is_deleted {
                    if let Err(e) = self
                        .store
                        .withdraw_account_article(account.union_id, &article.url)
                        .await
                    {
                        return Err(WxError::Failed(format!(
                            "withdrawing an article failed: {e}"
                        )));
                    }
                    continue;
                }
                // Checked as a fetched page is; one that fails is left out, not the pull.
                let (checked, url) = match AccountArticle::from(article.clone()).check() {
                    Ok(checked) => checked,
                    Err(why) => {
                        tracing::warn!(union = account.union_id, %why, "a pulled article left out");
                        continue;
                    }
                };
                match self
                    .store
                    .import_account_article(account.union_id, &checked, &url)
                    .await
                {
                    Ok(true) => imported += 1,
                    Ok(false) => reached_old = true,
                    Err(e) => {
                        return Err(WxError::Failed(format!("storing an article failed: {e}")))
                    }
                }
            }
            offset += page.item.len() as i64;
            if reached_old || page.item.is_empty() || offset >= page.total_count {
                return Ok(imported);
            }
        }
    }

    /// Pulls an account and records how it went: healthy, backing off (rate limit,
    /// failure), or broken (refused) — the last two told to the union's admins.
    async fn poll(&self, account: &Credentials) -> Result<u32> {
        let outcome = self.pull(account).await;
        let union = account.union_id;
        if let Err(e) = &outcome {
            let reason = e.to_string();
            match e {
                WxError::Unauthorized(..) => self.store.binding_broken(union, &reason).await?,
                _ => {
                    let base = self.settings.poll_every.max(Duration::from_secs(60));
                    self.store.poll_failed(union, &reason, base).await?
                }
            }
        } else {
            self.store.poll_succeeded(union).await?;
        }
        outcome.map_err(|e| match e {
            WxError::RateLimited(_) => Error::rate_limited(e.to_string(), 60),
            WxError::Unauthorized(..) => {
                Error::Conflict(format!("{e}; the binding is marked broken: bind it again"))
            }
            other => Error::Unavailable(other.to_string()),
        })
    }
}

/// The adapter actor.
pub struct WeChat {
    inner: Arc<Inner>,
}

impl WeChat {
    /// An adapter with `settings`, recording pulls in `store`.
    ///
    /// # Errors
    /// When the extra root certificate does not parse.
    pub fn new(settings: WeChatSettings, store: Store) -> anyhow::Result<Self> {
        let client = fetch::client(&settings)?;
        let api = api::Api {
            client: client.clone(),
            base: settings.api_base.trim_end_matches('/').to_owned(),
            metrics: store.metrics().clone(),
        };
        Ok(WeChat {
            inner: Arc::new(Inner {
                settings,
                client,
                api,
                store,
                tokens: Mutex::default(),
            }),
        })
    }
}

impl Actor for WeChat {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let every = self.inner.settings.poll_every;
        if every.is_zero() {
            return;
        }
        ctx.run_interval(every.min(Duration::from_secs(30)), |act, ctx| {
            let inner = act.inner.clone();
            ctx.spawn(
                async move {
                    let due = match inner.store.claim_due_accounts(10, inner.settings.poll_every).await {
                        Ok(due) => due,
                        Err(e) => return tracing::warn!(error = %e, "claiming accounts to poll failed"),
                    };
                    for account in due {
                        if let Err(e) = inner.poll(&account).await {
                            tracing::info!(union = account.union_id, error = %e, "an account poll failed");
                        }
                    }
                }
                .into_actor(act),
            );
        });
    }
}

/// Fetches and reads an official-account article by its link.
#[derive(Message)]
#[rtype(result = "Result<Article>")]
pub struct FetchArticle {
    /// The link an admin gave.
    pub url: String,
}

impl Handler<FetchArticle> for WeChat {
    type Result = ResponseFuture<Result<Article>>;

    fn handle(&mut self, msg: FetchArticle, _: &mut Self::Context) -> Self::Result {
        let inner = self.inner.clone();
        Box::pin(async move {
            let url = fetch::check(&msg.url, &inner.settings.allowed_hosts)?;
            let page = fetch::page(&inner.client, &inner.settings, url).await;
            inner.store.metrics().wechat_call("article", &page);
            Ok(article::extract(&page?)?)
        })
    }
}

/// Checks an app id and secret with WeChat before they are bound.
#[derive(Message)]
#[rtype(result = "Result<()>")]
pub struct CheckAccount {
    /// The official account's app id.
    pub app_id: String,
    /// Its secret.
    pub secret: String,
}

impl Handler<CheckAccount> for WeChat {
    type Result = ResponseFuture<Result<()>>;

    fn handle(&mut self, msg: CheckAccount, _: &mut Self::Context) -> Self::Result {
        let inner = self.inner.clone();
        Box::pin(async move {
            // Asked of WeChat each time, never answered from the cache: the secret is what is checked.
            match inner.api.token(&msg.app_id, &msg.secret).await {
                Ok(_) => Ok(()),
                Err(e @ WxError::Unauthorized(..)) => {
                    Err(Invalid::new("secret", e.to_string()).into())
                }
                Err(e) => Err(Error::Unavailable(e.to_string())),
            }
        })
    }
}

/// Polls a union's bound account now; answers how many articles were new.
#[derive(Message)]
#[rtype(result = "Result<u32>")]
pub struct PollAccount {
    /// Whose account.
    pub union_id: i64,
}

impl Handler<PollAccount> for WeChat {
    type Result = ResponseFuture<Result<u32>>;

    fn handle(&mut self, msg: PollAccount, _: &mut Self::Context) -> Self::Result {
        let inner = self.inner.clone();
        Box::pin(async move {
            let account = inner.store.wechat_credentials(msg.union_id).await?;
            inner.poll(&account).await
        })
    }
}

/// The openid behind a mini-program's `wx.login` code.
#[derive(Message)]
#[rtype(result = "Result<String>")]
pub struct MiniSession {
    /// The code from `wx.login`.
    pub code: String,
}

impl Handler<MiniSession> for WeChat {
    type Result = ResponseFuture<Result<String>>;

    fn handle(&mut self, msg: MiniSession, _: &mut Self::Context) -> Self::Result {
        let inner = self.inner.clone();
        Box::pin(async move {
            let (app_id, secret) = inner
                .settings
                .miniprogram
                .clone()
                // Not a passing failure a retry could cure (503): this server has no
                // mini-program, so the login it serves does not exist here.
                .ok_or_else(|| {
                    Error::NotFound("this server has no mini-program configured".into())
                })?;
            match inner.api.session(&app_id, &secret, &msg.code).await {
                Ok(session) => Ok(session.openid),
                Err(WxError::Unauthorized(..)) => Err(Error::Unauthenticated(
                    "WeChat refused the login code".into(),
                )),
                Err(e) => Err(Error::Unavailable(e.to_string())),
            }
        })
    }
}

/// The mini-program code of a scene (`a=7` for activity 7), when a mini-program is
/// configured; `None` otherwise. Each code is made by WeChat once for the whole cluster
/// and kept in the database.
#[derive(Message)]
#[rtype(result = "Result<Option<Vec<u8>>>")]
pub struct MiniCode {
    /// What the code carries to the page.
    pub scene: String,
}

impl Handler<MiniCode> for WeChat {
    type Result = ResponseFuture<Result<Option<Vec<u8>>>>;

    fn handle(&mut self, msg: MiniCode, _: &mut Self::Context) -> Self::Result {
        let inner = self.inner.clone();
        Box::pin(async move {
            let Some((app_id, secret)) = inner.settings.miniprogram.clone() else {
                return Ok(None);
            };
            let page = inner.settings.activity_page.clone();
            let make = async {
                inner
                    .with_token(&app_id, &secret, |token| {
                        let (api, scene, page) =
                            (inner.api.clone(), msg.scene.clone(), page.clone());
                        async move { api.wxacode(&token, &scene, &page).await }
                    })
                    .await
                    .map_err(|e| Error::Unavailable(format!("WeChat made no code: {e}")))
            };
            Ok(Some(inner.store.mini_code(&msg.scene, &page, make).await?))
        })
    }
}
