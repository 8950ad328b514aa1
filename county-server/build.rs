//! The staff console's built files (`console/dist`) are embedded in release builds: rebuild the
//! server when they change. Without them the server still builds and says at `/console/` how to
//! build them (`scripts/setup` and `scripts/test` build the console before the server).
fn main() {
    let dist = std::path::Path::new("../console/dist");
    if dist.is_dir() {
        println!("cargo::rerun-if-changed=../console/dist");
    } else {
        // Appears once built: watch the folder it appears in (not recursively into node_modules:
        // a directory's own modification time changes when an entry is added).
        println!("cargo::rerun-if-changed=../console/package.json");
        println!("cargo::rerun-if-changed=../console");
        println!(
            "cargo::warning=console/dist is missing: the server will answer /console/ with how to build it (cd console && npm ci && npm run build)"
        );
    }
}
