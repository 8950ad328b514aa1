//! The staff console's built files (`console/dist`) are embedded in release builds: rebuild the
//! server when they change. Without them the server still builds and says at `/console/` how to
//! build them (`scripts/setup`, `scripts/test` and `scripts/demo` build the console first).
fn main() {
    // Cargo scans a watched folder whole; a missing one makes this run again at every build
    // until it exists (the server is then rebuilt each time: a reminder as much as a cost).
    println!("cargo::rerun-if-changed=../console/dist");
    if !std::path::Path::new("../console/dist").is_dir() {
        println!(
            "cargo::warning=console/dist is missing: the server will answer /console/ with how to build it (cd console && npm ci && npm run build)"
        );
    }
}
