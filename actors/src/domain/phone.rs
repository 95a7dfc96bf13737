use std::fmt;

use super::Invalid;

/// A mainland China mobile number, `1[3-9]` and nine more digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    /// Accepts exactly eleven digits starting `13`–`19`; no spaces or country code.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, Invalid> {
        let b = raw.as_bytes();
        let ok = b.len() == 11
            && b[0] == b'1'
            && (b'3'..=b'9').contains(&b[1])
            && b.iter().all(u8::is_ascii_digit);
        if ok {
            Ok(Phone(raw.to_owned()))
        } else {
            Err(Invalid::new(
                field,
                "must be a mainland mobile number: 11 digits starting 13–19",
            ))
        }
    }

    /// The number itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****5678`, as admins see applicants.
    pub fn masked(raw: &str) -> String {
        if raw.len() == 11 && raw.is_ascii() {
            format!("{}****{}", &raw[..3], &raw[7..])
        } else {
            "****".to_owned()
        }
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mainland_mobiles_parse() {
        for ok in ["13800138000", "19912345678", "15000000000"] {
            assert_eq!(Phone::parse("phone", ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "1380013800",
            "138001380000",
            "12800138000",
            "23800138000",
            "1380013800x",
            "+8613800138000",
            "138 0013 800",
            "１３８００１３８０００",
        ] {
            assert!(Phone::parse("phone", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn masking_keeps_the_ends() {
        assert_eq!(Phone::masked("13800138000"), "138****8000");
    }
}
