//! Reading the setup file: its columns as counties head them, its sheets, and grid boundaries.

use sync_protocol::Code;

use super::{HEADER_SCAN_ROWS, MAX_BOUNDARY_BYTES, MAX_CELLS, MAX_ROWS};
use crate::error::{Error, Result};
use crate::roster::{Cell, RawRows, RosterError};

/// The file's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Col {
    Township,
    Village,
    Grid,
    GridCode,
    Boundary,
    Department,
    Name,
    Role,
}

/// Each column's header as this module writes it, then the other ways counties write it.
const COLUMNS: [(Col, &[&str]); 8] = [
    (Col::Township, &["镇街", "乡镇", "镇(街道)", "乡镇(街道)", "镇街名称", "乡镇名称", "街道", "township"]),
    (Col::Village, &["村社区", "村(社区)", "村居", "村", "社区", "村社区名称", "village", "community"]),
    (Col::Grid, &["网格", "网格名称", "grid"]),
    (Col::GridCode, &["网格编码", "网格编号", "网格代码", "grid_code", "code"]),
    (Col::Boundary, &["网格边界", "边界", "边界geojson", "boundary", "geojson"]),
    (Col::Department, &["部门", "部门名称", "站所", "department"]),
    (Col::Name, &["姓名", "name"]),
    (Col::Role, &["角色", "职务", "岗位", "role"]),
];

fn header(col: Col) -> &'static str {
    COLUMNS.iter().find(|(c, _)| *c == col).map_or("", |(_, names)| names[0])
}

/// A header as written (spaces, full-width brackets and a required-field star aside).
pub(super) fn column_for(h: &str) -> Option<Col> {
    let h: String = h
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '*' && *c != '＊')
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    COLUMNS.iter().find(|(_, names)| names.contains(&h.as_str())).map(|(c, _)| *c)
}

/// One worksheet under known columns.
pub(super) struct Sheet {
    pub(super) name: String,
    /// For each file column: the column it maps to, and its header as written.
    pub(super) columns: Vec<(Option<Col>, String)>,
    pub(super) rows: RawRows,
}

impl Sheet {
    pub(super) fn cell<'a>(&self, cells: &'a [Cell], col: Col) -> Option<&'a Cell> {
        let i = self.columns.iter().position(|(c, _)| *c == Some(col))?;
        cells.get(i)
    }

    pub(super) fn header(&self, col: Col) -> String {
        self.columns.iter().find(|(c, _)| *c == Some(col)).map_or_else(|| header(col).to_string(), |(_, h)| h.clone())
    }
}

/// The sheets with a setup header (at least two known columns, one of them 镇街, 网格, 部门 or
/// 姓名); others (填表说明) are skipped.
pub(super) fn sheets_of(raw: Vec<(String, RawRows)>) -> Result<(Vec<Sheet>, Vec<String>)> {
    let mut sheets = Vec::new();
    let mut ignored = Vec::new();
    for (name, rows) in raw {
        let keys = [Col::Township, Col::Grid, Col::Department, Col::Name];
        let header_at = rows.iter().take(HEADER_SCAN_ROWS).position(|(_, cells)| {
            let found: Vec<Col> = cells.iter().filter_map(|c| column_for(&c.text())).collect();
            found.len() >= 2 && found.iter().any(|f| keys.contains(f))
        });
        let Some(header_at) = header_at else { continue };
        let mut columns: Vec<(Option<Col>, String)> = Vec::new();
        for cell in &rows[header_at].1 {
            let h = cell.text();
            let col = column_for(&h);
            if let Some(c) = col
                && columns.iter().any(|(x, _)| *x == Some(c))
            {
                return Err(Error::bad(Code::DuplicateColumn, format!("column {h} appears twice in {name}")));
            }
            if col.is_none() && !h.is_empty() && !ignored.contains(&h) {
                ignored.push(h.clone());
            }
            columns.push((col, h));
        }
        let known = |i: usize| columns.get(i).is_some_and(|(c, _)| c.is_some());
        let rows: RawRows = rows
            .into_iter()
            .skip(header_at + 1)
            .filter(|(_, cells)| cells.iter().enumerate().any(|(i, c)| known(i) && !c.is_empty()))
            .collect();
        sheets.push(Sheet { name, columns, rows });
    }
    if sheets.is_empty() {
        return Err(Error::bad(
            Code::NoHeader,
            "no header row with setup columns (镇街, 网格, 姓名 …) among the first rows",
        ));
    }
    Ok((sheets, ignored))
}

pub(super) fn read_error(e: RosterError) -> Error {
    match e {
        RosterError::TooManyRows => {
            Error::bad(Code::TooManyRows, format!("more than {MAX_ROWS} rows or {MAX_CELLS} cells"))
        }
        other => other.into(),
    }
}

/// A boundary cell as a GeoJSON geometry: a Polygon or MultiPolygon (bare, or as a Feature's
/// geometry) in longitude and latitude, every ring closed and of at least four positions.
/// Returns the geometry written compactly.
pub fn parse_boundary(text: &str) -> std::result::Result<String, &'static str> {
    use geojson::{GeoJson, Geometry, GeometryValue, PolygonType};
    if text.len() > MAX_BOUNDARY_BYTES {
        return Err("边界太大");
    }
    let geometry: Geometry = match text.parse::<GeoJson>().map_err(|_| "不是 GeoJSON")? {
        GeoJson::Geometry(g) => g,
        GeoJson::Feature(f) => f.geometry.ok_or("要素没有几何")?,
        GeoJson::FeatureCollection(_) => return Err("应为一个多边形，而不是要素集合"),
    };
    let polygons: Vec<&PolygonType> = match &geometry.value {
        GeometryValue::Polygon { coordinates } => vec![coordinates],
        GeometryValue::MultiPolygon { coordinates } => coordinates.iter().collect(),
        _ => return Err("应为 Polygon 或 MultiPolygon"),
    };
    for rings in polygons {
        if rings.is_empty() {
            return Err("多边形没有边");
        }
        for ring in rings {
            if ring.len() < 4 || ring.first() != ring.last() {
                return Err("多边形的环须闭合且至少有四个点");
            }
            for p in ring {
                let p = p.as_slice();
                let ok = p.len() >= 2 && (-180.0..=180.0).contains(&p[0]) && (-90.0..=90.0).contains(&p[1]);
                if !ok {
                    return Err("坐标须为经度、纬度");
                }
            }
        }
    }
    serde_json::to_string(&geometry).map_err(|_| "不是 GeoJSON")
}
