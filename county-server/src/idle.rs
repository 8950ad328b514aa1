//! Connections whose answers stop being taken are dropped: a write that cannot go on (the
//! client's window and the socket's buffer full) for the idle time fails, and the connection
//! with it. Reads are not timed here — a handler may work for minutes (a roster import) while
//! the connection is quiet, and request bodies have their own timeout that restarts at every
//! frame (tower-http's) — so nothing that moves is ever cut.
//!
//! (tower-http's response-body timeout does not do this: it times a body that is not ready,
//! and an answer held in memory is always ready; it is hyper's writes that wait.)

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// An IO stream whose writes fail after waiting `idle` without progress.
pub struct WriteIdle<T> {
    inner: T,
    idle: Duration,
    /// Running while a write or flush waits; gone once one goes through.
    waiting: Option<Pin<Box<Sleep>>>,
}

impl<T> WriteIdle<T> {
    pub fn new(inner: T, idle: Duration) -> Self {
        WriteIdle { inner, idle, waiting: None }
    }

    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// What a write's outcome means for the timer: progress stops it; waiting starts it (or
    /// fails, once it has run out).
    fn watch<R>(&mut self, cx: &mut Context<'_>, outcome: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        match outcome {
            Poll::Ready(r) => {
                self.waiting = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let idle = self.idle;
                let timer = self.waiting.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("the client took nothing for {} s", idle.as_secs()),
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteIdle<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteIdle<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, outcome)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, outcome)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let outcome = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, outcome)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_write_nobody_takes_fails_after_the_idle_time_and_a_slow_reader_is_never_cut() {
        let idle = Duration::from_millis(300);
        // Nobody reads: the pipe's 64 bytes fill, the write waits, then fails.
        let (near, _far) = tokio::io::duplex(64);
        let mut w = WriteIdle::new(near, idle);
        let started = std::time::Instant::now();
        let err = w.write_all(&[7u8; 4096]).await.expect_err("nobody takes it");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= idle, "{:?}", started.elapsed());

        // A reader taking 64 bytes every half idle time: slow, but never cut.
        let (near, mut far) = tokio::io::duplex(64);
        let mut w = WriteIdle::new(near, idle);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 64];
            loop {
                tokio::time::sleep(idle / 2).await;
                match far.read(&mut buf).await {
                    Ok(0) | Err(_) => break got,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
        });
        let started = std::time::Instant::now();
        w.write_all(&[9u8; 640]).await.expect("a moving reader is never cut");
        w.shutdown().await.unwrap();
        assert!(started.elapsed() > idle * 3, "the transfer outlasted the idle time several times");
        assert_eq!(reader.await.unwrap(), vec![9u8; 640]);
    }
}
