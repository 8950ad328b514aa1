#![no_main]
//! Every decode entry point of the sync endpoint on arbitrary bytes; what decodes round-trips.
//! The logic lives in `sync_protocol::fuzzing` so `cargo test` replays the corpus too.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sync_protocol::fuzzing::wire_decode(data));
