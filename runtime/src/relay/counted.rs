//! A stream wrapper that counts the bytes read through it into a tunnel's
//! [`Traffic`], so the status shows bytes of connections while they run, not
//! only once they end.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::registry::Traffic;

/// `inner`, with every byte read from it added to `traffic.bytes`. The splice
/// reads each byte exactly once from one side, so counting reads on both sides
/// counts the traffic both ways.
pub(crate) struct Counted<S> {
    inner: S,
    traffic: Arc<Traffic>,
}

impl<S> Counted<S> {
    pub(crate) fn new(inner: S, traffic: Arc<Traffic>) -> Counted<S> {
        Counted { inner, traffic }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if read > 0 {
            self.traffic.bytes.fetch_add(read as u64, Ordering::Relaxed);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Counts one spliced connection as open while it lives.
pub(crate) struct OpenConnection(Arc<Traffic>);

impl OpenConnection {
    pub(crate) fn new(traffic: Arc<Traffic>) -> OpenConnection {
        traffic.connections.fetch_add(1, Ordering::Relaxed);
        traffic.open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(traffic)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn counts_bytes_as_they_are_read_and_open_connections_while_they_live() {
        let traffic = Arc::new(Traffic::default());
        let (a, mut b) = tokio::io::duplex(64);
        let mut a = Counted::new(a, traffic.clone());
        let open = OpenConnection::new(traffic.clone());
        assert_eq!(traffic.open.load(Ordering::Relaxed), 1);
        b.write_all(b"hello").await.unwrap();
        let mut buf = [0; 5];
        a.read_exact(&mut buf).await.unwrap();
        assert_eq!(traffic.bytes.load(Ordering::Relaxed), 5);
        // Writes are counted by the reader on the other side, not twice.
        a.write_all(b"abc").await.unwrap();
        assert_eq!(traffic.bytes.load(Ordering::Relaxed), 5);
        drop(open);
        assert_eq!(traffic.open.load(Ordering::Relaxed), 0);
        assert_eq!(traffic.connections.load(Ordering::Relaxed), 1);
    }
}
