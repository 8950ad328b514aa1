//! Rosters (花名册) in and out: CSV (UTF-8, BOM, GB18030) and .xlsx files, every rejected row
//! reported with its row, column and reason, nothing written unless the whole file is good,
//! and export → import round trips. The .xlsx files are made here with rust_xlsxwriter.

use std::sync::Arc;
use std::time::Instant;

use county_server::roster::{self, Existing, Format, Reason, Reveal, RosterCode, RosterReport};
use county_server::service::import::GridRecords;
use county_server::storage::{Account, Node, SqliteStorage, Storage};
use rust_xlsxwriter::{ExcelDateTime, Format as CellFormat, Workbook};
use sync_protocol::ValidationCode;
use sync_protocol::model::{House, Resident};
use sync_protocol::org::{NodeKind, Role};
use uuid::Uuid;

const FIXTURE: &[u8] = include_bytes!("fixtures/roster-dongpo.csv");
const NOW_MS: i64 = 1_764_000_000_000;

struct County {
    _dir: tempfile::TempDir,
    storage: Arc<dyn Storage>,
    township: Uuid,
    village: Uuid,
    county: Uuid,
}

impl County {
    async fn new() -> County {
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(&dir.path().join("roster.db")).unwrap());
        let node = |kind, name: &str, parent, township, village| Node {
            id: Uuid::now_v7(),
            kind,
            name: name.into(),
            parent,
            township,
            village,
        };
        let county = node(NodeKind::County, "沂水县", None, None, None);
        let township = node(NodeKind::Township, "高庄镇", Some(county.id), None, None);
        let village = node(NodeKind::Village, "东坡村", Some(township.id), Some(township.id), None);
        for n in [&county, &township, &village] {
            storage.put_node(n).await.unwrap();
        }
        County { _dir: dir, storage, township: township.id, village: village.id, county: county.id }
    }

    async fn grid(&self, name: &str) -> Uuid {
        let id = Uuid::now_v7();
        let n = Node {
            id,
            kind: NodeKind::Grid,
            name: name.into(),
            parent: Some(self.village),
            township: Some(self.township),
            village: Some(self.village),
        };
        self.storage.put_node(&n).await.unwrap();
        id
    }

    async fn import(&self, grid: Uuid, format: Format, bytes: Vec<u8>) -> county_server::Result<roster::ImportSummary> {
        let author = roster::importer(Uuid::now_v7(), Uuid::now_v7());
        roster::import_file(self.storage.as_ref(), grid, &author, format, bytes, NOW_MS).await
    }

    async fn existing(&self, grid: Uuid) -> Existing {
        let stored = self.storage.load_docs(&roster::doc_keys(grid)).await.unwrap();
        Existing::from_docs(&stored).unwrap()
    }
}

/// The report of a rejected file, whether from reading it (`RosterError`) or importing it.
fn rejected<T: std::fmt::Debug, E: Into<county_server::Error>>(r: Result<T, E>) -> RosterReport {
    match r.map_err(Into::into) {
        Err(county_server::Error::RosterRejected(report)) => report,
        other => panic!("expected a rejected roster, got {other:?}"),
    }
}

/// Residents as comparable rows: everything but the record ids, with the house as its address.
fn canonical(residents: &[Resident], houses: &[House]) -> Vec<String> {
    let mut out: Vec<String> = residents
        .iter()
        .map(|r| {
            let house = r.house_id.and_then(|h| houses.iter().find(|x| x.id == h)).map(|h| {
                let mut h = h.clone();
                h.id = Uuid::nil();
                serde_json::to_string(&h).unwrap()
            });
            let mut r = r.clone();
            r.id = Uuid::nil();
            r.house_id = None;
            format!("{}|{house:?}", serde_json::to_string(&r).unwrap())
        })
        .collect();
    out.sort();
    out
}

fn canonical_houses(houses: &[House]) -> Vec<String> {
    let mut out: Vec<String> = houses
        .iter()
        .map(|h| {
            let mut h = h.clone();
            h.id = Uuid::nil();
            serde_json::to_string(&h).unwrap()
        })
        .collect();
    out.sort();
    out
}

/// A realistic grid of `residents` people from the demo generator (no visits or disputes).
fn demo_records(residents: usize, houses: usize, seed: u64) -> GridRecords {
    let mut spec = demo_county::GridSpec::typical("高庄镇", "东坡村", Uuid::now_v7(), NOW_MS, seed);
    spec.residents = residents;
    spec.houses = houses;
    spec.visit_months = 0;
    spec.open_disputes = 0;
    let data = demo_county::generate_grid(&spec);
    GridRecords { residents: data.residents, houses: data.houses, ..Default::default() }
}

fn empty_houses(records: &GridRecords) -> usize {
    records.houses.iter().filter(|h| !records.residents.iter().any(|r| r.house_id == Some(h.id))).count()
}

fn csv_of(records: &GridRecords) -> Vec<u8> {
    roster::export_csv(&records.residents, &records.houses, Reveal::Full).unwrap()
}

#[test]
fn the_fixture_reads_in_utf8_with_and_without_bom_and_in_gb18030() {
    let plain = roster::parse_csv(FIXTURE, &Existing::default()).unwrap();
    assert_eq!(plain.residents.len(), 6);
    assert_eq!(plain.houses.len(), 4, "前街12 (rows 3–6 share it), 后街3, 后街7 and the empty 后街9");
    let wang = plain.residents.iter().find(|r| r.name == "王建国").unwrap();
    let li = plain.residents.iter().find(|r| r.name == "李秀英").unwrap();
    assert_eq!(wang.house_id, li.house_id, "one household, one house");
    assert_eq!(li.categories, vec!["registered", "left_behind_women"]);
    assert_eq!(wang.birth_date, "1972-05-14", "1972/5/14 is read as a date");
    // Sex and birth date left blank are read from the ID number.
    let xiaoyu = plain.residents.iter().find(|r| r.name == "王小雨").unwrap();
    assert_eq!((xiaoyu.sex.as_str(), xiaoyu.birth_date.as_str()), ("female", "2015-03-01"));
    let vacant = plain.houses.iter().find(|h| h.door == "9").unwrap();
    assert_eq!(vacant.usage.as_deref(), Some("vacant"));
    assert!(plain.residents.iter().all(|r| r.house_id.is_some_and(|h| plain.houses.iter().any(|x| x.id == h))));

    let with_bom = [b"\xEF\xBB\xBF".as_slice(), FIXTURE].concat();
    let (gbk, _, unmappable) = encoding_rs::GB18030.encode(std::str::from_utf8(FIXTURE).unwrap());
    assert!(!unmappable);
    assert_ne!(gbk.as_ref(), FIXTURE, "the GB18030 file really differs in bytes");
    for bytes in [with_bom, gbk.into_owned()] {
        let again = roster::parse_csv(&bytes, &Existing::default()).unwrap();
        assert_eq!(canonical(&again.residents, &again.houses), canonical(&plain.residents, &plain.houses));
    }

    let table = roster::Table::from_csv(FIXTURE).unwrap();
    assert_eq!(table.ignored_columns(), ["文化程度"], "unknown columns are named, not silently dropped");
}

#[test]
fn every_rejected_row_is_reported_with_row_column_and_reason() {
    let csv = "姓名,性别,出生日期,公民身份号码,联系电话,人员类别,与户主关系,乡镇（街道）,村（社区）,门牌号,房屋结构,房屋编号\n\
        王建国,男,1972-05-14,37132319720514003X,13805391234,户籍人口,户主,高庄镇,东坡村,12,砖混,\n\
        李秀英,女,1975-09-02,371323197509020046,,户籍人口,配偶,高庄镇,东坡村,12,,\n\
        王磊,男,1998-11-21,371323199811200054,15953901234,户籍人口,儿子,高庄镇,东坡村,12,土木,\n\
        赵强,男,1990-06-15,37132319720514003x,,外星人,租户,,,,,H-404\n\
        孙丽,女,1990-06-15,,1595390123,户籍人口,其他,高庄镇,东坡村,,,\n";
    let report = rejected(roster::parse_csv(csv.as_bytes(), &Existing::default()));
    assert_eq!(report.rows, 5);
    assert_eq!(report.rejected_rows, 4, "{report}");
    let has = |row: u32, column: &str, code: Reason| {
        assert!(
            report.problems.iter().any(|p| p.row == row && p.column == column && p.code == code),
            "row {row} [{column}] {code:?} missing from\n{report}"
        );
    };
    has(3, "公民身份号码", Reason::Field(ValidationCode::IdNumberCheckDigit));
    has(4, "出生日期", Reason::Field(ValidationCode::BirthDateMismatch));
    has(6, "联系电话", Reason::Field(ValidationCode::Mobile));
    has(4, "房屋结构", Reason::Roster(RosterCode::HouseMismatch));
    has(5, "人员类别", Reason::Field(ValidationCode::UnknownValue));
    has(5, "房屋编号", Reason::Roster(RosterCode::UnknownHouse));
    has(6, "门牌号", Reason::Field(ValidationCode::Required));
    // Row 5's ID number is row 2's with a lower-case x: the same person twice.
    has(5, "公民身份号码", Reason::Roster(RosterCode::DuplicateInFile));
    let dup = report.problems.iter().find(|p| p.code == Reason::Roster(RosterCode::DuplicateInFile)).unwrap();
    assert!(dup.message.contains("第2行") && dup.message_en.contains("row 2"), "{dup:?}");
    // Messages never echo ID numbers or phones back.
    let text = serde_json::to_string(&report).unwrap();
    for secret in ["371323197509020046", "37132319720514003", "1595390123"] {
        assert!(!text.contains(secret), "report echoes personal data: {text}");
    }
    // The wire form: plain string codes.
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["problems"][0]["code"], "id_number_check_digit");
}

#[test]
fn files_that_cannot_be_read_get_a_stable_code() {
    let cases: [(&[u8], &str); 4] = [
        (b"just,some,numbers\n1,2,3\n", "no_header"),
        ("姓名,姓名,性别\n张三,张三,男\n".as_bytes(), "duplicate_column"),
        (&[0x81, 0x30, 0xFF, 0xFF, 0x2C], "bad_encoding"),
        ("姓名,性别\n,\n".as_bytes(), "empty_roster"),
    ];
    for (bytes, code) in cases {
        let e = roster::parse_csv(bytes, &Existing::default()).unwrap_err();
        assert_eq!(e.code().as_str(), code, "{e}");
    }
    assert_eq!(
        roster::parse_xlsx(b"PK\x03\x04 not a zip", &Existing::default()).unwrap_err().code().as_str(),
        "bad_workbook"
    );
}

/// An .xlsx like a township template: a title row, a header with `*` marks, a date cell, a
/// phone stored as a number, and an instructions sheet without a header.
fn template_xlsx(id_as_number: bool) -> Vec<u8> {
    let mut wb = Workbook::new();
    let help = wb.add_worksheet();
    help.set_name("填表说明").unwrap();
    help.write_string(0, 0, "身份证号码请设为文本格式").unwrap();
    let ws = wb.add_worksheet();
    ws.set_name("人口信息").unwrap();
    ws.write_string(0, 1, "东坡村第1网格人口信息表").unwrap();
    let headers =
        ["*姓名", "性别", "*出生日期", "公民身份号码", "联系电话", "人员类别", "乡镇（街道）", "村（社区）", "门牌号"];
    for (i, h) in headers.iter().enumerate() {
        ws.write_string(2, i as u16 + 1, *h).unwrap();
    }
    let date = CellFormat::new().set_num_format("yyyy-mm-dd");
    let people = [
        ("王建国", "男", (1972, 5, 14), "37132319720514003X", 13805391234.0),
        ("李秀英", "女", (1975, 9, 2), "371323197509020045", 15953901234.0),
    ];
    for (i, (name, sex, (y, m, d), id, phone)) in people.iter().enumerate() {
        let r = i as u32 + 3;
        ws.write_string(r, 1, *name).unwrap();
        ws.write_string(r, 2, *sex).unwrap();
        ws.write_datetime_with_format(r, 3, ExcelDateTime::from_ymd(*y, *m, *d).unwrap(), &date).unwrap();
        if id_as_number {
            ws.write_number(r, 4, id.trim_end_matches('X').parse::<f64>().unwrap()).unwrap();
        } else {
            ws.write_string(r, 4, *id).unwrap();
        }
        ws.write_number(r, 5, *phone).unwrap();
        ws.write_string(r, 6, "户籍人口").unwrap();
        ws.write_string(r, 7, "高庄镇").unwrap();
        ws.write_string(r, 8, "东坡村").unwrap();
        ws.write_number(r, 9, 12.0).unwrap();
    }
    wb.save_to_buffer().unwrap()
}

#[test]
fn xlsx_templates_read_with_dates_numbers_and_title_rows() {
    let records = roster::parse_xlsx(&template_xlsx(false), &Existing::default()).unwrap();
    assert_eq!(records.residents.len(), 2);
    assert_eq!(records.houses.len(), 1);
    let wang = records.residents.iter().find(|r| r.name == "王建国").unwrap();
    assert_eq!(wang.birth_date, "1972-05-14");
    assert_eq!(wang.phone.as_deref(), Some("13805391234"));
    assert_eq!(records.houses[0].door, "12");

    // Excel turned the ID numbers into numbers: reported on the sheet's own row numbers.
    let report = rejected(roster::parse_xlsx(&template_xlsx(true), &Existing::default()));
    assert_eq!(report.rejected_rows, 2);
    let p = &report.problems[0];
    assert_eq!((p.sheet.as_str(), p.row, p.column.as_str()), ("人口信息", 4, "公民身份号码"));
    assert_eq!(p.code, Reason::Roster(RosterCode::IdNumberAsNumber));
}

#[tokio::test]
async fn one_bad_row_in_a_thousand_leaves_storage_unchanged() {
    let county = County::new().await;
    let grid = county.grid("东坡村第1网格").await;
    county.import(grid, Format::Csv, FIXTURE.to_vec()).await.unwrap();

    let records = demo_records(1000, 370, 7);
    let good = String::from_utf8(csv_of(&records)).unwrap();
    let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
    // Data row 500 is line 501 (the header is line 1); spoil its ID number's check character.
    let victim = (500..lines.len()).find(|&i| lines[i].split(',').nth(3).is_some_and(|id| id.len() == 18)).unwrap();
    let cols: Vec<&str> = lines[victim].split(',').collect();
    let id = cols[3].to_string();
    let last = id.chars().last().unwrap();
    let wrong = if last == '0' { '1' } else { '0' };
    lines[victim] = lines[victim].replacen(&id, &format!("{}{wrong}", &id[..17]), 1);
    let bad = lines.join("\n");

    let seq_before = county.storage.grid_seq(grid).await.unwrap();
    let stats_before = county.storage.stats().await.unwrap();
    let report = rejected(county.import(grid, Format::Csv, bad.into_bytes()).await);
    assert_eq!(report.rows, records.residents.len() + empty_houses(&records));
    assert_eq!(report.rejected_rows, 1, "{report}");
    let p = &report.problems[0];
    assert_eq!(p.row as usize, victim + 1, "the row as the file numbers it");
    assert_eq!(p.column, "公民身份号码");
    assert_eq!(p.code, Reason::Field(ValidationCode::IdNumberCheckDigit));
    assert_eq!(county.storage.grid_seq(grid).await.unwrap(), seq_before, "nothing written");
    assert_eq!(county.storage.stats().await.unwrap(), stats_before, "nothing written");

    // The good file goes in whole, in one commit.
    let done = county.import(grid, Format::Csv, good.into_bytes()).await.unwrap();
    assert_eq!(done.residents, 1000);
    assert_eq!(done.houses, records.houses.len());
    let stats = county.storage.stats().await.unwrap();
    assert_eq!(stats.residents, stats_before.residents + 1000);
    assert_eq!(stats.houses, stats_before.houses + records.houses.len() as u64);
    assert_eq!(stats.changes, stats_before.changes + 2, "one change per document, one commit");
}

#[tokio::test]
async fn duplicates_of_the_grids_residents_are_refused_and_its_houses_linked() {
    let county = County::new().await;
    let grid = county.grid("东坡村第1网格").await;
    county.import(grid, Format::Csv, FIXTURE.to_vec()).await.unwrap();

    // 王建国 again, and a newborn in his house named by address only.
    let again = "姓名,性别,出生日期,公民身份号码,乡镇（街道）,村（社区）,街路巷,门牌号\n\
        王建国,男,1972-05-14,37132319720514003X,高庄镇,东坡村,前街,12\n\
        王小宝,男,2024-01-02,,高庄镇,东坡村,前街,12\n";
    let report = rejected(county.import(grid, Format::Csv, again.as_bytes().to_vec()).await);
    assert_eq!(report.rejected_rows, 1, "{report}");
    assert_eq!(report.problems[0].row, 2);
    assert_eq!(report.problems[0].code, Reason::Roster(RosterCode::AlreadyInGrid));

    let newborn = "姓名,性别,出生日期,现住址\n王小宝,男,2024-01-02,高庄镇东坡村前街12号\n";
    let done = county.import(grid, Format::Csv, newborn.as_bytes().to_vec()).await.unwrap();
    assert_eq!((done.residents, done.houses), (1, 0), "linked to the existing house, none created");
    let existing = county.existing(grid).await;
    let wang = existing.residents.iter().find(|r| r.name == "王建国").unwrap();
    let baby = existing.residents.iter().find(|r| r.name == "王小宝").unwrap();
    assert_eq!(baby.house_id, wang.house_id);

    // A row disagreeing with the grid's record of a house is refused (an import never edits).
    let differs = "姓名,性别,出生日期,乡镇（街道）,村（社区）,街路巷,门牌号,房屋结构\n王二,男,2000-01-01,高庄镇,东坡村,前街,12,钢混\n";
    let report = rejected(county.import(grid, Format::Csv, differs.as_bytes().to_vec()).await);
    assert_eq!(report.problems[0].code, Reason::Roster(RosterCode::HouseMismatch));
    assert_eq!(report.problems[0].column, "房屋结构");
}

async fn round_trip(format: Format) {
    let county = County::new().await;
    let from = county.grid("东坡村第1网格").await;
    let mut records = demo_records(300, 120, 11);
    records.residents[0].archived_reason = Some("moved_away".into());
    records.residents[0].archived_on = Some("2024-05-01".into());
    let author = roster::importer(Uuid::now_v7(), Uuid::now_v7());
    county_server::service::import::import_grid(county.storage.as_ref(), from, &author, &records, NOW_MS)
        .await
        .unwrap();
    let file = roster::export(county.storage.as_ref(), from, format, Reveal::Full, Uuid::nil()).await.unwrap();

    let to = county.grid("东坡村第2网格").await;
    let done = county.import(to, format, file.clone()).await.unwrap();
    assert_eq!(done.residents, records.residents.len());
    assert_eq!(done.houses, records.houses.len());
    let a = county.existing(from).await;
    let b = county.existing(to).await;
    assert_eq!(canonical(&b.residents, &b.houses), canonical(&a.residents, &a.houses));
    assert_eq!(canonical_houses(&b.houses), canonical_houses(&a.houses));
    assert!(b.residents.iter().all(|r| !a.residents.iter().any(|x| x.id == r.id)), "new record ids");

    // Importing the export back into its own grid finds every resident already there.
    let report = rejected(county.import(from, format, file).await);
    let with_id = records.residents.iter().filter(|r| r.id_number.is_some()).count();
    assert_eq!(report.problems.iter().filter(|p| p.code == Reason::Roster(RosterCode::AlreadyInGrid)).count(), with_id);
}

#[tokio::test]
async fn csv_export_then_import_round_trips() {
    round_trip(Format::Csv).await;
}

#[tokio::test]
async fn xlsx_export_then_import_round_trips() {
    round_trip(Format::Xlsx).await;
}

#[test]
fn masked_exports_hold_no_full_id_numbers_or_phones() {
    let records = demo_records(50, 20, 3);
    for format in [Format::Csv, Format::Xlsx] {
        let bytes = match format {
            Format::Csv => roster::export_csv(&records.residents, &records.houses, Reveal::Masked).unwrap(),
            Format::Xlsx => roster::export_xlsx(&records.residents, &records.houses, Reveal::Masked).unwrap(),
        };
        let text = match format {
            Format::Csv => String::from_utf8(bytes.clone()).unwrap(),
            // Every cell of the workbook, as text.
            Format::Xlsx => {
                use calamine::Reader;
                let mut wb: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(&bytes)).unwrap();
                let range = wb.worksheet_range(roster::SHEET_NAME).unwrap();
                assert_eq!(range.height(), 1 + records.residents.len() + empty_houses(&records));
                range.rows().flatten().map(|c| format!("{c},")).collect()
            }
        };
        for r in &records.residents {
            if let Some(id) = &r.id_number {
                assert!(!text.contains(id.as_str()));
            }
            if let Some(p) = &r.phone {
                assert!(!text.contains(p.as_str()));
            }
        }
        // A masked file is for reading: importing it is refused row by row, never half done.
        let report = rejected(roster::Table::read(format, &bytes).unwrap().validate(&Existing::default()));
        assert!(report.rejected_rows > 0);
    }
    assert_eq!(Reveal::for_role(Role::CountyAdmin), Some(Reveal::Full));
    assert_eq!(Reveal::for_role(Role::TownshipStaff), Some(Reveal::Masked));
    assert_eq!(Reveal::for_role(Role::GridWorker), None);
}

/// Figures, printed (run with `--nocapture`), never asserted.
#[tokio::test]
async fn import_of_a_thousand_residents_timed() {
    let records = demo_records(1000, 370, 5);
    let csv = csv_of(&records);
    let xlsx = roster::export_xlsx(&records.residents, &records.houses, Reveal::Full).unwrap();
    for (format, bytes) in [(Format::Csv, csv), (Format::Xlsx, xlsx)] {
        let t = Instant::now();
        let table = roster::Table::read(format, &bytes).unwrap();
        let read = t.elapsed();
        let t = Instant::now();
        table.validate(&Existing::default()).unwrap();
        let check = t.elapsed();
        let county = County::new().await;
        let grid = county.grid("东坡村第1网格").await;
        let t = Instant::now();
        county.import(grid, format, bytes.clone()).await.unwrap();
        let all = t.elapsed();
        println!(
            "roster {format:?}: 1,000 residents + {} houses, {} KB: read {:.1} ms, validate {:.1} ms, whole import (read, validate, prepare, commit to SQLite) {:.1} ms",
            records.houses.len(),
            bytes.len() / 1024,
            read.as_secs_f64() * 1e3,
            check.as_secs_f64() * 1e3,
            all.as_secs_f64() * 1e3
        );
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

async fn enrol(url: &str, storage: &dyn Storage, account: Uuid) -> String {
    let code = county_server::service::enrolment::issue_code(storage, account).await.unwrap().code;
    let resp: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/v1/enrol"))
        .json(&serde_json::json!({"code": code, "device_name": "测试"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    resp["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn http_import_and_export_are_scoped_and_structured() {
    let county = County::new().await;
    let grid = county.grid("东坡村第1网格").await;
    let mut tokens = Vec::new();
    for (role, node) in
        [(Role::CountyAdmin, county.county), (Role::TownshipStaff, county.township), (Role::GridWorker, grid)]
    {
        let id = Uuid::now_v7();
        county.storage.put_account(&Account { id, name: format!("{role:?}"), role, node }).await.unwrap();
        tokens.push(id);
    }
    let running = county_server::server::spawn(county.storage.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = running.url();
    let admin = enrol(&url, county.storage.as_ref(), tokens[0]).await;
    let township = enrol(&url, county.storage.as_ref(), tokens[1]).await;
    let worker = enrol(&url, county.storage.as_ref(), tokens[2]).await;
    let http = reqwest::Client::new();
    let roster_url = format!("{url}/v1/admin/grids/{grid}/roster");

    // A bad row: 422 with the report, nothing stored.
    let bad = String::from_utf8(FIXTURE.to_vec()).unwrap().replace("13805391234", "1380539123");
    let resp =
        http.post(&roster_url).bearer_auth(&admin).header("Content-Type", "text/csv").body(bad).send().await.unwrap();
    assert_eq!(resp.status(), 422);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "roster_rejected");
    assert_eq!(body["report"]["problems"][0]["row"], 3);
    assert_eq!(body["report"]["problems"][0]["column"], "联系电话");
    assert_eq!(body["report"]["problems"][0]["code"], "mobile");
    assert_eq!(county.storage.grid_seq(grid).await.unwrap(), 0);

    // The format must be known.
    let resp = http.post(&roster_url).bearer_auth(&admin).body(FIXTURE.to_vec()).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<serde_json::Value>().await.unwrap()["code"], "unknown_format");

    // Only the county administrator imports.
    for token in [&township, &worker] {
        let resp = http
            .post(format!("{roster_url}?format=csv"))
            .bearer_auth(token)
            .body(FIXTURE.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
    }

    let resp =
        http.post(format!("{roster_url}?format=csv")).bearer_auth(&admin).body(FIXTURE.to_vec()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let done: roster::ImportSummary = resp.json().await.unwrap();
    assert_eq!((done.residents, done.houses), (6, 4));

    // Export: in full for the administrator, masked for township staff, not for grid workers.
    let resp = http.get(format!("{roster_url}?format=xlsx")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], roster::XLSX_CONTENT_TYPE);
    let xlsx = resp.bytes().await.unwrap();
    let back = roster::parse_xlsx(&xlsx, &Existing::default()).unwrap();
    assert_eq!(back.residents.len(), 6);
    let full =
        http.get(format!("{roster_url}?format=csv")).bearer_auth(&admin).send().await.unwrap().text().await.unwrap();
    assert!(full.contains("37132319720514003X"));
    let masked = http.get(format!("{roster_url}?format=csv")).bearer_auth(&township).send().await.unwrap();
    assert_eq!(masked.status(), 200);
    let masked = masked.text().await.unwrap();
    assert!(masked.contains("王建国") && !masked.contains("37132319720514003X") && !masked.contains("13805391234"));
    let resp = http.get(format!("{roster_url}?format=csv")).bearer_auth(&worker).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    running.stop().await;
}
