use super::Invalid;

/// Free text from a client (a note, a reason) with an upper bound on its length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundedText(String);

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
