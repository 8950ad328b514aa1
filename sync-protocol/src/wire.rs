//! Versioned wire messages of the sync endpoint (`POST /v1/sync`, body in postcard).
//!
//! A device sends the changes the server has not yet acknowledged and, for each grid it holds,
//! the last position (per-grid sequence number) it has seen; the server answers in the same
//! request with per-change refusals (everything else is acknowledged) and whatever is new for
//! the device since those positions. A position of 0 asks for a snapshot: the saved documents,
//! not a replay of history.
//!
//! Every message starts with the two bytes `GK` and then the protocol version as a varint, so a
//! peer can tell a body that is not a sync message at all from one of a version it does not
//! know, before decoding anything else.

use serde::{Deserialize, Serialize};

use crate::GridId;
use crate::doc::DocKey;
use crate::error::{Code, ErrorCode};

pub const PROTOCOL_VERSION: u16 = 1;
/// The sync endpoint's content type, both ways.
pub const CONTENT_TYPE: &str = "application/x-gridkeeper-sync";
/// The first bytes of every sync message.
pub const MAGIC: &[u8; 2] = b"GK";

/// How far a device has read a grid's change log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridPosition {
    pub grid: GridId,
    pub seq: u64,
}

/// One Automerge change the device made, in the document it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutChange {
    pub doc: DocKey,
    #[serde(with = "serde_bytes_compat")]
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    pub version: u16,
    pub positions: Vec<GridPosition>,
    /// In the order they were made; dependencies come first.
    pub changes: Vec<OutChange>,
}

/// Why one change of a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// Index into [`SyncRequest::changes`].
    pub index: u32,
    /// Stable code, e.g. `id_number_check_digit`, `not_permitted`, `dependency_refused`
    /// (on the wire, its string).
    pub code: ErrorCode,
    pub record: Option<crate::RecordId>,
    pub field: String,
    pub message: String,
}

/// New data for one document: either a snapshot (a saved document) or a run of changes, both
/// loadable with Automerge's `load_incremental`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocPayload {
    pub doc: DocKey,
    pub snapshot: bool,
    #[serde(with = "serde_bytes_compat")]
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    pub version: u16,
    /// Every change of the request not listed here was stored durably and is acknowledged.
    pub refused: Vec<Refusal>,
    /// Where the device now stands in each grid (after applying `docs`).
    pub positions: Vec<GridPosition>,
    pub docs: Vec<DocPayload>,
    /// More is waiting: sync again (paging of large catch-ups).
    pub more: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("unsupported protocol version {got}; this side speaks {PROTOCOL_VERSION}")]
    UnsupportedVersion { got: u64 },
    #[error("malformed message: {0}")]
    Malformed(String),
}

impl WireError {
    pub fn code(&self) -> Code {
        match self {
            WireError::UnsupportedVersion { .. } => Code::UnsupportedProtocolVersion,
            WireError::Malformed(_) => Code::MalformedBody,
        }
    }
}

fn check_version(bytes: &[u8]) -> Result<(), WireError> {
    let (v, _) = postcard::take_from_bytes::<u64>(bytes).map_err(|e| WireError::Malformed(e.to_string()))?;
    if v != u64::from(PROTOCOL_VERSION) {
        return Err(WireError::UnsupportedVersion { got: v });
    }
    Ok(())
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, WireError> {
    let bytes =
        bytes.strip_prefix(MAGIC).ok_or_else(|| WireError::Malformed("not a Gridkeeper sync message".into()))?;
    check_version(bytes)?;
    let (msg, rest) = postcard::take_from_bytes::<T>(bytes).map_err(|e| WireError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::Malformed(format!("{} trailing bytes", rest.len())));
    }
    Ok(msg)
}

fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend(postcard::to_stdvec(msg).expect("encodable"));
    out
}

impl SyncRequest {
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        decode(bytes)
    }
}

impl SyncResponse {
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        decode(bytes)
    }
}

/// Byte vectors as one length-prefixed run rather than a sequence of integers.
mod serde_bytes_compat {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_bytes(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn nothing_new_is_small() {
        let req = SyncRequest {
            version: PROTOCOL_VERSION,
            positions: vec![GridPosition { grid: Uuid::now_v7(), seq: 123_456 }],
            changes: vec![],
        };
        let bytes = req.encode();
        assert!(bytes.len() < 40, "{}", bytes.len());
        assert_eq!(SyncRequest::decode(&bytes).unwrap(), req);
    }

    #[test]
    fn unknown_version_is_refused_before_decoding() {
        let mut bytes = SyncRequest { version: 7, positions: vec![], changes: vec![] }.encode();
        assert_eq!(SyncRequest::decode(&bytes), Err(WireError::UnsupportedVersion { got: 7 }));
        bytes.truncate(0);
        assert!(matches!(SyncRequest::decode(&bytes), Err(WireError::Malformed(_))));
    }
}
