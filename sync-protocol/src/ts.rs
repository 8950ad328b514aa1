//! TypeScript declarations of every contract the app's screens and the console read (feature
//! `ts`): the records, the organisation, the app's and the API's types, the error codes and the
//! schema's enumerations, rendered into one file by [`render`]. `ui/src/generated/contract.ts`
//! is this output; a test in `tests/tests/contract_ts.rs` fails when it is out of date, and
//! `cargo run -p sync-protocol --features ts --bin contract-ts` writes it anew.
//!
//! Integers cross as JSON numbers, so 64-bit integers are `number` (times in milliseconds and
//! counts stay far below 2^53).

use ts_rs::{Config, TS};

use crate::error::{Code, ValidationCode};
use crate::schema;

/// The whole file.
pub fn render() -> String {
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from the Rust contracts in sync-protocol (src/ts.rs). Do not edit:\n\
         // cargo run -p sync-protocol --features ts --bin contract-ts\n\n",
    );
    // The schema's enumerations, as value lists and their union types.
    for (name, ty, values) in ENUMERATIONS {
        let list = values.iter().map(|v| format!("'{v}'")).collect::<Vec<_>>().join(", ");
        out.push_str(&format!("export const {name} = [{list}] as const\nexport type {ty} = (typeof {name})[number]\n"));
    }
    // Value lists of the enums the declarations below name.
    let list = |values: Vec<&str>| values.iter().map(|v| format!("'{v}'")).collect::<Vec<_>>().join(", ");
    out.push_str(&format!(
        "export const LEVELS = [{}] as const satisfies readonly Level[]\n",
        list(crate::org::Level::ALL.iter().map(|l| l.as_str()).collect())
    ));
    out.push_str(&format!(
        "export const DISPUTE_STATUSES = [{}] as const satisfies readonly DisputeStatus[]\n",
        list(crate::model::DisputeStatus::ALL.iter().map(|s| s.as_str()).collect())
    ));
    out.push('\n');
    let codes: Vec<String> = ValidationCode::ALL
        .iter()
        .map(|c| c.as_str())
        .chain(Code::ALL.iter().map(|c| c.as_str()))
        .map(|c| format!("'{c}'"))
        .collect();
    out.push_str("/** Every stable error code (`sync_protocol::error::ErrorCode`); 'unrecognised' is one from a newer peer. */\n");
    out.push_str(&format!("export type ErrorCode = {} | 'unrecognised'\n", codes.join(" | ")));
    out.push_str(&format!(
        "export const RETRYABLE_CODES: readonly ErrorCode[] = [{}]\n\n",
        Code::ALL
            .iter()
            .filter(|c| crate::ErrorCode::from(**c).is_retryable())
            .map(|c| format!("'{}'", c.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for decl in declarations(&cfg) {
        out.push_str("export ");
        out.push_str(&decl);
        out.push('\n');
    }
    out
}

const ENUMERATIONS: &[(&str, &str, &[&str])] = &[
    ("SEXES", "Sex", schema::SEXES),
    ("POPULATION_CATEGORIES", "PopulationCategory", schema::POPULATION_CATEGORIES),
    ("RELATIONS", "Relation", schema::RELATIONS),
    ("RESIDENT_ARCHIVE_REASONS", "ResidentArchiveReason", schema::RESIDENT_ARCHIVE_REASONS),
    ("HOUSE_ARCHIVE_REASONS", "HouseArchiveReason", schema::HOUSE_ARCHIVE_REASONS),
    ("STRUCTURES", "Structure", schema::STRUCTURES),
    ("HOUSE_USES", "HouseUse", schema::HOUSE_USES),
    ("CLEAR_STATUSES", "ClearStatus", schema::CLEAR_STATUS),
    ("FIVE_CLEARS", "ClearKey", schema::FIVE_CLEARS),
    ("DISPUTE_CLASSES", "DisputeClass", schema::DISPUTE_CLASSES),
    ("DISPUTE_CATEGORIES", "DisputeCategory", schema::DISPUTE_CATEGORIES),
    ("ACTION_KINDS", "ActionKind", schema::ACTION_KINDS),
    ("SATISFACTION", "Satisfaction", schema::SATISFACTION),
];

fn declarations(cfg: &Config) -> Vec<String> {
    use crate::{api, app, doc, model, org};
    vec![
        serde_json::Value::decl(cfg),
        org::Role::decl(cfg),
        org::Level::decl(cfg),
        org::NodeKind::decl(cfg),
        org::Node::decl(cfg),
        org::Account::decl(cfg),
        org::Device::decl(cfg),
        org::GridInfo::decl(cfg),
        crate::schema::Collection::decl(cfg),
        doc::DocKey::decl(cfg),
        doc::Edit::decl(cfg),
        doc::Conflict::decl(cfg),
        doc::ConflictValue::decl(cfg),
        doc::HistoryEntry::decl(cfg),
        model::Resident::decl(cfg),
        model::ResidentSummary::decl(cfg),
        model::House::decl(cfg),
        model::ClearItem::decl(cfg),
        model::FiveClears::decl(cfg),
        model::Visit::decl(cfg),
        model::Party::decl(cfg),
        model::Action::decl(cfg),
        model::Dispute::decl(cfg),
        model::DisputeStatus::decl(cfg),
        model::Assignment::decl(cfg),
        model::Supervision::decl(cfg),
        model::DeadlineKind::decl(cfg),
        model::Contradiction::decl(cfg),
        model::DisputeState::decl(cfg),
        model::TimeLimit::decl(cfg),
        model::TimeLimits::decl(cfg),
        model::CountySettings::decl(cfg),
        crate::error::ErrorBody::decl(cfg),
        api::EnrolRequest::decl(cfg),
        api::EnrolResponse::decl(cfg),
        api::Me::decl(cfg),
        api::NewAccount::decl(cfg),
        api::CodeRequest::decl(cfg),
        api::RevokeCodeRequest::decl(cfg),
        api::CodeResponse::decl(cfg),
        api::BlobState::decl(cfg),
        api::ResidentQuery::decl(cfg),
        api::DisputeQuery::decl(cfg),
        api::DisputeList::decl(cfg),
        api::GridFilter::decl(cfg),
        api::DisputeView::decl(cfg),
        api::NewAction::decl(cfg),
        api::DisputeEvent::decl(cfg),
        api::FiguresQuery::decl(cfg),
        api::FigureGroup::decl(cfg),
        api::FigureRow::decl(cfg),
        api::DisputeFigures::decl(cfg),
        api::Overview::decl(cfg),
        api::ReadKind::decl(cfg),
        api::MaskedField::decl(cfg),
        api::RevealRequest::decl(cfg),
        api::Revealed::decl(cfg),
        api::AuditEntry::decl(cfg),
        api::AuditQuery::decl(cfg),
        api::ImportSummary::decl(cfg),
        api::RosterCode::decl(cfg),
        api::Reason::decl(cfg),
        api::Problem::decl(cfg),
        api::RosterReport::decl(cfg),
        api::SettingsChanged::decl(cfg),
        api::Place::decl(cfg),
        api::LogIn::decl(cfg),
        api::SessionView::decl(cfg),
        api::BulkCodeRequest::decl(cfg),
        api::IssuedCode::decl(cfg),
        api::BulkCodes::decl(cfg),
        api::BulkRevoked::decl(cfg),
        api::AccountQuery::decl(cfg),
        api::AccountRow::decl(cfg),
        api::SessionsEnded::decl(cfg),
        api::StructureNode::decl(cfg),
        api::MapGrid::decl(cfg),
        api::MapQuery::decl(cfg),
        api::AreaQuery::decl(cfg),
        api::DisputeCounts::decl(cfg),
        api::SecondFactorState::decl(cfg),
        api::SecondFactorSetup::decl(cfg),
        api::SecondFactorCode::decl(cfg),
        api::SecondFactorRoles::decl(cfg),
        api::SetPassword::decl(cfg),
        app::IdentityView::decl(cfg),
        app::LockState::decl(cfg),
        app::EnrolHint::decl(cfg),
        app::NewDispute::decl(cfg),
        app::NewParty::decl(cfg),
        app::NewVisit::decl(cfg),
        app::Quarantined::decl(cfg),
        app::InboxItem::decl(cfg),
        app::Workbench::decl(cfg),
        app::SyncReport::decl(cfg),
        app::SyncStatus::decl(cfg),
        app::DownloadProgress::decl(cfg),
    ]
}
