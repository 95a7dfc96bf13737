//! An article as gonghui keeps it, whichever way it came from WeChat: a page fetched by
//! link, or an entry of a bound account's published list. The WeChat adapter maps
//! WeChat's shapes to these; the store takes only these.

use chrono::{DateTime, Utc};

use super::Invalid;

/// What an official-account article page holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    pub title: String,
    pub author: Option<String>,
    pub account_name: Option<String>,
    pub cover_url: Option<String>,
    pub digest: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    /// Sanitised.
    pub body_html: String,
    /// The key of the long link the page names as its own (`og:url`), if any.
    pub page_key: Option<String>,
}

/// The key an official-account article link is known by: `s/{id}` for a short link,
/// `biz=…&mid=…&idx=…` for a long one (its `sn`, `chksm` and tracking parameters aside).
/// Two forms of one link differ, which is why a page's own long link is kept too.
pub fn link_key(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    let path = url.path().trim_end_matches('/');
    if let Some(id) = path.strip_prefix("/s/").filter(|id| !id.is_empty()) {
        return Some(format!("s/{id}"));
    }
    if path != "/s" && path != "/mp/appmsg/show" {
        return None;
    }
    let value = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty())
    };
    let (biz, mid) = (value("__biz")?, value("mid").or_else(|| value("appmsgid"))?);
    let idx = value("idx")
        .or_else(|| value("itemidx"))
        .unwrap_or_else(|| "1".into());
    Some(format!("biz={biz}&mid={mid}&idx={idx}"))
}

/// An article of a bound account's published list, as WeChat listed it (its body not yet
/// sanitised).
#[derive(Debug, Clone, PartialEq)]
pub struct AccountArticle {
    pub title: String,
    pub author: String,
    pub digest: String,
    /// The body as WeChat gives it; sanitised when stored.
    pub content: String,
    pub thumb_url: String,
    pub url: String,
}

/// Who sees an article: the union's members, or every union's below it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Union,
    Subtree,
}

impl Scope {
    /// Reads `union` or `subtree` (default `union`).
    pub fn parse(raw: Option<&str>) -> Result<Self, Invalid> {
        match raw.unwrap_or("union") {
            "union" => Ok(Scope::Union),
            "subtree" => Ok(Scope::Subtree),
            _ => Err(Invalid::new("scope", "must be union or subtree")),
        }
    }

    /// As stored: `union` or `subtree`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Union => "union",
            Scope::Subtree => "subtree",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_of_a_link_have_keys_and_tracking_does_not_change_them() {
        assert_eq!(
            link_key("https://mp.weixin.qq.com/s/AbC-123_x").as_deref(),
            Some("s/AbC-123_x")
        );
        let long = "https://mp.weixin.qq.com/s?__biz=MzA5&mid=2651&idx=2&sn=abc&chksm=zz#rd";
        let same = "http://mp.weixin.qq.com/s?sn=abc&idx=2&mid=2651&__biz=MzA5&scene=21";
        assert_eq!(link_key(long).as_deref(), Some("biz=MzA5&mid=2651&idx=2"));
        assert_eq!(link_key(long), link_key(same));
        assert_eq!(link_key("https://mp.weixin.qq.com/other"), None);
    }
}
