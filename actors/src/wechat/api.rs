use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::metrics::{Metrics, Outcome};

/// Why a WeChat API call failed, by what the caller should do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WxError {
    /// The access token is invalid or expired (40001, 40014, 42001): refresh and retry once.
    #[error("the access token was refused ({0})")]
    InvalidToken(i64),
    /// A quota was hit (45009, 45011): back off.
    #[error("WeChat's rate limit was reached ({0})")]
    RateLimited(i64),
    /// The credentials or the API are not authorised (40013, 40125, 40164, 48001, 61024, …):
    /// nothing will work until an admin fixes the binding.
    #[error("WeChat refused the account: {1} ({0})")]
    Unauthorized(i64, String),
    /// Anything else: a network failure, a timeout, another error code.
    #[error("{0}")]
    Failed(String),
}

impl Outcome for WxError {
    fn outcome(&self) -> &'static str {
        match self {
            WxError::InvalidToken(_) => "invalid_token",
            WxError::RateLimited(_) => "rate_limited",
            WxError::Unauthorized(..) => "unauthorized",
            WxError::Failed(_) => "failed",
        }
    }
}

impl WxError {
    fn from_code(code: i64, message: &str) -> Self {
        match code {
            40001 | 40014 | 42001 => WxError::InvalidToken(code),
            45009 | 45011 => WxError::RateLimited(code),
            40013 | 40125 | 40164 | 41004 | 48001 | 61024 | 40029 | 40163 => {
                WxError::Unauthorized(code, message.chars().take(200).collect())
            }
            _ => WxError::Failed(format!(
                "WeChat answered error {code}: {}",
                message.chars().take(200).collect::<String>()
            )),
        }
    }
}

#[derive(Deserialize)]
struct Token {
    access_token: String,
    expires_in: u64,
}

/// One page of `freepublish/batchget`.
#[derive(Debug, Clone, Deserialize)]
pub struct PublishedPage {
    #[serde(default)]
    pub total_count: i64,
    #[serde(default)]
    pub item: Vec<Published>,
}

/// One published message: several articles may go out together.
#[derive(Debug, Clone, Deserialize)]
pub struct Published {
    pub article_id: String,
    pub content: PublishedContent,
}

/// Its articles.
#[derive(Debug, Clone, Deserialize)]
pub struct PublishedContent {
    pub news_item: Vec<PublishedArticle>,
}

/// One article as `batchget` returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct PublishedArticle {
    pub title: String,
    #[serde(default)]
    pub author: String,
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub thumb_url: String,
    pub url: String,
    /// WeChat lists an article its account deleted with this set: never imported, and
    /// withdrawn if it was.
    #[serde(default)]
    pub is_deleted: bool,
}

impl From<PublishedArticle> for crate::domain::AccountArticle {
    fn from(a: PublishedArticle) -> Self {
        crate::domain::AccountArticle {
            title: a.title,
            author: a.author,
            digest: a.digest,
            content: a.content,
            thumb_url: a.thumb_url,
            url: a.url,
        }
    }
}

/// A mini-program login's result.
#[derive(Debug, Clone, Deserialize)]
pub struct Session {
    pub openid: String,
}

/// The WeChat HTTP API under a base address (`https://api.weixin.qq.com`).
#[derive(Clone)]
pub struct Api {
    pub(crate) client: reqwest::Client,
    pub(crate) base: String,
    pub(crate) metrics: Arc<Metrics>,
}

impl Api {
    /// Makes the JSON call `call` (its name in `gonghui_wechat_calls_total`).
    async fn json(&self, call: &str, request: reqwest::RequestBuilder) -> Result<Value, WxError> {
        let answer = self.answer(request).await;
        self.metrics.wechat_call(call, &answer);
        answer
    }

    async fn answer(&self, request: reqwest::RequestBuilder) -> Result<Value, WxError> {
        let response = request.send().await.map_err(|e| {
            WxError::Failed(if e.is_timeout() {
                "WeChat did not answer in time".into()
            } else {
                "WeChat could not be reached".into()
            })
        })?;
        let bytes = response
            .bytes()
            .await
            .map_err(|_| WxError::Failed("WeChat's answer could not be read".into()))?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|_| WxError::Failed("WeChat's answer is not JSON".into()))?;
        match value.get("errcode").and_then(Value::as_i64) {
            Some(code) if code != 0 => Err(WxError::from_code(
                code,
                value["errmsg"].as_str().unwrap_or(""),
            )),
            _ => Ok(value),
        }
    }

    fn read<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, WxError> {
        serde_json::from_value(value)
            .map_err(|e| WxError::Failed(format!("WeChat's answer has an unexpected shape: {e}")))
    }

    /// A new access token and its lifetime in seconds.
    pub async fn token(&self, app_id: &str, secret: &str) -> Result<(String, u64), WxError> {
        let request = self
            .client
            .get(format!("{}/cgi-bin/token", self.base))
            .query(&[
                ("grant_type", "client_credential"),
                ("appid", app_id),
                ("secret", secret),
            ]);
        let token: Token = Self::read(self.json("token", request).await?)?;
        Ok((token.access_token, token.expires_in))
    }

    /// One page of the account's published articles, newest first.
    pub async fn published(
        &self,
        token: &str,
        offset: i64,
        count: i64,
    ) -> Result<PublishedPage, WxError> {
        let request = self
            .client
            .post(format!("{}/cgi-bin/freepublish/batchget", self.base))
            .query(&[("access_token", token)])
            .json(&json!({ "offset": offset, "count": count, "no_content": 0 }));
        Self::read(self.json("published", request).await?)
    }

    /// The openid behind a `wx.login` code.
    pub async fn session(
        &self,
        app_id: &str,
        secret: &str,
        code: &str,
    ) -> Result<Session, WxError> {
        let request = self
            .client
            .get(format!("{}/sns/jscode2session", self.base))
            .query(&[
                ("appid", app_id),
                ("secret", secret),
                ("js_code", code),
                ("grant_type", "authorization_code"),
            ]);
        Self::read(self.json("session", request).await?)
    }

    /// A mini-program code (PNG) opening `page` with `scene`.
    pub async fn wxacode(&self, token: &str, scene: &str, page: &str) -> Result<Vec<u8>, WxError> {
        let code = self.code_image(token, scene, page).await;
        self.metrics.wechat_call("wxacode", &code);
        code
    }

    async fn code_image(&self, token: &str, scene: &str, page: &str) -> Result<Vec<u8>, WxError> {
        let response = self
            .client
            .post(format!("{}/wxa/getwxacodeunlimit", self.base))
            .query(&[("access_token", token)])
            .json(&json!({ "scene": scene, "page": page, "check_path": false }))
            .send()
            .await
            .map_err(|_| WxError::Failed("WeChat could not be reached".into()))?;
        let is_json = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.contains("json"));
        let bytes = response
            .bytes()
            .await
            .map_err(|_| WxError::Failed("WeChat's answer could not be read".into()))?;
        if is_json {
            let value: Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let code = value["errcode"].as_i64().unwrap_or(-1);
            return Err(WxError::from_code(
                code,
                value["errmsg"].as_str().unwrap_or(""),
            ));
        }
        Ok(bytes.to_vec())
    }
}
