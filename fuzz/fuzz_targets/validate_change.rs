#![no_main]
//! A selector byte (collection, role), then arbitrary bytes as an Automerge change, through the
//! server's checks, validation and apply against a seeded grid.
//! The logic lives in `sync_protocol::fuzzing` so `cargo test` replays the corpus too.

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    // The default hook again instead of libFuzzer's abort-on-panic: the validator catches
    // automerge's panics on undecodable changes and refuses them. Any other panic still unwinds
    // to libFuzzer, which reports it as a crash.
    init: drop(std::panic::take_hook()),
    |data: &[u8]| sync_protocol::fuzzing::validate_change(data)
);
