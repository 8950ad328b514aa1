//! The county's structure and its people, set up from a file ([`crate::setup`]), and enrolment
//! codes in bulk for a township or the whole county: one code per person, printed on a sheet with
//! a QR code each, and revoked together if the sheet is lost.

use std::collections::{HashMap, HashSet};

use sync_protocol::Code;
use sync_protocol::api::{BulkCodeRequest, BulkCodes, BulkRevoked, IssuedCode, SetupSummary};
use sync_protocol::org::{Account, Node, NodeKind, Role};
use uuid::Uuid;

use super::County;
use super::auth::{self, Caller};
use super::enrolment::CODE_LIFETIME_MS;
use crate::error::{Error, Result};
use crate::roster::Format;
use crate::storage::{Storage, Structure};

impl County {
    /// Sets up or updates the county's structure from a file (county administrators only).
    pub async fn setup_structure(
        &self,
        caller: &Caller,
        county_name: Option<&str>,
        format: Format,
        bytes: Vec<u8>,
    ) -> Result<SetupSummary> {
        caller.require_admin()?;
        let summary = crate::setup::apply_file(self.storage(), county_name, format, bytes).await?;
        tracing::info!(by = %caller.account.id, "county structure updated through the API");
        Ok(summary)
    }

    /// Codes for everyone at or under a place, and with `sheet` their printable sheet (made
    /// before the codes are stored, so a sheet that cannot be made revokes nothing).
    pub async fn issue_codes(
        &self,
        caller: &Caller,
        req: &BulkCodeRequest,
        sheet: Option<Sheet>,
    ) -> Result<(BulkCodes, Option<String>)> {
        caller.require_admin()?;
        let prepared = prepare_codes(self.storage(), req).await?;
        let html = match sheet {
            Some(sheet) => {
                let codes = prepared.codes.clone();
                Some(
                    tokio::task::spawn_blocking(move || codes_sheet(&codes, &sheet))
                        .await
                        .map_err(Error::internal)??,
                )
            }
            None => None,
        };
        let codes = commit_codes(self.storage(), prepared).await?;
        tracing::info!(by = %caller.account.id, node = %req.node, codes = codes.codes.len(), "enrolment codes issued in bulk");
        Ok((codes, html))
    }

    pub async fn revoke_codes(&self, caller: &Caller, node: Uuid) -> Result<BulkRevoked> {
        caller.require_admin()?;
        let revoked = revoke_codes(self.storage(), node).await?;
        tracing::info!(by = %caller.account.id, %node, revoked = revoked.revoked, "enrolment codes revoked in bulk");
        Ok(revoked)
    }
}

/// The people at or under `node` (everyone without one), with where each works (镇街 / 村社区 /
/// 网格), in the order of those places' names. County administrators are left out unless
/// `admins` (enrolment codes: theirs are issued one by one).
pub(super) fn people_under(structure: &Structure, node: Option<Uuid>, admins: bool) -> Result<Vec<(Account, String)>> {
    let nodes: HashMap<Uuid, &Node> = structure.nodes.iter().map(|n| (n.node.id, &n.node)).collect();
    if node.is_some_and(|n| !nodes.contains_key(&n)) {
        return Err(Error::bad(Code::UnknownNode, "no such place"));
    }
    let path = |mut id: Uuid| {
        let mut names = Vec::new();
        while let Some(n) = nodes.get(&id) {
            if n.kind != NodeKind::County {
                names.push(n.name.as_str());
            }
            match n.parent {
                Some(p) => id = p,
                None => break,
            }
        }
        names.reverse();
        if names.is_empty() { nodes.get(&id).map_or(String::new(), |n| n.name.clone()) } else { names.join(" / ") }
    };
    let under = |mut id: Uuid| loop {
        let Some(node) = node else { return true };
        if id == node {
            return true;
        }
        match nodes.get(&id).and_then(|n| n.parent) {
            Some(p) => id = p,
            None => return false,
        }
    };
    let mut people: Vec<(Account, String)> = structure
        .accounts
        .iter()
        .filter(|a| (admins || a.role != Role::CountyAdmin) && under(a.node))
        .map(|a| (a.clone(), path(a.node)))
        .collect();
    people.sort_by(|a, b| (&a.1, &a.0.name).cmp(&(&b.1, &b.0.name)));
    Ok(people)
}

/// Codes made for a sheet, not yet stored (so not yet valid).
pub struct PreparedCodes {
    pub codes: BulkCodes,
    rows: Vec<(String, Uuid, i64)>,
    now: i64,
}

/// Stores prepared codes, replacing the earlier unused codes of the same people: from now on
/// these are the ones that work.
pub async fn commit_codes(storage: &dyn Storage, prepared: PreparedCodes) -> Result<BulkCodes> {
    let mut codes = prepared.codes;
    codes.replaced = storage.replace_enrolment_codes(&prepared.rows, prepared.now).await?;
    Ok(codes)
}

/// A code for every person at or under a place who has no enrolled device (or everyone, with
/// `include_enrolled`), made but not stored: [`commit_codes`] stores them (an operator's act:
/// the command line; over HTTP through [`County::issue_codes`]).
pub async fn prepare_codes(storage: &dyn Storage, req: &BulkCodeRequest) -> Result<PreparedCodes> {
    let structure = storage.structure(false).await?;
    let people = people_under(&structure, Some(req.node), false)?;
    let enrolled: HashSet<Uuid> =
        storage.devices(None).await?.into_iter().filter(|d| d.revoked_at.is_none()).map(|d| d.account).collect();
    let now = chrono::Utc::now().timestamp_millis();
    let expires_at = now + CODE_LIFETIME_MS;
    let mut codes = Vec::new();
    let mut rows = Vec::new();
    let mut skipped_enrolled = 0;
    for (a, place) in people {
        if !req.include_enrolled && enrolled.contains(&a.id) {
            skipped_enrolled += 1;
            continue;
        }
        let code = auth::new_enrolment_code();
        rows.push((auth::hash_secret(&auth::normalize_code(&code)), a.id, expires_at));
        codes.push(IssuedCode { account: a.id, name: a.name, role: a.role, place, code, expires_at });
    }
    Ok(PreparedCodes { codes: BulkCodes { codes, replaced: 0, skipped_enrolled, sheet: None }, rows, now })
}

/// Revokes every unused code of the people at or under a place.
pub async fn revoke_codes(storage: &dyn Storage, node: Uuid) -> Result<BulkRevoked> {
    let structure = storage.structure(false).await?;
    let accounts: Vec<Uuid> = people_under(&structure, Some(node), false)?.into_iter().map(|(a, _)| a.id).collect();
    let revoked = storage.revoke_codes_of(&accounts, chrono::Utc::now().timestamp_millis()).await?;
    tracing::info!(%node, revoked, "enrolment codes revoked in bulk");
    Ok(BulkRevoked { revoked })
}

/// How a sheet is headed, and the server's address printed on it and put in its QR codes.
#[derive(Debug, Clone)]
pub struct Sheet {
    pub title: String,
    pub server_url: Option<String>,
}

impl Sheet {
    /// The longest server address a sheet takes (a QR code holds it with the code).
    pub const MAX_URL: usize = 200;

    pub fn new(title: impl Into<String>, server_url: Option<String>) -> Result<Sheet> {
        let server_url = server_url.map(|u| u.trim().trim_end_matches('/').to_string()).filter(|u| !u.is_empty());
        if let Some(u) = &server_url
            && (u.len() > Self::MAX_URL || !(u.starts_with("https://") || u.starts_with("http://")))
        {
            return Err(Error::bad(
                Code::MalformedQuery,
                "the server address is an http(s) URL of at most 200 characters",
            ));
        }
        Ok(Sheet { title: title.into(), server_url })
    }
}

/// What a QR code on the sheet holds: the server's address and the code, for the app to fill in
/// both (`gridkeeper:enrol?server=…&code=…`), or the code alone when no address is given.
pub fn qr_payload(server_url: Option<&str>, code: &str) -> String {
    match server_url {
        Some(url) => format!("gridkeeper:enrol?server={url}&code={code}"),
        None => code.to_string(),
    }
}

/// The printable sheet: one card per person with their name, role, place, code, QR code and
/// expiry, eight to an A4 page. The HTML escapes every name (maud); it loads nothing from
/// elsewhere, so it prints offline.
pub fn codes_sheet(codes: &BulkCodes, sheet: &Sheet) -> Result<String> {
    use maud::{DOCTYPE, PreEscaped, html};
    let (title, server_url) = (sheet.title.as_str(), sheet.server_url.as_deref());
    let mut cards = Vec::with_capacity(codes.codes.len());
    for c in &codes.codes {
        let qr = qrcode::QrCode::with_error_correction_level(qr_payload(server_url, &c.code), qrcode::EcLevel::M)
            .map_err(Error::internal)?;
        let svg = qr.render::<qrcode::render::svg::Color<'_>>().min_dimensions(120, 120).quiet_zone(true).build();
        let expires = chrono::DateTime::from_timestamp_millis(c.expires_at)
            .map(|t| {
                t.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8"))
                    .format("%Y-%m-%d %H:%M")
                    .to_string()
            })
            .unwrap_or_default();
        cards.push(html! {
            div.card {
                div.qr { (PreEscaped(svg)) }
                div.who {
                    div.name { (c.name) }
                    div.role { (c.role.title()) }
                    div.place { (c.place) }
                    div.code { (c.code) }
                    div.note { "有效期至 " (expires) "（北京时间），只能使用一次" }
                    div.note { "Valid until " (expires) " (UTC+8), once" }
                }
            }
        });
    }
    let page = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                title { (title) }
                style { (PreEscaped(SHEET_CSS)) }
            }
            body {
                h1 { (title) }
                p.lead {
                    "在“网格通”应用的登记页输入服务器地址和本人的登记码（或扫描二维码）。请当面发放，丢失请报县管理员作废。"
                    br;
                    "Enter the server address and your code in the app's enrolment page (or scan the QR code). Hand out in person; report a lost sheet to the county administrator."
                    @if let Some(url) = server_url { br; "服务器 Server: " code { (url) } }
                }
                div.cards { @for card in cards { (card) } }
            }
        }
    };
    Ok(page.into_string())
}

const SHEET_CSS: &str = "
@page { size: A4; margin: 12mm; }
body { font-family: 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif; color: #111; }
h1 { font-size: 18pt; margin: 0 0 4mm; }
p.lead { font-size: 9pt; color: #444; margin: 0 0 6mm; }
div.cards { display: grid; grid-template-columns: 1fr 1fr; gap: 4mm; }
div.card { display: flex; gap: 4mm; border: 1px dashed #888; padding: 4mm; break-inside: avoid; height: 52mm; box-sizing: border-box; }
div.qr svg { width: 36mm; height: 36mm; }
div.name { font-size: 16pt; font-weight: bold; }
div.role, div.place { font-size: 10pt; color: #333; }
div.code { font-family: 'DejaVu Sans Mono', monospace; font-size: 18pt; letter-spacing: 1px; margin: 2mm 0; }
div.note { font-size: 8pt; color: #555; }
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::NodeSetup;

    fn node(kind: NodeKind, name: &str, parent: Option<Uuid>) -> NodeSetup {
        NodeSetup {
            node: Node { id: Uuid::now_v7(), kind, name: name.into(), parent, township: None, village: None },
            code: None,
            boundary: None,
        }
    }

    #[test]
    fn people_under_a_place_are_its_own_and_its_children_but_no_administrator() {
        let county = node(NodeKind::County, "沂水县", None);
        let town = node(NodeKind::Township, "沂城街道", Some(county.node.id));
        let other = node(NodeKind::Township, "许家湖镇", Some(county.node.id));
        let village = node(NodeKind::Village, "东坡村", Some(town.node.id));
        let grid = node(NodeKind::Grid, "东坡村第1网格", Some(village.node.id));
        let person = |name: &str, role, at: &NodeSetup| Account {
            id: Uuid::now_v7(),
            name: name.into(),
            role,
            node: at.node.id,
        };
        let s = Structure {
            accounts: vec![
                person("王芳", Role::GridWorker, &grid),
                person("综治", Role::TownshipStaff, &town),
                person("外镇", Role::TownshipStaff, &other),
                person("管理员", Role::CountyAdmin, &county),
                person("县中心", Role::CountyStaff, &county),
            ],
            nodes: vec![county.clone(), town.clone(), other, village, grid],
        };
        let names = |at: Uuid| {
            people_under(&s, Some(at), false)
                .unwrap()
                .into_iter()
                .map(|(a, p)| format!("{}@{p}", a.name))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(town.node.id), vec!["综治@沂城街道", "王芳@沂城街道 / 东坡村 / 东坡村第1网格"]);
        assert_eq!(names(county.node.id).len(), 4, "everyone but the administrator");
        assert!(people_under(&s, Some(Uuid::now_v7()), false).is_err());
        // The administrator's list of accounts: everyone, the administrator too.
        let all = people_under(&s, None, true).unwrap();
        assert_eq!(all.len(), 5);
        assert!(all.iter().any(|(a, p)| a.role == Role::CountyAdmin && p == &county.node.name));
    }

    #[test]
    fn the_sheet_escapes_names_and_carries_a_qr_code_per_person() {
        let codes = BulkCodes {
            codes: vec![IssuedCode {
                account: Uuid::now_v7(),
                name: "<script>alert(1)</script>".into(),
                role: Role::GridWorker,
                place: "沂城街道".into(),
                code: "ABCD-EFGH-JKLM".into(),
                expires_at: 1_800_000_000_000,
            }],
            replaced: 0,
            skipped_enrolled: 0,
            sheet: None,
        };
        let sheet = Sheet::new("沂城街道 登记码", Some("https://gk.example/".into())).unwrap();
        let html = codes_sheet(&codes, &sheet).unwrap();
        assert!(!html.contains("<script>"), "names are escaped");
        assert!(html.contains("&lt;script&gt;"));
        assert_eq!(html.matches("<svg").count(), 1);
        assert!(html.contains("ABCD-EFGH-JKLM") && html.contains("专职网格员"));
        assert!(Sheet::new("t", Some(format!("https://{}", "a".repeat(300)))).is_err());
        assert!(Sheet::new("t", Some("javascript:alert(1)".into())).is_err());
    }
}
