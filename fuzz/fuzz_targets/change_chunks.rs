#![no_main]
//! A selector byte, then an Automerge chunk, compressed or not, through the pipeline's admission
//! of a device's change: a compressed chunk (a DEFLATE bomb) is refused from its header and
//! never inflated. Run with a memory ceiling and long inputs (scripts/fuzz), or bombs stay
//! invisible. The logic lives in `sync_protocol::fuzzing` so `cargo test` replays the corpus too.

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    // As validate_change: automerge's own panics on undecodable bytes are caught and refused.
    init: drop(std::panic::take_hook()),
    |data: &[u8]| sync_protocol::fuzzing::change_chunks(data)
);
