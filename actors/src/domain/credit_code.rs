use super::Invalid;

/// The characters of a unified social credit code, in value order (no I, O, S, V, Z).
const CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of the first 17 characters in the GB 32100-2015 checksum.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// An 18-character unified social credit code (统一社会信用代码) whose GB 32100-2015
/// check character is right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditCode(String);

/// Each character's value, or `None` for a character codes do not use.
fn values(code: &str) -> Option<Vec<u32>> {
    code.bytes()
        .map(|c| CHARSET.iter().position(|&x| x == c).map(|v| v as u32))
        .collect()
}

impl CreditCode {
    /// The GB 32100-2015 check character of a code's first 17 characters (`None` if
    /// they are not 17 code characters): what makes a code whole, for test data.
    pub fn check_character(first17: &str) -> Option<char> {
        let values = values(first17).filter(|v| v.len() == 17)?;
        let sum: u32 = values.iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
        Some(CHARSET[((31 - sum % 31) % 31) as usize] as char)
    }

    /// Accepts the code in upper or lower case.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, Invalid> {
        let code = raw.trim().to_ascii_uppercase();
        if values(&code).is_none_or(|v| v.len() != 18) {
            return Err(Invalid::new(
                field,
                "must be 18 characters of 0-9 and A-Y without I, O, S, V, Z",
            ));
        }
        if Self::check_character(&code[..17]) != code.chars().nth(17) {
            return Err(Invalid::new(
                field,
                "the check character does not match (GB 32100-2015)",
            ));
        }
        Ok(CreditCode(code))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A code with the right check character for `body`.
    fn with_check(body: &str) -> String {
        format!("{body}{}", CreditCode::check_character(body).unwrap())
    }

    #[test]
    fn a_published_code_parses() {
        // The code of a well-known company, as printed on its business licence.
        assert!(CreditCode::parse("credit_code", "91350100M000100Y43").is_ok());
        let made = with_check("81440101MC1234567");
        assert_eq!(
            CreditCode::parse("c", &made.to_lowercase())
                .unwrap()
                .as_str(),
            made
        );
    }

    #[test]
    fn wrong_check_characters_and_shapes_are_refused() {
        let good = with_check("81440101MC1234567");
        let mut bad = good.clone();
        bad.replace_range(17.., if good.ends_with('0') { "1" } else { "0" });
        assert!(CreditCode::parse("c", &bad)
            .unwrap_err()
            .reason
            .contains("check character"));
        for shape in ["", "81440101MC123456", "81440101MC1234567I", "８１"] {
            assert!(CreditCode::parse("c", shape).is_err(), "{shape}");
        }
    }
}
