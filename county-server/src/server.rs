//! Starting the server: open storage from a database URL, bind, serve.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::api::{AppState, router};
use crate::storage::{SqliteStorage, Storage};

/// Opens storage from a URL: `sqlite:///path/to/file.db`, `sqlite::memory:`, or a bare path.
pub fn open_storage(url: &str) -> anyhow::Result<Arc<dyn Storage>> {
    if url == "sqlite::memory:" {
        return Ok(Arc::new(SqliteStorage::open_in_memory()?));
    }
    if let Some(path) = url.strip_prefix("sqlite://") {
        return Ok(Arc::new(SqliteStorage::open(std::path::Path::new(path))?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        anyhow::bail!("the PostgreSQL backend is not built yet; use a sqlite:// URL");
    }
    Ok(Arc::new(SqliteStorage::open(std::path::Path::new(url))?))
}

/// A running server: its address, and a handle that stops it when dropped.
pub struct Running {
    pub addr: SocketAddr,
    pub storage: Arc<dyn Storage>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests and waits for the server task to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Binds `addr` (port 0 picks a free port) and serves in the background.
pub async fn spawn(storage: Arc<dyn Storage>, addr: SocketAddr) -> anyhow::Result<Running> {
    spawn_with(storage, addr, crate::sync::Limits::default()).await
}

/// Like [`spawn`], with explicit limits.
pub async fn spawn_with(
    storage: Arc<dyn Storage>,
    addr: SocketAddr,
    limits: crate::sync::Limits,
) -> anyhow::Result<Running> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = router(AppState { storage: storage.clone(), limits });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(Running { addr, storage, shutdown: Some(tx), task: Some(task) })
}
