//! The app's command contract: every command the UI may invoke, with its arguments and its
//! answer, listed once. The list is checked against the commands themselves at compile time
//! (`signatures`: a command whose arguments or answer differ does not compile) and against the
//! registered handlers by a test, and it is what `ui/src/generated/commands.ts` says, so the
//! UI's calls and its mock backend are typed by the real commands.

#[cfg(test)]
use std::fmt::Write;

use serde_json::{Map, Value};
use sync_protocol::api::{DisputeView, NewAction, Place, ResidentQuery};
use sync_protocol::app::{
    EnrolHint, IdentityView, InboxItem, LockState, NewDispute, NewVisit, Quarantined, SyncReport, SyncStatus, Workbench,
};
use sync_protocol::doc::{Conflict, HistoryEntry};
use sync_protocol::model::{House, Resident, ResidentSummary, Visit};
use sync_protocol::schema::Collection;
use uuid::Uuid;

/// A command's answer in TypeScript: its type's own name, or the override given in the list
/// (for answers that are not JSON, such as a photo's raw bytes).
#[cfg(test)]
macro_rules! ts_result {
    ($cfg:expr, $ret:ty, $ts:literal) => {
        $ts.to_string()
    };
    ($cfg:expr, $ret:ty,) => {
        <$ret as ts_rs::TS>::name($cfg)
    };
}

macro_rules! commands {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty $(as $ts:literal)?;)*) => {
        /// Each command, called with exactly the listed argument types, must answer exactly the
        /// listed type: this module does not compile otherwise.
        #[allow(dead_code)]
        mod signatures {
            use super::*;
            use crate::error::CmdError;
            use crate::state::AppState;
            $(
                pub fn $name(
                    st: tauri::State<'_, AppState>,
                    $($arg: $ty),*
                ) -> impl std::future::Future<Output = Result<$ret, CmdError>> + '_ {
                    crate::commands::$name(st, $($arg),*)
                }
            )*
        }

        /// The commands' names, in the order of the list.
        pub const NAMES: &[&str] = &[$(stringify!($name)),*];

        /// The `Commands` interface of `ui/src/generated/commands.ts`. Argument names are
        /// camelCase, as Tauri expects them from JavaScript.
        #[cfg(test)]
        pub fn typescript(cfg: &ts_rs::Config) -> String {
            use ts_rs::TS;
            let mut out = String::from("export interface Commands {\n");
            $(
                let args: Vec<String> = vec![$(format!("{}: {}", camel(stringify!($arg)), <$ty as TS>::name(cfg))),*];
                let result: String = ts_result!(cfg, $ret, $($ts)?);
                writeln!(out, "  {}: {{ args: {{ {} }}; result: {} }}", stringify!($name), args.join("; "), result)
                    .expect("writes to a string");
            )*
            out.push_str("}\n");
            out
        }
    };
}

/// `device_name` → `deviceName`.
#[cfg(test)]
fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

commands! {
    lock_state() -> LockState;
    enrol_hint() -> EnrolHint;
    identity() -> Option<IdentityView>;
    enrol(server: String, code: String, device_name: String) -> IdentityView;
    set_pin(pin: String) -> ();
    unlock(pin: String) -> ();
    lock() -> ();
    touch() -> ();
    workbench() -> Workbench;
    list_residents(query: ResidentQuery) -> Vec<ResidentSummary>;
    get_resident(id: Uuid) -> Resident;
    create_resident(resident: Resident) -> ();
    update_resident(id: Uuid, fields: Map<String, Value>) -> ();
    archive_resident(id: Uuid, reason: String, on: String) -> ();
    move_resident(id: Uuid, house: Option<Uuid>) -> ();
    list_houses() -> Vec<House>;
    get_house(id: Uuid) -> House;
    create_house(house: House) -> ();
    update_house(id: Uuid, fields: Map<String, Value>) -> ();
    record_visit(visit: NewVisit) -> Uuid;
    list_visits(since_ms: i64) -> Vec<Visit>;
    report_dispute(dispute: NewDispute) -> Uuid;
    list_disputes(open_only: bool) -> Vec<DisputeView>;
    get_dispute(id: Uuid) -> DisputeView;
    add_dispute_action(dispute: Uuid, action: NewAction) -> ();
    list_places() -> Vec<Place>;
    list_inbox() -> Vec<InboxItem>;
    mark_inbox_read(dispute: Uuid) -> ();
    sync_now() -> SyncReport;
    sync_status() -> SyncStatus;
    list_conflicts() -> Vec<Conflict>;
    settle_conflict(conflict: Conflict, value: Value) -> ();
    list_quarantine() -> Vec<Quarantined>;
    discard_quarantined(id: i64) -> ();
    reenter_quarantined(id: i64, fields: Map<String, Value>) -> ();
    history(collection: Collection, id: Uuid) -> Vec<HistoryEntry>;
    add_photo(bytes: Vec<u8>, mime: String) -> String;
    get_photo(hash: String) -> tauri::ipc::Response as "ArrayBuffer";
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ui/src/generated/commands.ts` as the list above makes it.
    fn render() -> String {
        let cfg = ts_rs::Config::new().with_large_int("number");
        let body = typescript(&cfg);
        // Import the contract's types that the interface names.
        let contract = sync_protocol::ts::render();
        let names: Vec<&str> = contract
            .lines()
            .filter_map(|l| l.strip_prefix("export type ").and_then(|r| r.split([' ', '=']).next()))
            .filter(|n| body.split(|c: char| !c.is_alphanumeric() && c != '_').any(|w| w == *n))
            .collect();
        format!(
            "// Generated from src-tauri/src/contract.rs (the app's commands). Do not edit: scripts/contract\n\
             import type {{ {} }} from './contract'\n\n{body}",
            names.join(", ")
        )
    }

    #[test]
    fn the_ui_commands_are_what_the_app_registers() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/generated/commands.ts");
        let rendered = render();
        // Written only when asked (scripts/contract): a test run never rewrites the file.
        if std::env::var_os("GRIDKEEPER_WRITE_CONTRACT").is_some() {
            std::fs::write(&path, &rendered).expect("writing commands.ts");
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(on_disk == rendered, "{} is out of date: run scripts/contract", path.display());

        // Every registered handler is in the list, and nothing else.
        let lib = include_str!("lib.rs");
        let start = lib.find("generate_handler![").expect("the handler list");
        let end = start + lib[start..].find(']').expect("its end");
        let mut registered: Vec<&str> = lib[start..end]
            .split(|c: char| c == ',' || c == '[' || c.is_whitespace())
            .filter_map(|w| w.strip_prefix("commands::"))
            .collect();
        let mut listed = NAMES.to_vec();
        registered.sort_unstable();
        listed.sort_unstable();
        assert_eq!(registered, listed, "the registered commands and the contract's list differ");
    }
}
