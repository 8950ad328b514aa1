//! Writes the contracts' TypeScript declarations (`sync_protocol::ts::render`) to the files the
//! field app's UI and the staff console import: `cargo run -p sync-protocol --features ts --bin
//! contract-ts`. A test fails while either file in the repository differs from what this writes.

/// The generated files, relative to the workspace: the same declarations for both front ends.
const TARGETS: [&str; 2] = ["ui/src/generated/contract.ts", "console/src/generated/contract.ts"];

fn main() -> std::io::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = sync_protocol::ts::render();
    for target in TARGETS {
        let path = root.join(target);
        std::fs::create_dir_all(path.parent().expect("a parent directory"))?;
        std::fs::write(&path, &text)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
