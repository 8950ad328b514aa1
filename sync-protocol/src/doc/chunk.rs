//! What is read of an untrusted Automerge chunk before Automerge reads it.
//!
//! automerge 0.12 decodes a chunk whole before any of our checks can run, and some chunks cost
//! out of proportion to their size (all found from outside, issue 10): a compressed change is
//! inflated in full (1 MB can hold 1 GiB); a bundle's run-length columns are expanded into
//! vectors (437 bytes asked for more than 512 MB); and a plain change's operations are all walked
//! to count them, where one run-length entry can stand for 2⁶³ of them (an 80-byte change with
//! 10⁷ operations took 15 s, so 2⁴⁰ would hold a core for days). So only a plain change chunk is
//! handed over, and only when its action column — one value per operation, the column Automerge
//! counts by — declares at most [`MAX_CHANGE_OPS`].
//!
//! The layout read here is Automerge's binary format (automerge.org, "Binary Document Format"):
//! magic, checksum, chunk type, length; then a change's dependencies, actor, sequence number,
//! start op, time, message and other actors, its column metadata (spec and length per column)
//! and the column data. LEB128 through the `leb128` crate, which Automerge itself uses.

/// The first bytes of every Automerge chunk.
const CHUNK_MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// Where a chunk's type byte sits: after the magic bytes and the 4-byte checksum.
const CHUNK_TYPE_AT: usize = 8;
/// Automerge's chunk type of a plain (uncompressed) change.
const CHANGE_CHUNK: u8 = 1;
/// Automerge's chunk type of a DEFLATE-compressed change.
const COMPRESSED_CHANGE_CHUNK: u8 = 2;
/// The column spec of a change's action column: column 4, an unsigned-integer run-length column.
const ACTION_COLUMN: u64 = 0x42;
/// The bytes of a change hash (a dependency).
const HASH_BYTES: u64 = 32;

/// The most operations one change may hold: a worker's edit writes a record's fields (a few
/// dozen operations); a roster import is written by the server itself, not sent as a change.
pub const MAX_CHANGE_OPS: usize = 10_000;

/// Whether bytes are headed as a plain Automerge change chunk (read from the header only).
pub fn is_change_chunk(bytes: &[u8]) -> bool {
    bytes.len() > CHUNK_TYPE_AT && bytes[..4] == CHUNK_MAGIC && bytes[CHUNK_TYPE_AT] == CHANGE_CHUNK
}

/// Whether bytes are an Automerge compressed-change chunk (read from the header only).
pub fn is_compressed_chunk(bytes: &[u8]) -> bool {
    bytes.len() > CHUNK_TYPE_AT && bytes[..4] == CHUNK_MAGIC && bytes[CHUNK_TYPE_AT] == COMPRESSED_CHANGE_CHUNK
}

/// Whether a plain change chunk is safe to hand to Automerge: its header and column metadata
/// read as a change's, and what its columns declare stays within bounds — at most
/// [`MAX_CHANGE_OPS`] operations (the action column, one value per operation, which Automerge
/// walks to count them), at most as many predecessors in all (the pred group column: Automerge
/// collects each operation's list), and at most [`MAX_REPEATED_STRING_BYTES`] of key and mark
/// strings once each run is repeated (Automerge copies a run's string for every operation).
/// Counting stops past the bounds, so this costs at most one pass over the bytes. Bytes this
/// reader cannot follow, and nulls where a device never writes one, are refused (fail closed):
/// every change a device makes reads here (the fuzz target `validate_plan` checks that such
/// changes are accepted).
pub fn within_op_limit(bytes: &[u8]) -> bool {
    let limit = MAX_CHANGE_OPS as u64;
    declared(bytes).is_some_and(|d| d.ops <= limit && d.preds <= limit && d.string_bytes <= MAX_REPEATED_STRING_BYTES)
}

/// The most bytes of key and mark strings a change may declare once its runs are repeated: a
/// worker's edit names a few dozen fields and record ids.
pub const MAX_REPEATED_STRING_BYTES: u64 = 4 * 1024 * 1024;

/// The column specs (column id, type) whose declared sizes bound Automerge's walk.
const KEY_STRING_COLUMN: u64 = 0x15;
const PRED_GROUP_COLUMN: u64 = 0x70;
const MARK_NAME_COLUMN: u64 = 0xa5;

/// What a change's columns declare, counted up to just past the bounds.
#[derive(Debug, Default, PartialEq, Eq)]
struct Declared {
    ops: u64,
    preds: u64,
    string_bytes: u64,
}

/// `None` if the bytes do not read as a plain change, hold a null in the action or the pred
/// group column (Automerge skips a null run of length zero and walks on, so a count that stopped
/// there could be led astray; devices never write one), or end inside an entry of a counted
/// column (a string claiming more bytes than there are: Automerge allocates the claimed length
/// before it reads, up to 1 GB — found by fuzzing).
fn declared(bytes: &[u8]) -> Option<Declared> {
    if !is_change_chunk(bytes) {
        return None;
    }
    let mut r = &bytes[CHUNK_TYPE_AT + 1..];
    let _length = uleb(&mut r)?;
    let deps = uleb(&mut r)?;
    skip(&mut r, deps.checked_mul(HASH_BYTES)?)?;
    let actor = uleb(&mut r)?;
    skip(&mut r, actor)?;
    let _seq = uleb(&mut r)?;
    let _start_op = uleb(&mut r)?;
    let _time = sleb(&mut r)?;
    let message = uleb(&mut r)?;
    skip(&mut r, message)?;
    for _ in 0..uleb(&mut r)? {
        let other = uleb(&mut r)?;
        skip(&mut r, other)?;
    }
    let columns = uleb(&mut r)?;
    let mut specs = Vec::new();
    for _ in 0..columns {
        // Each entry takes at least two bytes, so a count beyond the bytes left ends here.
        specs.push((uleb(&mut r)?, uleb(&mut r)?));
    }
    let limit = MAX_CHANGE_OPS as u64;
    let mut data = r;
    let mut d = Declared::default();
    let (mut null, mut whole) = (false, true);
    for (spec, len) in specs {
        let len = usize::try_from(len).ok()?;
        let column = data.get(..len)?;
        data = &data[len..];
        // Duplicated columns are all counted: Automerge uses one of them, the sum bounds it.
        whole &= match spec {
            ACTION_COLUMN => walk_runs(column, read_uint, |count, value| {
                null |= value.is_none();
                d.ops = d.ops.saturating_add(count);
                !null && d.ops <= limit
            }),
            PRED_GROUP_COLUMN => walk_runs(column, read_uint, |count, value| {
                null |= value.is_none();
                d.preds = d.preds.saturating_add(count.saturating_mul(value.unwrap_or(0)));
                !null && d.preds <= limit
            }),
            KEY_STRING_COLUMN | MARK_NAME_COLUMN => walk_runs(column, read_string, |count, value| {
                d.string_bytes = d.string_bytes.saturating_add(count.saturating_mul(value.unwrap_or(0)));
                d.string_bytes <= MAX_REPEATED_STRING_BYTES
            }),
            _ => true,
        };
    }
    (!null && whole).then_some(d)
}

/// Walks a run-length column without expanding it: `visit(count, value)` once for a repeated
/// run, once per literal value (with a count of 1), and once for a run of nulls (`None`), until
/// it answers false or the bytes end. A positive count repeats the one value after it, a
/// negative count is that many literal values, and a zero is followed by the number of nulls.
/// `read` reads one value and gives what is counted of it (an integer's value, a string's
/// length). False if the bytes end inside an entry.
fn walk_runs(
    mut r: &[u8],
    read: fn(&mut &[u8]) -> Option<u64>,
    mut visit: impl FnMut(u64, Option<u64>) -> bool,
) -> bool {
    while !r.is_empty() {
        let Some(count) = sleb(&mut r) else { return false };
        if count > 0 {
            let Some(v) = read(&mut r) else { return false };
            if !visit(count.unsigned_abs(), Some(v)) {
                return true;
            }
        } else if count < 0 {
            // Each literal value takes at least one byte: the bytes bound this loop.
            for _ in 0..count.unsigned_abs() {
                let Some(v) = read(&mut r) else { return false };
                if !visit(1, Some(v)) {
                    return true;
                }
            }
        } else {
            let Some(n) = uleb(&mut r) else { return false };
            if !visit(n, None) {
                return true;
            }
        }
    }
    true
}

fn read_uint(r: &mut &[u8]) -> Option<u64> {
    uleb(r)
}

/// A string value: its length in bytes, then the bytes.
fn read_string(r: &mut &[u8]) -> Option<u64> {
    let n = uleb(r)?;
    skip(r, n)?;
    Some(n)
}

fn uleb(r: &mut &[u8]) -> Option<u64> {
    leb128::read::unsigned(r).ok()
}

fn sleb(r: &mut &[u8]) -> Option<i64> {
    leb128::read::signed(r).ok()
}

fn skip(r: &mut &[u8], n: u64) -> Option<()> {
    let n = usize::try_from(n).ok()?;
    let mut rest = r.get(n..)?;
    std::mem::swap(r, &mut rest);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uleb_bytes(n: u64) -> Vec<u8> {
        let mut out = Vec::new();
        leb128::write::unsigned(&mut out, n).unwrap();
        out
    }

    fn sleb_bytes(n: i64) -> Vec<u8> {
        let mut out = Vec::new();
        leb128::write::signed(&mut out, n).unwrap();
        out
    }

    fn counted(column: &[u8]) -> (u64, bool) {
        let (mut total, mut null) = (0, false);
        let _ = walk_runs(column, read_uint, |count, value| {
            null |= value.is_none();
            total += count;
            true
        });
        (total, null)
    }

    #[test]
    fn run_length_values_are_counted_without_being_walked() {
        let run = |n: i64| [sleb_bytes(n), uleb_bytes(1)].concat();
        assert_eq!(counted(&run(3)), (3, false));
        // A run of 2⁶² values is counted from its header, not walked.
        assert_eq!(counted(&run(1 << 62)), (1 << 62, false));
        // Literals: -3 then three values; then a null run, which is seen.
        let literals =
            [sleb_bytes(-3), uleb_bytes(1), uleb_bytes(2), uleb_bytes(3), sleb_bytes(0), uleb_bytes(9)].concat();
        assert_eq!(counted(&literals), (12, true));
        // A null run of length zero before a long run (Automerge walks on past it).
        assert_eq!(counted(&[sleb_bytes(0), uleb_bytes(0), run(1 << 40)].concat()), (1 << 40, true));
        // Truncated literals count what is there.
        assert_eq!(counted(&[sleb_bytes(-5), uleb_bytes(1)].concat()), (1, false));
        // Strings: a run repeats its string's length.
        let mut total = 0;
        let whole = walk_runs(&[sleb_bytes(1000), uleb_bytes(3), b"abc".to_vec()].concat(), read_string, |c, v| {
            total += c * v.unwrap();
            true
        });
        assert_eq!((total, whole), (3000, true));
        // A string claiming more bytes than there are (Automerge would allocate the claim).
        let claim = [sleb_bytes(1), uleb_bytes(559_859_701), b"abc".to_vec()].concat();
        assert!(!walk_runs(&claim, read_string, |_, _| true));
    }

    #[test]
    fn only_a_plain_change_header_is_read() {
        assert!(!is_change_chunk(b"\x85\x6f\x4a\x83\0\0\0\0\x02\x00"));
        assert!(is_compressed_chunk(b"\x85\x6f\x4a\x83\0\0\0\0\x02\x00"));
        assert!(!is_change_chunk(b"\x85\x6f\x4a\x83\0\0\0\0\x03\x00"));
        assert_eq!(declared(b"not a chunk"), None);
        // A header cut short is refused.
        assert!(!within_op_limit(b"\x85\x6f\x4a\x83\0\0\0\0\x01\x05\x00"));
    }
}
