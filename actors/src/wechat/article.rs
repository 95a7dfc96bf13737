use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use scraper::{Html, Selector};

use crate::domain::{link_key, Article, Found, Invalid};

/// What WeChat's page says, with a 200, where an article was deleted or taken down.
const DELETED: [&str; 3] = [
    "该内容已被发布者删除",
    "此内容因违规无法查看",
    "此内容被多人投诉",
];

fn selector(css: &str) -> Selector {
    Selector::parse(css).expect("the selectors here are valid")
}

fn meta(doc: &Html, css: &str) -> Option<String> {
    doc.select(&selector(css))
        .find_map(|m| m.value().attr("content"))
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
}

fn text(doc: &Html, css: &str) -> Option<String> {
    doc.select(&selector(css))
        .map(|e| e.text().collect::<String>().trim().to_owned())
        .find(|t| !t.is_empty())
}

/// The publish time: the page script's `ct` (seconds since the epoch), else the shown
/// `publish_time` (China Standard Time).
fn published_at(doc: &Html, page: &str) -> Option<DateTime<Utc>> {
    let ct = page
        .split("var ct = \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next());
    if let Some(secs) = ct.and_then(|s| s.parse::<i64>().ok()) {
        return Utc.timestamp_opt(secs, 0).single();
    }
    let shown = text(doc, "#publish_time")?;
    let local = NaiveDateTime::parse_from_str(&shown, "%Y-%m-%d %H:%M").ok()?;
    chrono::FixedOffset::east_opt(8 * 3600)?
        .from_local_datetime(&local)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// Reads an article page.
///
/// # Errors
/// `Invalid` on `url` when the page has no title or no content: it is not an article.
pub fn extract(page: &str) -> Result<Article, Invalid> {
    if DELETED.iter().any(|notice| page.contains(notice)) {
        return Err(Invalid::new(
            "url",
            "the article was deleted by its account or taken down",
        ));
    }
    let doc = Html::parse_document(page);
    let title = meta(&doc, r#"meta[property="og:title"]"#)
        .or_else(|| text(&doc, "#activity-name"))
        .ok_or_else(|| {
            Invalid::new(
                "url",
                "the page is not an official-account article: it has no title",
            )
        })?;
    let body = doc
        .select(&selector("#js_content"))
        .next()
        .map(|b| b.inner_html())
        .ok_or_else(|| {
            Invalid::new(
                "url",
                "the page is not an official-account article: it has no content",
            )
        })?;
    let (author, account_name, cover_url, digest) = (
        meta(&doc, r#"meta[name="author"]"#),
        text(&doc, "#js_name").or_else(|| meta(&doc, r#"meta[property="og:site_name"]"#)),
        meta(&doc, r#"meta[property="og:image"]"#),
        meta(&doc, r#"meta[name="description"]"#)
            .or_else(|| meta(&doc, r#"meta[property="og:description"]"#)),
    );
    let found = Found {
        title: Some(&title),
        author: author.as_deref(),
        account_name: account_name.as_deref(),
        cover_url: cover_url.as_deref(),
        digest: digest.as_deref(),
        body: &body,
    };
    let page_key = meta(&doc, r#"meta[property="og:url"]"#).and_then(|u| link_key(&u));
    Article::check("url", found, published_at(&doc, page), page_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_without_content_is_not_an_article() {
        let err = extract("<html><head><title>x</title></head><body>hi</body></html>").unwrap_err();
        assert!(
            err.reason.contains("no title") || err.reason.contains("no content"),
            "{err}"
        );
    }

    #[test]
    fn a_deleted_articles_page_is_not_an_article() {
        let page = r#"<html><head><meta property="og:title" content="微信公众平台"></head><body><div class="weui-msg"><p>该内容已被发布者删除</p></div><div id="js_content"></div></body></html>"#;
        assert!(extract(page).unwrap_err().reason.contains("deleted"));
    }

    #[test]
    fn a_script_cover_and_an_endless_author_are_not_kept() {
        let author = "很".repeat(10_000);
        let page = format!(
            r#"<meta property="og:title" content="t"><meta property="og:image" content="javascript:alert(1)"><meta name="author" content="{author}"><div id="js_content"><p>x</p></div>"#
        );
        let a = extract(&page).unwrap();
        assert_eq!(a.cover_url, None);
        assert_eq!(a.author.unwrap().chars().count(), 100);
    }

    #[test]
    fn the_shown_time_is_read_in_china_standard_time() {
        let page = r#"<meta property="og:title" content="t"><em id="publish_time">2026-11-20 08:30</em><div id="js_content"><p>x</p></div>"#;
        let a = extract(page).unwrap();
        assert_eq!(
            a.published_at.unwrap().to_rfc3339(),
            "2026-11-20T00:30:00+00:00"
        );
    }
}
