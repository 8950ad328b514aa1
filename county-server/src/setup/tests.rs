//! The setup file planned on hand-built tables and stored structures.

use super::sheet::column_for;
use super::*;

fn csv_plan(existing: Structure, text: &str) -> Result<(Vec<NodeSetup>, Vec<Account>, SetupSummary)> {
    plan_file(existing, Some("沂水县"), Format::Csv, text.as_bytes())
}

const SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[118.6,35.7],[118.61,35.7],[118.61,35.71],[118.6,35.7]]]}"#;

#[test]
fn a_file_plans_places_and_people_at_every_level() {
    let text = format!(
        "镇街,村社区,网格,网格编码,网格边界,部门,姓名,角色\n\
         沂城街道,东坡村,东坡村第1网格,371323001001,\"{}\",,王芳,专职网格员\n\
         沂城街道,东坡村,东坡村第1网格,,,,张强,网格长\n\
         沂城街道,东坡村,东坡村第1网格,,,,李指导,网格指导员\n\
         沂城街道,东坡村,,,,,村干部甲,村社区工作人员\n\
         沂城街道,,,,,司法所,刘敏,部门工作人员\n\
         沂城街道,,,,,,综治甲,综治中心工作人员\n\
         ,,,,,县信访局,赵磊,部门工作人员\n\
         ,,,,,,孙丽,县社会治理中心工作人员\n\
         许家湖镇,西岭村,西岭村第1网格,,,,,\n",
        SQUARE.replace('"', "\"\"")
    );
    let (nodes, accounts, s) = csv_plan(Structure::default(), &text).unwrap();
    assert_eq!((s.townships_created, s.villages_created, s.grids_created, s.departments_created), (2, 2, 2, 2));
    assert_eq!(s.accounts_created, 8);
    let role_of = |n: &str| accounts.iter().find(|a| a.name == n).unwrap().role;
    assert_eq!(role_of("李指导"), Role::GridInstructor);
    assert_eq!(role_of("刘敏"), Role::TownshipDepartmentStaff);
    assert_eq!(role_of("赵磊"), Role::CountyDepartmentStaff);
    let grid = nodes.iter().find(|n| n.node.name == "东坡村第1网格").unwrap();
    assert_eq!(grid.code.as_deref(), Some("371323001001"));
    assert!(grid.boundary.as_deref().unwrap().contains("Polygon"));
    let justice = nodes.iter().find(|n| n.node.name == "司法所").unwrap();
    assert!(justice.node.township.is_some(), "a township's department belongs to it");
    let positions: HashMap<Uuid, usize> = nodes.iter().enumerate().map(|(i, n)| (n.node.id, i)).collect();
    for n in &nodes {
        if let Some(p) = n.node.parent {
            assert!(positions[&p] < positions[&n.node.id], "{} comes after its parent", n.node.name);
        }
    }
}

#[test]
fn bad_rows_are_each_reported_and_nothing_is_planned() {
    let text = "镇街,村社区,网格,网格编码,网格边界,部门,姓名,角色\n\
                沂城街道,东坡村,东坡村第1网格,,,,王芳,专职网格员\n\
                ,东坡村,,,,,甲,村社区工作人员\n\
                沂城街道,东坡村,,,,,乙,专职网格员\n\
                沂城街道,,,,,,丙,扫地僧\n\
                沂城街道,东坡村,东坡村第1网格,,,,王芳,网格长\n\
                沂城街道,东坡村,东坡村第2网格,,{bad},,,\n\
                沂城街道,东坡村,东坡村第1网格,A1,,,,\n\
                沂城街道,东坡村,东坡村第3网格,A1,,,,\n\
                沂城街道,东坡村,,X9,,,,\n";
    let Err(Error::SetupRejected(report)) = csv_plan(Structure::default(), text) else { panic!("rejected") };
    let codes: Vec<(u32, &str, &str)> =
        report.problems.iter().map(|p| (p.row, p.column.as_str(), p.code.as_str())).collect();
    assert_eq!(
        codes,
        vec![
            (3, "镇街", "missing_place"),
            (4, "角色", "role_does_not_fit"),
            (5, "角色", "unknown_role"),
            (6, "姓名", "duplicate_in_file"),
            (7, "网格边界", "bad_boundary"),
            (9, "网格编码", "grid_code_taken"),
            (10, "网格编码", "not_a_grid"),
        ]
    );
    assert_eq!(report.rejected_rows, 7);
}

/// The stored structure after a plan is written.
fn stored(mut existing: Structure, planned: (Vec<NodeSetup>, Vec<Account>, SetupSummary)) -> Structure {
    for n in planned.0 {
        existing.nodes.retain(|x| x.node.id != n.node.id);
        existing.nodes.push(n);
    }
    for a in planned.1 {
        existing.accounts.retain(|x| x.id != a.id);
        existing.accounts.push(a);
    }
    existing
}

fn grid_named(s: &Structure, name: &str) -> (Uuid, Option<String>) {
    let n = s.nodes.iter().find(|n| n.node.name == name).unwrap_or_else(|| panic!("{name}"));
    (n.node.id, n.code.clone())
}

#[test]
fn renumbered_and_swapped_grids_keep_their_ids_whatever_the_order_of_rows() {
    let first = "镇街,村社区,网格,网格编码\n\
                 沂城街道,东坡村,第1网格,C1\n\
                 沂城街道,东坡村,第2网格,C2\n";
    let s1 = stored(Structure::default(), csv_plan(Structure::default(), first).unwrap());
    let (g1, g2) = (grid_named(&s1, "第1网格").0, grid_named(&s1, "第2网格").0);
    // A grid is put in front and the others renumbered, rows in either order.
    for text in [
        "镇街,村社区,网格,网格编码\n沂城街道,东坡村,第1网格,C0\n沂城街道,东坡村,第2网格,C1\n沂城街道,东坡村,第3网格,C2\n",
        "镇街,村社区,网格,网格编码\n沂城街道,东坡村,第3网格,C2\n沂城街道,东坡村,第2网格,C1\n沂城街道,东坡村,第1网格,C0\n",
    ] {
        let planned = csv_plan(s1.clone(), text).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((planned.2.grids_created, planned.2.places_updated), (1, 2));
        let s2 = stored(s1.clone(), planned);
        assert_eq!(grid_named(&s2, "第2网格"), (g1, Some("C1".into())));
        assert_eq!(grid_named(&s2, "第3网格"), (g2, Some("C2".into())));
    }
    // Two grids swap names.
    let swap = "镇街,村社区,网格,网格编码\n沂城街道,东坡村,第2网格,C1\n沂城街道,东坡村,第1网格,C2\n";
    let s3 = stored(s1.clone(), csv_plan(s1.clone(), swap).unwrap());
    assert_eq!((grid_named(&s3, "第2网格").0, grid_named(&s3, "第1网格").0), (g1, g2));
    assert_eq!(s3.nodes.len(), s1.nodes.len());
    // The same file again changes nothing.
    let again = csv_plan(s3.clone(), swap).unwrap();
    assert!(again.0.is_empty() && again.1.is_empty(), "{:?}", again.2);
}

#[test]
fn a_grid_has_one_code_and_administrators_are_not_set_by_the_file() {
    let two_codes = "镇街,村社区,网格,网格编码\n沂城街道,东坡村,第1网格,C1\n沂城街道,东坡村,第1网格,C9\n";
    let Err(Error::SetupRejected(r)) = csv_plan(Structure::default(), two_codes) else { panic!("rejected") };
    assert_eq!((r.problems[0].row, r.problems[0].code.as_str()), (3, "grid_code_taken"));
    let admin = "镇街,姓名,角色\n,孙丽,系统管理员\n";
    let Err(Error::SetupRejected(r)) = csv_plan(Structure::default(), admin) else { panic!("rejected") };
    assert_eq!(r.problems[0].code.as_str(), "role_does_not_fit");
    // The stored administrator stays one, whatever the file calls her.
    let mut existing =
        stored(Structure::default(), csv_plan(Structure::default(), "镇街,姓名,角色\n,孙丽,县中心工作人员\n").unwrap());
    existing.accounts[0].role = Role::CountyAdmin;
    let Err(Error::SetupRejected(r)) = csv_plan(existing, "镇街,姓名,角色\n,孙丽,县中心工作人员\n")
    else {
        panic!("rejected")
    };
    assert_eq!(r.problems[0].code.as_str(), "role_does_not_fit");
}

#[test]
fn boundaries_must_be_closed_polygons_in_longitude_and_latitude() {
    assert!(parse_boundary(SQUARE).is_ok());
    let feature = format!(r#"{{"type":"Feature","properties":{{}},"geometry":{SQUARE}}}"#);
    assert!(parse_boundary(&feature).is_ok());
    for bad in [
        r#"{"type":"Point","coordinates":[118.6,35.7]}"#,
        r#"{"type":"Polygon","coordinates":[[[118.6,35.7],[118.61,35.7],[118.6,35.7]]]}"#,
        r#"{"type":"Polygon","coordinates":[[[118.6,35.7],[118.61,35.7],[118.61,35.71],[118.6,35.8]]]}"#,
        r#"{"type":"Polygon","coordinates":[[[3000,35.7],[118.61,35.7],[118.61,35.71],[3000,35.7]]]}"#,
        "not json",
    ] {
        assert!(parse_boundary(bad).is_err(), "{bad}");
    }
}

#[test]
fn headers_are_read_as_counties_write_them() {
    assert_eq!(column_for("乡镇（街道）"), Some(Col::Township));
    assert_eq!(column_for("村（社区）"), Some(Col::Village));
    assert_eq!(column_for(" *姓名 "), Some(Col::Name));
    assert_eq!(column_for("职务"), Some(Col::Role));
    assert_eq!(column_for("Grid_Code"), Some(Col::GridCode));
    assert_eq!(column_for("手机号"), None);
}

/// A small workbook whose one shared string fills many cells is refused by what its text would
/// cost copied out, before anything is planned.
#[test]
fn a_shared_string_repeated_in_every_cell_is_refused_by_its_copied_size() {
    // Excel holds at most 32,767 characters a cell: 2,300 cells of 30,000 are 69 MB copied out.
    let long = "x".repeat(30_000);
    let mut wb = rust_xlsxwriter::Workbook::new();
    let sheet = wb.add_worksheet();
    for (c, h) in ["镇街", "村社区", "网格", "网格边界"].iter().enumerate() {
        sheet.write(0, c as u16, *h).unwrap();
    }
    for r in 1..=2_300u32 {
        sheet.write(r, 3, long.as_str()).unwrap();
    }
    let bytes = wb.save_to_buffer().unwrap();
    assert!(bytes.len() < 1_000_000, "small on the wire: {} bytes", bytes.len());
    let Err(e) = plan_file(Structure::default(), Some("沂水县"), Format::Xlsx, &bytes) else { panic!("refused") };
    assert_eq!(e.code(), sync_protocol::ErrorCode::from(sync_protocol::Code::BadWorkbook), "{e}");
    assert!(e.to_string().contains("MB of text"), "{e}");
}
