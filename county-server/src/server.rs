//! Starting the server: open storage from a database URL, bind, serve.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::api::client_addr::{PeerAddr, TrustedProxies};
use crate::api::{AppState, router};
use crate::service::County;
use crate::storage::{PostgresStorage, SqliteStorage, Storage};

/// Opens storage from a URL: `postgres://user@host/db` (or `postgresql://`) for PostgreSQL;
/// `sqlite:///path/to/file.db`, `sqlite::memory:`, or a bare path for the embedded SQLite default.
pub async fn open_storage(url: &str) -> anyhow::Result<Arc<dyn Storage>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PostgresStorage::connect(url).await?));
    }
    if url == "sqlite::memory:" {
        return Ok(Arc::new(SqliteStorage::open_in_memory()?));
    }
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    Ok(Arc::new(SqliteStorage::open(std::path::Path::new(path))?))
}

/// How to serve: limits, and HTTPS when a certificate is given.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    pub limits: crate::service::sync::Limits,
    /// Limits on guessing enrolment codes.
    pub enrolment: crate::service::enrolment::EnrolmentLimits,
    /// Reverse proxies whose `X-Forwarded-For` is believed (for the enrolment limits).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Serve HTTPS with this certificate and key; plain HTTP without (loopback, development).
    pub tls: Option<crate::tls::TlsFiles>,
    /// What one device may upload.
    pub uploads: crate::service::blobs::UploadLimits,
    /// How long a connection may make no progress ([`IDLE`] unless set).
    pub idle: Option<std::time::Duration>,
}

/// How long a request body may go without a byte, and an answer without a byte being taken,
/// before the connection is dropped. No request has a total time limit: a device on a
/// 24 kbit/s link that keeps moving is never cut.
pub const IDLE: std::time::Duration = std::time::Duration::from_secs(60);

/// Plain TCP connections, each tuned ([`tune_connection`]) as it is accepted, whose answers
/// must keep being taken ([`crate::idle::WriteIdle`]).
pub struct TunedListener {
    inner: TcpListener,
    idle: std::time::Duration,
}

impl axum::serve::Listener for TunedListener {
    type Io = crate::idle::WriteIdle<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (tcp, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        tune_connection(&tcp, self.idle);
        (crate::idle::WriteIdle::new(tcp, self.idle), addr)
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// Settings of every accepted connection: TCP keepalive finds a peer that vanished (a handheld
/// that lost its signal) on an idle connection. (A client that stops taking an answer is
/// dropped by [`crate::idle::WriteIdle`].)
pub(crate) fn tune_connection(tcp: &tokio::net::TcpStream, idle: std::time::Duration) {
    let sock = socket2::SockRef::from(tcp);
    let keepalive =
        socket2::TcpKeepalive::new().with_time(idle).with_interval(std::time::Duration::from_secs(10)).with_retries(3);
    if let Err(e) = sock.set_tcp_keepalive(&keepalive) {
        tracing::debug!(error = %e, "TCP keepalive not set");
    }
    let _ = tcp.set_nodelay(true);
}

/// A running server: its address, and a handle that stops it when dropped.
pub struct Running {
    pub addr: SocketAddr,
    pub storage: Arc<dyn Storage>,
    /// The services this server calls (the same a command line or a test may call directly).
    pub county: Arc<County>,
    tls: bool,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// `https://addr` when serving TLS, else `http://addr`.
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
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

/// Binds `addr` (port 0 picks a free port) and serves plain HTTP in the background.
pub async fn spawn(storage: Arc<dyn Storage>, addr: SocketAddr) -> anyhow::Result<Running> {
    spawn_opts(storage, addr, ServeOptions::default()).await
}

/// Like [`spawn`], with explicit limits.
pub async fn spawn_with(
    storage: Arc<dyn Storage>,
    addr: SocketAddr,
    limits: crate::service::sync::Limits,
) -> anyhow::Result<Running> {
    spawn_opts(storage, addr, ServeOptions { limits, ..Default::default() }).await
}

/// Binds `addr` and serves in the background as `options` say.
pub async fn spawn_opts(storage: Arc<dyn Storage>, addr: SocketAddr, options: ServeOptions) -> anyhow::Result<Running> {
    // A bad certificate or key stops the start, before the port is taken.
    let tls = options.tls.as_ref().map(crate::tls::server_config).transpose()?;
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let mut county = County::with_limits(storage.clone(), options.limits, options.enrolment);
    county.uploads = options.uploads;
    // The county's settings, and lists derived by an older rule or under other settings derived
    // again, before the first request.
    county.refresh_settings().await?;
    let county = Arc::new(county);
    let idle = options.idle.unwrap_or(IDLE);
    let app =
        router(AppState { county: county.clone(), trusted_proxies: Arc::new(TrustedProxies(options.trusted_proxies)) })
            .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(idle));
    // The enrolment limits count attempts per client address.
    let app = app.into_make_service_with_connect_info::<PeerAddr>();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let stopped = async {
        let _ = rx.await;
    };
    // What other servers sharing the database announce reaches this one's clients.
    let relay = match storage.announcements().await? {
        Some(announced) => {
            let county = county.clone();
            Some(AbortOnDrop(tokio::spawn(async move { county.relay_events(announced).await })))
        }
        None => None,
    };
    // Housekeeping runs as long as the server does (stopped with it, or when it is dropped).
    let housekeeping = (
        AbortOnDrop(tokio::spawn(housekeeping(county.clone()))),
        AbortOnDrop(tokio::spawn(deadlines(county.clone()))),
        AbortOnDrop(tokio::spawn(settings_refresh(county.clone()))),
        relay,
    );
    let task = match tls.clone() {
        None => tokio::spawn(async move {
            let _housekeeping = housekeeping;
            let listener = TunedListener { inner: listener, idle };
            let _ = axum::serve(listener, app).with_graceful_shutdown(stopped).await;
        }),
        Some(config) => {
            let listener = crate::tls::TlsListener::new(listener, config, idle)?;
            tokio::spawn(async move {
                let _housekeeping = housekeeping;
                let _ = axum::serve(listener, app).with_graceful_shutdown(stopped).await;
            })
        }
    };
    Ok(Running { addr, storage, county, tls: tls.is_some(), shutdown: Some(tx), task: Some(task) })
}

/// Aborts a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Every second: the time limits that passed since the last tick, to the live streams.
async fn deadlines(county: Arc<County>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = chrono::Utc::now().timestamp_millis();
    loop {
        every.tick().await;
        let now = chrono::Utc::now().timestamp_millis();
        if now <= last {
            continue; // the clock was set back: nothing new has passed
        }
        match county.publish_deadlines(last, now).await {
            Ok(next) => last = next,
            Err(e) => tracing::warn!(error = %e, "time limits not told; trying again in a second"),
        }
    }
}

/// Every few seconds: follows a change of the county's settings made through another server
/// sharing the database, and derives again the rows left under another version.
async fn settings_refresh(county: Arc<County>) {
    let mut every = tokio::time::interval(crate::service::settings::REFRESH_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await; // the start read them already
    loop {
        every.tick().await;
        if let Err(e) = county.refresh_settings().await {
            tracing::warn!(error = %e, "county settings not read again; trying again shortly");
        }
    }
}

/// How often a running server deletes abandoned uploads.
const HOUSEKEEPING_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Hourly, from the start: deletes abandoned uploads. A failure is logged and tried again at
/// the next hour.
async fn housekeeping(county: Arc<County>) {
    let mut every = tokio::time::interval(HOUSEKEEPING_EVERY);
    loop {
        every.tick().await;
        if let Err(e) = county.prune_abandoned_uploads(chrono::Utc::now().timestamp_millis()).await {
            tracing::warn!(error = %e, "abandoned uploads not deleted; trying again in an hour");
        }
    }
}
