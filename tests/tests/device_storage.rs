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
