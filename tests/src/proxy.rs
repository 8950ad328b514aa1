//! A TCP proxy between a device and the server that a test can cut, restore and shape, instead
//! of sleeping and hoping:
//!
//! - modes: `Up` passes everything, `Down` drops every connection, and `CutResponses` lets
//!   requests reach the server but drops the connection as soon as the answer starts coming
//!   back (the server has done the work; the device never hears of it), and `Stall` keeps
//!   connections open but passes nothing;
//! - a [`Shape`]: bandwidth each way, latency each way, as a weak mobile link behaves (a paced
//!   sender with a delay line, so a transfer takes `bytes / rate + latency`);
//! - a cut after N more bytes (either way): the connection carrying the Nth byte is closed
//!   right after it, as a link that drops mid-transfer;
//! - counters of every byte passed each way, for overhead figures.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Up = 0,
    Down = 1,
    CutResponses = 2,
    /// Connections stay open and bytes are taken, but nothing is passed either way: a link that
    /// went dead without closing (a handheld walking out of coverage).
    Stall = 3,
}

/// A link's shape: bytes per second each way (`None`: unshaped) and one-way latency.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    pub down_bytes_per_sec: Option<u64>,
    pub up_bytes_per_sec: Option<u64>,
    /// Added to every byte's trip, each way.
    pub latency: Duration,
}

impl Shape {
    /// The same bandwidth both ways (kilobits per second) and a one-way latency.
    pub fn kbit(kbit_per_sec: u64, latency: Duration) -> Shape {
        let rate = kbit_per_sec * 1000 / 8;
        Shape { down_bytes_per_sec: Some(rate), up_bytes_per_sec: Some(rate), latency }
    }
}

#[derive(Default)]
struct Shared {
    mode: AtomicU8,
    shape: Mutex<Shape>,
    /// Bytes still to pass before the next cut; `u64::MAX` for none.
    cut_in: AtomicU64,
    cuts: AtomicU64,
    up: AtomicU64,
    down: AtomicU64,
}

pub struct Proxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared { cut_in: AtomicU64::new(u64::MAX), ..Default::default() });
        let s = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    if s.mode.load(Ordering::SeqCst) == Mode::Down as u8 {
                        return; // dropped: the device sees a reset connection
                    }
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    pipe(client, server, s).await;
                });
            }
        });
        Proxy { addr, shared, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, mode: Mode) {
        self.shared.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Shapes connections from now on (and those open, from their next byte).
    pub fn shape(&self, shape: Shape) {
        *self.shared.shape.lock().unwrap() = shape;
    }

    /// Closes the connection carrying the `n`th byte from now (either way), once.
    pub fn cut_after(&self, n: u64) {
        self.shared.cut_in.store(n.max(1), Ordering::SeqCst);
    }

    /// Whether the cut asked for has happened.
    pub fn cut_pending(&self) -> bool {
        self.shared.cut_in.load(Ordering::SeqCst) != u64::MAX
    }

    /// How many cuts have happened.
    pub fn cuts(&self) -> u64 {
        self.shared.cuts.load(Ordering::SeqCst)
    }

    /// Bytes passed device → server and server → device.
    pub fn bytes(&self) -> (u64, u64) {
        (self.shared.up.load(Ordering::SeqCst), self.shared.down.load(Ordering::SeqCst))
    }

    pub fn reset_counters(&self) {
        self.shared.up.store(0, Ordering::SeqCst);
        self.shared.down.store(0, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pipe(client: TcpStream, server: TcpStream, shared: Arc<Shared>) {
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = one_way(cr, sw, shared.clone(), true);
    let down = one_way(sr, cw, shared, false);
    // Either side ending (or a cut) ends the connection both ways.
    tokio::select! {
        _ = up => {},
        _ = down => {},
    }
}

/// Passes bytes one way: read, pace at the link's rate, hold for the latency, write. Stops at a
/// cut, at the end of either side, or when the mode drops this direction.
async fn one_way(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, shared: Arc<Shared>, upward: bool) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>, bool)>();
    let s = shared.clone();
    // The paced sender: reads no faster than the link carries, stamps when each piece would
    // arrive at the other end.
    let reader = async move {
        let mut next_free = Instant::now();
        loop {
            let shape = *s.shape.lock().unwrap();
            let rate = if upward { shape.up_bytes_per_sec } else { shape.down_bytes_per_sec };
            // Pieces of about 50 ms of the link, so pacing is smooth.
            let piece = rate.map_or(64 * 1024, |r| (r / 20).clamp(64, 64 * 1024)) as usize;
            let mut buf = vec![0u8; piece];
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            buf.truncate(n);
            let mode = s.mode.load(Ordering::SeqCst);
            if mode == Mode::Stall as u8 {
                continue; // swallowed: the connection stays open, nothing arrives
            }
            if mode == Mode::Down as u8 || (!upward && mode == Mode::CutResponses as u8) {
                break; // lost on the way
            }
            // A cut within this piece: pass the bytes up to it, then close.
            let mut cut_at = None;
            let _ = s.cut_in.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                if left == u64::MAX {
                    None
                } else if left <= n as u64 {
                    cut_at = Some(left as usize);
                    Some(u64::MAX)
                } else {
                    Some(left - n as u64)
                }
            });
            let cut = cut_at.is_some();
            if let Some(keep) = cut_at {
                buf.truncate(keep);
                s.cuts.fetch_add(1, Ordering::SeqCst);
            }
            if let Some(rate) = rate {
                next_free = next_free.max(Instant::now()) + Duration::from_secs_f64(buf.len() as f64 / rate as f64);
                tokio::time::sleep_until(next_free).await;
            }
            if tx.send((Instant::now() + shape.latency, buf, cut)).is_err() || cut {
                break;
            }
        }
    };
    // The delay line: each piece leaves when its latency is up.
    let counter = if upward { &shared.up } else { &shared.down };
    let writer = async {
        while let Some((at, buf, cut)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&buf).await.is_err() {
                return;
            }
            counter.fetch_add(buf.len() as u64, Ordering::SeqCst);
            if cut {
                return;
            }
        }
    };
    // The writer finishes what the reader sent before a cut or the end.
    let (_, ()) = tokio::join!(reader, writer);
}
