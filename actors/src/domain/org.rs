//! The forms of union registration, modification and committees, checked whole.

use chrono::NaiveDate;
use gonghui_protocol::dto::{CommitteeForm, CommitteeMember, Replacement, UnionChanges, UnionForm};

use super::{BoundedText, Coordinates, CreditCode, Invalid, PersonName, Phone};

/// The most levels a union tree has, its top union included: a province's runs to
/// eight or so (省 → 市 → 区 → 街道 → 社区 → 企业 → 分会 → 小组); every way a union
/// joins the tree (registration, a move, a tree import) keeps within it.
pub const MAX_DEPTH: usize = 16;

/// The most seats a committee may have.
pub const MAX_SEATS: usize = 50;

/// A union's name: 2 to 100 characters.
pub(crate) fn union_name(raw: &str) -> Result<BoundedText, Invalid> {
    let name = BoundedText::parse("name", raw, 100)?;
    if name.as_str().chars().count() < 2 {
        return Err(Invalid::new("name", "must be 2 to 100 characters"));
    }
    Ok(name)
}

/// A checked registration (工会组织登记).
#[derive(Debug, Clone)]
pub struct NewUnion {
    pub name: BoundedText,
    pub credit_code: CreditCode,
    pub parent_id: i64,
    pub address: BoundedText,
    pub at: Coordinates,
    pub contact_name: PersonName,
    pub contact_phone: Phone,
}

impl NewUnion {
    /// Checks every field of `form`.
    pub fn parse(form: &UnionForm) -> Result<Self, Invalid> {
        Ok(NewUnion {
            name: union_name(&form.name)?,
            credit_code: CreditCode::parse("credit_code", &form.credit_code)?,
            parent_id: form.parent_id,
            address: BoundedText::parse("address", &form.address, 200)?,
            at: Coordinates::parse(form.lat, form.lng)?,
            contact_name: PersonName::parse("contact_name", &form.contact_name)?,
            contact_phone: Phone::parse("contact_phone", &form.contact_phone)?,
        })
    }

    /// The form as stored with the request, normalised.
    pub fn form(&self) -> UnionForm {
        UnionForm {
            name: self.name.as_str().to_owned(),
            credit_code: self.credit_code.as_str().to_owned(),
            parent_id: self.parent_id,
            address: self.address.as_str().to_owned(),
            lat: self.at.lat(),
            lng: self.at.lng(),
            contact_name: self.contact_name.as_str().to_owned(),
            contact_phone: self.contact_phone.as_str().to_owned(),
        }
    }
}

/// A checked modification (工会信息修改): at least one field.
#[derive(Debug, Clone)]
pub struct UnionEdit {
    pub name: Option<BoundedText>,
    pub address: Option<BoundedText>,
    pub at: Option<Coordinates>,
    pub contact_name: Option<PersonName>,
    pub contact_phone: Option<Phone>,
    pub parent_id: Option<i64>,
}

impl UnionEdit {
    /// Checks the fields given; coordinates come as a pair.
    pub fn parse(changes: &UnionChanges) -> Result<Self, Invalid> {
        let at = match (changes.lat, changes.lng) {
            (Some(lat), Some(lng)) => Some(Coordinates::parse(lat, lng)?),
            (None, None) => None,
            _ => return Err(Invalid::new("lat", "send lat and lng together")),
        };
        let edit = UnionEdit {
            name: changes.name.as_deref().map(union_name).transpose()?,
            address: changes
                .address
                .as_deref()
                .map(|a| BoundedText::parse("address", a, 200))
                .transpose()?,
            at,
            contact_name: changes
                .contact_name
                .as_deref()
                .map(|n| PersonName::parse("contact_name", n))
                .transpose()?,
            contact_phone: changes
                .contact_phone
                .as_deref()
                .map(|p| Phone::parse("contact_phone", p))
                .transpose()?,
            parent_id: changes.parent_id,
        };
        if edit.is_empty() {
            return Err(Invalid::new("name", "change at least one field"));
        }
        Ok(edit)
    }

    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.address.is_none()
            && self.at.is_none()
            && self.contact_name.is_none()
            && self.contact_phone.is_none()
            && self.parent_id.is_none()
    }

    /// The changes as stored with the request, normalised.
    pub fn changes(&self) -> UnionChanges {
        UnionChanges {
            name: self.name.as_ref().map(|n| n.as_str().to_owned()),
            address: self.address.as_ref().map(|a| a.as_str().to_owned()),
            lat: self.at.map(Coordinates::lat),
            lng: self.at.map(Coordinates::lng),
            contact_name: self.contact_name.as_ref().map(|n| n.as_str().to_owned()),
            contact_phone: self.contact_phone.as_ref().map(|p| p.as_str().to_owned()),
            parent_id: self.parent_id,
        }
    }
}

/// A seat's role.
fn role(field: &'static str, raw: &str) -> Result<&'static str, Invalid> {
    match raw {
        "chair" => Ok("chair"),
        "vice_chair" => Ok("vice_chair"),
        "member" => Ok("member"),
        _ => Err(Invalid::new(
            field,
            "role must be chair, vice_chair or member",
        )),
    }
}

fn seat(field: &'static str, raw: &CommitteeMember) -> Result<CommitteeMember, Invalid> {
    Ok(CommitteeMember {
        name: PersonName::parse(field, &raw.name)?.as_str().to_owned(),
        role: role(field, &raw.role)?.to_owned(),
    })
}

/// A checked committee term (换届): one chair, distinct names, the end after the start.
#[derive(Debug, Clone)]
pub struct Term {
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub members: Vec<CommitteeMember>,
}

impl Term {
    /// Checks dates and seats.
    pub fn parse(form: &CommitteeForm) -> Result<Self, Invalid> {
        if form.ends_on <= form.starts_on {
            return Err(Invalid::new("ends_on", "must be after starts_on"));
        }
        let members = form
            .members
            .iter()
            .map(|m| seat("members", m))
            .collect::<Result<Vec<_>, _>>()?;
        Self::check_seats(&members)?;
        Ok(Term {
            starts_on: form.starts_on,
            ends_on: form.ends_on,
            members,
        })
    }

    /// The rules every committee keeps, after a replacement too.
    pub fn check_seats(members: &[CommitteeMember]) -> Result<(), Invalid> {
        if members.is_empty() || members.len() > MAX_SEATS {
            return Err(Invalid::new(
                "members",
                format!("a committee has 1 to {MAX_SEATS} seats"),
            ));
        }
        if members.iter().filter(|m| m.role == "chair").count() != 1 {
            return Err(Invalid::new("members", "a committee has exactly one chair"));
        }
        for (i, m) in members.iter().enumerate() {
            if members[..i].iter().any(|o| o.name == m.name) {
                return Err(Invalid::new(
                    "members",
                    format!("{} is named twice", m.name),
                ));
            }
        }
        Ok(())
    }

    /// The form as stored with the request.
    pub fn form(&self) -> CommitteeForm {
        CommitteeForm {
            starts_on: self.starts_on,
            ends_on: self.ends_on,
            members: self.members.clone(),
        }
    }
}

/// A checked in-term replacement (届内换人).
#[derive(Debug, Clone)]
pub struct SeatChange {
    pub replace: PersonName,
    pub with: CommitteeMember,
}

impl SeatChange {
    /// Checks both names and the new role.
    pub fn parse(r: &Replacement) -> Result<Self, Invalid> {
        Ok(SeatChange {
            replace: PersonName::parse("replace", &r.replace)?,
            with: seat("with", &r.with)?,
        })
    }

    /// The seats after the change.
    ///
    /// # Errors
    /// When nobody of that name sits on `members`, or the result breaks a committee rule.
    pub fn apply(&self, members: &[CommitteeMember]) -> Result<Vec<CommitteeMember>, Invalid> {
        let at = members
            .iter()
            .position(|m| m.name == self.replace.as_str())
            .ok_or_else(|| {
                Invalid::new(
                    "replace",
                    format!("{} is not on the current committee", self.replace.as_str()),
                )
            })?;
        let mut seats = members.to_vec();
        seats[at] = self.with.clone();
        Term::check_seats(&seats)?;
        Ok(seats)
    }

    /// The replacement as stored with the request.
    pub fn form(&self) -> Replacement {
        Replacement {
            replace: self.replace.as_str().to_owned(),
            with: self.with.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, role: &str) -> CommitteeMember {
        CommitteeMember {
            name: name.into(),
            role: role.into(),
        }
    }

    #[test]
    fn a_term_needs_one_chair_distinct_names_and_an_end_after_its_start() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 1, d).unwrap();
        let form = |start, end, members| CommitteeForm {
            starts_on: day(start),
            ends_on: day(end),
            members,
        };
        assert!(Term::parse(&form(1, 2, vec![member("甲", "chair")])).is_ok());
        let err = Term::parse(&form(2, 1, vec![member("甲", "chair")])).unwrap_err();
        assert_eq!(err.field, "ends_on");
        let two = vec![member("甲", "chair"), member("乙", "chair")];
        assert!(Term::parse(&form(1, 2, two))
            .unwrap_err()
            .reason
            .contains("one chair"));
        let twice = vec![member("甲", "chair"), member("甲", "member")];
        assert!(Term::parse(&form(1, 2, twice))
            .unwrap_err()
            .reason
            .contains("twice"));
        let odd = vec![member("甲", "boss")];
        assert!(Term::parse(&form(1, 2, odd)).is_err());
    }

    #[test]
    fn a_replacement_takes_a_seat_that_exists() {
        let seats = vec![member("甲", "chair"), member("乙", "member")];
        let change = SeatChange::parse(&Replacement {
            replace: "乙".into(),
            with: member("丙", "vice_chair"),
        })
        .unwrap();
        assert_eq!(change.apply(&seats).unwrap()[1], member("丙", "vice_chair"));
        let missing = SeatChange::parse(&Replacement {
            replace: "丁".into(),
            with: member("丙", "member"),
        })
        .unwrap();
        assert_eq!(missing.apply(&seats).unwrap_err().field, "replace");
    }
}
