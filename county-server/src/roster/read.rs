//! Files into a [`Table`]: CSV (UTF-8, UTF-16, GB18030) and .xlsx workbooks, the header row found
//! among the first rows, blank rows left out. Nothing is validated here.

use super::*;

/// One spreadsheet cell as read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Empty,
    Text(String),
    Number(f64),
    Date(chrono::NaiveDate),
    Bool(bool),
    Error,
}

impl Cell {
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    pub(crate) fn text(&self) -> String {
        match self {
            Cell::Empty | Cell::Error => String::new(),
            Cell::Text(s) => s.trim().to_string(),
            Cell::Number(f) => fmt_number(*f),
            Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
            Cell::Bool(b) => if *b { "是" } else { "否" }.to_string(),
        }
    }
}

pub(super) fn fmt_number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 { format!("{}", f as i64) } else { format!("{f}") }
}

/// Rows as read: (row number in the file, cells).
pub(crate) type RawRows = Vec<(u32, Vec<Cell>)>;

pub(super) struct Sheet {
    pub(super) name: String,
    /// For each file column: the roster column it maps to, and its header as written.
    pub(super) columns: Vec<(Option<usize>, String)>,
    /// (row number in the file, cells)
    pub(super) rows: RawRows,
}

impl Sheet {
    pub(super) fn cell<'a>(&self, cells: &'a [Cell], col: usize) -> Option<&'a Cell> {
        let i = self.columns.iter().position(|(c, _)| *c == Some(col))?;
        cells.get(i)
    }

    /// The header of a roster column as the file writes it, or the roster's own.
    pub(super) fn header(&self, col: usize) -> String {
        self.columns
            .iter()
            .find(|(c, _)| *c == Some(col))
            .map_or_else(|| COLUMNS[col].header.to_string(), |(_, h)| h.clone())
    }
}

/// A roster file read into rows under known columns, not yet validated.
pub struct Table {
    pub(super) sheets: Vec<Sheet>,
    pub(super) ignored_columns: Vec<String>,
}

/// Finds the header among the first rows: the first with at least two roster columns, one of
/// them a name, door or house code.
pub(super) fn build_sheet(name: &str, raw: RawRows) -> Result<Option<(Sheet, Vec<String>)>, RosterError> {
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
    let rows: RawRows = raw
        .into_iter()
        .skip(header_at + 1)
        .filter(|(_, cells)| cells.iter().enumerate().any(|(i, c)| counts(i) && !c.is_empty()))
        .collect();
    if rows.len() > MAX_ROWS {
        return Err(RosterError::TooManyRows);
    }
    Ok(Some((Sheet { name: name.to_string(), columns, rows }, ignored)))
}

pub(super) fn table_of(sheets: Vec<(String, RawRows)>) -> Result<Table, RosterError> {
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
pub(super) fn decode(bytes: &[u8]) -> Result<String, RosterError> {
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
    /// Reads a CSV file (comma- or tab-separated). A cell that an export protected from being
    /// read as a formula (`'=…`, see `export::neutralise_formula`) reads back as it was.
    pub fn from_csv(bytes: &[u8]) -> Result<Table, RosterError> {
        table_of(raw_csv(bytes, MAX_ROWS, ROSTER_CELLS)?)
    }

    /// Reads every worksheet of an .xlsx workbook that has a roster header; others (a sheet of
    /// instructions, 填表说明) are skipped.
    pub fn from_xlsx(bytes: &[u8]) -> Result<Table, RosterError> {
        table_of(raw_xlsx(bytes, MAX_ROWS, ROSTER_CELLS)?)
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

/// The cells of a CSV or .xlsx file, sheet by sheet, as read: no header found, nothing
/// validated. At most `max_rows` rows (past a few header rows) and `max_cells` cells in all are
/// read (a cell costs memory whatever it holds, so an empty one counts too); past either the
/// answer is `TooManyRows`.
pub(crate) fn raw_sheets(
    format: Format,
    bytes: &[u8],
    max_rows: usize,
    max_cells: usize,
) -> Result<Vec<(String, RawRows)>, RosterError> {
    match format {
        Format::Csv => raw_csv(bytes, max_rows, max_cells),
        Format::Xlsx => raw_xlsx(bytes, max_rows, max_cells),
    }
}

/// The most text one workbook's cells may hold, copied out (a full roster holds about 12 MB).
const MAX_TEXT_BYTES: usize = 64 * 1024 * 1024;

/// A text cell, its bytes counted against [`MAX_TEXT_BYTES`].
fn text_cell(s: &str, counted: &mut usize) -> Result<Cell, RosterError> {
    *counted += s.len();
    if *counted > MAX_TEXT_BYTES {
        return Err(RosterError::Workbook(format!("cells hold more than {} MB of text", MAX_TEXT_BYTES >> 20)));
    }
    Ok(Cell::Text(s.to_string()))
}

/// The cells a roster may hold.
const ROSTER_CELLS: usize = (MAX_ROWS + HEADER_SCAN_ROWS) * MAX_COLUMNS as usize;

/// Reads a CSV file (comma- or tab-separated). A cell that an export protected from being read
/// as a formula (`'=…`, see `export::neutralise_formula`) reads back as it was.
fn raw_csv(bytes: &[u8], max_rows: usize, max_cells: usize) -> Result<Vec<(String, RawRows)>, RosterError> {
    let text = decode(bytes)?;
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let delimiter = if first.matches('\t').count() > first.matches(',').count() { b'\t' } else { b',' };
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(text.as_bytes());
    let mut raw = Vec::new();
    let mut cells = 0usize;
    for (i, record) in reader.records().enumerate() {
        // Valid UTF-8 by construction; a broken quote is the only other failure.
        let record = record.map_err(|_| RosterError::Encoding)?;
        // Cells right of the last column read are not kept.
        let width = record.len().min(MAX_COLUMNS as usize);
        cells += width;
        if i > max_rows + HEADER_SCAN_ROWS || cells > max_cells {
            return Err(RosterError::TooManyRows);
        }
        raw.push((i as u32 + 1, record.iter().take(width).map(|s| Cell::Text(unneutralise(s).to_string())).collect()));
    }
    Ok(vec![(String::new(), raw)])
}

/// Reads every worksheet of an .xlsx workbook.
///
/// The zip's parts are unpacked once through a counter first ([`check_unpacked_size`]).
/// Cells are streamed, never laid out as a sheet-sized grid first: a file holding only A1
/// and XFD1048576 made the reader build a grid of 1.7·10¹⁰ cells. Rows further apart than
/// a roster can be are refused as the cells arrive, cells right of [`MAX_COLUMNS`] are not
/// read, and reading stops after `max_cells` cells (padding included) or [`MAX_TEXT_BYTES`] of
/// text across all sheets.
fn raw_xlsx(bytes: &[u8], max_rows: usize, max_cells: usize) -> Result<Vec<(String, RawRows)>, RosterError> {
    use calamine::{DataRef, Reader};
    check_unpacked_size(bytes)?;
    let bad = |e: calamine::XlsxError| RosterError::Workbook(e.to_string());
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).map_err(bad)?;
    let most_rows = (max_rows + HEADER_SCAN_ROWS) as u32;
    let most_cells = max_cells;
    let mut sheets = Vec::new();
    // Counted across every sheet: cells (padding included) and the bytes of text copied out of
    // the workbook (one shared string may be used by every cell).
    let (mut cells_read, mut text_bytes) = (0usize, 0usize);
    for name in wb.sheet_names() {
        let mut reader = wb.worksheet_cells_reader(&name).map_err(bad)?;
        let mut rows: Vec<(u32, Vec<Cell>)> = Vec::new();
        let (mut lowest, mut highest) = (u32::MAX, 0u32);
        while let Some(cell) = reader.next_cell().map_err(bad)? {
            let (row, col) = cell.get_position();
            if col >= MAX_COLUMNS {
                continue;
            }
            cells_read += 1;
            (lowest, highest) = (lowest.min(row), highest.max(row));
            if highest - lowest >= most_rows || cells_read > most_cells {
                return Err(RosterError::TooManyRows);
            }
            let value = match cell.get_value() {
                DataRef::Empty => continue,
                DataRef::String(s) => text_cell(s, &mut text_bytes)?,
                DataRef::SharedString(s) => text_cell(s, &mut text_bytes)?,
                DataRef::Int(i) => Cell::Number(*i as f64),
                DataRef::Float(f) => Cell::Number(*f),
                DataRef::Bool(b) => Cell::Bool(*b),
                DataRef::DateTime(dt) if dt.is_datetime() => {
                    let (y, m, d, ..) = dt.to_ymd_hms_milli();
                    chrono::NaiveDate::from_ymd_opt(y.into(), m.into(), d.into()).map_or(Cell::Error, Cell::Date)
                }
                DataRef::DateTime(dt) => Cell::Number(dt.as_f64()),
                DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Cell::Text(s.chars().take(10).collect()),
                DataRef::Error(_) => Cell::Error,
            };
            // Rows as the file numbers them (1 is the first); cells at their columns.
            if rows.last().is_none_or(|(r, _)| *r != row + 1) {
                rows.push((row + 1, Vec::new()));
            }
            let cells = &mut rows.last_mut().expect("pushed above").1;
            if cells.len() <= col as usize {
                // Padding costs what a cell costs.
                cells_read += col as usize + 1 - cells.len();
                if cells_read > most_cells {
                    return Err(RosterError::TooManyRows);
                }
                cells.resize(col as usize + 1, Cell::Empty);
            }
            cells[col as usize] = value;
        }
        if rows.is_empty() {
            continue;
        }
        // A file may list its rows out of order: put them in order, one entry per row.
        rows.sort_by_key(|(r, _)| *r);
        let mut merged: Vec<(u32, Vec<Cell>)> = Vec::with_capacity(rows.len());
        for (r, cells) in rows {
            match merged.last_mut() {
                Some((last, existing)) if *last == r => {
                    if existing.len() < cells.len() {
                        existing.resize(cells.len(), Cell::Empty);
                    }
                    for (i, c) in cells.into_iter().enumerate().filter(|(_, c)| !matches!(c, Cell::Empty)) {
                        existing[i] = c;
                    }
                }
                _ => merged.push((r, cells)),
            }
        }
        sheets.push((name, merged));
    }
    Ok(sheets)
}

/// The cell a CSV export wrote with a protective apostrophe, as it was before.
fn unneutralise(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => s,
    }
}

/// The most parts an .xlsx may hold (a workbook with a few sheets has about twenty).
const MAX_XLSX_PARTS: usize = 1_000;
/// The most one part may unpack to: a full roster's sheet (20,000 rows of about thirty short
/// cells) is about 25 MB of XML, its shared strings less.
const MAX_XLSX_PART_BYTES: u64 = 64 * 1024 * 1024;
/// The most all parts together may unpack to.
const MAX_XLSX_BYTES: u64 = 128 * 1024 * 1024;

/// Checks what an .xlsx (a zip) unpacks to before the workbook reader sees it: the number of
/// parts, and each part's and all parts' unpacked size — inflated through a counter that stops
/// past the limit, not taken from the sizes the zip declares, which a crafted file can
/// understate. The reader inflates the same bytes again, so what it reads is bounded too (it
/// keeps the shared strings in memory).
fn check_unpacked_size(bytes: &[u8]) -> Result<(), RosterError> {
    let bad = |e: zip::result::ZipError| RosterError::Workbook(e.to_string());
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(bad)?;
    if zip.len() > MAX_XLSX_PARTS {
        return Err(RosterError::Workbook(format!("{} parts (at most {MAX_XLSX_PARTS})", zip.len())));
    }
    let mut total = 0u64;
    for i in 0..zip.len() {
        let part = zip.by_index(i).map_err(bad)?;
        let name = part.name().map_err(bad)?.to_string();
        let unpacked = std::io::copy(&mut std::io::Read::take(part, MAX_XLSX_PART_BYTES + 1), &mut std::io::sink())
            .map_err(|e| RosterError::Workbook(format!("{name}: {e}")))?;
        total += unpacked;
        if unpacked > MAX_XLSX_PART_BYTES || total > MAX_XLSX_BYTES {
            return Err(RosterError::Workbook(format!(
                "{name} unpacks past the limit ({} MB a part, {} MB in all)",
                MAX_XLSX_PART_BYTES >> 20,
                MAX_XLSX_BYTES >> 20
            )));
        }
    }
    Ok(())
}
