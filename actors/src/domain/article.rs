//! An article as gonghui keeps it, whichever way it came from WeChat: a page fetched by
//! link, or an entry of a bound account's published list. The WeChat adapter maps
//! WeChat's shapes to these; the store takes only these.

use chrono::{DateTime, Utc};

use super::{outside_text, ImageUrl, Invalid};
use crate::html::{sanitize, MAX_BODY};

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

/// An article's fields as found, before they are checked.
#[derive(Debug, Clone, Copy, Default)]
pub struct Found<'a> {
    pub title: Option<&'a str>,
    pub author: Option<&'a str>,
    pub account_name: Option<&'a str>,
    pub cover_url: Option<&'a str>,
    pub digest: Option<&'a str>,
    /// The body's HTML as it came.
    pub body: &'a str,
}

impl Article {
    /// The one check every article passes, whatever brought it (a fetched page, a bound
    /// account's list): the fields an authored article is held to, a bad optional field
    /// left out rather than fatal, the body sanitised and bounded.
    ///
    /// # Errors
    /// `Invalid` on `field` with no title, or a body too long to keep.
    pub fn check(
        field: &'static str,
        found: Found<'_>,
        published_at: Option<DateTime<Utc>>,
        page_key: Option<String>,
    ) -> Result<Article, Invalid> {
        let title = found
            .title
            .and_then(|t| outside_text(t, 200))
            .ok_or_else(|| Invalid::new(field, "the article has no title"))?;
        let body_html = sanitize(found.body);
        if body_html.len() > MAX_BODY {
            return Err(Invalid::new(field, "the article is too long to keep"));
        }
        Ok(Article {
            title,
            author: found.author.and_then(|a| outside_text(a, 100)),
            account_name: found.account_name.and_then(|a| outside_text(a, 100)),
            cover_url: found
                .cover_url
                .and_then(|url| ImageUrl::parse("cover_url", url).ok())
                .map(|url| url.as_str().to_owned()),
            digest: found.digest.and_then(|d| outside_text(d, 200)),
            published_at,
            body_html,
            page_key,
        })
    }
}

/// An article of a bound account's published list, as WeChat listed it.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountArticle {
    pub title: String,
    pub author: String,
    pub digest: String,
    /// The body as WeChat gives it.
    pub content: String,
    pub thumb_url: String,
    pub url: String,
}

impl AccountArticle {
    /// The article as it is kept, checked as a fetched one is, and its link: an `https`
    /// official-account article link, the only kind a member is sent to.
    ///
    /// # Errors
    /// `Invalid` on `article` for a link that is not one, or an article that fails
    /// [`Article::check`].
    pub fn check(&self) -> Result<(Article, String), Invalid> {
        let url = self.url.trim();
        let key = url::Url::parse(url)
            .ok()
            .filter(|u| u.scheme() == "https")
            .and_then(|_| link_key(url))
            .ok_or_else(|| {
                Invalid::new(
                    "article",
                    "its link is not an https official-account article link",
                )
            })?;
        let found = Found {
            title: Some(&self.title),
            author: Some(&self.author),
            account_name: None,
            cover_url: Some(&self.thumb_url),
            digest: Some(&self.digest),
            body: &self.content,
        };
        Ok((
            Article::check("article", found, None, Some(key))?,
            url.to_owned(),
        ))
    }
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
