//! The import plan's rules, each on its own.

use super::*;
use crate::domain::CreditCode;
use crate::sheets::{Header, UnionColumn};

/// A whole credit code from a short tag.
fn code(tag: u32) -> String {
    let first = format!("914401010000{tag:05}");
    format!("{first}{}", CreditCode::check_character(&first).unwrap())
}

/// Lines of `name,code,parent code,parent path,admin phone,permissions`; `#n` in a
/// cell stands for `code(n)`.
fn lines(rows: &[&str]) -> Vec<TreeLine> {
    let header = Header::parse(
        &"工会名称,统一社会信用代码,上级工会信用代码,上级工会,管理员姓名,管理员手机号,管理员权限"
            .split(',')
            .map(str::to_owned)
            .collect::<Vec<_>>(),
        &UnionColumn::REQUIRED,
    )
    .unwrap();
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let cells: Vec<String> = row
                .split(',')
                .map(|c| match c.strip_prefix('#') {
                    Some(tag) => code(tag.parse().unwrap()),
                    None => c.to_owned(),
                })
                .collect();
            TreeLine::read(&header, i as u32 + 2, &cells)
        })
        .collect()
}

fn known() -> Known {
    Known {
        root: 1,
        subtree: vec![
            Union {
                id: 1,
                parent_id: None,
                name: "省总工会".into(),
                credit_code: None,
                address: None,
                lat: None,
                lng: None,
                contact_name: None,
                contact_phone: None,
            },
            Union {
                id: 2,
                parent_id: Some(1),
                name: "广州市总工会".into(),
                credit_code: Some(code(2)),
                address: None,
                lat: None,
                lng: None,
                contact_name: None,
                contact_phone: None,
            },
        ],
        depths: [(1, 1), (2, 2)].into_iter().collect(),
        held: Permission::ALL.into_iter().collect(),
        importer_phone: "13800000000".into(),
        ..Known::default()
    }
}

/// A chain of `n` new unions by credit code below union 2, in file order parent first
/// (or child first), each row's code tagged by its place in the chain.
fn chain(n: u32, child_first: bool, top_parent: &str) -> Vec<TreeLine> {
    let mut rows: Vec<String> = (0..n)
        .map(|i| {
            let parent = if i == 0 {
                top_parent.to_owned()
            } else {
                format!("#{}", 1000 + i - 1)
            };
            format!("工会{i},#{},{parent},,,,", 1000 + i)
        })
        .collect();
    if child_first {
        rows.reverse();
    }
    lines(&rows.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn a_chain_deeper_than_the_tree_fails_at_its_first_level_too_deep_and_below() {
    // Union 2 is at level 2: the chain's 14 first unions fit, the 15th is level 17.
    let deep = plan(chain(3000, false, "#2"), &known());
    let failed = failures(&deep);
    assert_eq!(failed.len(), 3000 - 14);
    assert_eq!(failed[0].0, 2 + 14);
    assert!(failed[0].1.contains("level 17"), "{:?}", failed[0]);
    assert_eq!(
        failed[1],
        (2 + 15, format!("its parent (row {}) has errors", 2 + 14))
    );
    // Fourteen levels are taken as they are.
    let fits = plan(chain(14, true, "#2"), &known());
    assert!(fits.is_clean(), "{:?}", failures(&fits));
    let order: Vec<&str> = fits
        .new_unions
        .iter()
        .map(|u| u.cells.name.as_str())
        .collect();
    assert_eq!(order.first(), Some(&"工会0"));
    assert_eq!(order.last(), Some(&"工会13"));
}

#[test]
fn a_long_chain_under_an_unknown_parent_listed_child_first_fails_row_by_row_in_one_pass() {
    let n = 50_000;
    let refused = plan(chain(n, true, "#99999"), &known());
    let failed = failures(&refused);
    assert_eq!(failed.len(), n as usize);
    // Child first: the top of the chain is the last row, and each names its parent's.
    let last = n + 1;
    assert!(failed[last as usize - 2]
        .1
        .contains("no union with the parent credit code"));
    assert_eq!(failed[0], (2, "its parent (row 3) has errors".to_owned()));
    assert_eq!(
        failed[last as usize - 3],
        (last - 1, format!("its parent (row {last}) has errors"))
    );
}

fn failures(plan: &Plan) -> Vec<(u32, String)> {
    plan.rows
        .iter()
        .filter_map(|r| Some((r.row, r.result.clone().err()?)))
        .collect()
}

#[test]
fn paths_and_codes_reach_through_new_unions_and_parents_come_first() {
    let plan = plan(
        lines(&[
            "街道工会,#12,,广州市总工会/天河区总工会,张三,13900000000,all",
            ",,,,李四,13900000001,news.publish",
            "天河区总工会,#11,#2,,,,",
            "企业工会,#13,#12,,,,",
            "广州市总工会,#2,,,,,",
        ]),
        &known(),
    );
    assert!(plan.is_clean(), "{:?}", failures(&plan));
    let order: Vec<&str> = plan
        .new_unions
        .iter()
        .map(|u| u.cells.name.as_str())
        .collect();
    assert_eq!(order, ["天河区总工会", "街道工会", "企业工会"]);
    assert_eq!(plan.new_unions[0].parent, Node::Existing(2));
    assert_eq!(plan.new_unions[1].parent, Node::New(0));
    assert_eq!(plan.new_unions[2].parent, Node::New(1));
    assert_eq!(plan.admins.len(), 2);
    assert!(plan.admins.iter().all(|a| a.union == Node::New(1)));
    let outcomes: Vec<_> = plan
        .rows
        .iter()
        .map(|r| r.result.clone().unwrap())
        .collect();
    assert_eq!(outcomes[4], Outcome::Unchanged);
}

#[test]
fn cycles_unknown_parents_and_repeated_codes_fail_with_their_rows() {
    let plan = plan(
        lines(&[
            "甲工会,#21,#22,,,,",
            "乙工会,#22,#21,,,,",
            "丙工会,#23,#21,,,,",
            "丁工会,#24,#99,,,,",
            "戊工会,#25,,没有/这里,,,",
            "己工会,#21,,,,,",
            ",,,,王五,13900000002,all",
        ]),
        &known(),
    );
    let failed = failures(&plan);
    let says = |row: u32, text: &str| {
        let why = &failed
            .iter()
            .find(|f| f.0 == row)
            .unwrap_or_else(|| panic!("row {row} passed: {failed:?}"))
            .1;
        assert!(why.contains(text), "row {row}: {why}");
    };
    says(2, "cycle: rows 2 → 3 → 2");
    says(3, "cycle");
    says(4, "parent (row 2) has errors");
    says(5, "no union with the parent credit code");
    says(6, "no union at the parent path 没有/这里");
    says(7, "the same credit code as row 2");
    says(8, "its union's row (7) has errors");
    assert!(!plan.is_clean());
}

#[test]
fn a_known_union_keeps_its_parent_and_admins_stay_within_the_importers_rights() {
    let mut known = known();
    known.held = [
        Permission::OrgManage,
        Permission::AdminsManage,
        Permission::NewsPublish,
    ]
    .into_iter()
    .collect();
    known.admins.insert(
        (2, "13900000003".into()),
        ["news.publish".to_owned()].into(),
    );
    let plan = plan(
        lines(&[
            "广州市总工会,#2,#31,,赵六,13900000003,news.publish",
            "新工会,#31,,,钱七,13900000004,members.pii",
            ",,,,孙八,13800000000,news.publish",
            ",,,,钱七,13900000004,news.publish",
        ]),
        &known,
    );
    let failed = failures(&plan);
    assert!(
        failed[0].1.contains("is registered under 省总工会"),
        "{failed:?}"
    );
    assert!(
        failed[1]
            .1
            .contains("cannot grant or take away members.pii"),
        "{failed:?}"
    );
    assert!(failed[2].1.contains("your own rights"), "{failed:?}");
    assert!(
        failed[3]
            .1
            .contains("the same admin of this union as row 3"),
        "{failed:?}"
    );
}
