// The desktop entry point; Android and iOS start from `gridkeeper_app::run` (see lib.rs).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    gridkeeper_app::run();
}
