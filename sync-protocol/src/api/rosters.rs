//! The county's setup file and roster files: what they changed, and the report naming every
//! rejected row, column and reason.

use serde::{Deserialize, Serialize};

use crate::error::ValidationCode;

// ---- the county's structure (县网格 setup file) -----------------------------------------

/// What a setup file changed. Re-running the same file changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct SetupSummary {
    /// Data rows read.
    pub rows: usize,
    pub townships_created: usize,
    pub villages_created: usize,
    pub grids_created: usize,
    pub departments_created: usize,
    /// Places renamed, moved, or given a code or boundary.
    pub places_updated: usize,
    pub accounts_created: usize,
    /// Accounts whose role changed.
    pub accounts_updated: usize,
    /// Rows that changed nothing (already so).
    pub unchanged_rows: usize,
    /// Headers the setup file does not know; their cells were not read.
    pub ignored_columns: Vec<String>,
}

// ---- rosters (花名册) --------------------------------------------------------------------

/// What a roster import wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct ImportSummary {
    pub rows: usize,
    pub residents: usize,
    /// New houses (rows naming the grid's existing houses link to them instead).
    pub houses: usize,
    /// The grid's log position after the commit.
    pub seq: u64,
    pub ignored_columns: Vec<String>,
}

/// Why a roster row was rejected, beyond the validator's own codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum RosterCode {
    /// The same ID number on an earlier row of the file.
    DuplicateInFile,
    /// A resident with this ID number is already on the grid's records.
    AlreadyInGrid,
    /// The house code or address names no house in the file or the grid.
    UnknownHouse,
    /// Rows naming the same house (or the grid's existing house) disagree on a detail.
    HouseMismatch,
    /// An ID number stored as a number by Excel: its last digits are lost.
    IdNumberAsNumber,
    /// A cell holding an error value (#N/A, #VALUE! …).
    CellError,
    /// Setup file: the role is none the county knows.
    UnknownRole,
    /// Setup file: the role belongs at another kind of place (a 网格员 on a row naming no grid).
    RoleDoesNotFit,
    /// Setup file: a place is missing above the one named (a grid without its village), or a
    /// department is put under a village or grid.
    MissingPlace,
    /// Setup file: the grid code names another grid (in the file or already stored).
    GridCodeTaken,
    /// Setup file: the boundary is not a GeoJSON Polygon or MultiPolygon in longitude/latitude.
    BadBoundary,
    /// Setup file: a cell only a grid row may fill (code, boundary) on a row naming no grid.
    NotAGrid,
}

impl RosterCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RosterCode::DuplicateInFile => "duplicate_in_file",
            RosterCode::AlreadyInGrid => "already_in_grid",
            RosterCode::UnknownHouse => "unknown_house",
            RosterCode::HouseMismatch => "house_mismatch",
            RosterCode::IdNumberAsNumber => "id_number_as_number",
            RosterCode::CellError => "cell_error",
            RosterCode::UnknownRole => "unknown_role",
            RosterCode::RoleDoesNotFit => "role_does_not_fit",
            RosterCode::MissingPlace => "missing_place",
            RosterCode::GridCodeTaken => "grid_code_taken",
            RosterCode::BadBoundary => "bad_boundary",
            RosterCode::NotAGrid => "not_a_grid",
        }
    }
}

/// A stable reason code: the validator's ([`ValidationCode`]) or the roster's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Reason {
    Roster(RosterCode),
    Field(#[cfg_attr(feature = "ts", ts(type = "ErrorCode"))] ValidationCode),
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Roster(c) => c.as_str(),
            Reason::Field(c) => c.as_str(),
        }
    }
}

/// One rejected cell (or row, when `column` names a missing one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Problem {
    /// The worksheet's name; empty for CSV.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sheet: String,
    /// The row as the file numbers it (the header row included; 1 is the first line).
    pub row: u32,
    /// The column's header as written in the file (the roster's header when it is missing).
    pub column: String,
    pub code: Reason,
    /// 中文说明
    pub message: String,
    pub message_en: String,
}

/// Every rejected row of a file. Nothing was written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct RosterReport {
    /// Data rows read (blank rows not counted).
    pub rows: usize,
    pub rejected_rows: usize,
    pub problems: Vec<Problem>,
    /// Headers the roster does not know; their cells were not read.
    pub ignored_columns: Vec<String>,
}

/// One rejected cell as a report line: sheet, row, column, code and both messages.
impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sheet = if self.sheet.is_empty() { String::new() } else { format!("{} ", self.sheet) };
        write!(
            f,
            "{sheet}第{}行 row {} [{}] {}: {} / {}",
            self.row,
            self.row,
            self.column,
            self.code.as_str(),
            self.message,
            self.message_en
        )
    }
}

impl std::fmt::Display for RosterReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "花名册未导入：{} 行中有 {} 行未通过检查 / roster not imported: {} of {} rows rejected",
            self.rows, self.rejected_rows, self.rejected_rows, self.rows
        )?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        if !self.ignored_columns.is_empty() {
            writeln!(f, "  未读取的列 ignored columns: {}", self.ignored_columns.join(", "))?;
        }
        Ok(())
    }
}
