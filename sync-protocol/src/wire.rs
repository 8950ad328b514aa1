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
//!
//! Version 2 (weak signal) bounds every answer: the device states a byte budget, a catch-up
//! comes in pages of about that size, and a grid's document too large for the page is named in
//! [`SyncResponse::fetch`] and fetched in byte ranges (`GET /v1/docs/{key}`) that resume where a
//! cut connection stopped. Version 1 messages (the handhelds already in the field) still decode,
//! and are answered in version 1, unpaged by the device's budget, as before.
//!
//! Version 3 (the closed loop's county settings) adds the settings a device follows: it says
//! which version of them it holds ([`SyncRequest::settings`]), and an answer carries the county's
//! current ones when they are newer ([`SyncResponse::settings`]), so every replica computes the
//! same deadlines. Version 2 messages still decode and are answered in version 2, without them.

use serde::{Deserialize, Serialize};

use crate::GridId;
use crate::doc::DocKey;
use crate::error::{Code, ErrorCode};
use crate::model::CountySettings;

pub const PROTOCOL_VERSION: u16 = 3;
/// The oldest version a server still answers (in that version).
pub const OLDEST_VERSION: u16 = 1;
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
    /// About how many bytes of documents the device wants in the answer (0: the server's own
    /// limit). A device on a slow link asks for pages it can receive in a few seconds.
    pub budget: u32,
    /// The version of the county settings the device holds (0: none, it follows the defaults).
    pub settings: u64,
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
    /// Documents of a grid's snapshot that did not fit in this answer, to fetch in byte ranges.
    /// A grid with any here is not yet at its position in `positions`: the device holds that
    /// position until every one of them is loaded, and meanwhile does not ask for the grid.
    pub fetch: Vec<FetchDoc>,
    /// The county's settings, when newer than those the device said it holds.
    pub settings: Option<CountySettings>,
}

/// A snapshot document to fetch in byte ranges, and its size when the answer was made (it may
/// grow while it is fetched; the range answers say its size then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchDoc {
    pub doc: DocKey,
    pub len: u64,
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

/// The message's version, read before anything else; the bytes after the magic.
fn version_of(bytes: &[u8]) -> Result<(u16, &[u8]), WireError> {
    let bytes =
        bytes.strip_prefix(MAGIC).ok_or_else(|| WireError::Malformed("not a Gridkeeper sync message".into()))?;
    let (v, _) = postcard::take_from_bytes::<u64>(bytes).map_err(|e| WireError::Malformed(e.to_string()))?;
    match u16::try_from(v) {
        Ok(v) if (OLDEST_VERSION..=PROTOCOL_VERSION).contains(&v) => Ok((v, bytes)),
        _ => Err(WireError::UnsupportedVersion { got: v }),
    }
}

fn decode_body<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, WireError> {
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
    /// In the message's own `version` (1 leaves out the budget, 1 and 2 the settings).
    pub fn encode(&self) -> Vec<u8> {
        match self.version {
            1 => encode(&v1::SyncRequest::from(self.clone())),
            2 => encode(&v2::SyncRequest::from(self.clone())),
            _ => encode(self),
        }
    }
    /// A message of any version this side answers; `version` says which it was.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        match version_of(bytes)? {
            (1, body) => decode_body::<v1::SyncRequest>(body).map(Into::into),
            (2, body) => decode_body::<v2::SyncRequest>(body).map(Into::into),
            (_, body) => decode_body(body),
        }
    }
}

impl SyncResponse {
    /// In the message's own `version`. A version 1 answer cannot name documents to fetch: the
    /// server never pages a version 1 snapshot ([`SyncResponse::fetch`] stays empty). Neither
    /// a version 1 nor a version 2 answer carries settings.
    pub fn encode(&self) -> Vec<u8> {
        match self.version {
            1 => {
                debug_assert!(self.fetch.is_empty(), "a version 1 answer cannot name documents to fetch");
                encode(&v1::SyncResponse::from(self.clone()))
            }
            2 => encode(&v2::SyncResponse::from(self.clone())),
            _ => encode(self),
        }
    }
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        match version_of(bytes)? {
            (1, body) => decode_body::<v1::SyncResponse>(body).map(Into::into),
            (2, body) => decode_body::<v2::SyncResponse>(body).map(Into::into),
            (_, body) => decode_body(body),
        }
    }
}

/// Version 1 of the messages, as the handhelds already in the field send and read them.
pub mod v1 {
    use serde::{Deserialize, Serialize};

    use super::{DocPayload, GridPosition, OutChange, Refusal};

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct SyncRequest {
        pub version: u16,
        pub positions: Vec<GridPosition>,
        pub changes: Vec<OutChange>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct SyncResponse {
        pub version: u16,
        pub refused: Vec<Refusal>,
        pub positions: Vec<GridPosition>,
        pub docs: Vec<DocPayload>,
        pub more: bool,
    }

    impl From<SyncRequest> for super::SyncRequest {
        fn from(r: SyncRequest) -> Self {
            super::SyncRequest { version: 1, positions: r.positions, changes: r.changes, budget: 0, settings: 0 }
        }
    }

    impl From<super::SyncRequest> for SyncRequest {
        fn from(r: super::SyncRequest) -> Self {
            SyncRequest { version: 1, positions: r.positions, changes: r.changes }
        }
    }

    impl From<SyncResponse> for super::SyncResponse {
        fn from(r: SyncResponse) -> Self {
            super::SyncResponse {
                version: 1,
                refused: r.refused,
                positions: r.positions,
                docs: r.docs,
                more: r.more,
                fetch: Vec::new(),
                settings: None,
            }
        }
    }

    impl From<super::SyncResponse> for SyncResponse {
        fn from(r: super::SyncResponse) -> Self {
            SyncResponse { version: 1, refused: r.refused, positions: r.positions, docs: r.docs, more: r.more }
        }
    }
}

/// Version 2 of the messages (paged answers, no settings), as the handhelds updated for weak
/// signal send and read them.
pub mod v2 {
    use serde::{Deserialize, Serialize};

    use super::{DocPayload, FetchDoc, GridPosition, OutChange, Refusal};

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct SyncRequest {
        pub version: u16,
        pub positions: Vec<GridPosition>,
        pub changes: Vec<OutChange>,
        pub budget: u32,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct SyncResponse {
        pub version: u16,
        pub refused: Vec<Refusal>,
        pub positions: Vec<GridPosition>,
        pub docs: Vec<DocPayload>,
        pub more: bool,
        pub fetch: Vec<FetchDoc>,
    }

    impl From<SyncRequest> for super::SyncRequest {
        fn from(r: SyncRequest) -> Self {
            super::SyncRequest { version: 2, positions: r.positions, changes: r.changes, budget: r.budget, settings: 0 }
        }
    }

    impl From<super::SyncRequest> for SyncRequest {
        fn from(r: super::SyncRequest) -> Self {
            SyncRequest { version: 2, positions: r.positions, changes: r.changes, budget: r.budget }
        }
    }

    impl From<SyncResponse> for super::SyncResponse {
        fn from(r: SyncResponse) -> Self {
            super::SyncResponse {
                version: 2,
                refused: r.refused,
                positions: r.positions,
                docs: r.docs,
                more: r.more,
                fetch: r.fetch,
                settings: None,
            }
        }
    }

    impl From<super::SyncResponse> for SyncResponse {
        fn from(r: super::SyncResponse) -> Self {
            SyncResponse {
                version: 2,
                refused: r.refused,
                positions: r.positions,
                docs: r.docs,
                more: r.more,
                fetch: r.fetch,
            }
        }
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
            budget: 65_536,
            settings: 4,
        };
        let bytes = req.encode();
        assert!(bytes.len() < 40, "{}", bytes.len());
        assert_eq!(SyncRequest::decode(&bytes).unwrap(), req);
    }

    #[test]
    fn unknown_version_is_refused_before_decoding() {
        let mut bytes = SyncRequest { version: 7, positions: vec![], changes: vec![], budget: 0, settings: 0 }.encode();
        assert_eq!(SyncRequest::decode(&bytes), Err(WireError::UnsupportedVersion { got: 7 }));
        bytes[2] = 0;
        assert_eq!(SyncRequest::decode(&bytes), Err(WireError::UnsupportedVersion { got: 0 }));
        bytes.truncate(0);
        assert!(matches!(SyncRequest::decode(&bytes), Err(WireError::Malformed(_))));
    }

    #[test]
    fn settings_travel_in_version_3_only() {
        let settings = CountySettings { version: 2, time_limits: crate::model::TimeLimits::default() };
        let answer = |version| SyncResponse {
            version,
            refused: vec![],
            positions: vec![],
            docs: vec![],
            more: false,
            fetch: vec![],
            settings: Some(settings.clone()),
        };
        assert_eq!(SyncResponse::decode(&answer(3).encode()).unwrap(), answer(3));
        // A version 2 device reads its answer as before, without them.
        let old = SyncResponse::decode(&answer(2).encode()).unwrap();
        assert_eq!((old.version, old.settings), (2, None));
        let v2 = v2::SyncRequest { version: 2, positions: vec![], changes: vec![], budget: 9 };
        let mut bytes = MAGIC.to_vec();
        bytes.extend(postcard::to_stdvec(&v2).unwrap());
        let req = SyncRequest::decode(&bytes).unwrap();
        assert_eq!((req.version, req.budget, req.settings), (2, 9, 0));
        assert_eq!(req.encode(), bytes, "a version 2 request encodes as the old app sent it");
    }
}
