//! (Long on purpose: one setup file's plan — places, people, codes and boundaries checked
//! against each other and against the stored structure — reads in the order it is applied;
//! reading the sheet is in `sheet.rs`.)
//!
//! The county's structure from one file (县网格.xlsx or .csv): townships, villages and
//! communities, grids (with their codes and boundaries), the departments of townships and of the
//! county ("公安+司法行政+N"), and the people of every level with their roles — the 1+1+1+N team
//! of each grid, village and township centre staff, department staff, county centre staff.
//!
//! One table, one row per place or person; a county's office keeps it in Excel:
//!
//! | 镇街 | 村社区 | 网格 | 网格编码 | 网格边界 | 部门 | 姓名 | 角色 |
//! |------|--------|------|----------|----------|------|------|------|
//! | 沂城街道 | 东坡村 | 东坡村第1网格 | 371323001001 | {"type":"Polygon",…} | | 王芳 | 专职网格员 |
//! | 沂城街道 | 东坡村 | 东坡村第1网格 | | | | 张强 | 网格长 |
//! | 沂城街道 | | | | | 司法所 | 刘敏 | 部门工作人员 |
//! | | | | | | 县信访局 | 赵磊 | 部门工作人员 |
//! | | | | | | | 孙丽 | 县社会治理中心工作人员 |
//!
//! A row names a place by its path (镇街 → 村社区 → 网格, or 镇街 → 部门; an empty 镇街 is the
//! county) and, if it has a 姓名, a person there with a 角色 (titles as counties write them,
//! [`Role::from_title`]). Places are created as named; a row without a person only makes sure its
//! place exists (and sets a grid's code or boundary).
//!
//! **Re-running** a changed file updates in place and creates no duplicates: a grid is the one
//! with its 网格编码 when the row gives one (so a renamed or moved grid keeps its records), else
//! the one of that name in its village; other places are found by name under their parent; a
//! person is the account of that name at that place, whose role is updated if it changed. Places
//! and people missing from the file are left as they are (a person who left is handled by
//! revoking their device, which keeps the history their actions name).
//!
//! **All or nothing:** every row is checked first; one bad row rejects the file with a report
//! naming each rejected row, column and reason ([`RosterReport`], as the roster import reports),
//! and nothing is written. A clean file is written in one transaction ([`Storage::apply_structure`]).

use std::collections::{HashMap, HashSet};

use sync_protocol::Code;
use sync_protocol::ValidationCode;
use sync_protocol::api::{Problem, Reason, RosterCode, RosterReport, SetupSummary};
use sync_protocol::org::{Account, Node, NodeKind, Role};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::roster::{Cell, Format, raw_sheets};
use crate::storage::{NodeSetup, Storage, Structure};

/// Most data rows one file may hold (Yishui's is about 9,000: 1,358 grids with five or six
/// people each, and the centres).
pub const MAX_ROWS: usize = 50_000;
/// Most cells one file may hold: room for 32 columns a row (the eight read, and a county's own).
const MAX_CELLS: usize = MAX_ROWS * 32;
/// The longest name of a place or person.
pub const MAX_NAME_CHARS: usize = 60;
/// The longest grid code.
pub const MAX_CODE_CHARS: usize = 40;
/// The largest boundary one grid may have (a village grid's outline has tens to hundreds of
/// points; this allows thousands).
pub const MAX_BOUNDARY_BYTES: usize = 256 * 1024;
/// The header is looked for among this many first rows (a title may stand above it).
const HEADER_SCAN_ROWS: usize = 10;

mod sheet;
#[cfg(test)]
mod tests;

pub use sheet::parse_boundary;
use sheet::{Col, Sheet, read_error, sheets_of};

/// A place's key among its siblings.
type PlaceKey = (Option<Uuid>, NodeKind, String);

/// The structure as stored and as the file changes it, kept in memory while the file is read.
struct Plan {
    county: Uuid,
    nodes: HashMap<Uuid, NodeSetup>,
    by_place: HashMap<PlaceKey, Uuid>,
    by_code: HashMap<String, Uuid>,
    accounts: HashMap<Uuid, Account>,
    by_person: HashMap<(Uuid, String), Uuid>,
    /// What the file set, to find rows that disagree.
    code_rows: HashMap<String, Uuid>,
    code_of_grid: HashMap<Uuid, String>,
    boundary_rows: HashMap<Uuid, String>,
    person_rows: HashSet<(Uuid, String)>,
    created: HashSet<Uuid>,
    changed_nodes: HashSet<Uuid>,
    changed_accounts: HashSet<Uuid>,
}

impl Plan {
    fn new(existing: Structure, county_name: Option<&str>) -> Result<Plan> {
        let mut plan = Plan {
            county: Uuid::nil(),
            nodes: HashMap::new(),
            by_place: HashMap::new(),
            by_code: HashMap::new(),
            accounts: HashMap::new(),
            by_person: HashMap::new(),
            code_rows: HashMap::new(),
            code_of_grid: HashMap::new(),
            boundary_rows: HashMap::new(),
            person_rows: HashSet::new(),
            created: HashSet::new(),
            changed_nodes: HashSet::new(),
            changed_accounts: HashSet::new(),
        };
        for n in existing.nodes {
            plan.by_place.insert((n.node.parent, n.node.kind, n.node.name.clone()), n.node.id);
            if let Some(code) = &n.code {
                plan.by_code.insert(code.clone(), n.node.id);
            }
            plan.nodes.insert(n.node.id, n);
        }
        for a in existing.accounts {
            plan.by_person.insert((a.node, a.name.clone()), a.id);
            plan.accounts.insert(a.id, a);
        }
        let counties: Vec<Uuid> =
            plan.nodes.values().filter(|n| n.node.kind == NodeKind::County).map(|n| n.node.id).collect();
        plan.county = match (counties.as_slice(), county_name.map(str::trim).filter(|n| !n.is_empty())) {
            ([one], _) => *one,
            ([], Some(name)) => {
                let node = Node {
                    id: Uuid::now_v7(),
                    kind: NodeKind::County,
                    name: name.into(),
                    parent: None,
                    township: None,
                    village: None,
                };
                plan.created.insert(node.id);
                plan.changed_nodes.insert(node.id);
                plan.nodes.insert(node.id, NodeSetup { node: node.clone(), code: None, boundary: None });
                node.id
            }
            ([], None) => {
                return Err(Error::bad(Code::NoCounty, "the database holds no county yet: name it (--county 沂水县)"));
            }
            _ => return Err(Error::internal("the database holds more than one county")),
        };
        Ok(plan)
    }

    /// Lets go of the names of the stored grids whose codes the file gives: a coded row names
    /// its grid by code, so another row may take the old name (grids renumbered, two grids
    /// swapping names) whatever the order of the rows.
    fn release_codes<'a>(&mut self, codes: impl Iterator<Item = &'a str>) {
        for code in codes {
            let Some(&id) = self.by_code.get(code) else { continue };
            let n = &self.nodes[&id].node;
            let key = (n.parent, n.kind, n.name.clone());
            if self.by_place.get(&key) == Some(&id) {
                self.by_place.remove(&key);
            }
        }
    }

    fn node(&self, id: Uuid) -> &Node {
        &self.nodes[&id].node
    }

    /// The place of this kind and name under `parent`, made if it is not there.
    fn place(&mut self, parent: Uuid, kind: NodeKind, name: &str) -> Uuid {
        let key = (Some(parent), kind, name.to_string());
        if let Some(id) = self.by_place.get(&key) {
            return *id;
        }
        let p = self.node(parent).clone();
        let (township, village) = match p.kind {
            NodeKind::County => (None, None),
            NodeKind::Township => (Some(p.id), None),
            _ => (p.township, Some(p.id)),
        };
        let node = Node { id: Uuid::now_v7(), kind, name: name.into(), parent: Some(parent), township, village };
        self.by_place.insert(key, node.id);
        self.created.insert(node.id);
        self.changed_nodes.insert(node.id);
        let id = node.id;
        self.nodes.insert(id, NodeSetup { node, code: None, boundary: None });
        id
    }

    /// The grid a row names: by its code when it has one (renamed or moved in place), else by
    /// name in its village.
    fn grid(&mut self, village: Uuid, name: &str, code: Option<&str>) -> std::result::Result<Uuid, Refusal> {
        let Some(code) = code else { return Ok(self.place(village, NodeKind::Grid, name)) };
        if let Some(first) = self.code_rows.get(code) {
            let n = self.node(*first);
            if n.parent != Some(village) || n.name != name {
                return Err(Refusal::new(
                    Col::GridCode,
                    RosterCode::GridCodeTaken,
                    "同一网格编码在文件中指向两个网格",
                    "the same grid code names two grids in the file",
                ));
            }
            return Ok(*first);
        }
        let by_name = self.by_place.get(&(Some(village), NodeKind::Grid, name.to_string())).copied();
        let id = match (self.by_code.get(code).copied(), by_name) {
            (Some(coded), Some(named)) if coded != named => {
                return Err(Refusal::new(
                    Col::GridCode,
                    RosterCode::GridCodeTaken,
                    "该网格编码属于另一个已有网格，而本村已有同名网格",
                    "the code belongs to another stored grid, and this village already has a grid of this name",
                ));
            }
            (Some(coded), _) => {
                // Renamed or moved: the same grid, under its new name and place.
                let v = self.node(village).clone();
                let entry = self.nodes.get_mut(&coded).expect("indexed");
                if entry.node.kind != NodeKind::Grid {
                    return Err(Refusal::new(
                        Col::GridCode,
                        RosterCode::GridCodeTaken,
                        "该编码属于一个非网格的地方",
                        "the code belongs to a place that is not a grid",
                    ));
                }
                let old_key = (entry.node.parent, NodeKind::Grid, entry.node.name.clone());
                if entry.node.parent != Some(village) || entry.node.name != name {
                    entry.node.parent = Some(village);
                    entry.node.village = Some(village);
                    entry.node.township = v.township;
                    entry.node.name = name.to_string();
                    self.changed_nodes.insert(coded);
                }
                // Its old name (if still its own: it was let go by `release_codes`) and its
                // name now.
                if self.by_place.get(&old_key) == Some(&coded) {
                    self.by_place.remove(&old_key);
                }
                self.by_place.insert((Some(village), NodeKind::Grid, name.to_string()), coded);
                coded
            }
            (None, _) => self.place(village, NodeKind::Grid, name),
        };
        if let Some(other) = self.code_of_grid.insert(id, code.to_string())
            && other != code
        {
            return Err(Refusal::new(
                Col::GridCode,
                RosterCode::GridCodeTaken,
                "同一网格在文件中有两个编码",
                "one grid with two codes in the file",
            ));
        }
        let entry = self.nodes.get_mut(&id).expect("made above");
        if entry.code.as_deref() != Some(code) {
            if let Some(old) = entry.code.take() {
                self.by_code.remove(&old);
            }
            entry.code = Some(code.to_string());
            self.by_code.insert(code.to_string(), id);
            self.changed_nodes.insert(id);
        }
        self.code_rows.insert(code.to_string(), id);
        Ok(id)
    }

    fn boundary(&mut self, grid: Uuid, geometry: String) -> std::result::Result<(), Refusal> {
        if let Some(first) = self.boundary_rows.get(&grid) {
            return if *first == geometry {
                Ok(())
            } else {
                Err(Refusal::new(
                    Col::Boundary,
                    RosterCode::BadBoundary,
                    "同一网格在文件中有两个不同的边界",
                    "two different boundaries for one grid in the file",
                ))
            };
        }
        self.boundary_rows.insert(grid, geometry.clone());
        let entry = self.nodes.get_mut(&grid).expect("a grid of the plan");
        if entry.boundary.as_deref() != Some(geometry.as_str()) {
            entry.boundary = Some(geometry);
            self.changed_nodes.insert(grid);
        }
        Ok(())
    }

    fn person(&mut self, node: Uuid, name: &str, role: Role) -> std::result::Result<(), Refusal> {
        if !self.person_rows.insert((node, name.to_string())) {
            return Err(Refusal::new(
                Col::Name,
                RosterCode::DuplicateInFile,
                "同一地方的同名人员在文件中出现两次",
                "the same person at the same place twice in the file",
            ));
        }
        match self.by_person.get(&(node, name.to_string())) {
            Some(id) => {
                let a = self.accounts.get_mut(id).expect("indexed");
                if a.role != role && a.role == Role::CountyAdmin {
                    return Err(Refusal::new(
                        Col::Role,
                        RosterCode::RoleDoesNotFit,
                        "系统管理员的角色不能由县网格文件改变（请用管理接口）",
                        "an administrator's role is not changed by the setup file",
                    ));
                }
                if a.role != role {
                    a.role = role;
                    self.changed_accounts.insert(a.id);
                }
            }
            None => {
                let a = Account { id: Uuid::now_v7(), name: name.into(), role, node };
                self.by_person.insert((node, name.to_string()), a.id);
                self.created.insert(a.id);
                self.changed_accounts.insert(a.id);
                self.accounts.insert(a.id, a);
            }
        }
        Ok(())
    }
}

/// Why a row is rejected: the column and reason.
struct Refusal {
    col: Col,
    code: Reason,
    message: String,
    message_en: String,
}

impl Refusal {
    fn new(col: Col, code: RosterCode, message: &str, message_en: &str) -> Refusal {
        Refusal { col, code: Reason::Roster(code), message: message.into(), message_en: message_en.into() }
    }

    fn field(col: Col, code: ValidationCode, message: &str, message_en: &str) -> Refusal {
        Refusal { col, code: Reason::Field(code), message: message.into(), message_en: message_en.into() }
    }
}

/// The text of a cell, or its refusal (an error value, a name too long).
fn text_of(sheet: &Sheet, cells: &[Cell], col: Col, most: usize) -> std::result::Result<Option<String>, Refusal> {
    match sheet.cell(cells, col) {
        None => Ok(None),
        Some(Cell::Error) => {
            Err(Refusal::new(col, RosterCode::CellError, "单元格是错误值（如 #N/A）", "the cell holds an error value"))
        }
        Some(c) => {
            let t = c.text();
            if t.chars().count() > most {
                Err(Refusal::field(col, ValidationCode::TooLong, "内容太长", "too long"))
            } else {
                Ok(Some(t).filter(|t| !t.is_empty()))
            }
        }
    }
}

/// One row into the plan.
/// The two passes over the rows: grids named by code first (so that renames do not depend on
/// the order of rows), then every row.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    CodedGrids,
    All,
}

fn take_row(plan: &mut Plan, sheet: &Sheet, cells: &[Cell], pass: Pass) -> std::result::Result<bool, Refusal> {
    let get = |col: Col, most: usize| text_of(sheet, cells, col, most);
    let township = get(Col::Township, MAX_NAME_CHARS)?;
    let village = get(Col::Village, MAX_NAME_CHARS)?;
    let grid = get(Col::Grid, MAX_NAME_CHARS)?;
    let code = get(Col::GridCode, MAX_CODE_CHARS)?;
    let boundary = get(Col::Boundary, MAX_BOUNDARY_BYTES)?;
    let department = get(Col::Department, MAX_NAME_CHARS)?;
    let name = get(Col::Name, MAX_NAME_CHARS)?;
    let role = get(Col::Role, MAX_NAME_CHARS)?;
    let missing = |col: Col, zh: &str, en: &str| Refusal::new(col, RosterCode::MissingPlace, zh, en);
    if village.is_some() && township.is_none() {
        return Err(missing(Col::Township, "村社区须写明所属镇街", "a village needs its township"));
    }
    if grid.is_some() && village.is_none() {
        return Err(missing(Col::Village, "网格须写明所属村社区", "a grid needs its village or community"));
    }
    if department.is_some() && village.is_some() {
        return Err(missing(
            Col::Department,
            "部门只设在镇街或县级，不写村社区和网格",
            "a department belongs to a township or the county, not a village or grid",
        ));
    }
    if grid.is_none() {
        if code.is_some() {
            return Err(Refusal::new(
                Col::GridCode,
                RosterCode::NotAGrid,
                "只有网格行可以填写网格编码",
                "only a grid row has a grid code",
            ));
        }
        if boundary.is_some() {
            return Err(Refusal::new(
                Col::Boundary,
                RosterCode::NotAGrid,
                "只有网格行可以填写网格边界",
                "only a grid row has a boundary",
            ));
        }
    }
    if name.is_none() && role.is_some() {
        return Err(Refusal::field(Col::Name, ValidationCode::Required, "写了角色却没有姓名", "a role without a name"));
    }
    if name.is_none() && township.is_none() && department.is_none() {
        return Ok(false);
    }
    if pass == Pass::CodedGrids && (grid.is_none() || code.is_none()) {
        return Ok(false);
    }
    // Check the boundary and the role before anything is planned.
    let boundary = match boundary {
        Some(b) => Some(parse_boundary(&b).map_err(|why| Refusal {
            col: Col::Boundary,
            code: Reason::Roster(RosterCode::BadBoundary),
            message: format!("边界不是有效的 GeoJSON 多边形：{why}"),
            message_en: "not a GeoJSON Polygon or MultiPolygon in longitude/latitude".into(),
        })?),
        None => None,
    };
    let role = match (&name, role) {
        (Some(_), None) => {
            return Err(Refusal::field(Col::Role, ValidationCode::Required, "人员须写明角色", "a person needs a role"));
        }
        (Some(_), Some(r)) => match Role::from_title(&r, township.is_none()) {
            None => {
                return Err(Refusal::new(
                    Col::Role,
                    RosterCode::UnknownRole,
                    "未知的角色（如 专职网格员、网格长、网格指导员、网格协管员、党员协助员、村社区工作人员、镇街综治中心工作人员、部门工作人员、县社会治理中心工作人员）",
                    "unknown role",
                ));
            }
            // Administrators hold the keys: made and changed through the admin API only.
            Some(Role::CountyAdmin) => {
                return Err(Refusal::new(
                    Col::Role,
                    RosterCode::RoleDoesNotFit,
                    "系统管理员须通过管理接口设置，不能写在县网格文件中",
                    "administrators are set through the admin API, not the setup file",
                ));
            }
            Some(r) => Some(r),
        },
        (None, _) => None,
    };
    let before = (plan.changed_nodes.len(), plan.changed_accounts.len());
    let mut at = plan.county;
    if let Some(t) = &township {
        at = plan.place(at, NodeKind::Township, t);
    }
    if let Some(d) = &department {
        at = plan.place(at, NodeKind::Department, d);
    }
    if let Some(v) = &village {
        at = plan.place(at, NodeKind::Village, v);
    }
    if let Some(g) = &grid {
        at = plan.grid(at, g, code.as_deref())?;
        if let Some(b) = boundary {
            plan.boundary(at, b)?;
        }
    }
    if pass == Pass::CodedGrids {
        return Ok((plan.changed_nodes.len(), plan.changed_accounts.len()) != before);
    }
    if let (Some(name), Some(role)) = (name, role) {
        let node = plan.node(at).clone();
        if !role.fits(&node) {
            let needs = match role.node_kind() {
                NodeKind::Grid => "网格",
                NodeKind::Village => "村社区（不写网格）",
                NodeKind::Township => "镇街（不写村社区、网格和部门）",
                NodeKind::Department => "部门",
                NodeKind::County => "县级（镇街等都不写）",
            };
            return Err(Refusal {
                col: Col::Role,
                code: Reason::Roster(RosterCode::RoleDoesNotFit),
                message: format!("“{}”须写在{needs}的行上", role.title()),
                message_en: format!("a {} belongs on a row naming a {}", role.as_str(), role.node_kind().as_str()),
            });
        }
        plan.person(at, &name, role)?;
    }
    Ok((plan.changed_nodes.len(), plan.changed_accounts.len()) != before)
}

/// Reads a setup file against the stored structure: what to write and the summary, or the
/// report of every rejected row. Writes nothing.
pub fn plan_file(
    existing: Structure,
    county_name: Option<&str>,
    format: Format,
    bytes: &[u8],
) -> Result<(Vec<NodeSetup>, Vec<Account>, SetupSummary)> {
    let (sheets, ignored_columns) = sheets_of(raw_sheets(format, bytes, MAX_ROWS, MAX_CELLS).map_err(read_error)?)?;
    let rows: usize = sheets.iter().map(|s| s.rows.len()).sum();
    if rows > MAX_ROWS {
        return Err(Error::bad(Code::TooManyRows, format!("more than {MAX_ROWS} rows")));
    }
    let existing_ids: HashSet<Uuid> = existing.nodes.iter().map(|n| n.node.id).collect();
    let mut plan = Plan::new(existing, county_name)?;
    let codes: Vec<String> = sheets
        .iter()
        .flat_map(|s| s.rows.iter().filter_map(|(_, cells)| s.cell(cells, Col::GridCode).map(Cell::text)))
        .filter(|c| !c.is_empty())
        .collect();
    plan.release_codes(codes.iter().map(String::as_str));
    let mut problems = Vec::new();
    // Per row: refused in the first pass, changed anything.
    let mut refused: HashSet<(usize, u32)> = HashSet::new();
    let mut changed: HashSet<(usize, u32)> = HashSet::new();
    let mut unchanged_rows = 0;
    let mut named_anything = false;
    for pass in [Pass::CodedGrids, Pass::All] {
        for (si, sheet) in sheets.iter().enumerate() {
            for (row, cells) in &sheet.rows {
                if refused.contains(&(si, *row)) {
                    continue;
                }
                match take_row(&mut plan, sheet, cells, pass) {
                    Ok(true) => {
                        changed.insert((si, *row));
                    }
                    Ok(false) => {}
                    Err(r) => {
                        refused.insert((si, *row));
                        problems.push((
                            si,
                            Problem {
                                sheet: sheet.name.clone(),
                                row: *row,
                                column: sheet.header(r.col),
                                code: r.code,
                                message: r.message,
                                message_en: r.message_en,
                            },
                        ));
                    }
                }
                if pass == Pass::All && !refused.contains(&(si, *row)) {
                    named_anything = true;
                    if !changed.contains(&(si, *row)) {
                        unchanged_rows += 1;
                    }
                }
            }
        }
    }
    let rejected_rows = refused.len();
    // In the file's order, whichever pass found them.
    problems.sort_by_key(|(si, p)| (*si, p.row));
    let problems: Vec<Problem> = problems.into_iter().map(|(_, p)| p).collect();
    if !problems.is_empty() {
        return Err(Error::SetupRejected(RosterReport { rows, rejected_rows, problems, ignored_columns }));
    }
    if !named_anything {
        return Err(Error::bad(Code::EmptySetup, "the file names no township, department or person"));
    }
    let mut summary = SetupSummary { rows, unchanged_rows, ignored_columns, ..Default::default() };
    let mut nodes: Vec<NodeSetup> = plan.changed_nodes.iter().map(|id| plan.nodes[id].clone()).collect();
    // Parents first, so that a reader of the table never meets a child before its parent.
    nodes.sort_by_key(|n| (depth(n.node.kind), n.node.id));
    for n in &nodes {
        if plan.created.contains(&n.node.id) && !existing_ids.contains(&n.node.id) {
            match n.node.kind {
                NodeKind::Township => summary.townships_created += 1,
                NodeKind::Village => summary.villages_created += 1,
                NodeKind::Grid => summary.grids_created += 1,
                NodeKind::Department => summary.departments_created += 1,
                NodeKind::County => {}
            }
        } else {
            summary.places_updated += 1;
        }
    }
    let accounts: Vec<Account> = plan.changed_accounts.iter().map(|id| plan.accounts[id].clone()).collect();
    for a in &accounts {
        if plan.created.contains(&a.id) {
            summary.accounts_created += 1;
        } else {
            summary.accounts_updated += 1;
        }
    }
    Ok((nodes, accounts, summary))
}

fn depth(kind: NodeKind) -> u8 {
    match kind {
        NodeKind::County => 0,
        NodeKind::Township => 1,
        NodeKind::Village | NodeKind::Department => 2,
        NodeKind::Grid => 3,
    }
}

/// Reads a setup file and writes what it changes in one transaction, or writes nothing and
/// reports every rejected row. `county_name` names the county when the database holds none.
pub async fn apply_file(
    storage: &dyn Storage,
    county_name: Option<&str>,
    format: Format,
    bytes: Vec<u8>,
) -> Result<SetupSummary> {
    // One setup at a time in this process; across processes the storage refuses a plan made on
    // a structure that has changed since (`Busy`: run it again).
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    let existing = storage.structure(true).await?;
    let expected = (existing.nodes.len(), existing.accounts.len());
    let county_name = county_name.map(str::to_string);
    let (nodes, accounts, summary) =
        tokio::task::spawn_blocking(move || plan_file(existing, county_name.as_deref(), format, &bytes))
            .await
            .map_err(Error::internal)??;
    storage.apply_structure(&nodes, &accounts, expected).await?;
    tracing::info!(rows = summary.rows, places = nodes.len(), accounts = accounts.len(), "county structure set up");
    Ok(summary)
}
