use super::Invalid;

/// Free text from a client (a note, a reason) with an upper bound on its length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundedText(String);

/// The longest note or reason a person reads about a decision, in characters.
pub const NOTE_MAX: usize = 500;

/// A note or a reason (an application's note, why it was rejected, why a member left or
/// was removed): 1–[`NOTE_MAX`] characters, the one rule for all of them.
pub fn note(field: &'static str, raw: &str) -> Result<BoundedText, Invalid> {
    BoundedText::parse(field, raw, NOTE_MAX)
}

impl BoundedText {
    /// Trims, then requires 1..=`max` characters without control characters other than newlines.
    pub fn parse(field: &'static str, raw: &str, max: usize) -> Result<Self, Invalid> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(Invalid::new(field, "must not be empty"));
        }
        if text.chars().count() > max {
            return Err(Invalid::new(
                field,
                format!("must be at most {max} characters"),
            ));
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(Invalid::new(field, "must not contain control characters"));
        }
        Ok(BoundedText(text.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The address of a picture shown to every client (a news cover): an `https` URL of at
/// most 500 characters with nothing a browser would read as script or markup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUrl(String);

impl ImageUrl {
    /// Trims, then requires `https://`, a host, and no spaces, quotes, angle brackets or
    /// control characters.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, Invalid> {
        let url = raw.trim();
        let host = url.strip_prefix("https://").unwrap_or("");
        let clean = !url.chars().any(|c| {
            c.is_control() || c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '\\')
        });
        if host.is_empty() || host.starts_with('/') || url.chars().count() > 500 || !clean {
            return Err(Invalid::new(
                field,
                "must be an https URL of at most 500 characters",
            ));
        }
        Ok(ImageUrl(url.to_owned()))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Text read from someone else's page (an imported article's author, say): control
/// characters dropped, space trimmed, cut to `max` characters; nothing if empty.
pub fn outside_text(raw: &str, max: usize) -> Option<String> {
    let text: String = raw
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(max)
        .collect();
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_https_image_urls_pass() {
        assert!(ImageUrl::parse("c", " https://mmbiz.qpic.cn/a.jpg ").is_ok());
        for bad in [
            "javascript:alert(1)",
            "http://example.com/a.jpg",
            "https://",
            "https://x/\"onerror=\"x",
            "https://x/a b.jpg",
            "data:image/png;base64,AAAA",
        ] {
            assert!(ImageUrl::parse("c", bad).is_err(), "{bad}");
        }
        assert_eq!(outside_text("  张\u{0}三 ", 1).as_deref(), Some("张"));
        assert_eq!(outside_text("\u{7}", 10), None);
    }
}
