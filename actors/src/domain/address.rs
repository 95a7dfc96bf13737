use gonghui_protocol::dto::{Address, PrizeClaim};

use super::{BoundedText, Invalid, PersonName};

/// Where a prize goes, checked field by field as WeChat's `wx.chooseAddress` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingAddress(Address);

/// A postal or area code: six digits, or nothing.
fn six_digits(field: &'static str, raw: Option<&str>) -> Result<Option<String>, Invalid> {
    match raw.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(code) if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Some(code.to_owned()))
        }
        Some(_) => Err(Invalid::new(field, "must be six digits")),
    }
}

impl ShippingAddress {
    /// Checks each field: the recipient as a name, a telephone of 5–20 digits (with `-`,
    /// `+` or spaces), province, city and county of 1–30 characters, the street address
    /// of 1–200, and six-digit postal and area codes when given.
    pub fn parse(claim: &PrizeClaim) -> Result<Self, Invalid> {
        let phone = claim.tel_number.trim();
        let digits = phone.bytes().filter(u8::is_ascii_digit).count();
        let phone_ok = phone
            .bytes()
            .all(|b| b.is_ascii_digit() || b"-+ ".contains(&b))
            && (5..=20).contains(&digits);
        if !phone_ok {
            return Err(Invalid::new("telNumber", "must be a telephone number"));
        }
        let part = |field: &'static str, raw: &str| {
            BoundedText::parse(field, raw, 30).map(|t| t.as_str().to_owned())
        };
        Ok(ShippingAddress(Address {
            recipient: PersonName::parse("userName", &claim.user_name)?
                .as_str()
                .to_owned(),
            phone: phone.to_owned(),
            province: part("provinceName", &claim.province_name)?,
            city: part("cityName", &claim.city_name)?,
            county: part("countyName", &claim.county_name)?,
            detail: BoundedText::parse("detailInfo", &claim.detail_info, 200)?
                .as_str()
                .to_owned(),
            postal_code: six_digits("postalCode", claim.postal_code.as_deref())?,
            national_code: six_digits("nationalCode", claim.national_code.as_deref())?,
        }))
    }

    /// The checked fields.
    pub fn fields(&self) -> &Address {
        &self.0
    }
}
