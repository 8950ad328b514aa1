//! The TypeScript contract of the field app's UI and of the staff console
//! (`ui/src/generated/contract.ts`, `console/src/generated/contract.ts`) is generated from the
//! Rust types in `sync-protocol`; this fails while either file in the repository says something
//! else, so no side can change a shape without the others seeing it. The test only reads.

#[test]
fn the_typescript_contracts_are_what_the_rust_types_say() {
    let generated = sync_protocol::ts::render();
    for target in ["ui/src/generated/contract.ts", "console/src/generated/contract.ts"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(target);
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        if on_disk != generated {
            let first = on_disk.lines().zip(generated.lines()).position(|(a, b)| a != b);
            panic!(
                "{} is out of date (first difference at line {}); write it anew with\n  cargo run -p sync-protocol --features ts --bin contract-ts",
                path.display(),
                first.map_or_else(|| "the end".to_string(), |l| (l + 1).to_string())
            );
        }
    }
}
