//! Writes the contracts' TypeScript declarations (`sync_protocol::ts::render`) to the file the
//! UI imports: `cargo run -p sync-protocol --features ts --bin contract-ts`. A test fails while
//! the file in the repository differs from what this writes.

fn main() -> std::io::Result<()> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/generated/contract.ts");
    std::fs::create_dir_all(path.parent().expect("a parent directory"))?;
    std::fs::write(&path, sync_protocol::ts::render())?;
    println!("wrote {}", path.display());
    Ok(())
}
