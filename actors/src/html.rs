//! HTML from outside — authored in the console or fetched from WeChat — made safe to
//! show in every client: scripts, event handlers, styles that load things and unsafe
//! URLs are removed (ammonia's whitelist), images keep their source.

/// The longest article body kept, in bytes, after cleaning.
pub const MAX_BODY: usize = 512 * 1024;

/// Cleans `html`. WeChat's lazily loaded images (`data-src`) get a real `src` first.
pub fn sanitize(html: &str) -> String {
    let eager = html.replace(" data-src=", " src=");
    ammonia::Builder::default()
        .url_schemes(["http", "https"].into())
        .clean(&eager)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn scripts_handlers_and_javascript_urls_are_removed() {
        let clean = sanitize(
            r#"<p onclick="x()">hi<script>alert(1)</script></p><img src="x.png" onerror="steal()"><a href="javascript:alert(1)">a</a>"#,
        );
        assert!(
            !clean.contains("script") && !clean.contains("onerror") && !clean.contains("onclick"),
            "{clean}"
        );
        assert!(!clean.contains("javascript:"), "{clean}");
        assert!(clean.contains("<img src=\"x.png\">"), "{clean}");
    }

    #[test]
    fn lazy_images_get_their_source() {
        let clean = sanitize(r#"<img data-src="https://mmbiz.qpic.cn/a.jpg">"#);
        assert_eq!(clean, r#"<img src="https://mmbiz.qpic.cn/a.jpg">"#);
    }
}
