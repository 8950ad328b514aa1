//! Encryption at rest: the device database is a SQLCipher file whose key is derived from the
//! worker's PIN with Argon2id and a random per-device salt kept beside the database. The key
//! never touches the disk; a wrong PIN is refused without changing anything.

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

fn salt_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".salt");
    PathBuf::from(p)
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
