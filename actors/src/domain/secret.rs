use super::Invalid;

/// A new password: 8–128 characters.
pub struct Password(String);

impl Password {
    /// Checks the length only; what to require beyond that is the user's call.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, Invalid> {
        let len = raw.chars().count();
        if !(8..=128).contains(&len) {
            return Err(Invalid::new(field, "must be 8 to 128 characters"));
        }
        Ok(Password(raw.to_owned()))
    }

    /// The password, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A six-digit SMS code as typed by the user.
pub struct SmsCode(String);

impl SmsCode {
    /// Six ASCII digits.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, Invalid> {
        if raw.len() == 6 && raw.bytes().all(|b| b.is_ascii_digit()) {
            Ok(SmsCode(raw.to_owned()))
        } else {
            Err(Invalid::new(field, "must be the 6-digit code from the SMS"))
        }
    }

    /// The code, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}
