//! Encryption at rest: the device database is a SQLCipher file whose key is derived from the
//! worker's PIN with Argon2id ([`KdfParams::CURRENT`]) and a random per-device salt kept beside
//! the database with the parameters it is used with ([`Salt`]; a database keyed under older
//! parameters is re-keyed at its next unlock, [`upgrade_key`]). The key
//! never touches the disk; a wrong PIN is refused without changing anything, but counted
//! ([`PinAttempts`]): after [`FREE_TRIES`] wrong PINs each further try waits longer, and after
//! [`WIPE_AFTER`] the device's data is wiped ([`wipe`]). The count is kept beside the database,
//! so it stops guessing through the app; a copy of the files is guarded by Argon2id alone.

use std::path::{Path, PathBuf};

use argon2::Argon2;
use rand::RngCore;

use crate::error::{DeviceError, Result};

/// A 256-bit database key. Not `Debug`, so it cannot end up in a log by accident.
pub struct DbKey([u8; 32]);

impl DbKey {
    pub(crate) fn pragma_value(&self) -> String {
        let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        format!("\"x'{hex}'\"")
    }
}

fn beside(db: &Path, suffix: &str) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

fn salt_path(db: &Path) -> PathBuf {
    beside(db, ".salt")
}

/// Wrong PINs in a row that cost nothing but a retry.
pub const FREE_TRIES: u32 = 3;
/// Wrong PINs in a row after which the device's data is wiped.
pub const WIPE_AFTER: u32 = 10;
/// The first wait after the free tries; it doubles with every further wrong PIN, up to an hour.
const FIRST_WAIT_MS: i64 = 30_000;
const LONGEST_WAIT_MS: i64 = 3_600_000;

/// Wrong PINs entered in a row on this device, and when the last was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PinAttempts {
    pub failures: u32,
    pub last_failure_ms: i64,
}

impl PinAttempts {
    fn path(db: &Path) -> PathBuf {
        beside(db, ".attempts")
    }

    /// The count kept beside `db` (none yet: zero). A damaged file counts as the free tries
    /// used up, so deleting its contents buys nothing.
    pub fn read(db: &Path) -> PinAttempts {
        match std::fs::read(Self::path(db)) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .unwrap_or(PinAttempts { failures: FREE_TRIES, last_failure_ms: i64::MAX / 2 }),
            Err(_) => PinAttempts::default(),
        }
    }

    /// How long the next try must still wait at `now`, in milliseconds (0: it may go ahead).
    pub fn wait_ms(&self, now: i64) -> i64 {
        if self.failures < FREE_TRIES {
            return 0;
        }
        let wait = (FIRST_WAIT_MS << (self.failures - FREE_TRIES).min(16)).min(LONGEST_WAIT_MS);
        (self.last_failure_ms.saturating_add(wait) - now).max(0)
    }

    /// Counts one more wrong PIN at `now` and returns the new count.
    pub fn failed(db: &Path, now: i64) -> Result<u32> {
        let next = PinAttempts { failures: Self::read(db).failures.saturating_add(1), last_failure_ms: now };
        std::fs::write(Self::path(db), serde_json::to_vec(&next).unwrap_or_default())
            .map_err(|e| DeviceError::Storage(e.to_string()))?;
        Ok(next.failures)
    }

    /// A right PIN: the count starts again.
    pub fn clear(db: &Path) -> Result<()> {
        match std::fs::remove_file(Self::path(db)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(DeviceError::Storage(e.to_string())),
            _ => Ok(()),
        }
    }
}

/// Removes the device database and everything beside it (its write-ahead log, salts and PIN
/// count): what the handheld held cannot be read any more, by anyone.
pub fn wipe(db: &Path) -> Result<()> {
    // The salts first: without them no PIN derives the key, should a later file stay. Every
    // file is tried; the first failure is reported.
    let files = [
        salt_path(db),
        next_salt_path(db),
        db.to_path_buf(),
        beside(db, "-wal"),
        beside(db, "-shm"),
        PinAttempts::path(db),
    ];
    let mut first_error = None;
    for path in files {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                first_error.get_or_insert(DeviceError::Storage(e.to_string()));
            }
            _ => {}
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Argon2id's cost: memory in KiB, passes, lanes. Kept in the salt file beside the salt, so a
/// device whose database was keyed under older parameters still opens (and is re-keyed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub passes: u32,
    pub lanes: u32,
}

impl KdfParams {
    /// The first devices' parameters: the argon2 crate's defaults (19 MiB, 2 passes, 1 lane),
    /// read from a salt file of 16 bare bytes.
    pub const V1: KdfParams = KdfParams { memory_kib: 19 * 1024, passes: 2, lanes: 1 };
    /// New and re-keyed devices: 64 MiB, 3 passes, 1 lane — five times V1's time, 3.4 times
    /// its memory. Measured with `kdf-bench` (BENCHMARKS.md): 129 ms on one core of the
    /// development machine (V1: 26 ms), so about 0.65 s on a handheld core five times slower,
    /// within the 1 s target for an unlock. A guess at a copied file costs the same: a million
    /// six-digit PINs take one such core 1.5 days (V1: 0.3), so the PIN count and wipe guard the
    /// handheld, and Argon2 only slows an attack on a copy.
    pub const CURRENT: KdfParams = KdfParams { memory_kib: 64 * 1024, passes: 3, lanes: 1 };

    /// Bounds on what a salt file may ask for: a damaged or planted file must not make an
    /// unlock take minutes or gigabytes.
    fn plausible(&self) -> bool {
        (8 * 1024..=512 * 1024).contains(&self.memory_kib)
            && (1..=10).contains(&self.passes)
            && (1..=4).contains(&self.lanes)
    }

    /// A 256-bit key from a PIN and a salt.
    pub fn derive(&self, pin: &str, salt: &[u8]) -> Result<DbKey> {
        let params = argon2::Params::new(self.memory_kib, self.passes, self.lanes, Some(32))
            .map_err(|e| DeviceError::Storage(e.to_string()))?;
        let mut key = [0u8; 32];
        Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password_into(pin.as_bytes(), salt, &mut key)
            .map_err(|e| DeviceError::Storage(e.to_string()))?;
        Ok(DbKey(key))
    }
}

/// The first bytes of a salt file that names its parameters (version 2).
const SALT_V2_MAGIC: &[u8; 6] = b"GKKDF2";
const SALT_BYTES: usize = 16;

/// A salt and the parameters it is used with, as kept beside the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Salt {
    pub params: KdfParams,
    pub bytes: Vec<u8>,
}

impl Salt {
    fn fresh(params: KdfParams) -> Salt {
        let mut bytes = vec![0u8; SALT_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Salt { params, bytes }
    }

    /// Version 1: 16 bare bytes (parameters [`KdfParams::V1`]); version 2: `GKKDF2`, memory,
    /// passes and lanes as little-endian u32, then 16 bytes.
    fn parse(file: &[u8]) -> Result<Salt> {
        let damaged = || DeviceError::Storage("the salt file is damaged".into());
        if file.len() == SALT_BYTES {
            return Ok(Salt { params: KdfParams::V1, bytes: file.to_vec() });
        }
        let rest =
            file.strip_prefix(SALT_V2_MAGIC.as_slice()).filter(|r| r.len() == 12 + SALT_BYTES).ok_or_else(damaged)?;
        let u32_at = |i: usize| u32::from_le_bytes(rest[i..i + 4].try_into().unwrap_or_default());
        let params = KdfParams { memory_kib: u32_at(0), passes: u32_at(4), lanes: u32_at(8) };
        if !params.plausible() {
            return Err(damaged());
        }
        Ok(Salt { params, bytes: rest[12..].to_vec() })
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = SALT_V2_MAGIC.to_vec();
        for v in [self.params.memory_kib, self.params.passes, self.params.lanes] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.bytes);
        out
    }

    fn read(path: &Path) -> Result<Option<Salt>> {
        match std::fs::read(path) {
            Ok(file) => Salt::parse(&file).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(DeviceError::Storage(e.to_string())),
        }
    }

    /// Written whole and flushed to disk before it is used.
    fn write(&self, path: &Path) -> Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(path).map_err(|e| DeviceError::Storage(e.to_string()))?;
        f.write_all(&self.encode()).and_then(|_| f.sync_all()).map_err(|e| DeviceError::Storage(e.to_string()))
    }
}

/// Where a re-key's new salt waits until the database is re-keyed (see [`rekey`]).
fn next_salt_path(db: &Path) -> PathBuf {
    beside(db, ".salt.next")
}

/// The keys `pin` may open `db` with, in the order to try them: the salt's, then — if a re-key
/// was cut short after the database was re-keyed but before its salt was renamed — the new
/// salt's. The salt is created on first use, under [`KdfParams::CURRENT`].
pub fn candidate_keys(db: &Path, pin: &str) -> Result<Vec<(DbKey, Salt)>> {
    if pin.chars().count() < 6 || !pin.chars().all(|c| c.is_ascii_digit()) {
        return Err(DeviceError::WeakPin);
    }
    let salt = match Salt::read(&salt_path(db))? {
        Some(s) => s,
        None => {
            if db.exists() {
                return Err(DeviceError::Storage("the database exists but its salt file is missing".into()));
            }
            let s = Salt::fresh(KdfParams::CURRENT);
            s.write(&salt_path(db))?;
            s
        }
    };
    let mut keys = vec![(salt.params.derive(pin, &salt.bytes)?, salt)];
    if let Some(next) = Salt::read(&next_salt_path(db)).ok().flatten() {
        keys.push((next.params.derive(pin, &next.bytes)?, next));
    }
    Ok(keys)
}

/// Settles the salt files once `opened` (one of [`candidate_keys`]) opened the database: a
/// leftover new salt is either adopted (the database was re-keyed to it) or dropped.
pub fn settle_salt(db: &Path, opened: &Salt) -> Result<()> {
    let next = next_salt_path(db);
    if !next.exists() {
        return Ok(());
    }
    if Salt::read(&next).ok().flatten().as_ref() == Some(opened) {
        std::fs::rename(&next, salt_path(db)).map_err(|e| DeviceError::Storage(e.to_string()))
    } else {
        std::fs::remove_file(&next).map_err(|e| DeviceError::Storage(e.to_string()))
    }
}

/// Re-keys an open database whose salt is older than [`KdfParams::CURRENT`]: the new salt is
/// written beside it first, then SQLCipher re-encrypts the database (one transaction), then the
/// new salt replaces the old (a rename). A cut anywhere leaves a database that one of
/// [`candidate_keys`] opens. `rekey` runs `PRAGMA rekey` with the new key.
pub fn upgrade_key(db: &Path, pin: &str, opened: &Salt, rekey: impl FnOnce(&DbKey) -> Result<()>) -> Result<bool> {
    if opened.params == KdfParams::CURRENT {
        return Ok(false);
    }
    let fresh = Salt::fresh(KdfParams::CURRENT);
    let key = fresh.params.derive(pin, &fresh.bytes)?;
    fresh.write(&next_salt_path(db))?;
    if let Err(e) = rekey(&key) {
        // Not re-keyed (a full disk, say): the database keeps its old key, so the new salt goes.
        let _ = std::fs::remove_file(next_salt_path(db));
        return Err(e);
    }
    std::fs::rename(next_salt_path(db), salt_path(db)).map_err(|e| DeviceError::Storage(e.to_string()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salt_files_of_both_versions_read_and_implausible_ones_are_damaged() {
        let v1 = Salt::parse(&[7u8; 16]).unwrap();
        assert_eq!(v1.params, KdfParams::V1);
        let v2 = Salt::fresh(KdfParams::CURRENT);
        assert_eq!(Salt::parse(&v2.encode()).unwrap(), v2);
        let mut huge = v2.clone();
        huge.params.memory_kib = 64 * 1024 * 1024;
        assert!(Salt::parse(&huge.encode()).is_err(), "64 GiB is not a salt file's to ask");
        assert!(Salt::parse(&v2.encode()[..20]).is_err());
        assert!(Salt::parse(b"").is_err());
    }

    fn marked(path: &Path, key: &DbKey) {
        let conn = crate::store::open(path, Some(key)).unwrap();
        crate::store::set_meta(&conn, "mark", "孙玉兰").unwrap();
    }

    /// A database as the first devices kept it: a version-1 salt file (16 bare bytes) and a
    /// key under [`KdfParams::V1`] for PIN 246810, holding a mark.
    fn first_devices_database(db: &Path) -> (Salt, DbKey) {
        let old = Salt::fresh(KdfParams::V1);
        std::fs::write(salt_path(db), &old.bytes).unwrap();
        let old_key = KdfParams::V1.derive("246810", &old.bytes).unwrap();
        marked(db, &old_key);
        (old, old_key)
    }

    fn mark(device: &crate::Device) -> Option<String> {
        crate::store::get_meta(&device.lock().conn, "mark").unwrap()
    }

    /// A device keyed under the first parameters opens with its PIN and is re-keyed under the
    /// current ones, its data intact; the old key opens it no more.
    #[test]
    fn a_database_keyed_under_old_parameters_is_rekeyed_at_unlock() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("device.db");
        let (_, old_key) = first_devices_database(&db);

        let d = crate::Device::open_encrypted(&db, "246810").unwrap();
        assert_eq!(mark(&d).as_deref(), Some("孙玉兰"));
        drop(d);
        let salt = Salt::read(&salt_path(&db)).unwrap().unwrap();
        assert_eq!(salt.params, KdfParams::CURRENT, "re-keyed, and the salt file says under what");
        assert!(!next_salt_path(&db).exists());
        assert!(crate::store::open(&db, Some(&old_key)).is_err(), "the old key opens it no more");
        let d = crate::Device::open_encrypted(&db, "246810").unwrap();
        assert_eq!(mark(&d).as_deref(), Some("孙玉兰"));
        drop(d);
        assert_eq!(crate::Device::open_encrypted(&db, "135790").err().map(|e| e.code().as_str()), Some("wrong_pin"));
    }

    /// A re-key that fails (a full disk) keeps the old key and drops the new salt; the worker
    /// still gets in, and the next unlock tries again.
    #[test]
    fn a_failed_rekey_keeps_the_old_key() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("device.db");
        let (old, old_key) = first_devices_database(&db);
        let failed = upgrade_key(&db, "246810", &old, |_| Err(DeviceError::Storage("disk full".into())));
        assert!(failed.is_err());
        assert!(!next_salt_path(&db).exists());
        assert_eq!(Salt::read(&salt_path(&db)).unwrap().unwrap(), old);
        assert!(crate::store::open(&db, Some(&old_key)).is_ok(), "still under the old key");
    }

    /// A re-key cut after the database was re-encrypted but before the new salt replaced the
    /// old: the next unlock opens it with the new salt and finishes the swap. Cut before the
    /// database was re-encrypted: the old salt opens it and the new one is dropped.
    #[test]
    fn a_rekey_cut_short_still_opens() {
        for rekeyed in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join("device.db");
            let (_, old_key) = first_devices_database(&db);
            let next = Salt::fresh(KdfParams::CURRENT);
            next.write(&next_salt_path(&db)).unwrap();
            if rekeyed {
                let conn = crate::store::open(&db, Some(&old_key)).unwrap();
                crate::store::rekey(&conn, &next.params.derive("246810", &next.bytes).unwrap()).unwrap();
            }
            let d = crate::Device::open_encrypted(&db, "246810").unwrap();
            assert_eq!(mark(&d).as_deref(), Some("孙玉兰"), "rekeyed: {rekeyed}");
            drop(d);
            assert!(!next_salt_path(&db).exists());
            assert_eq!(Salt::read(&salt_path(&db)).unwrap().unwrap().params, KdfParams::CURRENT);
            if rekeyed {
                assert_eq!(Salt::read(&salt_path(&db)).unwrap().unwrap(), next, "the cut re-key's salt adopted");
            }
        }
    }
}
