use chrono::{Datelike, NaiveDate};

use super::Invalid;

/// An 18-character resident ID number whose GB 11643 check digit and birth date are right.
#[derive(Clone, PartialEq, Eq)]
pub struct IdNumber(String);

/// Weights of the first 17 digits in the GB 11643 checksum.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each remainder mod 11.
const CHECK: &[u8; 11] = b"10X98765432";

impl IdNumber {
    /// The GB 11643 check character of the first 17 digits of a number (`None` if they
    /// are not 17 ASCII digits): what makes a number whole, for generators of test data.
    pub fn check_digit(first17: &str) -> Option<char> {
        let b = first17.as_bytes();
        if b.len() != 17 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let sum: u32 = b
            .iter()
            .zip(WEIGHTS)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        Some(CHECK[(sum % 11) as usize] as char)
    }

    /// Accepts 17 digits and a check character (a lower-case `x` is read as `X`).
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, Invalid> {
        let upper = raw.trim().to_ascii_uppercase();
        let b = upper.as_bytes();
        if b.len() != 18
            || !b[..17].iter().all(u8::is_ascii_digit)
            || !(b[17].is_ascii_digit() || b[17] == b'X')
        {
            return Err(Invalid::new(
                field,
                "must be 18 characters: 17 digits and a digit or X",
            ));
        }
        if Self::check_digit(&upper[..17]) != Some(b[17] as char) {
            return Err(Invalid::new(
                field,
                "the check digit does not match (GB 11643)",
            ));
        }
        let birth = NaiveDate::parse_from_str(&upper[6..14], "%Y%m%d")
            .ok()
            .filter(|d| d.year() >= 1900 && *d <= super::china_today());
        if birth.is_none() {
            return Err(Invalid::new(
                field,
                "the birth date in it is not a possible date",
            ));
        }
        Ok(IdNumber(upper))
    }

    /// The full number, for encryption and the blind index only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `4401**********000X`: what everyone without `members.pii` sees.
    pub fn masked(&self) -> String {
        format!("{}**********{}", &self.0[..4], &self.0[14..])
    }
}

impl std::fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_number_parses_and_masks() {
        let id = IdNumber::parse("id_number", "44010119900307000x").unwrap();
        assert_eq!(id.expose(), "44010119900307000X");
        assert_eq!(id.masked(), "4401**********000X");
        assert!(!format!("{id:?}").contains("19900307"));
    }

    #[test]
    fn a_wrong_check_digit_is_refused() {
        let err = IdNumber::parse("id_number", "440101199003070011").unwrap_err();
        assert!(err.reason.contains("check digit"));
    }

    #[test]
    fn an_impossible_birth_date_is_refused() {
        // 1990-02-30 with a correct check digit for those 17 digits.
        let body = "44010119900230001";
        let full = format!("{body}{}", IdNumber::check_digit(body).unwrap());
        let err = IdNumber::parse("id_number", &full).unwrap_err();
        assert!(err.reason.contains("birth date"), "{err}");
    }

    #[test]
    fn wrong_shapes_are_refused() {
        for bad in [
            "",
            "4401011990030700",
            "44010119900307000XX",
            "4401011990030700AX",
            "４４",
        ] {
            assert!(IdNumber::parse("id_number", bad).is_err(), "{bad}");
        }
    }
}
