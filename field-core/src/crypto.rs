//! Encryption at rest: the device database is a SQLCipher file whose key is derived from the
//! worker's PIN with Argon2id and a random per-device salt kept beside the database. The key
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

/// Removes the device database and everything beside it (its write-ahead log, salt and PIN
/// count): what the handheld held cannot be read any more, by anyone.
pub fn wipe(db: &Path) -> Result<()> {
    for path in [db.to_path_buf(), beside(db, "-wal"), beside(db, "-shm"), salt_path(db), PinAttempts::path(db)] {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(DeviceError::Storage(e.to_string())),
            _ => {}
        }
    }
    Ok(())
}

/// Derives the key for `db` from `pin`, creating the salt on first use. Argon2id with the
/// library's defaults (19 MiB, 2 passes): tens of milliseconds on a handheld, and far too slow
/// to try a million PINs against a stolen file.
pub fn derive_key(db: &Path, pin: &str) -> Result<DbKey> {
    if pin.chars().count() < 6 || !pin.chars().all(|c| c.is_ascii_digit()) {
        return Err(DeviceError::WeakPin);
    }
    let sp = salt_path(db);
    let salt = match std::fs::read(&sp) {
        Ok(s) if s.len() == 16 => s,
        Ok(_) => return Err(DeviceError::Storage("the salt file is damaged".into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if db.exists() {
                return Err(DeviceError::Storage("the database exists but its salt file is missing".into()));
            }
            let mut s = vec![0u8; 16];
            rand::rng().fill_bytes(&mut s);
            std::fs::write(&sp, &s).map_err(|e| DeviceError::Storage(e.to_string()))?;
            s
        }
        Err(e) => return Err(DeviceError::Storage(e.to_string())),
    };
    let mut key = [0u8; 32];
    Argon2::default()
        .hash_password_into(pin.as_bytes(), &salt, &mut key)
        .map_err(|e| DeviceError::Storage(e.to_string()))?;
    Ok(DbKey(key))
}
