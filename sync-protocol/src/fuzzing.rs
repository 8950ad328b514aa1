//! (Long on purpose: the seeded grid, the generators of plans and raw operations, and the
//! invariants are one harness, shared by three fuzz targets and the corpus-replay test.)
//!
//! Fuzzing harness: what the fuzz targets in `fuzz/` do with each input, kept here so that an
//! ordinary `cargo test` (`tests/fuzz_corpus.rs`) replays the kept corpus and every past crasher
//! on the stable toolchain. Not part of the protocol's API; nothing in the device or the server
//! calls it.
//!
//! Every entry point takes arbitrary bytes and must never panic on them. It panics (a crash for
//! libFuzzer) only when an invariant breaks:
//! - [`wire_decode`]: a body either decodes or is refused with a [`crate::wire::WireError`]; what
//!   decodes encodes and decodes again to the same message.
//! - [`validate_change`]: bytes as an Automerge change (after a selector byte that picks the
//!   collection and the author's role), through the server's path ([`ingest`]).
//! - [`change_chunks`]: bytes as an Automerge chunk, compressed or not (a selector byte wraps
//!   them in a compressed-change header), through the pipeline's [`Ingest::admit`]: nothing is
//!   ever inflated, and what is admitted parses again from its own bytes.
//! - [`validate_plan`]: bytes as a plan of edits and hand-made operations that [`Source`] turns
//!   into real Automerge changes against a seeded grid ([`seed`]), so the validator's deeper
//!   paths are reached; each change goes through [`ingest`] too.
//!
//! [`ingest`] is the server's order of checks for one change (actor, author, dependencies,
//! [`doc::validate_change`], apply). After a change is accepted, every record it touched must
//! pass the schema as a whole record and read back as its typed struct, the validator must have
//! seen every record the change touched, and the document must save and load (snapshot and the
//! change's own bytes, as other devices receive them).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Automerge, Change, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use crate::doc::{self, ChangeMeta, ChangeSummary, DocKey, Edit};
use crate::model::{Dispute, House, Record, Resident, Visit};
use crate::org::{Author, Role};
use crate::pipeline::{Ingest, Outcome, Refused};
use crate::schema::{self, Collection, FieldDef, Kind};
use crate::validate;
use crate::wire::{SyncRequest, SyncResponse};

/// The time every seeded change carries (late 2025).
pub const SEED_TIME_MS: i64 = 1_764_000_000_000;

/// Reads choices from fuzz input. Once the input is used up every read returns zero, so a short
/// input still makes a complete (small) plan.
pub struct Source<'a> {
    data: &'a [u8],
}

impl<'a> Source<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        match n {
            0 | 1 => 0,
            2..=256 => usize::from(self.byte()) % n,
            _ => (usize::from(self.byte()) << 8 | usize::from(self.byte())) % n,
        }
    }

    pub fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    pub fn choose<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    pub fn u64(&mut self) -> u64 {
        (0..8).fold(0, |v, _| v << 8 | u64::from(self.byte()))
    }

    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = self.below(max + 1).min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    pub fn text(&mut self, max: usize) -> String {
        String::from_utf8_lossy(self.bytes(max)).into_owned()
    }

    pub fn uuid(&mut self) -> Uuid {
        let mut b = [0u8; 16];
        b.iter_mut().for_each(|x| *x = self.byte());
        uuid::Builder::from_random_bytes(b).into_uuid()
    }
}

// ---------------------------------------------------------------------------------------------
// Wire messages

/// Every decode entry point of the sync endpoint on arbitrary bytes.
pub fn wire_decode(data: &[u8]) {
    if let Ok(req) = SyncRequest::decode(data) {
        let again = SyncRequest::decode(&req.encode()).expect("a decoded request encodes and decodes");
        assert_eq!(again, req, "request changed in a round trip");
        for out in &req.changes {
            check_doc_key(out.doc);
            // The server's first look at each change; the validation targets go further.
            let _ = doc::parse_change(&out.bytes);
        }
    }
    if let Ok(resp) = SyncResponse::decode(data) {
        let again = SyncResponse::decode(&resp.encode()).expect("a decoded response encodes and decodes");
        assert_eq!(again, resp, "response changed in a round trip");
        for payload in &resp.docs {
            check_doc_key(payload.doc);
            // What a device does with a payload.
            let _ = Automerge::new().load_incremental(&payload.data);
        }
    }
    // Document keys also travel as text (device and server databases).
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(key) = s.parse::<DocKey>()
    {
        check_doc_key(key);
    }
    // And the range headers of document fetches: what reads writes back the same.
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(r) = crate::api::ByteRange::parse(s) {
            assert_eq!(crate::api::ByteRange::parse(&r.header()), Some(r), "range changed in a round trip");
        }
        if let Some(r) = crate::api::ContentRange::parse(s) {
            assert!(r.start <= r.end && r.end <= r.total, "{r:?}");
            assert_eq!(crate::api::ContentRange::parse(&r.header()), Some(r), "content range changed in a round trip");
        }
    }
}

fn check_doc_key(key: DocKey) {
    if key.is_valid() {
        assert_eq!(key.to_string().parse::<DocKey>().as_ref(), Ok(&key), "document key round trip");
    }
}

// ---------------------------------------------------------------------------------------------
// The seeded grid

/// A small grid as the demo county would have it: a few records of each collection, written by
/// one grid worker. Built deterministically (fixed ids, actor and time) so that kept corpus
/// changes depend on the same heads in every run.
pub struct Seed {
    pub grid: Uuid,
    pub worker: Author,
    /// One document per collection, in [`Collection::ALL`] order.
    pub docs: Vec<(DocKey, Automerge)>,
}

impl Seed {
    pub fn doc(&self, collection: Collection) -> &Automerge {
        &self.docs.iter().find(|(k, _)| k.collection == collection).expect("seeded").1
    }
    pub fn key(&self, collection: Collection) -> DocKey {
        self.docs.iter().find(|(k, _)| k.collection == collection).expect("seeded").0
    }
}

const fn id(n: u128) -> Uuid {
    // UUID v7 layout with a fixed 2025 timestamp, so the ids look like real record ids.
    Uuid::from_u128(0x019a_b000_0000_7000_8000_0000_0000_0000 | n)
}

pub const SEED_ACCOUNT: Uuid = id(0xa1);
pub const SEED_DEVICE: Uuid = id(0xd1);
/// Other accounts and devices plans may write as.
pub const ACCOUNTS: [Uuid; 3] = [SEED_ACCOUNT, id(0xa2), id(0xa3)];
pub const DEVICES: [Uuid; 3] = [SEED_DEVICE, id(0xd2), id(0xd3)];
const RESIDENTS: [Uuid; 2] = [id(0x101), id(0x102)];
const HOUSES: [Uuid; 2] = [id(0x201), id(0x202)];
const VISITS: [Uuid; 1] = [id(0x301)];
const DISPUTES: [Uuid; 2] = [id(0x401), id(0x402)];
const ENTRIES: [Uuid; 4] = [id(0x501), id(0x502), id(0x503), id(0x504)];

fn seeded_ids(collection: Collection) -> &'static [Uuid] {
    match collection {
        Collection::Residents => &RESIDENTS,
        Collection::Houses => &HOUSES,
        Collection::Visits => &VISITS,
        Collection::Disputes => &DISPUTES,
    }
}

/// A valid ID number for a birth date `yyyymmdd` (Yishui's region code).
pub fn id_number_for(birth: &str, seq: &str) -> String {
    let first17 = format!("371323{birth}{seq}");
    let c = validate::id_check_char(&first17).expect("17 digits");
    format!("{first17}{c}")
}

fn seed_records(collection: Collection) -> Vec<(Uuid, Map<String, Json>)> {
    let fine = json!({"status": "fine"});
    let v = match collection {
        Collection::Residents => vec![
            json!({"name": "张秀英", "sex": "female", "birth_date": "1962-04-18",
                "id_number": id_number_for("19620418", "024"), "phone": "13805390123", "ethnicity": "汉族",
                "categories": ["registered", "left_behind_elderly"], "relation": "head",
                "house_id": HOUSES[0].to_string(), "notes": "独居，子女在外务工"}),
            json!({"name": "李明", "sex": "male", "birth_date": "2015-09-01", "categories": []}),
        ],
        Collection::Houses => vec![
            json!({"township": "沂城街道", "village": "西关村", "street": "西关街", "door": "12号",
                "structure": "brick_concrete", "area": 120.5, "use": "residential", "owner": "张秀英",
                "rented": false, "lat": 35.79, "lng": 118.63}),
            json!({"township": "沂城街道", "village": "西关村", "door": "14号"}),
        ],
        Collection::Visits => vec![json!({"house_id": HOUSES[0].to_string(), "resident_id": RESIDENTS[0].to_string(),
            "at": SEED_TIME_MS - 3_600_000, "by": SEED_ACCOUNT.to_string(),
            "clears": {"household": fine, "population": fine, "hazards": {"status": "attention", "note": "电线老化"},
                "needs": fine, "attitude": fine},
            "needs": "希望安装扶手"})],
        Collection::Disputes => vec![
            json!({"class": "ordinary", "category": "neighbour", "place": "西关村村口",
                "description": "宅基地边界争执", "discovered_at": SEED_TIME_MS - 7_200_000,
                "reported_at": SEED_TIME_MS - 7_000_000, "reported_by": SEED_ACCOUNT.to_string(),
                "parties": [{"id": ENTRIES[0].to_string(), "resident_id": RESIDENTS[0].to_string(), "name": "张秀英"},
                    {"id": ENTRIES[1].to_string(), "name": "王五"}],
                "actions": [{"id": ENTRIES[2].to_string(), "kind": "report", "actor": SEED_ACCOUNT.to_string(),
                    "level": "grid", "at": SEED_TIME_MS - 7_000_000}],
                "photos": ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]}),
            json!({"class": "emergency", "category": "safety", "place": "东河桥", "description": "桥栏杆损坏",
                "discovered_at": SEED_TIME_MS - 600_000, "reported_at": SEED_TIME_MS - 500_000,
                "reported_by": SEED_ACCOUNT.to_string(), "parties": [],
                "actions": [{"id": ENTRIES[3].to_string(), "kind": "report", "actor": SEED_ACCOUNT.to_string(),
                    "level": "grid", "at": SEED_TIME_MS - 500_000}]}),
        ],
    };
    seeded_ids(collection).iter().copied().zip(v.into_iter().map(|j| j.as_object().expect("object").clone())).collect()
}

/// Writes fields in a fixed order (unlike `doc::make_change`'s batch insertion, whose order
/// follows a `HashMap`), making every container a record has.
fn write_fields<T: Transactable>(tx: &mut T, obj: &ObjId, defs: &[FieldDef], fields: &Map<String, Json>) {
    for def in defs {
        let v = fields.get(def.name);
        match (def.kind, v) {
            (Kind::Set(_), v) => {
                let set = tx.put_object(obj, def.name, ObjType::Map).expect("seed");
                for item in v.and_then(Json::as_array).into_iter().flatten().filter_map(Json::as_str) {
                    tx.put(&set, item, true).expect("seed");
                }
            }
            (Kind::Object(sub), Some(Json::Object(m))) => {
                let o = tx.put_object(obj, def.name, ObjType::Map).expect("seed");
                write_fields(tx, &o, sub, m);
            }
            (Kind::Entries(sub), v) => {
                let list = tx.put_object(obj, def.name, ObjType::Map).expect("seed");
                for e in v.and_then(Json::as_array).into_iter().flatten().filter_map(Json::as_object) {
                    let eid = e.get("id").and_then(Json::as_str).expect("entry id");
                    let o = tx.put_object(&list, eid, ObjType::Map).expect("seed");
                    write_fields(tx, &o, sub, e);
                }
            }
            (_, None | Some(Json::Null)) => {}
            (Kind::Timestamp, Some(j)) => {
                tx.put(obj, def.name, ScalarValue::Timestamp(j.as_i64().expect("ms"))).unwrap()
            }
            (Kind::Float { .. }, Some(j)) => tx.put(obj, def.name, j.as_f64().expect("float")).expect("seed"),
            (Kind::Bool, Some(j)) => tx.put(obj, def.name, j.as_bool().expect("bool")).expect("seed"),
            (_, Some(j)) => tx.put(obj, def.name, j.as_str().expect("string")).expect("seed"),
        }
    }
}

/// The seeded grid, built once per process.
pub fn seed() -> &'static Seed {
    static SEED: OnceLock<Seed> = OnceLock::new();
    SEED.get_or_init(|| {
        let grid = id(0x6);
        let worker = Author { account: SEED_ACCOUNT, device: SEED_DEVICE, role: Role::GridWorker, node: None };
        let meta = ChangeMeta { account: worker.account, device: worker.device };
        let docs = Collection::ALL
            .into_iter()
            .map(|collection| {
                let key = match collection {
                    Collection::Visits => DocKey::visits(grid, DocKey::month_of(SEED_TIME_MS)),
                    c => DocKey::new(grid, c),
                };
                let mut d = Automerge::new().with_actor(doc::actor_for(worker.device, 0));
                let before = d.clone();
                let mut tx = d.transaction();
                for (rid, fields) in seed_records(collection) {
                    let obj = tx.put_object(ROOT, rid.to_string(), ObjType::Map).expect("seed");
                    write_fields(&mut tx, &obj, collection.fields(), &fields);
                }
                tx.commit_with(CommitOptions::default().with_message(meta.message()).with_time(SEED_TIME_MS));
                // The seed is written by hand: it must be what the validator accepts.
                let change = d.get_last_local_change().expect("seeded change").clone();
                doc::validate_change(&before, collection, &change, &worker)
                    .unwrap_or_else(|e| panic!("seeded {} refused: {e}", collection.as_str()));
                (key, d)
            })
            .collect();
        Seed { grid, worker, docs }
    })
}

// ---------------------------------------------------------------------------------------------
// The server's path for one change

/// The server's path for one change: the pipeline's [`Ingest::admit`] and [`Ingest::offer`],
/// as the server's sync calls them (not a copy of their order), then the invariants every
/// accepted change must keep. Applies the change to `doc` when valid.
pub fn ingest(
    doc: &mut Automerge,
    collection: Collection,
    change: &Change,
    author: &Author,
) -> Result<Outcome, Refused> {
    let mut pipeline = Ingest::default();
    let change = pipeline.admit(change.raw_bytes(), author)?;
    // A change automerge would assert on is refused by a caught panic on the server
    // (`pipeline::apply_guarded`, unit-tested there); under libFuzzer a caught panic still
    // aborts, so such inputs stop here.
    if doc.get_change_by_hash(&change.hash()).is_none() && crate::pipeline::breaks_actor_sequence(doc, &change) {
        return Err(Refused::new(crate::Code::MalformedChange, "sequence number out of order"));
    }
    let before_doc = doc.clone();
    let before: Vec<ChangeHash> = doc.get_heads();
    let outcome = pipeline.offer(doc, collection, &change, author).expect("a validated change applies");
    if let Outcome::Applied(summary) = &outcome {
        check_accepted(&before_doc, doc, collection, &change, &before, summary);
    }
    Ok(outcome)
}

fn check_accepted(
    before_doc: &Automerge,
    doc: &Automerge,
    collection: Collection,
    change: &Change,
    before: &[ChangeHash],
    summary: &ChangeSummary,
) {
    let touched = doc::touched_records(doc, before);
    let seen: BTreeSet<Uuid> = summary.touched.iter().copied().collect();
    for rid in &touched {
        assert!(seen.contains(rid), "the change touched record {rid}, which the validator did not check");
    }
    let only: BTreeSet<Uuid> = touched.iter().copied().collect();
    for (rid, fields) in doc::read_records(doc, collection, Some(&only)) {
        if let Err(e) = schema::check_object(rid, "", collection.fields(), &fields, true) {
            panic!("accepted change left record {rid} failing the schema: {e}\n{fields:?}");
        }
        let typed = match collection {
            Collection::Residents => Resident::from_fields(fields.clone()).map(|_| ()),
            Collection::Houses => House::from_fields(fields.clone()).map(|_| ()),
            Collection::Visits => Visit::from_fields(fields.clone()).map(|_| ()),
            Collection::Disputes => Dispute::from_fields(fields.clone()).map(|_| ()),
        };
        if let Err(e) = typed {
            panic!("accepted change left record {rid} unreadable as its type: {e}\n{fields:?}");
        }
        let _ = doc::history(doc, rid);
    }
    let _ = doc::conflicts_of(doc, collection, Some(&only));
    // Other devices receive the snapshot or the change's stored bytes; both must load.
    let saved = Automerge::load(&doc.save()).expect("the document saves and loads");
    assert_eq!(saved.get_heads(), doc.get_heads(), "snapshot heads");
    let mut other = before_doc.clone();
    other.load_incremental(change.raw_bytes()).expect("the change's bytes load on another device");
    assert_eq!(other.get_heads(), doc.get_heads(), "another device that loads the change's bytes has it");
}

// ---------------------------------------------------------------------------------------------
// Raw change bytes

/// The author a selector byte names: its low two bits pick the collection, the next three the
/// role.
pub fn selector(byte: u8) -> (Collection, Role) {
    (Collection::ALL[usize::from(byte & 3)], Role::ALL[usize::from(byte >> 2 & 7) % Role::ALL.len()])
}

/// The selector byte for a collection and a role.
pub fn selector_byte(collection: Collection, role: Role) -> u8 {
    let c = Collection::ALL.iter().position(|c| *c == collection).expect("known") as u8;
    let r = Role::ALL.iter().position(|r| *r == role).expect("known") as u8;
    c | r << 2
}

/// One selector byte, then the bytes of an Automerge change, validated against the seeded
/// document of that collection as if a device of the change's own actor sent it.
pub fn validate_change(data: &[u8]) {
    let Some((sel, bytes)) = data.split_first() else { return };
    let (collection, role) = selector(*sel);
    let Some(change) = doc::parse_change(bytes) else { return };
    let again = Change::try_from(change.raw_bytes()).expect("a change's own bytes parse");
    assert_eq!(again.hash(), change.hash(), "a change's hash survives its bytes");
    let meta = ChangeMeta::parse(change.message());
    let author = Author {
        account: meta.map_or(SEED_ACCOUNT, |m| m.account),
        device: doc::device_of_actor(change.actor_id()).unwrap_or(SEED_DEVICE),
        role,
        node: None,
    };
    let mut d = seed().doc(collection).clone();
    let _ = ingest(&mut d, collection, &change, &author);
}

/// One selector byte, then a chunk: as it is when the selector is even, else behind a compressed-
/// change header (`85 6f 4a 83`, a checksum, type 2, its length), as a hostile device would send
/// a DEFLATE bomb. Admitted through the pipeline as the seeded grid worker's device.
pub fn change_chunks(data: &[u8]) {
    let Some((sel, rest)) = data.split_first() else { return };
    let bytes = if sel & 1 == 0 {
        rest.to_vec()
    } else {
        let mut out = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
        let mut n = rest.len();
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            out.push(if n == 0 { b } else { b | 0x80 });
            if n == 0 {
                break;
            }
        }
        out.extend_from_slice(rest);
        out
    };
    let worker = &seed().worker;
    match Ingest::default().admit(&bytes, worker) {
        Ok(change) => {
            assert!(!doc::is_compressed_chunk(&bytes), "a compressed chunk was admitted");
            let again = doc::parse_change(change.raw_bytes()).expect("an admitted change parses from its own bytes");
            assert_eq!(again.hash(), change.hash());
        }
        Err(r) if doc::is_compressed_chunk(&bytes) => {
            assert_eq!(r.code, crate::Code::CompressedChange, "a compressed chunk refused for another reason")
        }
        Err(_) => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Plans: real changes made from fuzz input

/// Bytes as up to four steps, each an edit through `doc::make_change` (the device's path) or
/// hand-made Automerge operations, against the seeded grid; every change goes through
/// [`ingest`]. A change the device made and validated must be accepted by the server.
pub fn validate_plan(data: &[u8]) {
    let mut src = Source::new(data);
    let collection = src.choose(&Collection::ALL);
    let seeded = seed();
    let mut d = seeded.doc(collection).clone();
    let steps = 1 + src.below(4);
    for _ in 0..steps {
        let author = Author {
            account: src.choose(&ACCOUNTS),
            device: src.choose(&DEVICES),
            role: src.choose(&Role::ALL),
            node: None,
        };
        let epoch = u32::from(src.byte() & 1);
        let actor = doc::actor_for(author.device, epoch);
        let time = match src.below(4) {
            // Far off, but not so far that automerge's own commit overflows (see `fuzz/upstream`).
            0 => (src.u64() as i64) >> 13,
            _ => SEED_TIME_MS + src.below(1 << 16) as i64,
        };
        if src.below(3) == 0 {
            raw_step(&mut src, &mut d, collection, &author, actor, time);
        } else {
            edit_step(&mut src, &mut d, collection, &author, actor, time);
        }
    }
}

fn edit_step(src: &mut Source, d: &mut Automerge, collection: Collection, author: &Author, actor: ActorId, time: i64) {
    let existing = doc::record_ids(d);
    let record = if !existing.is_empty() && src.below(3) != 0 { src.choose(&existing) } else { src.uuid() };
    let creating = if src.below(8) == 0 { existing.contains(&record) } else { !existing.contains(&record) };
    let key = match src.below(16) {
        0 => DocKey { grid: Uuid::nil(), collection, month: Some(src.u64() as u32) },
        _ => seed().key(collection),
    };
    let fields = gen_fields(src, collection.fields(), author, creating, 0);
    let edit = Edit { doc: key, record, creating, fields };
    let Ok(Some(change)) = doc::make_change(d, actor, &edit, author, time) else { return };
    match ingest(d, collection, &change, author) {
        Ok(Outcome::Applied(_)) => {}
        other => panic!("a change the device made and validated was not accepted: {other:?}\nedit: {edit:?}"),
    }
}

/// The values a field may get: mostly plausible ones, often near misses, sometimes anything.
fn gen_value(src: &mut Source, name: &str, kind: Kind, author: &Author, depth: u32) -> Json {
    let wild = src.below(6) == 0;
    if wild {
        return match src.below(6) {
            0 => Json::Null,
            1 => json!(src.u64() as i64),
            2 => json!(f64::from_bits(src.u64())),
            3 => json!(src.flag()),
            4 => json!([src.text(8)]),
            _ => Json::String(src.text(64)),
        };
    }
    match kind {
        Kind::Str(max) => match src.below(5) {
            0 => json!("张三"),
            1 => json!("  "),
            2 => Json::String("户".repeat(max + src.below(2))),
            _ => Json::String(src.text(48)),
        },
        Kind::Date => json!(src.choose(&["1985-03-12", "2024-02-29", "2023-02-29", "1900-01-01", "85-3-12", ""])),
        Kind::Timestamp => match src.below(4) {
            0 => json!(SEED_TIME_MS),
            1 => json!(946_684_799_999i64),
            2 => json!(src.u64() as i64),
            _ => json!(SEED_TIME_MS - src.below(1 << 16) as i64 * 1000),
        },
        Kind::Float { min, max } => match src.below(4) {
            0 => json!(min),
            1 => json!(max + 1.0),
            2 => json!((min + max) / 2.0),
            _ => json!(f64::from_bits(src.u64())),
        },
        Kind::Bool => json!(src.flag()),
        Kind::Enum(allowed) => match src.below(5) {
            0 => Json::String(src.text(12)),
            _ if allowed.is_empty() => json!("x"),
            _ => json!(src.choose(allowed)),
        },
        Kind::IdNumber => match src.below(6) {
            0 => json!(id_number_for("19620418", "024")),
            1 => json!(id_number_for("19850312", "011").to_lowercase()),
            2 => json!("371323198503120110"),
            3 => json!(id_number_for("20991231", "011")),
            4 => Json::String(format!("{}{}", src.text(17), src.text(4))),
            _ => json!(format!("37132319850312011{}", src.text(2))),
        },
        Kind::Mobile => match src.below(3) {
            0 => json!("13805390123"),
            1 => json!(" 13805390123 "),
            _ => Json::String(src.text(12)),
        },
        Kind::Ref => match src.below(5) {
            0 | 1 if matches!(name, "by" | "reported_by" | "actor") => json!(author.account.to_string()),
            0 => json!(src.choose(&RESIDENTS).to_string()),
            1 => json!(src.choose(&HOUSES).to_string()),
            2 => json!("not-a-uuid"),
            _ => json!(src.uuid().to_string()),
        },
        Kind::Set(allowed) => {
            let n = src.below(4);
            Json::Array(
                (0..n)
                    .map(|_| match src.below(5) {
                        0 => Json::String(src.text(10)),
                        _ if allowed.is_empty() => {
                            Json::String(src.bytes(32).iter().map(|b| format!("{b:02x}")).collect())
                        }
                        _ => json!(src.choose(allowed)),
                    })
                    .collect(),
            )
        }
        Kind::Object(sub) => {
            let complete = src.below(4) != 0;
            Json::Object(gen_fields(src, sub, author, complete, depth + 1))
        }
        Kind::Entries(sub) => {
            let n = src.below(3);
            Json::Array(
                (0..n)
                    .map(|_| {
                        let complete = src.below(4) != 0;
                        let mut e = gen_fields(src, sub, author, complete, depth + 1);
                        let eid = match src.below(4) {
                            0 => src.choose(&ENTRIES).to_string(),
                            1 => src.text(8),
                            _ => src.uuid().to_string(),
                        };
                        e.insert("id".into(), Json::String(eid));
                        Json::Object(e)
                    })
                    .collect(),
            )
        }
    }
}

fn gen_fields(src: &mut Source, defs: &[FieldDef], author: &Author, complete: bool, depth: u32) -> Map<String, Json> {
    let mut out = Map::new();
    for def in defs {
        let present = if complete { def.required || src.flag() } else { src.below(4) == 0 };
        if present && depth < 3 {
            out.insert(def.name.to_string(), gen_value(src, def.name, def.kind, author, depth));
        }
    }
    if src.below(8) == 0 {
        out.insert(src.text(12), json!("?"));
    }
    out
}

/// Operations written by hand into a transaction: what a modified device could send.
fn raw_step(src: &mut Source, d: &mut Automerge, collection: Collection, author: &Author, actor: ActorId, time: i64) {
    // Sometimes build on an older state, as a device that has not synced for a while does.
    let older = seed().doc(collection).get_heads();
    let mut fork =
        if src.below(4) == 0 { d.fork_at(&older).ok() } else { None }.unwrap_or_else(|| d.fork()).with_actor(actor);
    let mut objects: Vec<ObjId> = vec![ROOT];
    collect_objects(&fork, &ROOT, 0, &mut objects);
    let ops = 1 + src.below(10);
    let mut tx = fork.transaction();
    for _ in 0..ops {
        let obj = objects[src.below(objects.len())].clone();
        let key = gen_key(src, collection);
        match src.below(8) {
            0 | 1 => {
                let t = match src.below(8) {
                    0 => ObjType::List,
                    1 => ObjType::Text,
                    _ => ObjType::Map,
                };
                if let Ok(o) = tx.put_object(&obj, key.as_str(), t) {
                    objects.push(o);
                }
            }
            2 => {
                let _ = tx.delete(&obj, key.as_str());
            }
            3 => {
                let _ = tx.insert(&obj, src.below(3), gen_scalar(src, author));
                let _ = tx.increment(&obj, key.as_str(), 1);
            }
            _ => {
                let _ = tx.put(&obj, key.as_str(), gen_scalar(src, author));
            }
        }
    }
    let message = match src.below(8) {
        0 => src.text(40),
        _ => ChangeMeta { account: author.account, device: author.device }.message(),
    };
    let (hash, _) = tx.commit_with(CommitOptions::default().with_message(message).with_time(time));
    let Some(hash) = hash else { return };
    let Some(change) = fork.get_change_by_hash(&hash) else { return };
    let _ = ingest(d, collection, &change, author);
}

fn collect_objects(d: &Automerge, obj: &ObjId, depth: u32, out: &mut Vec<ObjId>) {
    if depth >= 3 {
        return;
    }
    for item in d.map_range(obj, ..) {
        let id = item.id();
        if let Value::Object(_) = Value::from(item.value) {
            out.push(id.clone());
            collect_objects(d, &id, depth + 1, out);
        }
    }
}

fn gen_key(src: &mut Source, collection: Collection) -> String {
    match src.below(6) {
        0 | 1 => src.choose(collection.fields()).name.to_string(),
        2 => src
            .choose(&["status", "note", "household", "hazards", "kind", "actor", "level", "at", "name", "resident_id"])
            .to_string(),
        3 => src.choose(&["registered", "floating", "fine", "attention"]).to_string(),
        4 => match src.below(3) {
            0 => src.choose(seeded_ids(collection)).to_string(),
            1 => src.choose(&ENTRIES).to_string(),
            _ => src.uuid().to_string(),
        },
        _ => src.text(16),
    }
}

fn gen_scalar(src: &mut Source, author: &Author) -> ScalarValue {
    match src.below(12) {
        0 => ScalarValue::Int(src.u64() as i64),
        1 => ScalarValue::Uint(src.u64()),
        2 => ScalarValue::F64(f64::from_bits(src.u64())),
        3 => ScalarValue::F64(src.below(200) as f64 - 90.0),
        4 => ScalarValue::Boolean(src.flag()),
        5 => ScalarValue::Timestamp(SEED_TIME_MS - src.below(1000) as i64),
        6 => ScalarValue::Timestamp(src.u64() as i64),
        7 => ScalarValue::Counter((src.u64() as i64).into()),
        8 => ScalarValue::Bytes(src.bytes(8).to_vec()),
        9 => ScalarValue::Null,
        10 => ScalarValue::Str(author.account.to_string().into()),
        _ => ScalarValue::Str(src.text(24).into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Seeds for the corpus

/// Real messages and changes to start the corpus from: (target, input).
pub fn corpus_seeds() -> Vec<(&'static str, Vec<u8>)> {
    use crate::wire::{DocPayload, GridPosition, OutChange, PROTOCOL_VERSION, Refusal};
    let seeded = seed();
    let mut out = Vec::new();
    let worker = seeded.worker.clone();
    let mut changes = Vec::new();
    // One real edit per collection, as the seed's grid worker makes them on the device.
    for (i, (key, d)) in seeded.docs.iter().enumerate() {
        let rid = seeded_ids(key.collection)[0];
        let fields = match key.collection {
            Collection::Residents => json!({"phone": "13905391234", "categories": ["registered", "living_alone"]}),
            Collection::Houses => json!({"rented": true, "hazards": "煤气罐靠近灶台"}),
            Collection::Visits => json!({"needs": "希望安装扶手和呼叫器"}),
            Collection::Disputes => json!({"actions": [{"id": id(0x601 + i as u128).to_string(), "kind": "mediate",
                "actor": worker.account.to_string(), "level": "grid", "at": SEED_TIME_MS + 60_000}]}),
        };
        let edit =
            Edit { doc: *key, record: rid, creating: false, fields: fields.as_object().expect("object").clone() };
        let change = doc::make_change(d, doc::actor_for(worker.device, 0), &edit, &worker, SEED_TIME_MS + 60_000)
            .expect("seed edit valid")
            .expect("seed edit changes something");
        let mut input = vec![selector_byte(key.collection, Role::GridWorker)];
        input.extend_from_slice(change.raw_bytes());
        out.push(("validate_change", input));
        // A creation too.
        let created = seed_records(key.collection).remove(0).1;
        let edit = Edit { doc: *key, record: id(0x701 + i as u128), creating: true, fields: created };
        if let Ok(Some(c)) = doc::make_change(d, doc::actor_for(worker.device, 0), &edit, &worker, SEED_TIME_MS) {
            let mut input = vec![selector_byte(key.collection, Role::GridWorker)];
            input.extend_from_slice(c.raw_bytes());
            out.push(("validate_change", input));
        }
        changes.push(OutChange { doc: *key, bytes: change.raw_bytes().to_vec() });
    }
    let positions = vec![GridPosition { grid: seeded.grid, seq: 42 }];
    out.push((
        "wire_decode",
        SyncRequest {
            version: PROTOCOL_VERSION,
            positions: positions.clone(),
            changes: vec![],
            budget: 0,
            settings: 0,
        }
        .encode(),
    ));
    out.push((
        "wire_decode",
        SyncRequest { version: PROTOCOL_VERSION, positions: positions.clone(), changes, budget: 0, settings: 1 }
            .encode(),
    ));
    let docs = seeded.docs.iter().map(|(k, d)| DocPayload { doc: *k, snapshot: true, data: d.save() }).collect();
    let refused = vec![Refusal {
        index: 0,
        code: crate::ValidationCode::IdNumberCheckDigit.into(),
        record: Some(RESIDENTS[0]),
        field: "id_number".into(),
        message: "身份证号码校验位应为X".into(),
    }];
    let fetch = vec![crate::wire::FetchDoc { doc: seeded.key(Collection::Residents), len: 150_000 }];
    let settings = Some(crate::model::CountySettings { version: 3, time_limits: Default::default() });
    let answer = SyncResponse { version: PROTOCOL_VERSION, refused, positions, docs, more: true, fetch, settings };
    out.push(("wire_decode", answer.encode()));
    // The same in versions 2 and 1, as the handhelds already in the field read them.
    out.push(("wire_decode", SyncResponse { version: 2, settings: None, ..answer.clone() }.encode()));
    out.push(("wire_decode", SyncResponse { version: 1, fetch: vec![], settings: None, ..answer }.encode()));
    out.push(("wire_decode", seeded.key(Collection::Visits).to_string().into_bytes()));
    // Plans: a few byte strings that pick each collection and both kinds of step.
    for c in 0..4u8 {
        for first in [1u8, 0] {
            out.push(("validate_plan", vec![c, 0, 0, 0, 0, 0, first, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
        }
    }
    // Chunks: a real change as it is (selector 0), and its bytes behind a compressed header.
    if let Some((_, input)) = out.iter().find(|(t, _)| *t == "validate_change").cloned() {
        let mut plain = vec![0u8];
        plain.extend_from_slice(&input[1..]);
        out.push(("change_chunks", plain));
        let mut wrapped = vec![1u8];
        wrapped.extend_from_slice(&input[1..]);
        out.push(("change_chunks", wrapped));
    }
    out
}
