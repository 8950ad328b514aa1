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
//!     Err(county_server::Error::RosterRejected(report)) => print!("{report}"),
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
use std::sync::Arc;

use automerge::Automerge;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sync_protocol::doc::{self, DocKey};
use sync_protocol::model::{House, Record, Resident};
use sync_protocol::org::{Author, NodeKind, Role};
use sync_protocol::schema::{self, Collection, Kind};
use sync_protocol::{ValidationCode, ValidationError, validate};
use uuid::Uuid;

use sync_protocol::Code;
pub use sync_protocol::api::{ImportSummary, Problem, Reason, RosterCode, RosterReport};

use crate::error::Error;
use crate::service::import::{self, GridRecords};
use crate::storage::{Storage, StorageError, StoredDoc};

/// Most data rows one file may hold (a grid has about 814 residents and 301 houses).
pub const MAX_ROWS: usize = 20_000;
/// Cells right of this column are not read from a workbook (a roster has about 30 columns).
const MAX_COLUMNS: u32 = 256;
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

pub(crate) use export::neutralise_formula;

use check::*;
pub use check::{Existing, doc_keys, importer, parse_csv, parse_xlsx};
use columns::*;
pub use export::{Reveal, export_csv, export_xlsx};
pub use read::Table;
use read::*;
pub(crate) use read::{Cell, RawRows, raw_sheets};

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
    pub fn pick(query: Option<&str>, content_type: Option<&str>) -> Result<Format, Error> {
        let bad = || Error::bad(Code::UnknownFormat, "roster format must be csv or xlsx (?format= or Content-Type)");
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
}

impl RosterError {
    pub fn code(&self) -> Code {
        match self {
            RosterError::Rejected(_) => Code::RosterRejected,
            RosterError::Encoding => Code::BadEncoding,
            RosterError::Workbook(_) => Code::BadWorkbook,
            RosterError::NoHeader => Code::NoHeader,
            RosterError::DuplicateColumn { .. } => Code::DuplicateColumn,
            RosterError::TooManyRows => Code::TooManyRows,
            RosterError::Empty => Code::EmptyRoster,
        }
    }
}

/// A rejected file keeps its report; a file that cannot be read at all is a bad request.
impl From<RosterError> for Error {
    fn from(e: RosterError) -> Self {
        match e {
            RosterError::Rejected(report) => Error::RosterRejected(report),
            other => Error::bad(other.code(), other.to_string()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
    tokio::task::spawn_blocking(f).await.map_err(Error::internal)
}

async fn check_is_grid(storage: &dyn Storage, grid: Uuid) -> Result<(), Error> {
    match storage.node(grid).await? {
        Some(n) if n.kind == NodeKind::Grid => Ok(()),
        _ => Err(Error::NotFound("no such grid".into())),
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
) -> Result<ImportSummary, Error> {
    check_is_grid(storage, grid).await?;
    let started = std::time::Instant::now();
    let table = Arc::new(blocking(move || Table::read(format, &bytes)).await??);
    const ATTEMPTS: usize = 3;
    let settings = Arc::new(storage.settings().await?);
    for attempt in 1..=ATTEMPTS {
        let stored = storage.load_docs(&doc_keys(grid)).await?;
        let (t, a, settings) = (table.clone(), author.clone(), settings.clone());
        let prepared = blocking(move || -> Result<_, Error> {
            let existing = Existing::from_docs(&stored)?;
            let records = t.validate(&existing)?;
            let commit = import::prepare(grid, &a, &records, time_ms, &stored, settings)?;
            Ok((records.residents.len(), records.houses.len(), commit))
        })
        .await?;
        let (residents, houses, commit) = match prepared {
            Ok(p) => p,
            Err(Error::RosterRejected(report)) => {
                tracing::info!(%grid, by = %author.account, rows = report.rows, rejected_rows = report.rejected_rows, "roster import rejected, nothing written");
                return Err(Error::RosterRejected(report));
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
    Err(Error::Busy)
}

/// Writes a grid's roster from its documents (every resident and house, archived ones
/// included). Audited: who exported which grid, how much, masked or not; no personal data.
pub async fn export(
    storage: &dyn Storage,
    grid: Uuid,
    format: Format,
    reveal: Reveal,
    by: Uuid,
) -> Result<Vec<u8>, Error> {
    check_is_grid(storage, grid).await?;
    let stored = storage.load_docs(&doc_keys(grid)).await?;
    let (bytes, residents, houses) = blocking(move || -> Result<_, Error> {
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
}
