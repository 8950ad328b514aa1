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
/// read as a change's, and its action column declares at most [`MAX_CHANGE_OPS`] values.
/// Counting stops past that, so this costs at most one pass over the bytes. Bytes this reader
/// cannot follow are refused rather than passed on (fail closed): every change a device makes
/// reads here (the fuzz target `validate_plan` checks that such changes are accepted).
pub fn within_op_limit(bytes: &[u8]) -> bool {
    declared_ops(bytes).is_some_and(|n| n <= MAX_CHANGE_OPS as u64)
}

/// The number of non-null values in the change's action column(s), counted up to just past
/// [`MAX_CHANGE_OPS`]; `None` if the bytes do not read as a plain change's header.
fn declared_ops(bytes: &[u8]) -> Option<u64> {
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
    let mut data = r;
    let mut total = 0u64;
    for (spec, len) in specs {
        let len = usize::try_from(len).ok()?;
        let column = data.get(..len)?;
        data = &data[len..];
        if spec == ACTION_COLUMN {
            total = total.saturating_add(rle_values(column));
        }
    }
    Some(total)
}

/// Non-null values in an unsigned run-length column, up to just past [`MAX_CHANGE_OPS`]: a
/// positive count repeats one value, a negative count is that many literal values, and a zero
/// starts a run of nulls (where Automerge's operation walk stops with an error).
fn rle_values(mut r: &[u8]) -> u64 {
    let limit = MAX_CHANGE_OPS as u64;
    let mut total = 0u64;
    while !r.is_empty() && total <= limit {
        let Some(count) = sleb(&mut r) else { return total };
        match count {
            0 => return total,
            n if n > 0 => {
                total = total.saturating_add(n.unsigned_abs());
                if uleb(&mut r).is_none() {
                    return total;
                }
            }
            n => {
                for _ in 0..n.unsigned_abs() {
                    if uleb(&mut r).is_none() || total > limit {
                        return total;
                    }
                    total += 1;
                }
            }
        }
    }
    total
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

    #[test]
    fn run_length_values_are_counted_without_being_walked() {
        let run = |n: i64| [sleb_bytes(n), uleb_bytes(1)].concat();
        assert_eq!(rle_values(&run(3)), 3);
        // A run of 2⁶² values is counted from its header, not walked.
        assert!(rle_values(&run(1 << 62)) > MAX_CHANGE_OPS as u64);
        // Literals: -3 then three values; then a null run ends the count.
        let literals =
            [sleb_bytes(-3), uleb_bytes(1), uleb_bytes(2), uleb_bytes(3), sleb_bytes(0), uleb_bytes(9)].concat();
        assert_eq!(rle_values(&literals), 3);
        // Truncated literals count what is there.
        assert_eq!(rle_values(&[sleb_bytes(-5), uleb_bytes(1)].concat()), 1);
    }

    #[test]
    fn only_a_plain_change_header_is_read() {
        assert!(!is_change_chunk(b"\x85\x6f\x4a\x83\0\0\0\0\x02\x00"));
        assert!(is_compressed_chunk(b"\x85\x6f\x4a\x83\0\0\0\0\x02\x00"));
        assert!(!is_change_chunk(b"\x85\x6f\x4a\x83\0\0\0\0\x03\x00"));
        assert_eq!(declared_ops(b"not a chunk"), None);
        // A header cut short is refused.
        assert!(!within_op_limit(b"\x85\x6f\x4a\x83\0\0\0\0\x01\x05\x00"));
    }
}
