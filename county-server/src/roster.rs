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
use sync_protocol::schema::{self, Collection, FieldDef, Kind};
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

// ---------------------------------------------------------------------------------------------
// Formats, columns and labels
// ---------------------------------------------------------------------------------------------

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

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Resident(&'static str),
    House(&'static str),
    /// 房屋编号: names a house within the file, or an existing house by its record id.
    HouseCode,
    /// 现住址: an existing or file-defined house by its full address (import only).
    Address,
    /// 序号: row numbers some templates carry (ignored).
    Serial,
}

struct Column {
    target: Target,
    /// The header an export writes.
    header: &'static str,
    /// Also accepted on import (the model's field name first).
    aliases: &'static [&'static str],
}

const fn c(target: Target, header: &'static str, aliases: &'static [&'static str]) -> Column {
    Column { target, header, aliases }
}

use Target::{House as H, Resident as R};

/// The roster's columns, in export order.
const COLUMNS: &[Column] = &[
    c(R("name"), "姓名", &["name"]),
    c(R("sex"), "性别", &["sex", "gender"]),
    c(R("birth_date"), "出生日期", &["birth_date", "出生年月日", "出生年月", "birthday", "date_of_birth"]),
    c(R("id_number"), "公民身份号码", &["id_number", "身份证号码", "身份证号", "身份证", "证件号码"]),
    c(R("phone"), "联系电话", &["phone", "手机号码", "手机号", "电话", "联系方式", "mobile"]),
    c(R("ethnicity"), "民族", &["ethnicity"]),
    c(R("categories"), "人员类别", &["categories", "人口类别", "人员类型"]),
    c(R("relation"), "与户主关系", &["relation"]),
    c(R("notes"), "备注", &["notes"]),
    c(R("archived_reason"), "注销原因", &["archived_reason"]),
    c(R("archived_on"), "注销日期", &["archived_on"]),
    c(Target::HouseCode, "房屋编号", &["house_code", "house_id", "房屋编码"]),
    c(H("township"), "乡镇（街道）", &["township", "乡镇", "镇（街道）", "镇街", "街道"]),
    c(H("village"), "村（社区）", &["village", "村", "社区", "村居"]),
    c(H("street"), "街路巷", &["street", "街道/胡同", "街巷", "胡同"]),
    c(H("building"), "楼栋", &["building", "楼号", "楼栋号", "栋"]),
    c(H("unit"), "单元", &["unit", "单元号"]),
    c(H("floor"), "楼层", &["floor", "层"]),
    c(H("door"), "门牌号", &["door", "门牌", "门牌号码", "户号", "室"]),
    c(H("structure"), "房屋结构", &["structure", "结构"]),
    c(H("area"), "建筑面积", &["area", "面积", "面积（㎡）", "建筑面积（㎡）", "建筑面积（平方米）"]),
    c(H("use"), "房屋用途", &["use", "用途"]),
    c(H("owner"), "房主", &["owner", "产权人", "房屋所有人"]),
    c(H("rented"), "是否出租", &["rented", "出租房", "是否出租房", "出租"]),
    c(H("hazards"), "安全隐患", &["hazards", "隐患"]),
    c(H("lat"), "纬度", &["lat", "latitude"]),
    c(H("lng"), "经度", &["lng", "longitude", "lon"]),
    c(H("archived_reason"), "房屋注销原因", &["house_archived_reason"]),
    c(H("archived_on"), "房屋注销日期", &["house_archived_on"]),
    c(Target::Address, "现住址", &["address", "居住地址", "住址", "现居住地址"]),
    c(Target::Serial, "序号", &["no", "serial", "编号"]),
];

const EXPORTED: fn(&Column) -> bool = |c| !matches!(c.target, Target::Address | Target::Serial);

/// Code → labels; the first label is the one an export writes. Labels follow the field app.
type Labels = &'static [(&'static str, &'static [&'static str])];

const SEX_LABELS: Labels = &[("male", &["男", "男性"]), ("female", &["女", "女性"])];
const CATEGORY_LABELS: Labels = &[
    ("registered", &["户籍人口", "户籍"]),
    ("floating", &["流动人口", "流动"]),
    ("overseas", &["境外人员", "境外"]),
    ("left_behind_elderly", &["留守老人"]),
    ("left_behind_women", &["留守妇女"]),
    ("left_behind_children", &["留守儿童"]),
    ("living_alone", &["独居/空巢老人", "独居老人", "空巢老人", "独居", "空巢"]),
    ("disabled", &["残疾人"]),
    ("low_income", &["低保户", "低保"]),
    ("key_person", &["重点人员"]),
    ("veteran", &["退役军人"]),
];
const RELATION_LABELS: Labels = &[
    ("head", &["户主", "本人"]),
    ("spouse", &["配偶", "妻", "夫", "妻子", "丈夫"]),
    ("child", &["子女", "子", "女", "儿子", "女儿"]),
    ("parent", &["父母", "父亲", "母亲"]),
    ("grandchild", &["孙子女", "孙子", "孙女", "外孙子", "外孙女"]),
    ("grandparent", &["祖父母", "祖父", "祖母"]),
    ("sibling", &["兄弟姐妹", "兄", "弟", "姐", "妹"]),
    ("tenant", &["租户", "租客"]),
    ("other", &["其他"]),
];
const RESIDENT_ARCHIVE_LABELS: Labels =
    &[("moved_away", &["迁出"]), ("deceased", &["死亡"]), ("duplicate", &["重复登记"]), ("other", &["其他"])];
const HOUSE_ARCHIVE_LABELS: Labels =
    &[("demolished", &["拆除"]), ("merged", &["合并"]), ("duplicate", &["重复登记"]), ("other", &["其他"])];
const STRUCTURE_LABELS: Labels = &[
    ("brick_concrete", &["砖混", "砖混结构"]),
    ("reinforced_concrete", &["钢混", "钢筋混凝土", "框架"]),
    ("brick_wood", &["砖木", "砖木结构"]),
    ("earth_wood", &["土木", "土木结构"]),
    ("steel", &["钢结构"]),
    ("other", &["其他"]),
];
const USE_LABELS: Labels = &[
    ("residential", &["自住", "住宅", "居住"]),
    ("commercial", &["经营", "商用"]),
    ("mixed", &["住经混合", "商住"]),
    ("vacant", &["空置"]),
    ("other", &["其他"]),
];

fn labels_of(target: Target) -> Labels {
    match target {
        R("sex") => SEX_LABELS,
        R("categories") => CATEGORY_LABELS,
        R("relation") => RELATION_LABELS,
        R("archived_reason") => RESIDENT_ARCHIVE_LABELS,
        H("archived_reason") => HOUSE_ARCHIVE_LABELS,
        H("structure") => STRUCTURE_LABELS,
        H("use") => USE_LABELS,
        _ => &[],
    }
}

fn label_to_code(labels: Labels, text: &str) -> Option<&'static str> {
    let t = text.trim();
    labels.iter().find(|(code, names)| code.eq_ignore_ascii_case(t) || names.contains(&t)).map(|(code, _)| *code)
}

fn code_to_label(labels: Labels, code: &str) -> String {
    labels.iter().find(|(c, _)| *c == code).map_or_else(|| code.to_string(), |(_, names)| names[0].to_string())
}

fn field_def(target: Target) -> Option<&'static FieldDef> {
    match target {
        R(f) => Collection::Residents.field(f),
        H(f) => Collection::Houses.field(f),
        _ => None,
    }
}

/// Headers compare without spaces, `*` marks of required columns, BOMs, case, or the width of
/// brackets.
fn norm_header(h: &str) -> String {
    h.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '*' | '＊' | '\u{feff}'))
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

fn column_for(header: &str) -> Option<usize> {
    let h = norm_header(header);
    if h.is_empty() {
        return None;
    }
    COLUMNS.iter().position(|c| norm_header(c.header) == h || c.aliases.iter().any(|a| norm_header(a) == h))
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
// Reading files into a table
// ---------------------------------------------------------------------------------------------

/// One spreadsheet cell as read.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Empty,
    Text(String),
    Number(f64),
    Date(chrono::NaiveDate),
    Bool(bool),
    Error,
}

impl Cell {
    fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    fn text(&self) -> String {
        match self {
            Cell::Empty | Cell::Error => String::new(),
            Cell::Text(s) => s.trim().to_string(),
            Cell::Number(f) => fmt_number(*f),
            Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
            Cell::Bool(b) => if *b { "是" } else { "否" }.to_string(),
        }
    }
}

fn fmt_number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 { format!("{}", f as i64) } else { format!("{f}") }
}

struct Sheet {
    name: String,
    /// For each file column: the roster column it maps to, and its header as written.
    columns: Vec<(Option<usize>, String)>,
    /// (row number in the file, cells)
    rows: Vec<(u32, Vec<Cell>)>,
}

impl Sheet {
    fn cell<'a>(&self, cells: &'a [Cell], col: usize) -> Option<&'a Cell> {
        let i = self.columns.iter().position(|(c, _)| *c == Some(col))?;
        cells.get(i)
    }

    /// The header of a roster column as the file writes it, or the roster's own.
    fn header(&self, col: usize) -> String {
        self.columns
            .iter()
            .find(|(c, _)| *c == Some(col))
            .map_or_else(|| COLUMNS[col].header.to_string(), |(_, h)| h.clone())
    }
}

/// A roster file read into rows under known columns, not yet validated.
pub struct Table {
    sheets: Vec<Sheet>,
    ignored_columns: Vec<String>,
}

fn col_index(target: Target) -> usize {
    COLUMNS.iter().position(|c| c.target == target).expect("every target has a column")
}

/// Finds the header among the first rows: the first with at least two roster columns, one of
/// them a name, door or house code.
fn build_sheet(name: &str, raw: Vec<(u32, Vec<Cell>)>) -> Result<Option<(Sheet, Vec<String>)>, RosterError> {
    let keys = [col_index(R("name")), col_index(H("door")), col_index(Target::HouseCode)];
    let header_at = raw.iter().take(HEADER_SCAN_ROWS).position(|(_, cells)| {
        let found: Vec<usize> = cells.iter().filter_map(|c| column_for(&c.text())).collect();
        found.len() >= 2 && found.iter().any(|f| keys.contains(f))
    });
    let Some(header_at) = header_at else { return Ok(None) };
    let mut columns = Vec::new();
    let mut ignored = Vec::new();
    for cell in &raw[header_at].1 {
        let h = cell.text();
        let col = column_for(&h);
        if let Some(ci) = col
            && columns.iter().any(|(c, _)| *c == Some(ci))
        {
            return Err(RosterError::DuplicateColumn { sheet: name.to_string(), column: h });
        }
        if col.is_none() && !h.is_empty() {
            ignored.push(h.clone());
        }
        columns.push((col, h));
    }
    // Rows with nothing in a roster column are blank lines (templates number empty rows).
    let counts = |i: usize| columns.get(i).is_some_and(|(c, _)| c.is_some_and(|c| COLUMNS[c].target != Target::Serial));
    let rows: Vec<(u32, Vec<Cell>)> = raw
        .into_iter()
        .skip(header_at + 1)
        .filter(|(_, cells)| cells.iter().enumerate().any(|(i, c)| counts(i) && !c.is_empty()))
        .collect();
    if rows.len() > MAX_ROWS {
        return Err(RosterError::TooManyRows);
    }
    Ok(Some((Sheet { name: name.to_string(), columns, rows }, ignored)))
}

fn table_of(sheets: Vec<(String, Vec<(u32, Vec<Cell>)>)>) -> Result<Table, RosterError> {
    let mut table = Table { sheets: Vec::new(), ignored_columns: Vec::new() };
    for (name, raw) in sheets {
        if let Some((sheet, ignored)) = build_sheet(&name, raw)? {
            for h in ignored {
                if !table.ignored_columns.contains(&h) {
                    table.ignored_columns.push(h);
                }
            }
            table.sheets.push(sheet);
        }
    }
    if table.sheets.is_empty() {
        return Err(RosterError::NoHeader);
    }
    if table.sheets.iter().map(|s| s.rows.len()).sum::<usize>() > MAX_ROWS {
        return Err(RosterError::TooManyRows);
    }
    Ok(table)
}

/// Text of a CSV file: UTF-8 (with or without BOM), UTF-16 with a BOM, or GB18030 — a superset
/// of GBK, which Excel on Chinese Windows writes when saving “CSV (逗号分隔)”.
fn decode(bytes: &[u8]) -> Result<String, RosterError> {
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, had_errors) = enc.decode_without_bom_handling(&bytes[bom..]);
        return if had_errors { Err(RosterError::Encoding) } else { Ok(text.into_owned()) };
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(s.to_string());
    }
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    if had_errors { Err(RosterError::Encoding) } else { Ok(text.into_owned()) }
}

impl Table {
    /// Reads a CSV file (comma- or tab-separated).
    pub fn from_csv(bytes: &[u8]) -> Result<Table, RosterError> {
        let text = decode(bytes)?;
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let delimiter = if first.matches('\t').count() > first.matches(',').count() { b'\t' } else { b',' };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(text.as_bytes());
        let mut raw = Vec::new();
        for (i, record) in reader.records().enumerate() {
            // Valid UTF-8 by construction; a broken quote is the only other failure.
            let record = record.map_err(|_| RosterError::Encoding)?;
            if i > MAX_ROWS + HEADER_SCAN_ROWS {
                return Err(RosterError::TooManyRows);
            }
            raw.push((i as u32 + 1, record.iter().map(|s| Cell::Text(s.to_string())).collect()));
        }
        table_of(vec![(String::new(), raw)])
    }

    /// Reads every worksheet of an .xlsx workbook that has a roster header; others (a sheet of
    /// instructions, 填表说明) are skipped.
    pub fn from_xlsx(bytes: &[u8]) -> Result<Table, RosterError> {
        use calamine::{Data, Reader};
        let mut wb: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes))
            .map_err(|e: calamine::XlsxError| RosterError::Workbook(e.to_string()))?;
        let mut sheets = Vec::new();
        for name in wb.sheet_names() {
            let range = wb.worksheet_range(&name).map_err(|e| RosterError::Workbook(e.to_string()))?;
            let Some((row0, col0)) = range.start() else { continue };
            if range.height() > MAX_ROWS + HEADER_SCAN_ROWS {
                return Err(RosterError::TooManyRows);
            }
            let mut raw = Vec::with_capacity(range.height());
            for (i, row) in range.rows().enumerate() {
                // Cells left of the used range are empty; keep column positions aligned.
                let mut cells = vec![Cell::Empty; col0 as usize];
                cells.extend(row.iter().map(|d| match d {
                    Data::Empty => Cell::Empty,
                    Data::String(s) => Cell::Text(s.clone()),
                    Data::Int(i) => Cell::Number(*i as f64),
                    Data::Float(f) => Cell::Number(*f),
                    Data::Bool(b) => Cell::Bool(*b),
                    Data::DateTime(dt) if dt.is_datetime() => {
                        let (y, m, d, ..) = dt.to_ymd_hms_milli();
                        chrono::NaiveDate::from_ymd_opt(y.into(), m.into(), d.into()).map_or(Cell::Error, Cell::Date)
                    }
                    Data::DateTime(dt) => Cell::Number(dt.as_f64()),
                    Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.chars().take(10).collect()),
                    Data::Error(_) => Cell::Error,
                }));
                raw.push((row0 + i as u32 + 1, cells));
            }
            sheets.push((name, raw));
        }
        table_of(sheets)
    }

    pub fn read(format: Format, bytes: &[u8]) -> Result<Table, RosterError> {
        match format {
            Format::Csv => Table::from_csv(bytes),
            Format::Xlsx => Table::from_xlsx(bytes),
        }
    }

    /// Data rows in the file.
    pub fn rows(&self) -> usize {
        self.sheets.iter().map(|s| s.rows.len()).sum()
    }

    pub fn ignored_columns(&self) -> &[String] {
        &self.ignored_columns
    }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/// What the grid already holds, for duplicate checks and links to existing houses.
#[derive(Debug, Clone, Default)]
pub struct Existing {
    pub residents: Vec<Resident>,
    pub houses: Vec<House>,
}

impl Existing {
    /// Reads the residents' and houses' documents (as [`doc_keys`] names them).
    pub fn from_docs(stored: &[StoredDoc]) -> Result<Existing, ApiError> {
        let mut out = Existing::default();
        for s in stored {
            let d = Automerge::load(&s.bytes).map_err(|e| ApiError::Internal(e.to_string()))?;
            let records = doc::read_records(&d, s.key.collection, None);
            let bad = |e: serde_json::Error| ApiError::Internal(format!("stored record unreadable: {e}"));
            match s.key.collection {
                Collection::Residents => {
                    for (_, f) in records {
                        out.residents.push(Resident::from_fields(f).map_err(bad)?);
                    }
                }
                Collection::Houses => {
                    for (_, f) in records {
                        out.houses.push(House::from_fields(f).map_err(bad)?);
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

/// The documents a roster reads and writes.
pub fn doc_keys(grid: Uuid) -> [DocKey; 2] {
    [DocKey::new(grid, Collection::Residents), DocKey::new(grid, Collection::Houses)]
}

/// Who a roster import writes as: the importing account and device, validated as the grid's own
/// edits of base records (the validator lets only grid roles keep them; an import writes the
/// grid's records on its behalf, and the history shows the importing account).
pub fn importer(account: Uuid, device: Uuid) -> Author {
    Author { account, device, role: Role::GridWorker }
}

const ADDRESS_FIELDS: [&str; 7] = ["township", "village", "street", "building", "unit", "floor", "door"];

fn address_key(fields: &Map<String, Value>) -> String {
    ADDRESS_FIELDS.map(|f| fields.get(f).and_then(Value::as_str).unwrap_or("").trim()).join("\u{1f}")
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Where a house's details came from first.
#[derive(Debug, Clone, Copy)]
enum Origin {
    Grid,
    Row(u32),
}

struct HouseEntry {
    id: Uuid,
    fields: Map<String, Value>,
    origin: Origin,
}

/// Houses by code and by address: the grid's own first, then those the file defines.
struct HouseBook {
    entries: Vec<HouseEntry>,
    by_code: HashMap<String, usize>,
    by_address: HashMap<String, usize>,
}

impl HouseBook {
    fn new(existing: &Existing) -> HouseBook {
        let mut book = HouseBook { entries: Vec::new(), by_code: HashMap::new(), by_address: HashMap::new() };
        for h in &existing.houses {
            let mut fields = h.to_fields();
            fields.remove("id");
            let i = book.entries.len();
            book.by_code.insert(h.id.to_string(), i);
            book.by_address.entry(address_key(&fields)).or_insert(i);
            book.entries.push(HouseEntry { id: h.id, fields, origin: Origin::Grid });
        }
        book
    }

    /// Registers a house row; returns the house and the fields that disagree with what an
    /// earlier row (or the grid) says about the same house.
    fn define(&mut self, code: Option<&str>, fields: &Map<String, Value>, row: u32) -> (usize, Vec<(String, Origin)>) {
        let key = address_key(fields);
        let found = match code {
            Some(c) => self.by_code.get(c).copied(),
            None => self.by_address.get(&key).copied(),
        };
        let Some(i) = found else {
            let i = self.entries.len();
            if let Some(c) = code {
                self.by_code.insert(c.to_string(), i);
            }
            self.by_address.entry(key).or_insert(i);
            self.entries.push(HouseEntry { id: Uuid::now_v7(), fields: fields.clone(), origin: Origin::Row(row) });
            return (i, Vec::new());
        };
        let entry = &mut self.entries[i];
        let mut mismatched = Vec::new();
        for (k, v) in fields {
            match entry.fields.get(k) {
                Some(old) if !same_value(old, v) => mismatched.push((k.clone(), entry.origin)),
                // An import creates records and never edits the grid's existing ones.
                None if matches!(entry.origin, Origin::Grid) => mismatched.push((k.clone(), entry.origin)),
                None => {
                    entry.fields.insert(k.clone(), v.clone());
                }
                Some(_) => {}
            }
        }
        (i, mismatched)
    }

    fn full_addresses(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for (i, e) in self.entries.iter().enumerate() {
            let mut f = e.fields.clone();
            f.insert("id".into(), Value::String(e.id.to_string()));
            if let Ok(h) = House::from_fields(f) {
                out.entry(h.address()).or_insert(i);
            }
        }
        out
    }
}

/// How a row names its house.
enum HouseRef {
    None,
    Defined(usize),
    Code(String),
    Address(String),
}

struct Checker<'a> {
    problems: Vec<Problem>,
    author: Author,
    sheet: &'a Sheet,
}

fn origin_text(o: Origin) -> (String, String) {
    match o {
        Origin::Grid => (
            "与网格中已有的同一房屋不一致（导入不修改已有记录）".into(),
            "differs from the grid's existing record of this house (an import never edits existing records)".into(),
        ),
        Origin::Row(r) => {
            (format!("与第{r}行填写的同一房屋不一致"), format!("differs from row {r}, which names the same house"))
        }
    }
}

impl Checker<'_> {
    fn push(&mut self, row: u32, col: usize, code: Reason, message: String, message_en: String) {
        self.problems.push(Problem {
            sheet: self.sheet.name.clone(),
            row,
            column: self.sheet.header(col),
            code,
            message,
            message_en,
        });
    }

    /// A validator error as a problem; messages come from the code so that personal values
    /// (ID numbers, phones) are never echoed into a report.
    fn validation(&mut self, row: u32, collection: Collection, e: ValidationError) {
        let field = e.field.split('.').next().unwrap_or("").to_string();
        let target = match collection {
            Collection::Residents => COLUMNS.iter().position(|c| c.target == R(static_field(&field))),
            _ => COLUMNS.iter().position(|c| c.target == H(static_field(&field))),
        };
        let col = target
            .unwrap_or_else(|| col_index(if collection == Collection::Residents { R("name") } else { H("door") }));
        let header = self.sheet.header(col);
        let kind = field_def(COLUMNS[col].target).map(|d| d.kind);
        let (zh, en) = match e.code {
            ValidationCode::Required => (format!("{header}为必填项"), format!("{header} is required")),
            ValidationCode::TooLong => match kind {
                Some(Kind::Str(max)) => {
                    (format!("{header}最多{max}个字"), format!("{header} takes at most {max} characters"))
                }
                _ => (format!("{header}太长"), format!("{header} is too long")),
            },
            ValidationCode::WrongType => (format!("{header}的格式不对"), format!("{header} has the wrong form")),
            ValidationCode::UnknownValue => {
                (format!("{header}不是可选的值"), format!("{header} is not one of the allowed values"))
            }
            ValidationCode::IdNumberLength => ("身份证号码应为18位".into(), "an ID number has 18 characters".into()),
            ValidationCode::IdNumberFormat => {
                ("身份证号码前17位必须是数字".into(), "the first 17 characters of an ID number are digits".into())
            }
            ValidationCode::IdNumberBirthDate => {
                ("身份证号码中的出生日期无效".into(), "the birth date inside the ID number is not a real date".into())
            }
            ValidationCode::IdNumberCheckDigit => (
                "身份证号码校验位不对，请核对（GB 11643）".into(),
                "the ID number's check character is wrong (GB 11643)".into(),
            ),
            ValidationCode::BirthDateMismatch => (
                "出生日期与身份证号码中的出生日期不一致".into(),
                "the birth date differs from the one in the ID number".into(),
            ),
            ValidationCode::Mobile => {
                ("手机号码应为1开头的11位数字".into(), "a mobile number is 11 digits starting with 1".into())
            }
            ValidationCode::Date => {
                ("日期应为真实日期，如 1985-03-12".into(), "a date must be a real date such as 1985-03-12".into())
            }
            ValidationCode::OutOfRange => match kind {
                Some(Kind::Float { min, max }) => {
                    (format!("{header}应在{min}到{max}之间"), format!("{header} must be between {min} and {max}"))
                }
                _ => (format!("{header}超出范围"), format!("{header} is out of range")),
            },
            _ => (format!("{header}：{}", e.code.as_str()), format!("{header} refused ({})", e.code.as_str())),
        };
        self.push(row, col, Reason::Field(e.code), zh, en);
    }

    /// Reads one cell as the field's JSON value (`None` when blank), or records why not.
    fn value(&mut self, row: u32, col: usize, cell: &Cell) -> Option<Value> {
        if cell.is_empty() {
            return None;
        }
        let target = COLUMNS[col].target;
        let def = field_def(target)?;
        let header = self.sheet.header(col);
        if matches!(cell, Cell::Error) {
            self.push(
                row,
                col,
                Reason::Roster(RosterCode::CellError),
                format!("{header}是错误值（如 #N/A）"),
                format!("{header} holds an error value (#N/A …)"),
            );
            return None;
        }
        let text = cell.text();
        let labels = labels_of(target);
        let unknown = |this: &mut Self, t: &str| {
            let allowed: Vec<&str> = labels.iter().map(|(_, n)| n[0]).collect();
            this.push(
                row,
                col,
                Reason::Field(ValidationCode::UnknownValue),
                format!("“{t}”不是{header}的可选值（可选：{}）", allowed.join("、")),
                format!(
                    "“{t}” is not an allowed {header} (allowed: {})",
                    labels.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")
                ),
            );
        };
        let value = match def.kind {
            Kind::Str(_) => Value::String(text),
            Kind::Date => Value::String(match cell {
                Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
                _ => normalize_date(&text),
            }),
            Kind::Enum(_) => match label_to_code(labels, &text) {
                Some(code) => Value::String(code.into()),
                None => {
                    unknown(self, &text);
                    return None;
                }
            },
            Kind::Set(_) => {
                let mut items = Vec::new();
                for part in text.split(['、', ',', '，', ';', '；', '|']).map(str::trim).filter(|p| !p.is_empty()) {
                    match label_to_code(labels, part) {
                        Some(code) if !items.contains(&Value::String(code.into())) => {
                            items.push(Value::String(code.into()))
                        }
                        Some(_) => {}
                        None => {
                            unknown(self, part);
                            return None;
                        }
                    }
                }
                Value::Array(items)
            }
            Kind::Float { .. } => {
                let n = match cell {
                    Cell::Number(f) => Some(*f),
                    _ => text.trim_end_matches(['㎡', '米', '平']).trim_end_matches("m²").trim().parse::<f64>().ok(),
                };
                match n.and_then(serde_json::Number::from_f64) {
                    Some(n) => Value::Number(n),
                    None => {
                        self.push(
                            row,
                            col,
                            Reason::Field(ValidationCode::WrongType),
                            format!("{header}应为数字"),
                            format!("{header} must be a number"),
                        );
                        return None;
                    }
                }
            }
            Kind::Bool => match cell {
                Cell::Bool(b) => Value::Bool(*b),
                _ => match text.to_ascii_lowercase().as_str() {
                    "是" | "有" | "出租" | "y" | "yes" | "true" | "1" => Value::Bool(true),
                    "否" | "无" | "不出租" | "n" | "no" | "false" | "0" => Value::Bool(false),
                    _ => {
                        self.push(
                            row,
                            col,
                            Reason::Field(ValidationCode::WrongType),
                            format!("{header}应填“是”或“否”"),
                            format!("{header} must be 是 (yes) or 否 (no)"),
                        );
                        return None;
                    }
                },
            },
            Kind::IdNumber => {
                let t = text.trim_start_matches(['\'', '`']).trim().to_ascii_uppercase();
                if matches!(cell, Cell::Number(_)) || t.contains("E+") {
                    self.push(
                        row,
                        col,
                        Reason::Roster(RosterCode::IdNumberAsNumber),
                        "身份证号码被存成了数字，末几位已丢失；请把该列设为文本格式后重新填写".into(),
                        "the ID number was stored as a number and lost its last digits; format the column as text and enter it again".into(),
                    );
                    return None;
                }
                Value::String(t)
            }
            Kind::Mobile => {
                Value::String(text.trim_start_matches('\'').chars().filter(|c| !matches!(c, ' ' | '-')).collect())
            }
            Kind::Timestamp | Kind::Ref | Kind::Object(_) | Kind::Entries(_) => return None,
        };
        if !def.kind.is_container()
            && let Err(e) = schema::check_value(Uuid::nil(), def.name, def, &value)
        {
            let collection = if matches!(target, R(_)) { Collection::Residents } else { Collection::Houses };
            self.validation(row, collection, e);
            return None;
        }
        Some(value)
    }
}

/// Field names are `&'static str` in the schema; find the static one for a validator's path.
fn static_field(field: &str) -> &'static str {
    COLUMNS
        .iter()
        .find_map(|c| match c.target {
            R(f) | H(f) if f == field => Some(f),
            _ => None,
        })
        .unwrap_or("")
}

/// Dates as rosters write them (1985/3/12, 1985.3.12, 1985年3月12日, 19850312,
/// 1985-03-12 00:00:00) as `YYYY-MM-DD`; anything else is left for the validator to refuse.
fn normalize_date(s: &str) -> String {
    let t = s.trim().split([' ', 'T']).next().unwrap_or("");
    if t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) {
        return format!("{}-{}-{}", &t[..4], &t[4..6], &t[6..]);
    }
    let parts: Vec<&str> = t.trim_end_matches('日').split(['-', '/', '.', '年', '月']).collect();
    if let [y, m, d] = parts[..]
        && y.len() == 4
        && let (Ok(y), Ok(m), Ok(d)) = (y.parse::<u32>(), m.parse::<u32>(), d.parse::<u32>())
    {
        return format!("{y:04}-{m:02}-{d:02}");
    }
    s.trim().to_string()
}

/// A row's parsed parts, between the two passes.
struct RowParts {
    sheet: usize,
    row: u32,
    resident: Option<Map<String, Value>>,
    /// No cell of the resident's was refused (so the whole record is worth validating).
    resident_ok: bool,
    house: HouseRef,
}

impl Table {
    /// Checks every row against the device's validator, the file's other rows and the grid's
    /// existing records. All or nothing: the records, or a report of every rejected row.
    pub fn validate(&self, existing: &Existing) -> Result<GridRecords, RosterError> {
        let author = importer(Uuid::nil(), Uuid::nil());
        let mut book = HouseBook::new(existing);
        let mut problems = Vec::new();
        let mut parts = Vec::new();
        let resident_cols: Vec<usize> = (0..COLUMNS.len()).filter(|&i| matches!(COLUMNS[i].target, R(_))).collect();
        let house_cols: Vec<usize> = (0..COLUMNS.len()).filter(|&i| matches!(COLUMNS[i].target, H(_))).collect();
        let code_col = col_index(Target::HouseCode);
        let addr_col = col_index(Target::Address);

        // Pass 1: cells, house definitions.
        for (si, sheet) in self.sheets.iter().enumerate() {
            let mut ck = Checker { problems: Vec::new(), author: author.clone(), sheet };
            for (row, cells) in &sheet.rows {
                let row = *row;
                let before = ck.problems.len();
                let mut resident = Map::new();
                let mut any_resident = false;
                for &col in &resident_cols {
                    if let Some(cell) = sheet.cell(cells, col).filter(|c| !c.is_empty()) {
                        any_resident = true;
                        if let Some(v) = ck.value(row, col, cell) {
                            resident.insert(COLUMNS[col].target_name().into(), v);
                        }
                    }
                }
                let resident_ok = ck.problems.len() == before;
                let before = ck.problems.len();
                let mut house = Map::new();
                let mut any_house = false;
                for &col in &house_cols {
                    if let Some(cell) = sheet.cell(cells, col).filter(|c| !c.is_empty()) {
                        any_house = true;
                        if let Some(v) = ck.value(row, col, cell) {
                            house.insert(COLUMNS[col].target_name().into(), v);
                        }
                    }
                }
                let code = sheet.cell(cells, code_col).map(Cell::text).filter(|s| !s.is_empty());
                let address = sheet.cell(cells, addr_col).map(Cell::text).filter(|s| !s.is_empty());
                let house_ref = if any_house {
                    if ck.problems.len() == before
                        && let Err(e) =
                            schema::validate_record_change(Collection::Houses, Uuid::nil(), &house, None, &ck.author)
                    {
                        ck.validation(row, Collection::Houses, e);
                    }
                    let (i, mismatched) = book.define(code.as_deref(), &house, row);
                    for (field, origin) in mismatched {
                        let col = COLUMNS.iter().position(|c| c.target == H(static_field(&field))).unwrap_or(code_col);
                        let (zh, en) = origin_text(origin);
                        let header = sheet.header(col);
                        let reason = Reason::Roster(RosterCode::HouseMismatch);
                        ck.push(row, col, reason, format!("{header}{zh}"), format!("{header} {en}"));
                    }
                    HouseRef::Defined(i)
                } else if let Some(c) = code {
                    HouseRef::Code(c)
                } else if let Some(a) = address {
                    HouseRef::Address(a)
                } else {
                    HouseRef::None
                };
                if !any_resident && !any_house {
                    // A house code or address alone describes nothing to create.
                    let name = sheet.header(col_index(R("name")));
                    let reason = Reason::Field(ValidationCode::Required);
                    ck.push(
                        row,
                        col_index(R("name")),
                        reason,
                        format!("{name}为必填项"),
                        format!("{name} is required"),
                    );
                }
                parts.push(RowParts {
                    sheet: si,
                    row,
                    resident: any_resident.then_some(resident),
                    resident_ok,
                    house: house_ref,
                });
            }
            problems.append(&mut ck.problems);
        }

        // Pass 2: residents, their houses, duplicates.
        let full = book.full_addresses();
        let existing_ids: HashSet<String> = existing
            .residents
            .iter()
            .filter_map(|r| r.id_number.as_deref())
            .map(|s| s.trim().to_ascii_uppercase())
            .collect();
        let mut seen_ids: HashMap<String, u32> = HashMap::new();
        let mut residents = Vec::new();
        let mut pass2 = Vec::new();
        for p in &parts {
            let sheet = &self.sheets[p.sheet];
            let mut ck = Checker { problems: Vec::new(), author: author.clone(), sheet };
            let Some(mut fields) = p.resident.clone() else { continue };
            let house_id = match &p.house {
                HouseRef::None => None,
                HouseRef::Defined(i) => Some(book.entries[*i].id),
                HouseRef::Code(c) => match book.by_code.get(c) {
                    Some(i) => Some(book.entries[*i].id),
                    None => {
                        ck.push(
                            p.row,
                            code_col,
                            Reason::Roster(RosterCode::UnknownHouse),
                            "文件和本网格中都没有这个房屋编号".into(),
                            "no house with this code in the file or the grid".into(),
                        );
                        None
                    }
                },
                HouseRef::Address(a) => match full.get(a) {
                    Some(i) => Some(book.entries[*i].id),
                    None => {
                        ck.push(
                            p.row,
                            addr_col,
                            Reason::Roster(RosterCode::UnknownHouse),
                            "文件和本网格中都没有这个地址的房屋".into(),
                            "no house at this address in the file or the grid".into(),
                        );
                        None
                    }
                },
            };
            if let Some(h) = house_id {
                fields.insert("house_id".into(), Value::String(h.to_string()));
            }
            // Sex and birth date may be left blank when the ID number gives them.
            if let Some(info) =
                fields.get("id_number").and_then(Value::as_str).and_then(|s| validate::id_number(s).ok())
            {
                fields
                    .entry("birth_date")
                    .or_insert_with(|| Value::String(info.birth_date.format("%Y-%m-%d").to_string()));
                fields.entry("sex").or_insert_with(|| Value::String(if info.male { "male" } else { "female" }.into()));
            }
            if p.resident_ok
                && let Err(e) =
                    schema::validate_record_change(Collection::Residents, Uuid::nil(), &fields, None, &ck.author)
            {
                ck.validation(p.row, Collection::Residents, e);
            }
            if let Some(id) = fields.get("id_number").and_then(Value::as_str).map(str::to_string) {
                let col = col_index(R("id_number"));
                if existing_ids.contains(&id) {
                    ck.push(
                        p.row,
                        col,
                        Reason::Roster(RosterCode::AlreadyInGrid),
                        "本网格已登记了这个身份证号码的人员".into(),
                        "a resident with this ID number is already on the grid's records".into(),
                    );
                } else if let Some(first) = seen_ids.get(&id) {
                    ck.push(
                        p.row,
                        col,
                        Reason::Roster(RosterCode::DuplicateInFile),
                        format!("身份证号码与第{first}行重复"),
                        format!("same ID number as row {first}"),
                    );
                } else {
                    seen_ids.insert(id, p.row);
                }
            }
            let id = Uuid::now_v7();
            fields.insert("id".into(), Value::String(id.to_string()));
            if ck.problems.is_empty()
                && let Ok(r) = Resident::from_fields(fields)
            {
                residents.push(r);
            }
            pass2.append(&mut ck.problems);
        }
        problems.append(&mut pass2);

        let rows = self.rows();
        if problems.is_empty() {
            let houses: Vec<House> = book
                .entries
                .iter()
                .filter(|e| matches!(e.origin, Origin::Row(_)))
                .filter_map(|e| {
                    let mut f = e.fields.clone();
                    f.insert("id".into(), Value::String(e.id.to_string()));
                    House::from_fields(f).ok()
                })
                .collect();
            if residents.is_empty() && houses.is_empty() {
                return Err(RosterError::Empty);
            }
            return Ok(GridRecords { residents, houses, ..Default::default() });
        }
        let sheet_order: HashMap<&str, usize> =
            self.sheets.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
        problems.sort_by_key(|p| (sheet_order.get(p.sheet.as_str()).copied().unwrap_or(0), p.row));
        let rejected: HashSet<(&str, u32)> = problems.iter().map(|p| (p.sheet.as_str(), p.row)).collect();
        let rejected_rows = rejected.len();
        Err(RosterError::Rejected(RosterReport {
            rows,
            rejected_rows,
            problems,
            ignored_columns: self.ignored_columns.clone(),
        }))
    }
}

impl Column {
    fn target_name(&self) -> &'static str {
        match self.target {
            R(f) | H(f) => f,
            _ => "",
        }
    }
}

/// Reads and checks a CSV roster against what the grid holds (`Existing::default()` for an
/// empty grid).
pub fn parse_csv(bytes: &[u8], existing: &Existing) -> Result<GridRecords, RosterError> {
    Table::from_csv(bytes)?.validate(existing)
}

/// Reads and checks an .xlsx roster against what the grid holds.
pub fn parse_xlsx(bytes: &[u8], existing: &Existing) -> Result<GridRecords, RosterError> {
    Table::from_xlsx(bytes)?.validate(existing)
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

// ---------------------------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------------------------

/// How much personal data an export shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reveal {
    /// Full ID numbers, phones and birth dates: a file that can be imported again.
    Full,
    /// As lists show them: ID numbers and phones masked, birth year only. For reading, not
    /// for importing again.
    Masked,
}

impl Reveal {
    /// Who may export a grid's roster: the county administrator in full; township and county
    /// centre staff masked; grid and village roles not at all (their devices hold their grids).
    pub fn for_role(role: Role) -> Option<Reveal> {
        match role {
            Role::CountyAdmin => Some(Reveal::Full),
            Role::CountyStaff | Role::TownshipStaff => Some(Reveal::Masked),
            _ => None,
        }
    }
}

enum Out {
    Text(String),
    Number(f64),
}

fn export_value(target: Target, v: Option<&Value>, reveal: Reveal) -> Option<Out> {
    let v = v.filter(|v| !v.is_null())?;
    let labels = labels_of(target);
    Some(match (target, v) {
        (R("id_number"), Value::String(s)) if reveal == Reveal::Masked => Out::Text(validate::mask_id_number(s)),
        (R("phone"), Value::String(s)) if reveal == Reveal::Masked => Out::Text(validate::mask_phone(s)),
        (R("birth_date"), Value::String(s)) if reveal == Reveal::Masked => Out::Text(s.chars().take(4).collect()),
        (_, Value::Array(items)) => Out::Text(
            items.iter().filter_map(Value::as_str).map(|c| code_to_label(labels, c)).collect::<Vec<_>>().join("、"),
        ),
        (_, Value::String(s)) if !labels.is_empty() => Out::Text(code_to_label(labels, s)),
        (_, Value::String(s)) => Out::Text(s.clone()),
        (_, Value::Bool(b)) => Out::Text(if *b { "是" } else { "否" }.into()),
        (_, Value::Number(n)) => Out::Number(n.as_f64()?),
        _ => return None,
    })
}

/// The export's rows: each house's residents (household head first), a house nobody lives in
/// on a row of its own, then residents without a house.
fn export_rows(residents: &[Resident], houses: &[House], reveal: Reveal) -> Vec<Vec<Option<Out>>> {
    let cols: Vec<&Column> = COLUMNS.iter().filter(|c| EXPORTED(c)).collect();
    let mut houses: Vec<&House> = houses.iter().collect();
    houses.sort_by_key(|h| (address_key(&h.to_fields()), h.id));
    let mut by_house: HashMap<Uuid, Vec<&Resident>> = HashMap::new();
    let known: HashSet<Uuid> = houses.iter().map(|h| h.id).collect();
    let mut homeless = Vec::new();
    for r in residents {
        match r.house_id.filter(|h| known.contains(h)) {
            Some(h) => by_house.entry(h).or_default().push(r),
            None => homeless.push(r),
        }
    }
    let relation_rank = |r: &Resident| {
        r.relation.as_deref().and_then(|x| schema::RELATIONS.iter().position(|y| *y == x)).unwrap_or(usize::MAX)
    };
    let row = |r: Option<&Resident>, h: Option<&House>| -> Vec<Option<Out>> {
        let rf = r.map(Record::to_fields).unwrap_or_default();
        let hf = h.map(Record::to_fields).unwrap_or_default();
        cols.iter()
            .map(|c| match c.target {
                R(f) => export_value(c.target, rf.get(f), reveal),
                H(f) => export_value(c.target, hf.get(f), reveal),
                Target::HouseCode => h.map(|h| h.id).or(r.and_then(|r| r.house_id)).map(|id| Out::Text(id.to_string())),
                Target::Address | Target::Serial => None,
            })
            .collect()
    };
    let mut out = Vec::new();
    for h in houses {
        match by_house.get_mut(&h.id) {
            Some(list) => {
                list.sort_by(|a, b| relation_rank(a).cmp(&relation_rank(b)).then(a.birth_date.cmp(&b.birth_date)));
                for r in list.iter() {
                    out.push(row(Some(r), Some(h)));
                }
            }
            None => out.push(row(None, Some(h))),
        }
    }
    homeless.sort_by(|a, b| a.name.cmp(&b.name).then(a.birth_date.cmp(&b.birth_date)));
    for r in homeless {
        out.push(row(Some(r), None));
    }
    out
}

fn headers() -> Vec<&'static str> {
    COLUMNS.iter().filter(|c| EXPORTED(c)).map(|c| c.header).collect()
}

/// CSV in UTF-8 with a BOM, so that Excel on Chinese Windows opens it with the right encoding.
pub fn export_csv(residents: &[Resident], houses: &[House], reveal: Reveal) -> Result<Vec<u8>, ApiError> {
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let internal = |e: csv::Error| ApiError::Internal(e.to_string());
    w.write_record(headers()).map_err(internal)?;
    for r in export_rows(residents, houses, reveal) {
        w.write_record(r.iter().map(|c| match c {
            Some(Out::Text(s)) => s.clone(),
            Some(Out::Number(f)) => fmt_number(*f),
            None => String::new(),
        }))
        .map_err(internal)?;
    }
    w.into_inner().map_err(|e| ApiError::Internal(e.to_string()))
}

/// One worksheet, ID numbers and phones as text cells (a number cell would lose their digits).
pub fn export_xlsx(residents: &[Resident], houses: &[House], reveal: Reveal) -> Result<Vec<u8>, ApiError> {
    use rust_xlsxwriter::{Format as CellFormat, Workbook};
    let internal = |e: rust_xlsxwriter::XlsxError| ApiError::Internal(e.to_string());
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(SHEET_NAME).map_err(internal)?;
    let bold = CellFormat::new().set_bold();
    for (i, h) in headers().into_iter().enumerate() {
        ws.write_string_with_format(0, i as u16, h, &bold).map_err(internal)?;
        let width = match h {
            "公民身份号码" | "房屋编号" => 38.0,
            "备注" | "安全隐患" => 30.0,
            _ => 12.0,
        };
        ws.set_column_width(i as u16, width).map_err(internal)?;
    }
    for (ri, r) in export_rows(residents, houses, reveal).into_iter().enumerate() {
        let row = ri as u32 + 1;
        for (ci, cell) in r.into_iter().enumerate() {
            match cell {
                Some(Out::Text(s)) => ws.write_string(row, ci as u16, s).map(|_| ()),
                Some(Out::Number(f)) => ws.write_number(row, ci as u16, f).map(|_| ()),
                None => Ok(()),
            }
            .map_err(internal)?;
        }
    }
    ws.set_freeze_panes(1, 0).map_err(internal)?;
    wb.save_to_buffer().map_err(internal)
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
