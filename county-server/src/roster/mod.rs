//! Rosters (花名册): a grid's residents and houses as one spreadsheet table, read from CSV or
//! Excel (.xlsx) files and written back the same way.
//!
//! One row is a resident and the house they live in (人房关联); a row with only house columns
//! is a house nobody lives in. A house is named by its house code (房屋编号, the record id in an
//! export) when the row has one, otherwise by its address (乡镇 村 街路巷 楼栋 单元 楼层 门牌号);
//! rows naming the same house must agree on its details. A resident row may also name an
//! existing house of the grid, by code, by address columns, or by its full address (现住址).
//! Headers are matched in Chinese (姓名, 公民身份号码 …) or by the model's field names.
//!
//! ```no_run
//! # async fn f(storage: &dyn county_server::storage::Storage, grid: uuid::Uuid, csv: Vec<u8>) {
//! use county_server::roster::{self, Format};
//! let author = roster::importer(uuid::Uuid::nil(), uuid::Uuid::now_v7());
//! match roster::import_file(storage, grid, &author, Format::Csv, csv, 1_764_000_000_000).await {
//!     Ok(done) => println!("{} residents, {} houses", done.residents, done.houses),
//!     Err(roster::RosterError::Rejected(report)) => print!("{report}"),
//!     Err(e) => eprintln!("{e}"),
//! }
//! # }
//! ```
//!
//! A file is imported whole or not at all: [`Table::validate`] checks every row with the
//! device's validator ([`sync_protocol::schema`]) and returns either the records or a
//! [`RosterReport`] naming every rejected row (sheet, row as numbered in the file, column,
//! reason); [`import_file`] writes a clean file in one atomic commit through
//! [`crate::import::prepare`], so devices receive it like any other edit. Reading never writes.
//!
//! Personal data: reports name rows and columns, never echo ID numbers or phones, and log
//! lines carry ids and counts only. Exports for roles other than the county administrator mask
//! ID numbers and phones as lists do ([`Reveal`]).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use automerge::Automerge;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sync_protocol::doc::{self, DocKey};
use sync_protocol::model::{House, Record, Resident};
use sync_protocol::org::{Author, NodeKind, Role};
use sync_protocol::schema::{self, Collection, Kind};
use sync_protocol::{ValidationCode, ValidationError, validate};
use uuid::Uuid;

use crate::error::ApiError;
use crate::import::{self, GridRecords};
use crate::storage::{Storage, StorageError, StoredDoc};

/// Most data rows one file may hold (a grid has about 814 residents and 301 houses).
pub const MAX_ROWS: usize = 20_000;
/// The header row is looked for among this many first non-empty rows (templates often put a
/// title such as “东坡村第1网格人口信息表” above it).
const HEADER_SCAN_ROWS: usize = 10;
/// The sheet an export writes.
pub const SHEET_NAME: &str = "人房信息";
pub const XLSX_CONTENT_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

mod check;
mod columns;
mod export;
mod read;

use check::*;
pub use check::{Existing, doc_keys, importer, parse_csv, parse_xlsx};
use columns::*;
pub use export::{Reveal, export_csv, export_xlsx};
pub use read::Table;
use read::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }

    pub fn from_content_type(ct: &str) -> Option<Format> {
        let ct = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match ct.as_str() {
            "text/csv" | "application/csv" => Some(Format::Csv),
            XLSX_CONTENT_TYPE => Some(Format::Xlsx),
            _ => None,
        }
    }

    /// By the file name's extension.
    pub fn from_path(path: &std::path::Path) -> Option<Format> {
        path.extension().and_then(|e| e.to_str()).and_then(Format::parse)
    }

    /// The format of an upload: the `?format=` query wins, then the Content-Type.
    pub fn pick(query: Option<&str>, content_type: Option<&str>) -> Result<Format, ApiError> {
        let bad = || ApiError::bad("unknown_format", "roster format must be csv or xlsx (?format= or Content-Type)");
        match (query, content_type) {
            (Some(q), _) => Format::parse(q).ok_or_else(bad),
            (None, Some(ct)) => Format::from_content_type(ct).ok_or_else(bad),
            (None, None) => Err(bad()),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => XLSX_CONTENT_TYPE,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors and the report
// ---------------------------------------------------------------------------------------------

/// Why a row was rejected, beyond the validator's own codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
        }
    }
}

/// A stable reason code: the validator's ([`ValidationCode`]) or the roster's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Reason {
    Roster(RosterCode),
    Field(ValidationCode),
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
pub struct RosterReport {
    /// Data rows read (blank rows not counted).
    pub rows: usize,
    pub rejected_rows: usize,
    pub problems: Vec<Problem>,
    /// Headers the roster does not know; their cells were not read.
    pub ignored_columns: Vec<String>,
}

impl fmt::Display for RosterReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "花名册未导入：{} 行中有 {} 行未通过检查 / roster not imported: {} of {} rows rejected",
            self.rows, self.rejected_rows, self.rejected_rows, self.rows
        )?;
        for p in &self.problems {
            let sheet = if p.sheet.is_empty() { String::new() } else { format!("{} ", p.sheet) };
            writeln!(
                f,
                "  {sheet}第{}行 row {} [{}] {}: {} / {}",
                p.row,
                p.row,
                p.column,
                p.code.as_str(),
                p.message,
                p.message_en
            )?;
        }
        if !self.ignored_columns.is_empty() {
            writeln!(f, "  未读取的列 ignored columns: {}", self.ignored_columns.join(", "))?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    /// Some rows were rejected; the report names every one.
    #[error("roster rejected: {} of {} rows", .0.rejected_rows, .0.rows)]
    Rejected(RosterReport),
    #[error("the file is neither UTF-8 nor GB18030 (GBK) text")]
    Encoding,
    #[error("not a readable .xlsx workbook: {0}")]
    Workbook(String),
    #[error("no header row with roster columns (姓名, 门牌号 …) among the first rows")]
    NoHeader,
    #[error("column {column} appears twice in {sheet}")]
    DuplicateColumn { sheet: String, column: String },
    #[error("more than {MAX_ROWS} rows")]
    TooManyRows,
    #[error("the file holds no records")]
    Empty,
    #[error(transparent)]
    Server(#[from] ApiError),
}

impl RosterError {
    pub fn code(&self) -> &'static str {
        match self {
            RosterError::Rejected(_) => "roster_rejected",
            RosterError::Encoding => "bad_encoding",
            RosterError::Workbook(_) => "bad_workbook",
            RosterError::NoHeader => "no_header",
            RosterError::DuplicateColumn { .. } => "duplicate_column",
            RosterError::TooManyRows => "too_many_rows",
            RosterError::Empty => "empty_roster",
            RosterError::Server(e) => e.code(),
        }
    }
}

impl From<StorageError> for RosterError {
    fn from(e: StorageError) -> Self {
        RosterError::Server(e.into())
    }
}

#[derive(Serialize)]
struct RejectedBody<'a> {
    code: &'static str,
    message: String,
    report: &'a RosterReport,
}

/// A rejected file is `422` with `{code, message, report}`; a file that cannot be read at all
/// is `400` with `{code, message}`.
impl IntoResponse for RosterError {
    fn into_response(self) -> Response {
        match self {
            RosterError::Rejected(report) => {
                let message =
                    format!("{} of {} rows rejected; nothing was imported", report.rejected_rows, report.rows);
                let body = RejectedBody { code: "roster_rejected", message, report: &report };
                let mut resp = (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
                resp.extensions_mut().insert(crate::audit::ErrorCode("roster_rejected"));
                resp
            }
            RosterError::Server(e) => e.into_response(),
            other => ApiError::bad(other.code(), other.to_string()).into_response(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------

/// What an import wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    pub rows: usize,
    pub residents: usize,
    /// New houses (rows naming the grid's existing houses link to them instead).
    pub houses: usize,
    /// The grid's log position after the commit.
    pub seq: u64,
    pub ignored_columns: Vec<String>,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::Internal(e.to_string()))
}

async fn check_is_grid(storage: &dyn Storage, grid: Uuid) -> Result<(), ApiError> {
    match storage.node(grid).await? {
        Some(n) if n.kind == NodeKind::Grid => Ok(()),
        _ => Err(ApiError::NotFound("no such grid".into())),
    }
}

/// Reads a roster file and writes it into `grid` in one atomic commit, or writes nothing and
/// reports every rejected row. Checks against the grid's records run on the very document
/// versions the commit replaces; if a device syncs in between, it is all done again.
pub async fn import_file(
    storage: &dyn Storage,
    grid: Uuid,
    author: &Author,
    format: Format,
    bytes: Vec<u8>,
    time_ms: i64,
) -> Result<ImportSummary, RosterError> {
    check_is_grid(storage, grid).await?;
    let started = std::time::Instant::now();
    let table = Arc::new(blocking(move || Table::read(format, &bytes)).await??);
    const ATTEMPTS: usize = 3;
    for attempt in 1..=ATTEMPTS {
        let stored = storage.load_docs(&doc_keys(grid)).await?;
        let (t, a) = (table.clone(), author.clone());
        let prepared = blocking(move || -> Result<_, RosterError> {
            let existing = Existing::from_docs(&stored)?;
            let records = t.validate(&existing)?;
            let commit = import::prepare(grid, &a, &records, time_ms, &stored)?;
            Ok((records.residents.len(), records.houses.len(), commit))
        })
        .await?;
        let (residents, houses, commit) = match prepared {
            Ok(p) => p,
            Err(RosterError::Rejected(report)) => {
                tracing::info!(%grid, by = %author.account, rows = report.rows, rejected_rows = report.rejected_rows, "roster import rejected, nothing written");
                return Err(RosterError::Rejected(report));
            }
            Err(e) => return Err(e),
        };
        match storage.commit(commit).await {
            Ok(seq) => {
                tracing::info!(%grid, by = %author.account, device = %author.device, ?format, residents, houses, seq,
                    ms = started.elapsed().as_millis(), "roster imported");
                return Ok(ImportSummary {
                    rows: table.rows(),
                    residents,
                    houses,
                    seq,
                    ignored_columns: table.ignored_columns.clone(),
                });
            }
            Err(StorageError::Contention(_)) if attempt < ATTEMPTS => {
                tracing::debug!(%grid, attempt, "grid moved on during a roster import; checking again");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(RosterError::Server(ApiError::Busy))
}

/// Writes a grid's roster from its documents (every resident and house, archived ones
/// included). Audited: who exported which grid, how much, masked or not; no personal data.
pub async fn export(
    storage: &dyn Storage,
    grid: Uuid,
    format: Format,
    reveal: Reveal,
    by: Uuid,
) -> Result<Vec<u8>, ApiError> {
    check_is_grid(storage, grid).await?;
    let stored = storage.load_docs(&doc_keys(grid)).await?;
    let (bytes, residents, houses) = blocking(move || -> Result<_, ApiError> {
        let e = Existing::from_docs(&stored)?;
        let bytes = match format {
            Format::Csv => export_csv(&e.residents, &e.houses, reveal)?,
            Format::Xlsx => export_xlsx(&e.residents, &e.houses, reveal)?,
        };
        Ok((bytes, e.residents.len(), e.houses.len()))
    })
    .await??;
    tracing::info!(%grid, %by, ?format, ?reveal, residents, houses, bytes = bytes.len(), "roster exported");
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enum_value_has_a_label_and_headers_are_unique() {
        for col in COLUMNS {
            if let Some(def) = field_def(col.target)
                && let Kind::Enum(values) | Kind::Set(values) = def.kind
            {
                for v in values {
                    assert!(labels_of(col.target).iter().any(|(c, _)| c == v), "{} has no label for {v}", col.header);
                }
            }
        }
        let mut seen = HashSet::new();
        for col in COLUMNS {
            for h in std::iter::once(&col.header).chain(col.aliases) {
                assert!(seen.insert(norm_header(h)), "header {h} is used twice");
            }
        }
    }

    #[test]
    fn every_field_of_residents_and_houses_has_a_column() {
        for def in schema::RESIDENT_FIELDS {
            if def.name != "house_id" {
                assert!(COLUMNS.iter().any(|c| c.target == R(def.name)), "resident field {} has no column", def.name);
            }
        }
        for def in schema::HOUSE_FIELDS {
            assert!(COLUMNS.iter().any(|c| c.target == H(def.name)), "house field {} has no column", def.name);
        }
    }

    #[test]
    fn headers_match_loosely() {
        assert_eq!(column_for(" *姓名 "), Some(col_index(R("name"))));
        assert_eq!(column_for("乡镇(街道)"), Some(col_index(H("township"))));
        assert_eq!(column_for("ID_Number"), Some(col_index(R("id_number"))));
        assert_eq!(column_for("文化程度"), None);
    }

    #[test]
    fn dates_in_common_spellings() {
        for s in ["1985-03-12", "1985/3/12", "1985.3.12", "1985年3月12日", "19850312", "1985-03-12 00:00:00"] {
            assert_eq!(normalize_date(s), "1985-03-12", "{s}");
        }
        assert_eq!(normalize_date("三月"), "三月");
    }

    #[test]
    fn gb18030_and_utf16_decode() {
        let (gbk, _, _) = encoding_rs::GBK.encode("姓名,性别\n张三,男\n");
        assert_eq!(decode(&gbk).unwrap(), "姓名,性别\n张三,男\n");
        let mut utf16 = vec![0xFF, 0xFE];
        for u in "姓名".encode_utf16() {
            utf16.extend(u.to_le_bytes());
        }
        assert_eq!(decode(&utf16).unwrap(), "姓名");
        assert!(matches!(decode(&[0xFF, 0xFF, 0x81]), Err(RosterError::Encoding)));
    }

    #[test]
    fn reasons_serialize_as_plain_codes() {
        let r = Reason::Roster(RosterCode::DuplicateInFile);
        assert_eq!(serde_json::to_value(r).unwrap(), Value::String("duplicate_in_file".into()));
        let f = Reason::Field(ValidationCode::IdNumberCheckDigit);
        assert_eq!(serde_json::to_value(f).unwrap(), Value::String("id_number_check_digit".into()));
        assert_eq!(serde_json::from_value::<Reason>(Value::String("id_number_check_digit".into())).unwrap(), f);
        assert_eq!(
            serde_json::from_value::<Reason>(Value::String("unknown_house".into())).unwrap(),
            Reason::Roster(RosterCode::UnknownHouse)
        );
    }
}
