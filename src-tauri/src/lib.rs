//! # gridkeeper-app
//!
//! The Tauri 2 shell of the field app. It only registers commands (one-line wrappers over
//! `field-core`, in [`commands`], whose contract with the UI is [`contract`]) and runs the
//! background sync ([`sync_loop`]); all domain logic lives in `field-core` and `sync-protocol`,
//! which also run headless.

pub mod commands;
pub mod contract;
pub mod error;
pub mod state;
pub mod sync_loop;

use tauri::Manager;

#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    tauri::Builder::default()
        .setup(|app| {
            // GRIDKEEPER_DATA_DIR lets tests and demos keep the device's files elsewhere.
            let dir = match std::env::var_os("GRIDKEEPER_DATA_DIR") {
                Some(d) => std::path::PathBuf::from(d),
                None => app.path().app_data_dir()?,
            };
            std::fs::create_dir_all(&dir)?;
            app.manage(state::AppState::new(dir));
            sync_loop::start(app.handle().clone());
            sync_loop::start_idle_lock(app.handle().clone());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::lock_state,
            commands::identity,
            commands::enrol_hint,
            commands::enrol,
            commands::set_pin,
            commands::unlock,
            commands::lock,
            commands::touch,
            commands::workbench,
            commands::list_residents,
            commands::get_resident,
            commands::create_resident,
            commands::update_resident,
            commands::archive_resident,
            commands::move_resident,
            commands::list_houses,
            commands::get_house,
            commands::create_house,
            commands::update_house,
            commands::record_visit,
            commands::list_visits,
            commands::report_dispute,
            commands::list_disputes,
            commands::get_dispute,
            commands::add_dispute_action,
            commands::list_inbox,
            commands::mark_inbox_read,
            commands::sync_now,
            commands::sync_status,
            commands::list_conflicts,
            commands::settle_conflict,
            commands::list_quarantine,
            commands::discard_quarantined,
            commands::reenter_quarantined,
            commands::history,
            commands::add_photo,
            commands::get_photo,
            commands::list_places,
        ])
        .run(tauri::generate_context!())
        .expect("error while running the Gridkeeper field app");
}
