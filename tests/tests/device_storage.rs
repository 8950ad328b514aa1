//! The device database is encrypted at rest; a wrong PIN is refused and destroys nothing.

use field_core::Device;
use gridkeeper_tests::{TestServer, resident};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_database_is_encrypted_and_a_wrong_pin_destroys_nothing() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let r = resident("欧阳秀珍", "1948-10-01", "028");
    {
        let d = Device::open_encrypted(&path, "246810").unwrap();
        d.enrol(&server.url(), &server.code_for(server.org.worker_a).await, "handheld").await.unwrap();
        d.create_resident(&r).unwrap();
    }
    // Nothing personal is readable in the files.
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        let hay = String::from_utf8_lossy(&bytes);
        assert!(
            !hay.contains("欧阳秀珍")
                && !hay.contains(r.id_number.as_deref().unwrap())
                && !hay.contains("SQLite format 3")
        );
    }
    assert_eq!(Device::open_encrypted(&path, "135791").err().map(|e| e.code().as_str()), Some("wrong_pin"));
    assert_eq!(Device::open_encrypted(&path, "12").err().map(|e| e.code().as_str()), Some("weak_pin"));
    assert_eq!(Device::open_encrypted(&path, "000000").err().map(|e| e.code().as_str()), Some("wrong_pin"));
    let d = Device::open_encrypted(&path, "246810").unwrap();
    assert_eq!(d.resident(r.id).unwrap().name, "欧阳秀珍");
    assert_eq!(d.pending_count().unwrap(), 1);
    d.sync().await.unwrap();
    assert_eq!(d.pending_count().unwrap(), 0);
}

/// A thief guessing through the app: three wrong PINs are free, then each try waits longer
/// (even the right PIN waits), and ten wrong PINs in a row wipe the device's data.
#[test]
fn wrong_pins_wait_longer_and_ten_in_a_row_wipe_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let attempts = dir.path().join("device.db.attempts");
    drop(Device::open_encrypted(&path, "246810").unwrap());
    let code = |r: Result<Device, field_core::DeviceError>| r.err().map(|e| e.code().as_str().to_string());
    for _ in 0..3 {
        assert_eq!(code(Device::open_encrypted(&path, "111111")).as_deref(), Some("wrong_pin"));
    }
    // The fourth try waits, whatever the PIN: the key is not even derived.
    assert_eq!(code(Device::open_encrypted(&path, "246810")).as_deref(), Some("pin_locked"));
    // Once the wait is over (the count's clock moved back, as time passing would), the right
    // PIN opens and the count starts again.
    let backdate = || {
        let mut a: serde_json::Value = serde_json::from_slice(&std::fs::read(&attempts).unwrap()).unwrap();
        a["last_failure_ms"] = serde_json::json!(0);
        std::fs::write(&attempts, serde_json::to_vec(&a).unwrap()).unwrap();
    };
    backdate();
    let d = Device::open_encrypted(&path, "246810").unwrap();
    assert!(!attempts.exists(), "a right PIN clears the count");
    drop(d);
    // Ten wrong PINs in a row (each after its wait): the data is gone.
    for i in 0..9 {
        assert_eq!(code(Device::open_encrypted(&path, "222222")).as_deref(), Some("wrong_pin"), "try {i}");
        backdate();
    }
    assert_eq!(code(Device::open_encrypted(&path, "222222")).as_deref(), Some("device_wiped"));
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "nothing of the device is left: {left:?}");
}

/// A lost handheld revoked by the county: at its next sync the server answers
/// `device_revoked`, and the device erases everything it holds — records, unsent edits, photos,
/// its token — and removes its files with their salt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_erases_what_it_holds_at_its_next_sync() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let d = Device::open_encrypted(&path, "246810").unwrap();
    let id = d.enrol(&server.url(), &server.code_for(server.org.worker_a).await, "lost handheld").await.unwrap();
    let synced = resident("欧阳秀珍", "1948-10-01", "028");
    d.create_resident(&synced).unwrap();
    d.sync().await.unwrap();
    let unsent = resident("司马光", "1950-01-01", "011");
    d.create_resident(&unsent).unwrap();
    assert!(std::fs::read_dir(dir.path()).unwrap().count() >= 2, "a database and its salt");

    assert!(server.storage().revoke_device(id.device_id, 1).await.unwrap());
    let e = d.sync().await.unwrap_err();
    assert_eq!(e.code().as_str(), "device_revoked");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|f| f.unwrap().file_name()).collect();
    assert!(left.is_empty(), "nothing of the device is left on disk: {left:?}");
    assert!(d.identity().is_none());
    assert!(d.residents(&Default::default()).unwrap().is_empty());
    assert_eq!(d.pending_count().unwrap(), 0);
    assert_eq!(d.sync().await.unwrap_err().code().as_str(), "not_enrolled");
    // Nor can the files be opened again: a new, empty database would be created.
    assert!(Device::open_encrypted(&path, "246810").unwrap().identity().is_none());
    // What it had sent is safe on the server.
    assert_eq!(server.storage().stats().await.unwrap().residents, 1);
}
