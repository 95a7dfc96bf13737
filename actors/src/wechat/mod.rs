//! The WeChat adapter: one actor per node, the only code that talks to WeChat. Its
//! client fetches only HTTPS pages of the allowed hosts (redirects included), within a
//! timeout and a size limit, so an admin's link cannot make the server reach anywhere
//! else (no SSRF), and a slow or failing WeChat costs the caller a clear error and
//! nobody else anything.
//!
//! # Layout
//! - [`fetch`]: the link check, the guarded client, the bounded page read.
//! - [`article`]: an official-account article page read into its fields.

pub mod article;
pub mod fetch;

use std::time::Duration;

use actix::prelude::*;

pub use article::Article;

use crate::Result;

/// Where and how the adapter may fetch.
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
}

impl Default for WeChatSettings {
    fn default() -> Self {
        WeChatSettings {
            allowed_hosts: vec!["mp.weixin.qq.com".into()],
            timeout: Duration::from_secs(10),
            max_page: 5 * 1024 * 1024,
            extra_root_pem: None,
        }
    }
}

/// The adapter actor.
pub struct WeChat {
    settings: WeChatSettings,
    client: reqwest::Client,
}

impl WeChat {
    /// An adapter with `settings`.
    ///
    /// # Errors
    /// When the extra root certificate does not parse.
    pub fn new(settings: WeChatSettings) -> anyhow::Result<Self> {
        let client = fetch::client(&settings)?;
        Ok(WeChat { settings, client })
    }
}

impl Actor for WeChat {
    type Context = Context<Self>;
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
        let (client, settings) = (self.client.clone(), self.settings.clone());
        Box::pin(async move {
            let url = fetch::check(&msg.url, &settings.allowed_hosts)?;
            let page = fetch::page(&client, &settings, url).await?;
            Ok(article::extract(&page)?)
        })
    }
}
