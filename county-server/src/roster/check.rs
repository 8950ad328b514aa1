//! (Long on purpose: the checks of one roster row depend on each other — a house named by code
//! or address, residents linked to it, duplicates across the file and the grid — and read best
//! in the order they run.)
//!
//! A [`Table`] into records: every row checked with the device's validator, against the file's
//! other rows and the grid's existing records; the records, or a report of every rejected row.

use super::*;

/// What the grid already holds, for duplicate checks and links to existing houses.
#[derive(Debug, Clone, Default)]
pub struct Existing {
    pub residents: Vec<Resident>,
    pub houses: Vec<House>,
}

impl Existing {
    /// Reads the residents' and houses' documents (as [`doc_keys`] names them).
    pub fn from_docs(stored: &[StoredDoc]) -> Result<Existing, Error> {
        let mut out = Existing::default();
        for s in stored {
            let d = Automerge::load(&s.bytes).map_err(Error::internal)?;
            let records = doc::read_records(&d, s.key.collection, None);
            let bad = |e: serde_json::Error| Error::Internal(format!("stored record unreadable: {e}"));
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
    Author { account, device, role: Role::GridWorker, node: None }
}

pub(super) const ADDRESS_FIELDS: [&str; 7] = ["township", "village", "street", "building", "unit", "floor", "door"];

pub(super) fn address_key(fields: &Map<String, Value>) -> String {
    ADDRESS_FIELDS.map(|f| fields.get(f).and_then(Value::as_str).unwrap_or("").trim()).join("\u{1f}")
}

pub(super) fn same_value(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Where a house's details came from first.
#[derive(Debug, Clone, Copy)]
pub(super) enum Origin {
    Grid,
    Row(u32),
}

pub(super) struct HouseEntry {
    id: Uuid,
    fields: Map<String, Value>,
    origin: Origin,
}

/// Houses by code and by address: the grid's own first, then those the file defines.
pub(super) struct HouseBook {
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
pub(super) enum HouseRef {
    None,
    Defined(usize),
    Code(String),
    Address(String),
}

pub(super) struct Checker<'a> {
    problems: Vec<Problem>,
    author: Author,
    sheet: &'a Sheet,
}

pub(super) fn origin_text(o: Origin) -> (String, String) {
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
pub(super) fn static_field(field: &str) -> &'static str {
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
pub(super) fn normalize_date(s: &str) -> String {
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
pub(super) struct RowParts {
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
            // A blank 人员类别 is no category (the model's default), not a missing field.
            fields.entry("categories").or_insert_with(|| Value::Array(Vec::new()));
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

/// Reads and checks a CSV roster against what the grid holds (`Existing::default()` for an
/// empty grid).
pub fn parse_csv(bytes: &[u8], existing: &Existing) -> Result<GridRecords, RosterError> {
    Table::from_csv(bytes)?.validate(existing)
}

/// Reads and checks an .xlsx roster against what the grid holds.
pub fn parse_xlsx(bytes: &[u8], existing: &Existing) -> Result<GridRecords, RosterError> {
    Table::from_xlsx(bytes)?.validate(existing)
}
