//! Planning a union-tree import without touching the database: given the file's rows and
//! what is already there, work out every union's parent, find cycles, unknown parents,
//! duplicate codes and admins granted more than the importer holds, and list the writes
//! in an order where each parent comes before its children. Kept pure so every rule is
//! tested on its own.
//!
//! One file over 500 lines on purpose: every rule reads and writes the same index of
//! nodes, so split files would pass it around (tests in `plan/tests.rs`).

use std::collections::{BTreeSet, HashMap, HashSet};

use gonghui_protocol::dto::Union;

use crate::domain::{Permission, MAX_DEPTH};
use crate::sheets::tree::{AdminCells, ParentRef, UnionCells, PATH_SEPARATOR};
use crate::sheets::TreeLine;

/// What the database holds that the plan depends on.
#[derive(Debug, Default)]
pub(crate) struct Known {
    /// The union imported into.
    pub root: i64,
    /// The root and every union below it.
    pub subtree: Vec<Union>,
    /// Credit codes of the file registered outside the root's subtree, with their union.
    pub outside: HashMap<String, i64>,
    /// Credit codes of the file with a registration request pending.
    pub pending: HashSet<String>,
    /// How deep each union of the subtree sits in the whole tree (its path's length).
    pub depths: HashMap<i64, usize>,
    /// The importer's permissions on the root.
    pub held: BTreeSet<Permission>,
    /// The importer's phone: nobody changes their own rights.
    pub importer_phone: String,
    /// Permissions already held by (union, phone) for the file's phones in the subtree.
    pub admins: HashMap<(i64, String), BTreeSet<String>>,
}

/// A union of the plan: one already there, or the file's n-th new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Node {
    Existing(i64),
    New(usize),
}

/// A union the import registers.
#[derive(Debug, Clone)]
pub(crate) struct NewUnion {
    pub cells: UnionCells,
    /// Its parent: one that exists or one earlier in [`Plan::new_unions`].
    pub parent: Node,
}

/// A known union whose fields the file changes.
#[derive(Debug, Clone)]
pub(crate) struct UnionUpdate {
    pub id: i64,
    pub cells: UnionCells,
}

/// An admin the import appoints, or whose permissions it changes.
#[derive(Debug, Clone)]
pub(crate) struct AdminWrite {
    pub union: Node,
    pub cells: AdminCells,
    /// Whether they were an admin of that union before.
    pub existed: bool,
}

/// What one row comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Outcome {
    Unchanged,
    Updated,
    Created,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Unchanged => "unchanged",
            Outcome::Updated => "updated",
            Outcome::Created => "created",
        }
    }
}

/// One row's result: what it does (its union's and its admin's parts together) or why not.
#[derive(Debug, Clone)]
pub(crate) struct RowPlan {
    pub row: u32,
    pub result: Result<Outcome, String>,
    /// The union the row is about.
    pub union: Option<Node>,
}

/// The writes of an import, in order, and every row's result.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub rows: Vec<RowPlan>,
    /// Parents before children.
    pub new_unions: Vec<NewUnion>,
    pub updates: Vec<UnionUpdate>,
    pub admins: Vec<AdminWrite>,
}

impl Plan {
    /// Whether every row is good, so the plan may be applied.
    pub(crate) fn is_clean(&self) -> bool {
        self.rows.iter().all(|r| r.result.is_ok())
    }
}

/// A union row of the file and the admin rows that follow it.
struct Group {
    row: u32,
    /// `None` when the union's own row failed.
    cells: Option<UnionCells>,
    admins: Vec<(u32, AdminCells)>,
    /// The union it is once known: an existing one (by credit code) or a new one.
    node: Option<Node>,
    parent: Option<Node>,
    /// Why the union cannot be imported.
    failed: Option<String>,
}

/// Works out the plan for `lines` (in file order) against `known`.
pub(crate) fn plan(lines: Vec<TreeLine>, known: &Known) -> Plan {
    let mut planner = Planner::new(known);
    planner.group(lines);
    planner.identify();
    planner.place();
    planner.check_known_parents();
    planner.break_cycles();
    planner.check_depth();
    planner.finish()
}

struct Planner<'a> {
    known: &'a Known,
    groups: Vec<Group>,
    /// Rows that failed on their own cells or before they joined a group.
    failed_rows: Vec<(u32, String)>,
    by_id: HashMap<i64, &'a Union>,
    by_code: HashMap<&'a str, i64>,
    /// (parent, name) → the unions of that name under it.
    children: HashMap<(Node, String), Vec<Node>>,
    /// New node index → group index.
    new_groups: Vec<usize>,
}

impl<'a> Planner<'a> {
    fn new(known: &'a Known) -> Self {
        let mut children: HashMap<(Node, String), Vec<Node>> = HashMap::new();
        for u in &known.subtree {
            if let Some(parent) = u.parent_id.filter(|_| u.id != known.root) {
                children
                    .entry((Node::Existing(parent), u.name.clone()))
                    .or_default()
                    .push(Node::Existing(u.id));
            }
        }
        Planner {
            known,
            groups: Vec::new(),
            failed_rows: Vec::new(),
            by_id: known.subtree.iter().map(|u| (u.id, u)).collect(),
            by_code: known
                .subtree
                .iter()
                .filter_map(|u| Some((u.credit_code.as_deref()?, u.id)))
                .collect(),
            children,
            new_groups: Vec::new(),
        }
    }

    /// Gathers each union row with the admin-only rows below it.
    fn group(&mut self, lines: Vec<TreeLine>) {
        for line in lines {
            match (line.starts_union, line.parsed) {
                (true, parsed) => {
                    let (cells, admin, failed) = match parsed {
                        Ok(row) => (row.union, row.admin, None),
                        Err(e) => (None, None, Some(e.to_string())),
                    };
                    if let Some(why) = failed {
                        self.failed_rows.push((line.row, why));
                    }
                    self.groups.push(Group {
                        row: line.row,
                        cells,
                        admins: admin.map(|a| (line.row, a)).into_iter().collect(),
                        node: None,
                        parent: None,
                        failed: None,
                    });
                }
                (false, Err(e)) => self.failed_rows.push((line.row, e.to_string())),
                (false, Ok(row)) => match (self.groups.last_mut(), row.admin) {
                    (Some(group), Some(admin)) if group.cells.is_some() => {
                        group.admins.push((line.row, admin));
                    }
                    (Some(group), _) => self.failed_rows.push((
                        line.row,
                        format!("its union's row ({}) has errors", group.row),
                    )),
                    (None, _) => self.failed_rows.push((
                        line.row,
                        "an admin row must follow the row of its union".into(),
                    )),
                },
            }
        }
    }

    /// Matches each union to a known one by credit code, or makes it a new node.
    fn identify(&mut self) {
        let mut first_row: HashMap<String, u32> = HashMap::new();
        for i in 0..self.groups.len() {
            let Some(cells) = &self.groups[i].cells else {
                continue;
            };
            let code = cells.credit_code.as_str().to_owned();
            let failed = if let Some(row) = first_row.get(&code) {
                Some(format!("the same credit code as row {row}"))
            } else if let Some(id) = self.known.outside.get(&code) {
                Some(format!(
                    "this credit code is registered to union {id}, which is not under the union you import into"
                ))
            } else if self.known.pending.contains(&code) {
                Some("a registration of this credit code is pending: decide it first".into())
            } else {
                None
            };
            first_row.entry(code.clone()).or_insert(self.groups[i].row);
            if failed.is_some() {
                self.groups[i].failed = failed;
                continue;
            }
            self.groups[i].node = Some(match self.by_code.get(code.as_str()) {
                Some(&id) if id == self.known.root => {
                    self.groups[i].failed = Some("is the union you import into".into());
                    continue;
                }
                Some(&id) => Node::Existing(id),
                None => {
                    self.new_groups.push(i);
                    Node::New(self.new_groups.len() - 1)
                }
            });
        }
    }

    /// Resolves a parent by code: `Ok(None)` when it cannot be known yet.
    fn by_parent_code(&self, code: &str, codes: &HashMap<String, usize>) -> Result<Node, String> {
        if let Some(&g) = codes.get(code) {
            let group = &self.groups[g];
            return match (group.node, &group.failed) {
                (Some(node), None) => Ok(node),
                _ => Err(format!("its parent (row {}) has errors", group.row)),
            };
        }
        match self.by_code.get(code) {
            Some(&id) => Ok(Node::Existing(id)),
            None => Err(format!(
                "no union with the parent credit code {code} in the file or under the union you import into"
            )),
        }
    }

    /// Walks a path of names down from the root: `Ok(None)` while a name is not there yet.
    fn by_path(&self, path: &[String]) -> Result<Option<Node>, String> {
        let mut at = Node::Existing(self.known.root);
        for name in path {
            match self.children.get(&(at, name.clone())).map(Vec::as_slice) {
                None | Some([]) => return Ok(None),
                Some([one]) => at = *one,
                Some(_) => {
                    return Err(format!(
                        "the parent path is ambiguous: more than one union is named {name} there"
                    ))
                }
            }
        }
        Ok(Some(at))
    }

    fn resolve(
        &self,
        parent: &ParentRef,
        codes: &HashMap<String, usize>,
    ) -> Result<Option<Node>, String> {
        let by_code = parent
            .code
            .as_ref()
            .map(|c| self.by_parent_code(c.as_str(), codes))
            .transpose()?;
        if parent.path.is_empty() {
            return Ok(Some(by_code.unwrap_or(Node::Existing(self.known.root))));
        }
        match (by_code, self.by_path(&parent.path)?) {
            (Some(a), Some(b)) if a != b => {
                Err("the parent credit code and the parent path name different unions".into())
            }
            (_, found) => Ok(found),
        }
    }

    /// Finds every union's parent. A path may run through unions the file adds, so
    /// placing repeats until nothing more can be placed; then every path is walked again
    /// on the whole tree, so a name added late cannot leave one ambiguous unnoticed.
    fn place(&mut self) {
        let mut codes: HashMap<String, usize> = HashMap::new();
        for (i, g) in self.groups.iter().enumerate() {
            if let Some(c) = &g.cells {
                codes.entry(c.credit_code.as_str().to_owned()).or_insert(i);
            }
        }
        let mut waiting: Vec<usize> = (0..self.groups.len())
            .filter(|&i| self.groups[i].node.is_some() && self.groups[i].failed.is_none())
            .collect();
        loop {
            let before = waiting.len();
            let mut still = Vec::new();
            for i in waiting {
                let cells = self.groups[i]
                    .cells
                    .as_ref()
                    .expect("placed groups have cells");
                let name = cells.name.as_str().to_owned();
                match self.resolve(&cells.parent, &codes) {
                    Ok(Some(parent)) => {
                        let node = self.groups[i].node.expect("identified");
                        if let Node::New(_) = node {
                            self.children.entry((parent, name)).or_default().push(node);
                        }
                        self.groups[i].parent = Some(parent);
                    }
                    Ok(None) => still.push(i),
                    Err(why) => self.groups[i].failed = Some(why),
                }
            }
            waiting = still;
            if waiting.len() == before {
                break;
            }
        }
        for i in waiting {
            let path = self.groups[i]
                .cells
                .as_ref()
                .map(|c| c.parent.path.join(&PATH_SEPARATOR.to_string()))
                .unwrap_or_default();
            self.groups[i].failed = Some(format!(
                "no union at the parent path {path} under the union you import into"
            ));
        }
        for i in 0..self.groups.len() {
            let Some(cells) = &self.groups[i].cells else {
                continue;
            };
            if self.groups[i].parent.is_none() || cells.parent.path.is_empty() {
                continue;
            }
            if let Err(why) = self.by_path(&cells.parent.path) {
                self.groups[i].failed = Some(why);
            }
        }
        // Codes resolved before a parent failed still point at it.
        self.fail_below_failures();
    }

    /// The new union a new union's parent is, if it is one.
    fn new_parent(&self, n: usize) -> Option<usize> {
        match self.groups[self.new_groups[n]].parent {
            Some(Node::New(p)) => Some(p),
            _ => None,
        }
    }

    /// The new unions from `start` up its chain of new parents that are not yet
    /// `walked` and have not failed, nearest first; each is marked walked, so every chain
    /// is walked once however the file lists it (a deep chain child first costs one
    /// pass, not one per level). A loop ends where it meets itself.
    fn unwalked_chain(&self, start: usize, walked: &mut [bool]) -> Vec<usize> {
        let mut trail = Vec::new();
        let mut at = Some(start);
        while let Some(n) = at {
            if walked[n] || self.groups[self.new_groups[n]].failed.is_some() {
                break;
            }
            walked[n] = true;
            trail.push(n);
            at = self.new_parent(n);
        }
        trail
    }

    /// A union whose new parent failed fails too, all the way down.
    fn fail_below_failures(&mut self) {
        let mut walked = vec![false; self.new_groups.len()];
        for start in 0..self.new_groups.len() {
            // Down the chain from its top, each after its parent.
            for n in self.unwalked_chain(start, &mut walked).into_iter().rev() {
                let Some(p) = self.new_parent(n) else {
                    continue;
                };
                let parent = &self.groups[self.new_groups[p]];
                if parent.failed.is_some() {
                    let why = format!("its parent (row {}) has errors", parent.row);
                    self.groups[self.new_groups[n]].failed = Some(why);
                }
            }
        }
        // Known unions the file puts under a new one follow their parent too.
        for i in 0..self.groups.len() {
            let (Some(Node::New(p)), None) = (self.groups[i].parent, &self.groups[i].failed) else {
                continue;
            };
            let parent = &self.groups[self.new_groups[p]];
            if parent.failed.is_some() {
                self.groups[i].failed = Some(format!("its parent (row {}) has errors", parent.row));
            }
        }
    }

    /// How deep each new union that has not failed would sit in the whole tree (the top
    /// union is level 1).
    fn new_depths(&self) -> Vec<Option<usize>> {
        let mut depths: Vec<Option<usize>> = vec![None; self.new_groups.len()];
        let mut walked = vec![false; self.new_groups.len()];
        for start in 0..self.new_groups.len() {
            for n in self.unwalked_chain(start, &mut walked).into_iter().rev() {
                depths[n] = match self.groups[self.new_groups[n]].parent {
                    Some(Node::New(p)) => depths[p].map(|d| d + 1),
                    // Every union of the subtree is read with its depth.
                    Some(Node::Existing(id)) => {
                        Some(self.known.depths.get(&id).copied().unwrap_or(MAX_DEPTH) + 1)
                    }
                    None => None,
                };
            }
        }
        depths
    }

    /// A new union below the tree's last level fails, and the unions below it with it.
    fn check_depth(&mut self) {
        for (n, depth) in self.new_depths().into_iter().enumerate() {
            if depth == Some(MAX_DEPTH + 1) {
                self.groups[self.new_groups[n]].failed = Some(format!(
                    "would sit at level {} of the union tree, which has at most {MAX_DEPTH} levels",
                    MAX_DEPTH + 1
                ));
            }
        }
        self.fail_below_failures();
    }

    /// A union already registered keeps its place: the file must name its current parent.
    fn check_known_parents(&mut self) {
        for group in &mut self.groups {
            let (Some(Node::Existing(id)), Some(parent), None) =
                (group.node, group.parent, &group.failed)
            else {
                continue;
            };
            let current = self.by_id[&id].parent_id;
            if Some(parent) != current.map(Node::Existing) {
                let under = current
                    .and_then(|p| self.by_id.get(&p))
                    .map_or_else(String::new, |p| p.name.clone());
                group.failed = Some(format!(
                    "is registered under {under}; the file names another parent (move a union with a modification request)"
                ));
            }
        }
    }

    /// New unions whose parents lead back to themselves fail, with the loop's rows.
    fn break_cycles(&mut self) {
        let mut state = vec![0u8; self.new_groups.len()];
        for start in 0..self.new_groups.len() {
            let mut trail = Vec::new();
            let mut at = Some(start);
            while let Some(n) = at {
                match state[n] {
                    2 => break,
                    1 => {
                        let from = trail.iter().position(|&t| t == n).unwrap_or(0);
                        let cycle = &trail[from..];
                        let rows: Vec<String> = cycle
                            .iter()
                            .chain(std::iter::once(&n))
                            .map(|&c| self.groups[self.new_groups[c]].row.to_string())
                            .collect();
                        for &c in cycle {
                            self.groups[self.new_groups[c]].failed = Some(format!(
                                "its parents form a cycle: rows {}",
                                rows.join(" → ")
                            ));
                        }
                        break;
                    }
                    _ => {
                        state[n] = 1;
                        trail.push(n);
                        at = self.new_parent(n);
                    }
                }
            }
            for n in trail {
                state[n] = 2;
            }
        }
        // The unions below a cycle fail with it.
        self.fail_below_failures();
    }

    /// Orders the new unions parents first, checks the admins, and reports every row.
    fn finish(self) -> Plan {
        let mut plan = Plan::default();
        let mut outcome: HashMap<u32, (Result<Outcome, String>, Option<Node>)> = HashMap::new();
        let mut note = |row: u32, result: Result<Outcome, String>, node: Option<Node>| {
            let entry = outcome.entry(row).or_insert((Ok(Outcome::Unchanged), node));
            entry.0 = match (&entry.0, result) {
                (Err(_), _) => entry.0.clone(),
                (Ok(_), Err(why)) => Err(why),
                (Ok(a), Ok(b)) => Ok((*a).max(b)),
            };
        };
        for (row, why) in &self.failed_rows {
            note(*row, Err(why.clone()), None);
        }
        // New unions, parents first: by depth.
        let mut order: Vec<(usize, usize)> = self
            .new_depths()
            .into_iter()
            .enumerate()
            .filter_map(|(n, depth)| Some((depth?, n)))
            .collect();
        order.sort();
        let mut index_of = vec![usize::MAX; self.new_groups.len()];
        for (_, n) in &order {
            let group = &self.groups[self.new_groups[*n]];
            let parent = match group.parent.expect("placed") {
                Node::New(p) => Node::New(index_of[p]),
                existing => existing,
            };
            index_of[*n] = plan.new_unions.len();
            plan.new_unions.push(NewUnion {
                cells: group.cells.clone().expect("placed groups have cells"),
                parent,
            });
        }
        let renumber = |node: Node| match node {
            Node::New(n) => Node::New(index_of[n]),
            existing => existing,
        };
        let mut seen_admins: HashMap<(Node, &str), u32> = HashMap::new();
        for group in &self.groups {
            let node = group.node.map(renumber);
            if let Some(why) = &group.failed {
                note(group.row, Err(why.clone()), node);
                for (row, _) in &group.admins {
                    if *row != group.row {
                        note(
                            *row,
                            Err(format!("its union's row ({}) has errors", group.row)),
                            node,
                        );
                    }
                }
                continue;
            }
            let (Some(node), Some(cells)) = (node, &group.cells) else {
                continue;
            };
            match node {
                Node::New(_) => note(group.row, Ok(Outcome::Created), Some(node)),
                Node::Existing(id) if differs(self.by_id[&id], cells) => {
                    note(group.row, Ok(Outcome::Updated), Some(node));
                    plan.updates.push(UnionUpdate {
                        id,
                        cells: cells.clone(),
                    });
                }
                Node::Existing(_) => note(group.row, Ok(Outcome::Unchanged), Some(node)),
            }
            for (row, admin) in &group.admins {
                let checked = self.check_admin(node, admin, *row, &mut seen_admins);
                match checked {
                    Ok(None) => note(*row, Ok(Outcome::Unchanged), Some(node)),
                    Ok(Some(existed)) => {
                        let done = if existed {
                            Outcome::Updated
                        } else {
                            Outcome::Created
                        };
                        note(*row, Ok(done), Some(node));
                        plan.admins.push(AdminWrite {
                            union: node,
                            cells: admin.clone(),
                            existed,
                        });
                    }
                    Err(why) => note(*row, Err(why), Some(node)),
                }
            }
        }
        let mut rows: Vec<RowPlan> = outcome
            .into_iter()
            .map(|(row, (result, union))| RowPlan { row, result, union })
            .collect();
        rows.sort_by_key(|r| r.row);
        plan.rows = rows;
        plan
    }

    /// Whether an admin row may be written: `Ok(None)` when it changes nothing,
    /// `Ok(Some(existed))` when it appoints (false) or changes (true) an admin.
    fn check_admin<'g>(
        &self,
        union: Node,
        admin: &'g AdminCells,
        row: u32,
        seen: &mut HashMap<(Node, &'g str), u32>,
    ) -> Result<Option<bool>, String> {
        let phone = admin.phone.as_str();
        if let Some(first) = seen.insert((union, phone), row) {
            return Err(format!("the same admin of this union as row {first}"));
        }
        if phone == self.known.importer_phone {
            return Err("you cannot change your own rights; ask another admin".into());
        }
        let wanted: BTreeSet<String> = admin
            .permissions
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect();
        let current = match union {
            Node::Existing(id) => self.known.admins.get(&(id, phone.to_owned())),
            Node::New(_) => None,
        };
        let empty = BTreeSet::new();
        let before = current.unwrap_or(&empty);
        if before == &wanted {
            return Ok(None);
        }
        let held: BTreeSet<&str> = self.known.held.iter().map(|p| p.as_str()).collect();
        if let Some(beyond) = before
            .symmetric_difference(&wanted)
            .find(|p| !held.contains(p.as_str()))
        {
            return Err(format!(
                "you cannot grant or take away {beyond}: you do not hold it on the union you import into"
            ));
        }
        Ok(Some(current.is_some()))
    }
}

/// Whether the file changes a known union: its name, or an optional field it gives.
fn differs(known: &Union, cells: &UnionCells) -> bool {
    let given =
        |new: Option<&str>, old: &Option<String>| new.is_some_and(|n| Some(n) != old.as_deref());
    known.name != cells.name.as_str()
        || given(cells.address.as_ref().map(|a| a.as_str()), &known.address)
        || cells
            .at
            .is_some_and(|at| Some(at.lat()) != known.lat || Some(at.lng()) != known.lng)
        || given(
            cells.contact_name.as_ref().map(|n| n.as_str()),
            &known.contact_name,
        )
        || given(
            cells.contact_phone.as_ref().map(|p| p.as_str()),
            &known.contact_phone,
        )
}

#[cfg(test)]
mod tests;
