use chrono::NaiveDate;

use super::write::FORMULA_STARTS;
use crate::domain::{BoundedText, IdNumber, Invalid, PersonName, Phone};

/// A column of the member template. Each is recognised by its Chinese or English
/// header; the export writes the Chinese ones, so an export reads back as an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Name,
    Phone,
    IdNumber,
    Employer,
    Job,
    JoinedOn,
    /// Written by the export; ignored on import.
    Status,
    /// Written by the export; ignored on import.
    RetiredOn,
}

/// The columns of a spreadsheet template, each known by a Chinese and an English header.
pub trait Template: Copy + Eq + 'static {
    /// Every column, in the export's order.
    const ALL: &'static [Self];

    /// (Chinese header, English header).
    fn headers(self) -> (&'static str, &'static str);

    /// The column a header cell names, in either language (English in any case).
    fn named(header: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| {
            let (zh, en) = c.headers();
            header == zh || header.eq_ignore_ascii_case(en)
        })
    }
}

impl Template for Column {
    const ALL: &'static [Column] = &[
        Column::Name,
        Column::Phone,
        Column::IdNumber,
        Column::Employer,
        Column::Job,
        Column::JoinedOn,
        Column::Status,
        Column::RetiredOn,
    ];

    fn headers(self) -> (&'static str, &'static str) {
        match self {
            Column::Name => ("姓名", "name"),
            Column::Phone => ("手机号", "phone"),
            Column::IdNumber => ("身份证号", "id_number"),
            Column::Employer => ("工作单位", "employer"),
            Column::Job => ("职务", "job"),
            Column::JoinedOn => ("入会日期", "joined_on"),
            Column::Status => ("会员状态", "status"),
            Column::RetiredOn => ("退休日期", "retired_on"),
        }
    }
}

impl Column {
    /// The columns an import needs.
    pub const REQUIRED: [Column; 3] = [Column::Name, Column::Phone, Column::IdNumber];
}

/// Where each known column of template `C` sits in a file.
#[derive(Debug, Clone)]
pub struct Header<C: Template = Column> {
    positions: Vec<(C, usize)>,
}

impl<C: Template> Header<C> {
    /// Reads a header row: every non-empty cell must name a template column, none
    /// twice, and each of `required` must be there.
    ///
    /// # Errors
    /// `Invalid` on `file`, naming the offending column and the template.
    pub fn parse(cells: &[String], required: &[C]) -> Result<Self, Invalid> {
        let template = || {
            C::ALL
                .iter()
                .map(|c| c.headers().0)
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut positions = Vec::new();
        for (i, cell) in cells.iter().enumerate() {
            let cell = cell.trim();
            if cell.is_empty() {
                continue;
            }
            let column = C::named(cell).ok_or_else(|| {
                Invalid::new(
                    "file",
                    format!(
                        "unknown column {:?}; the template's columns are {}",
                        cell.chars().take(40).collect::<String>(),
                        template()
                    ),
                )
            })?;
            if positions.iter().any(|(c, _)| *c == column) {
                return Err(Invalid::new(
                    "file",
                    format!("the column {cell:?} appears twice"),
                ));
            }
            positions.push((column, i));
        }
        if let Some(missing) = required
            .iter()
            .find(|r| !positions.iter().any(|(c, _)| c == *r))
        {
            let (zh, en) = missing.headers();
            return Err(Invalid::new(
                "file",
                format!(
                    "the column {zh} ({en}) is missing; the template's columns are {}",
                    template()
                ),
            ));
        }
        Ok(Header { positions })
    }

    /// The trimmed cell of `column` in `cells` ("" when absent), without the `'` that
    /// the CSV export puts before text that would read as a formula.
    pub fn cell<'a>(&self, cells: &'a [String], column: C) -> &'a str {
        let text = self
            .positions
            .iter()
            .find(|(c, _)| *c == column)
            .and_then(|(_, i)| cells.get(*i))
            .map_or("", |s| s.trim());
        match text.strip_prefix('\'') {
            Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
            _ => text,
        }
    }
}

/// One checked row of a member import.
#[derive(Debug, Clone)]
pub struct MemberRow {
    /// The row number in the file.
    pub row: u32,
    pub name: PersonName,
    pub phone: Phone,
    pub id_number: IdNumber,
    pub employer: Option<BoundedText>,
    pub job: Option<BoundedText>,
    pub joined_on: Option<NaiveDate>,
}

/// The longest employer or job accepted, in characters.
const MAX_DETAIL: usize = 100;

impl MemberRow {
    /// Checks one data row.
    ///
    /// # Errors
    /// The sentence for the row's report: which column, and what is wrong with it.
    pub fn parse(header: &Header, row: u32, cells: &[String]) -> Result<MemberRow, Invalid> {
        let optional = |column: Column, field: &'static str| {
            let text = header.cell(cells, column);
            (!text.is_empty())
                .then(|| BoundedText::parse(field, text, MAX_DETAIL))
                .transpose()
        };
        let joined = header.cell(cells, Column::JoinedOn);
        Ok(MemberRow {
            row,
            name: PersonName::parse("name", header.cell(cells, Column::Name))?,
            phone: Phone::parse("phone", header.cell(cells, Column::Phone))?,
            id_number: IdNumber::parse("id_number", header.cell(cells, Column::IdNumber))?,
            employer: optional(Column::Employer, "employer")?,
            job: optional(Column::Job, "job")?,
            joined_on: (!joined.is_empty())
                .then(|| parse_date("joined_on", joined))
                .transpose()?,
        })
    }
}

/// A date as `YYYY-MM-DD` or `YYYY/MM/DD` (a time after it is ignored), not in the future.
pub fn parse_date(field: &'static str, raw: &str) -> Result<NaiveDate, Invalid> {
    let day = raw.split([' ', 'T']).next().unwrap_or("").replace('/', "-");
    let date = NaiveDate::parse_from_str(&day, "%Y-%m-%d")
        .map_err(|_| Invalid::new(field, "must be a date, YYYY-MM-DD"))?;
    if date > crate::domain::china_today() {
        return Err(Invalid::new(field, "must not be in the future"));
    }
    Ok(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(s: &str) -> Vec<String> {
        s.split(',').map(str::to_owned).collect()
    }

    #[test]
    fn headers_match_in_either_language_and_any_order() {
        let header = Header::parse(&cells("ID_NUMBER,姓名,phone,"), &Column::REQUIRED).unwrap();
        let row = cells("44010119900307000X,张三,13800000000");
        assert_eq!(header.cell(&row, Column::Name), "张三");
        assert_eq!(header.cell(&row, Column::Job), "");
        let defused = cells("'=1+1,'plain,");
        assert_eq!(header.cell(&defused, Column::IdNumber), "=1+1");
        assert_eq!(header.cell(&defused, Column::Name), "'plain");
    }

    #[test]
    fn unknown_missing_and_repeated_columns_are_refused() {
        for (header, says) in [
            ("姓名,手机号,身份证号,年龄", "unknown column \"年龄\""),
            ("姓名,手机号", "身份证号 (id_number) is missing"),
            ("姓名,name,手机号,身份证号", "appears twice"),
        ] {
            let err = Header::parse(&cells(header), &Column::REQUIRED).unwrap_err();
            assert!(err.reason.contains(says), "{header}: {err}");
        }
    }

    #[test]
    fn a_row_names_the_column_at_fault() {
        let header =
            Header::parse(&cells("姓名,手机号,身份证号,入会日期"), &Column::REQUIRED).unwrap();
        let err = MemberRow::parse(&header, 2, &cells("张三,13800000000,440101199003070011,"))
            .unwrap_err();
        assert_eq!(err.field, "id_number");
        let err = MemberRow::parse(
            &header,
            3,
            &cells("张三,13800000000,44010119900307000X,2020/13/01"),
        )
        .unwrap_err();
        assert_eq!(err.field, "joined_on");
        let ok = MemberRow::parse(
            &header,
            4,
            &cells("张三,13800000000,44010119900307000X,2020/01/31 00:00:00"),
        )
        .unwrap();
        assert_eq!(ok.joined_on, NaiveDate::from_ymd_opt(2020, 1, 31));
    }
}
