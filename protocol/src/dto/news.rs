//! News (资讯): authored in the console or imported from WeChat official accounts, and
//! delivered to every union in its audience at once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// One article in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct News {
    pub id: i64,
    /// The publishing union.
    pub union_id: i64,
    /// `union` (its members) or `subtree` (every union below it too).
    #[cfg_attr(feature = "openapi", schema(pattern = "^(union|subtree)$"))]
    pub scope: String,
    /// `authored`, `link` or `account`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(authored|link|account)$"))]
    pub source: String,
    pub title: String,
    pub author: Option<String>,
    /// The official account it came from.
    pub account_name: Option<String>,
    pub cover_url: Option<String>,
    pub digest: Option<String>,
    /// Sanitised HTML.
    pub body_html: String,
    /// The article's address on WeChat, when imported.
    pub source_url: Option<String>,
    /// `draft`, `published` or `unpublished`.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(draft|published|unpublished)$")
    )]
    pub status: String,
    #[serde(with = "crate::time::millis_opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub published_at: Option<DateTime<Utc>>,
    /// When WeChat says the article first appeared.
    #[serde(with = "crate::time::millis_opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub original_published_at: Option<DateTime<Utc>>,
}

/// An article as a feed lists it, and as `news.published` carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewsSummary {
    pub id: i64,
    pub union_id: i64,
    pub title: String,
    pub account_name: Option<String>,
    pub cover_url: Option<String>,
    pub digest: Option<String>,
    #[serde(with = "crate::time::millis_opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub published_at: Option<DateTime<Utc>>,
}

/// `GET /unions/{id}/news`: newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Feed {
    pub items: Vec<NewsSummary>,
    /// Pass as `before` for the next page; null on the last.
    pub next_before: Option<i64>,
}

/// `POST /unions/{id}/news` and `PUT /news/{id}`: an article written in the console.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewsForm {
    /// 1–100 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub title: String,
    /// HTML; scripts, event handlers and anything unsafe are removed. At most 512 KiB
    /// once cleaned.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub body_html: String,
    /// An https URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^https://[^/]", max_length = 500)
    )]
    pub cover_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub digest: Option<String>,
    /// `union` (default) or `subtree`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(union|subtree)$", default = "union")
    )]
    pub scope: Option<String>,
}

/// `POST /unions/{id}/news/imports`: an official-account article by its link.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LinkImport {
    /// `https://mp.weixin.qq.com/s/…`
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 2000))]
    pub url: String,
    /// `union` (default) or `subtree`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(union|subtree)$", default = "union")
    )]
    pub scope: Option<String>,
    /// Publish at once (default) or keep as a draft.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<bool>,
}

/// The data of `news.published` (and `news.unpublished`, which carries only the id).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewsEvent {
    pub news: NewsSummary,
}
