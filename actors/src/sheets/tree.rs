//! The union-tree template (工会信息、管理员信息同步): one union per row, with its
//! parent named by credit code or by a path of names, and its admins. A union's first
//! admin sits on its own row; each further admin takes a row below it with the union's
//! cells left blank, which is also what merged cells in Excel read as.

use std::collections::BTreeSet;

use super::template::{Header, Template};
use crate::domain::{
    union_name, BoundedText, Coordinates, CreditCode, Invalid, Permission, PersonName, Phone,
    MAX_DEPTH,
};

/// A column of the union-tree template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnionColumn {
    Name,
    CreditCode,
    ParentCode,
    ParentPath,
    Address,
    Lat,
    Lng,
    ContactName,
    ContactPhone,
    AdminName,
    AdminPhone,
    AdminPermissions,
}

impl Template for UnionColumn {
    const ALL: &'static [UnionColumn] = &[
        UnionColumn::Name,
        UnionColumn::CreditCode,
        UnionColumn::ParentCode,
        UnionColumn::ParentPath,
        UnionColumn::Address,
        UnionColumn::Lat,
        UnionColumn::Lng,
        UnionColumn::ContactName,
        UnionColumn::ContactPhone,
        UnionColumn::AdminName,
        UnionColumn::AdminPhone,
        UnionColumn::AdminPermissions,
    ];

    fn headers(self) -> (&'static str, &'static str) {
        match self {
            UnionColumn::Name => ("工会名称", "name"),
            UnionColumn::CreditCode => ("统一社会信用代码", "credit_code"),
            UnionColumn::ParentCode => ("上级工会信用代码", "parent_credit_code"),
            UnionColumn::ParentPath => ("上级工会", "parent_path"),
            UnionColumn::Address => ("地址", "address"),
            UnionColumn::Lat => ("纬度", "lat"),
            UnionColumn::Lng => ("经度", "lng"),
            UnionColumn::ContactName => ("联系人", "contact_name"),
            UnionColumn::ContactPhone => ("联系电话", "contact_phone"),
            UnionColumn::AdminName => ("管理员姓名", "admin_name"),
            UnionColumn::AdminPhone => ("管理员手机号", "admin_phone"),
            UnionColumn::AdminPermissions => ("管理员权限", "admin_permissions"),
        }
    }
}

impl UnionColumn {
    /// The columns a tree import needs.
    pub const REQUIRED: [UnionColumn; 2] = [UnionColumn::Name, UnionColumn::CreditCode];

    /// Whether the column describes an admin rather than the union.
    fn is_admin(self) -> bool {
        matches!(
            self,
            UnionColumn::AdminName | UnionColumn::AdminPhone | UnionColumn::AdminPermissions
        )
    }
}

/// The separator of names in a parent path.
pub const PATH_SEPARATOR: char = '/';

/// Where a row's union hangs: blank for the union imported into.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParentRef {
    /// The parent's credit code.
    pub code: Option<CreditCode>,
    /// The names from just below the union imported into down to the parent.
    pub path: Vec<String>,
}

impl ParentRef {
    /// Whether the row names no parent, so it hangs under the union imported into.
    pub fn is_import_root(&self) -> bool {
        self.code.is_none() && self.path.is_empty()
    }
}

/// A union as a row describes it. Blank optional cells keep what a known union has.
#[derive(Debug, Clone)]
pub struct UnionCells {
    pub name: BoundedText,
    pub credit_code: CreditCode,
    pub parent: ParentRef,
    pub address: Option<BoundedText>,
    pub at: Option<Coordinates>,
    pub contact_name: Option<PersonName>,
    pub contact_phone: Option<Phone>,
}

/// An admin as a row describes them.
#[derive(Debug, Clone)]
pub struct AdminCells {
    pub name: PersonName,
    pub phone: Phone,
    pub permissions: BTreeSet<Permission>,
}

/// One checked row of the union tree: a union (with or without an admin), or a further
/// admin of the union above.
#[derive(Debug, Clone)]
pub struct TreeRow {
    /// `None` on a row that only adds an admin to the union above.
    pub union: Option<UnionCells>,
    pub admin: Option<AdminCells>,
}

/// One data row of an upload, read: where it is, whether it starts a union (so that the
/// admin rows below belong to it even when its cells are wrong), and its cells checked.
#[derive(Debug, Clone)]
pub struct TreeLine {
    /// The row number in the file.
    pub row: u32,
    pub starts_union: bool,
    /// The row, or the sentence for its report: which column, and what is wrong with it.
    pub parsed: Result<TreeRow, Invalid>,
}

impl TreeLine {
    /// Reads and checks one data row.
    pub fn read(header: &Header<UnionColumn>, row: u32, cells: &[String]) -> TreeLine {
        let filled = |admin: bool| {
            UnionColumn::ALL
                .iter()
                .any(|c| c.is_admin() == admin && !header.cell(cells, *c).is_empty())
        };
        let starts_union = filled(false);
        let parsed = (|| {
            Ok(TreeRow {
                union: starts_union
                    .then(|| union_cells(header, cells))
                    .transpose()?,
                admin: filled(true)
                    .then(|| admin_cells(header, cells))
                    .transpose()?,
            })
        })();
        TreeLine {
            row,
            starts_union,
            parsed,
        }
    }
}

fn union_cells(header: &Header<UnionColumn>, cells: &[String]) -> Result<UnionCells, Invalid> {
    let cell = |c| header.cell(cells, c);
    let optional = |c: UnionColumn| Some(cell(c)).filter(|t| !t.is_empty());
    let name = union_name(cell(UnionColumn::Name))?;
    let credit_code = CreditCode::parse("credit_code", cell(UnionColumn::CreditCode))?;
    let at = match (optional(UnionColumn::Lat), optional(UnionColumn::Lng)) {
        (Some(lat), Some(lng)) => Some(Coordinates::parse(
            degrees("lat", lat)?,
            degrees("lng", lng)?,
        )?),
        (None, None) => None,
        _ => return Err(Invalid::new("lat", "give lat and lng together")),
    };
    Ok(UnionCells {
        name,
        credit_code,
        parent: ParentRef {
            code: optional(UnionColumn::ParentCode)
                .map(|c| CreditCode::parse("parent_credit_code", c))
                .transpose()?,
            path: optional(UnionColumn::ParentPath)
                .map(parent_path)
                .transpose()?
                .unwrap_or_default(),
        },
        address: optional(UnionColumn::Address)
            .map(|a| BoundedText::parse("address", a, 200))
            .transpose()?,
        at,
        contact_name: optional(UnionColumn::ContactName)
            .map(|n| PersonName::parse("contact_name", n))
            .transpose()?,
        contact_phone: optional(UnionColumn::ContactPhone)
            .map(|p| Phone::parse("contact_phone", p))
            .transpose()?,
    })
}

fn degrees(field: &'static str, raw: &str) -> Result<f64, Invalid> {
    raw.parse::<f64>()
        .ok()
        .filter(|d| d.is_finite())
        .ok_or_else(|| Invalid::new(field, "must be a number of degrees"))
}

fn parent_path(raw: &str) -> Result<Vec<String>, Invalid> {
    let names: Vec<String> = raw
        .split(PATH_SEPARATOR)
        .map(|n| union_name(n).map(|n| n.as_str().to_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| Invalid::new("parent_path", format!("a name in the path {}", e.reason)))?;
    if names.len() > MAX_DEPTH {
        return Err(Invalid::new(
            "parent_path",
            format!("must name at most {MAX_DEPTH} unions"),
        ));
    }
    Ok(names)
}

fn admin_cells(header: &Header<UnionColumn>, cells: &[String]) -> Result<AdminCells, Invalid> {
    let cell = |c| header.cell(cells, c);
    Ok(AdminCells {
        name: PersonName::parse("admin_name", cell(UnionColumn::AdminName))?,
        phone: Phone::parse("admin_phone", cell(UnionColumn::AdminPhone))?,
        permissions: permissions(cell(UnionColumn::AdminPermissions))?,
    })
}

/// The words that grant every permission.
const ALL_PERMISSIONS: [&str; 2] = ["all", "全部"];

/// Permission names separated by commas, semicolons, 、 or spaces; `all` or `全部` for
/// every one.
fn permissions(raw: &str) -> Result<BTreeSet<Permission>, Invalid> {
    let field = "admin_permissions";
    let names: Vec<&str> = raw
        .split([',', '，', ';', '；', '、', ' ', '\n'])
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Err(Invalid::new(
            field,
            "list the admin's permissions (or write all)",
        ));
    }
    if names
        .iter()
        .any(|n| ALL_PERMISSIONS.contains(&n.to_ascii_lowercase().as_str()))
    {
        return Ok(Permission::ALL.into_iter().collect());
    }
    names
        .into_iter()
        .map(|n| Permission::parse(field, n))
        .collect()
}

/// The permissions cell as the export writes it.
pub fn permissions_cell(held: &[String]) -> String {
    held.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(s: &str) -> Vec<String> {
        s.split(',').map(str::to_owned).collect()
    }

    fn header() -> Header<UnionColumn> {
        Header::parse(
            &cells(
                "工会名称,统一社会信用代码,上级工会,纬度,经度,管理员姓名,管理员手机号,管理员权限",
            ),
            &UnionColumn::REQUIRED,
        )
        .unwrap()
    }

    fn code() -> String {
        let first = "91440101MA5CYTXB6";
        format!("{first}{}", CreditCode::check_character(first).unwrap())
    }

    #[test]
    fn a_union_row_an_admin_row_and_a_row_with_both_read() {
        let h = header();
        let both = TreeLine::read(
            &h,
            2,
            &cells(&format!(
                "天河区总工会,{},广州/天河,23.1,113.3,张三,13800000000,全部",
                code()
            )),
        );
        assert!(both.starts_union);
        let both = both.parsed.unwrap();
        let union = both.union.unwrap();
        assert_eq!(union.parent.path, ["广州", "天河"]);
        assert_eq!(union.at.unwrap().lng(), 113.3);
        assert_eq!(both.admin.unwrap().permissions.len(), Permission::ALL.len());
        let admin_only = TreeLine::read(
            &h,
            3,
            &cells(",,,,,李四,13900000000,members.review news.publish"),
        );
        assert!(!admin_only.starts_union);
        let admin_only = admin_only.parsed.unwrap();
        assert!(admin_only.union.is_none());
        let admin = admin_only.admin.unwrap();
        assert_eq!(
            admin.permissions.into_iter().collect::<Vec<_>>(),
            [Permission::MembersReview, Permission::NewsPublish]
        );
    }

    #[test]
    fn each_bad_cell_names_its_column() {
        let h = header();
        let code = code();
        let wrong = format!(
            "{}{}",
            &code[..17],
            if code.ends_with('0') { '1' } else { '0' }
        );
        for (row, field) in [
            (format!("天河区总工会,{code},,23.1,,,,"), "lat"),
            (format!("天河区总工会,{code},,north,113,,,"), "lat"),
            (format!("天河区总工会,{wrong},,,,,,"), "credit_code"),
            (format!("天,{code},,,,,,"), "name"),
            (
                format!("天河区总工会,{code},广州//天河,,,,,"),
                "parent_path",
            ),
            (
                format!("天河区总工会,{code},,,,张三,138,all"),
                "admin_phone",
            ),
            (
                format!("天河区总工会,{code},,,,张三,13800000000,"),
                "admin_permissions",
            ),
            (
                format!("天河区总工会,{code},,,,张三,13800000000,god"),
                "admin_permissions",
            ),
        ] {
            let line = TreeLine::read(&h, 2, &cells(&row));
            assert!(line.starts_union);
            let err = line.parsed.unwrap_err();
            assert_eq!(err.field, field, "{row}: {err}");
        }
    }
}
