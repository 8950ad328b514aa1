//! The UI's TypeScript contract (`ui/src/generated/contract.ts`) is generated from the Rust
//! types in `sync-protocol`; this fails while the file in the repository says something else,
//! so neither side can change a shape without the other seeing it. The test only reads.

#[test]
fn the_ui_typescript_contract_is_what_the_rust_types_say() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/generated/contract.ts");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = sync_protocol::ts::render();
    if on_disk != generated {
        let first = on_disk.lines().zip(generated.lines()).position(|(a, b)| a != b);
        panic!(
            "{} is out of date (first difference at line {}); write it anew with\n  cargo run -p sync-protocol --features ts --bin contract-ts",
            path.display(),
            first.map_or_else(|| "the end".to_string(), |l| (l + 1).to_string())
        );
    }
}
