//! Replays the fuzz targets' kept corpus (`fuzz/corpus/<target>/`) and every crasher ever found
//! (`fuzz/regressions/<target>/`) through the same harness the fuzz targets run, on the stable
//! toolchain, so a regression fails the ordinary test run. `scripts/fuzz` runs the targets.

use std::path::{Path, PathBuf};

use sync_protocol::fuzzing;

type Target = fn(&[u8]);
const TARGETS: [(&str, Target); 4] = [
    ("wire_decode", fuzzing::wire_decode),
    ("validate_change", fuzzing::validate_change),
    ("validate_plan", fuzzing::validate_plan),
    ("change_chunks", fuzzing::change_chunks),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

fn replay(kind: &str, minimum: usize) {
    for (name, run) in TARGETS {
        let files = inputs(&fuzz_dir().join(kind).join(name));
        assert!(files.len() >= minimum, "{kind}/{name}: expected at least {minimum} inputs, found {}", files.len());
        for f in files {
            let data = std::fs::read(&f).unwrap();
            // One input at a time, so a failure names its file.
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                panic!("{kind}/{name}: {} fails", f.display());
            }
        }
    }
}

#[test]
fn kept_corpus_replays() {
    replay("corpus", 1);
}

#[test]
fn every_crasher_found_stays_fixed() {
    replay("regressions", 0);
}

#[test]
fn seeds_are_real_messages_and_accepted_changes() {
    let seeds = fuzzing::corpus_seeds();
    for (target, input) in &seeds {
        let run = TARGETS.iter().find(|(n, _)| n == target).expect("a known target").1;
        run(input);
    }
    // The seeded edits are real changes the server accepts, so the change target starts deep.
    let seed = fuzzing::seed();
    let mut accepted = 0;
    for (_, input) in seeds.iter().filter(|(t, _)| *t == "validate_change") {
        let (collection, role) = fuzzing::selector(input[0]);
        let change = automerge::Change::try_from(&input[1..]).unwrap();
        let author = sync_protocol::org::Author {
            account: fuzzing::SEED_ACCOUNT,
            device: fuzzing::SEED_DEVICE,
            role,
            node: None,
        };
        let mut d = seed.doc(collection).clone();
        let outcome = fuzzing::ingest(&mut d, collection, &change, &author).unwrap();
        assert!(matches!(outcome, sync_protocol::pipeline::Outcome::Applied(_)), "{outcome:?}");
        accepted += 1;
    }
    assert_eq!(accepted, 8);
    let request = seeds.iter().find(|(t, i)| *t == "wire_decode" && i.len() > 40).unwrap();
    assert_eq!(sync_protocol::wire::SyncRequest::decode(&request.1).unwrap().changes.len(), 4);
}

/// Writes the seeds into `fuzz/corpus/` (run once by hand; the kept corpus is minimised after
/// fuzzing): `cargo test -p sync-protocol --test fuzz_corpus -- --ignored write_seed_corpus`.
#[test]
#[ignore = "writes files into fuzz/corpus"]
fn write_seed_corpus() {
    for (i, (target, input)) in fuzzing::corpus_seeds().into_iter().enumerate() {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{i:02}")), input).unwrap();
    }
}

/// Validates the change in a kept `validate_change` input against its seeded document.
fn validate_kept(path: &str) -> Result<sync_protocol::doc::ChangeSummary, sync_protocol::ValidationError> {
    let data = std::fs::read(fuzz_dir().join(path)).unwrap();
    let (collection, role) = fuzzing::selector(data[0]);
    let change = automerge::Change::try_from(&data[1..]).expect("the crasher parses as a change");
    let author =
        sync_protocol::org::Author { account: fuzzing::SEED_ACCOUNT, device: fuzzing::SEED_DEVICE, role, node: None };
    sync_protocol::doc::validate_change(fuzzing::seed().doc(collection), collection, &change, &author)
}

/// Found by fuzzing: the same operations in other bytes (or under a wrong checksum) came back
/// under another hash once the server saved the document, orphaning what builds on them.
#[test]
fn a_change_not_in_automerge_encoding_is_refused() {
    let e = validate_kept("regressions/validate_change/non-canonical-encoding-changes-hash-on-save").unwrap_err();
    assert_eq!(e.code, sync_protocol::ValidationCode::UnsupportedOperation);
    // A real change with one checksum byte changed: it parses, but other devices could not load it.
    let (_, mut input) = fuzzing::corpus_seeds().into_iter().find(|(t, _)| *t == "validate_change").unwrap();
    input[5] ^= 0xff;
    let (collection, role) = fuzzing::selector(input[0]);
    let change = automerge::Change::try_from(&input[1..]).unwrap();
    let author =
        sync_protocol::org::Author { account: fuzzing::SEED_ACCOUNT, device: fuzzing::SEED_DEVICE, role, node: None };
    let e = sync_protocol::doc::validate_change(fuzzing::seed().doc(collection), collection, &change, &author);
    assert_eq!(e.unwrap_err().code, sync_protocol::ValidationCode::UnsupportedOperation);
}

/// Found by fuzzing: an operation naming an actor the change does not list parsed, then
/// panicked in automerge's `Change::decode` inside the server's sync handler.
#[test]
fn a_change_whose_operations_cannot_be_decoded_is_refused() {
    let e = validate_kept("regressions/validate_change/actor-index-out-of-range-panics-decode").unwrap_err();
    assert_eq!(e.code, sync_protocol::ValidationCode::UnsupportedOperation);
}

/// Found by fuzzing: automerge's column encoding overflows on a change time far from the
/// document's others; no device clock is that far off.
#[test]
fn an_implausible_change_time_is_refused() {
    use automerge::ReadDoc;
    use automerge::transaction::{CommitOptions, Transactable};
    let seed = fuzzing::seed();
    let d = seed.doc(sync_protocol::schema::Collection::Houses);
    let mut fork = d.fork().with_actor(sync_protocol::doc::actor_for(seed.worker.device, 0));
    let house = d.get(automerge::ROOT, d.keys(automerge::ROOT).next().unwrap()).unwrap().unwrap().1;
    let mut tx = fork.transaction();
    tx.put(house, "rented", true).unwrap();
    let meta = sync_protocol::doc::ChangeMeta { account: seed.worker.account, device: seed.worker.device };
    let (hash, _) = tx.commit_with(CommitOptions::default().with_message(meta.message()).with_time(-1));
    let change = fork.get_change_by_hash(&hash.unwrap()).unwrap();
    let e = sync_protocol::doc::validate_change(d, sync_protocol::schema::Collection::Houses, &change, &seed.worker);
    assert_eq!(e.unwrap_err().code, sync_protocol::ValidationCode::OutOfRange);
}

/// Found by fuzzing: an operation counter beyond 32 bits panicked inside automerge's own
/// `Change::try_from`; `doc::parse_change` turns that into "not a change".
#[test]
fn bytes_that_panic_automerge_s_parser_are_not_a_change() {
    let data =
        std::fs::read(fuzz_dir().join("regressions/validate_change/pred-actor-index-out-of-range-aborts-decode"));
    assert!(sync_protocol::doc::parse_change(&data.unwrap()[1..]).is_none());
}

/// Found by fuzzing (CI, 2026-11-30): 437 bytes headed as an Automerge bundle (chunk type 3).
/// automerge 0.12 expands a bundle's run-length columns into vectors before it finds the chunk is
/// not a change — this one asked for more than 512 MB. Only a plain change chunk is parsed.
#[test]
fn a_bundle_chunk_is_not_parsed_as_a_change() {
    let data = std::fs::read(fuzz_dir().join("regressions/validate_change/bundle-chunk-expands-run-length-columns"));
    let bytes = &data.unwrap()[1..];
    assert_eq!(bytes[8], 3, "the kept input is headed as a bundle");
    assert!(!sync_protocol::doc::is_change_chunk(bytes));
    assert!(sync_protocol::doc::parse_change(bytes).is_none());
}

/// Found by fuzzing: a change naming an author (automerge 0.12's optional field, which no
/// device sets) at a sequence number past 1 passed every check, then failed an assertion inside
/// automerge while being applied: the server's sync worker panicked. It is refused now, before
/// automerge sees it; a panic automerge still has in it is caught (`pipeline::apply_guarded`).
#[test]
fn a_change_naming_an_author_is_refused_not_panicked_on() {
    let data = std::fs::read(fuzz_dir().join("regressions/validate_change/author-past-the-first-change")).unwrap();
    let (collection, role) = fuzzing::selector(data[0]);
    let change = sync_protocol::doc::parse_change(&data[1..]).expect("the crasher parses as a change");
    assert!(change.author().is_some() && change.seq() > 1);
    let meta = sync_protocol::doc::ChangeMeta::parse(change.message()).expect("it names its account");
    let author = sync_protocol::org::Author {
        account: meta.account,
        device: sync_protocol::doc::device_of_actor(change.actor_id()).unwrap(),
        role,
        node: None,
    };
    let mut doc = fuzzing::seed().doc(collection).clone();
    let heads = doc.get_heads();
    let got = sync_protocol::pipeline::Ingest::default().offer(&mut doc, collection, &change, &author).unwrap();
    match got {
        sync_protocol::pipeline::Outcome::Refused(r) => assert_eq!(r.code.as_str(), "malformed_change"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(doc.get_heads(), heads, "the document is unchanged");
}
