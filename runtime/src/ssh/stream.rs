//! [`SshStream`]: one `direct-tcpip` channel as a tokio byte stream, with its own
//! bounded receive buffer so a reader that stops does not stall the session (see
//! `tuning.rs` for why russh needs this).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use russh::{Channel, ChannelId, ChannelMsg};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};

use crate::ssh::tuning::CHANNEL_BUFFER_BYTES;

/// What one queued packet costs besides its bytes (the `Bytes` allocation,
/// the permit and the queue slot), charged against the channel's buffer.
const PACKET_OVERHEAD: usize = 64;

/// Per-session flow state shared by the streams of one SSH session.
#[derive(Debug, Default)]
pub(crate) struct SessionFlow {
    /// Readers of this session waiting for data right now. A stopped reader's
    /// full buffer only harms the session when someone else is waiting.
    waiting_readers: AtomicUsize,
}

/// What a stream does when its reader stops while the server keeps sending:
/// once its buffer is full and its reader has read nothing, close the
/// connection after `shared` if another reader on the session is waiting, or
/// after `alone` in any case; `None`: never on that ground.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StallPolicy {
    shared: Option<Duration>,
    alone: Option<Duration>,
}

impl StallPolicy {
    /// Wait for the reader however long it takes: for a channel that carries
    /// the next hop's SSH session, whose own channels handle stalls.
    pub(crate) const WAIT: StallPolicy = StallPolicy {
        shared: None,
        alone: None,
    };

    /// Close after `d` while another reader on the session waits.
    pub(crate) fn close_after(d: Duration) -> StallPolicy {
        StallPolicy {
            shared: Some(d),
            alone: None,
        }
    }

    /// For the relay, whose sessions are shared by many jobs: also close after
    /// `alone` when nobody else reads, as a parked session holds up connections
    /// that cannot open meanwhile, which no reader count sees.
    pub(crate) fn close_when_stuck(shared: Duration, alone: Duration) -> StallPolicy {
        StallPolicy {
            shared: Some(shared),
            alone: Some(alone),
        }
    }
}

/// Who is at the other end of a stream's SSH session, for its errors.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Peer {
    /// A bastion this host connected to; the pool reconnects to it.
    Bastion,
    /// A worker or customer connected to the relay.
    RelayClient,
}

enum Item {
    Data(Bytes, OwnedSemaphorePermit),
    Eof,
    Error(io::Error),
}

/// A connection through an SSH tunnel (a `direct-tcpip` channel), as a tokio
/// byte stream. Reading gives the target's bytes; `shutdown` sends EOF; dropping
/// closes the channel.
pub struct SshStream {
    /// Told when the connection is closed for stalling others.
    stalled: Arc<Notify>,
    rx: mpsc::UnboundedReceiver<Item>,
    current: Option<(Bytes, OwnedSemaphorePermit)>,
    done: bool,
    writer: Pin<Box<dyn AsyncWrite + Send + Sync>>,
    read_bytes: Arc<AtomicU64>,
    flow: Arc<SessionFlow>,
    waiting: bool,
    /// `host:port via user@bastion:port (...)`, for errors.
    label: Arc<str>,
    peer: Peer,
}

impl std::fmt::Debug for SshStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshStream").finish_non_exhaustive()
    }
}

impl SshStream {
    /// Wraps an open channel; spawns the task that moves its incoming data into
    /// the stream's buffer.
    pub(crate) fn new<S>(
        channel: Channel<S>,
        flow: Arc<SessionFlow>,
        stall: StallPolicy,
        label: String,
        peer: Peer,
    ) -> SshStream
    where
        // A client's channel, or (in the relay) a server's.
        S: From<(ChannelId, ChannelMsg)> + Send + Sync + 'static,
    {
        let (read_half, write_half) = channel.split();
        let writer = Box::pin(write_half.make_writer());
        let (tx, rx) = mpsc::unbounded_channel();
        let read_bytes = Arc::new(AtomicU64::new(0));
        let stalled = Arc::new(Notify::new());
        let label: Arc<str> = label.into();
        let pump = Pump {
            stalled: stalled.clone(),
            tx,
            budget: Arc::new(Semaphore::new(CHANNEL_BUFFER_BYTES)),
            read_bytes: read_bytes.clone(),
            flow: flow.clone(),
            stall,
            label: label.clone(),
            peer,
        };
        tokio::spawn(async move {
            let mut read_half = read_half;
            pump.run(&mut read_half).await;
            // Best effort: tell the server we are done with the channel (it may
            // already be closed, or the session gone).
            let _ = write_half.close().await;
        });
        SshStream {
            stalled,
            rx,
            current: None,
            done: false,
            writer,
            read_bytes,
            flow,
            waiting: false,
            label,
            peer,
        }
    }

    /// Completes once the connection was closed for stalling the others on
    /// its session. Its reader sees why only after the bytes buffered before
    /// that; a splice whose copy is blocked elsewhere waits on this instead.
    pub(crate) fn stalled(&self) -> impl std::future::Future<Output = ()> + use<> {
        let stalled = self.stalled.clone();
        async move { stalled.notified().await }
    }

    /// A write that failed because the channel is gone: say over which
    /// session, since russh only says "channel closed".
    fn explain(&self, e: io::Error) -> io::Error {
        let why = match self.peer {
            Peer::Bastion => "the bastion closed the channel or the SSH connection to it was lost",
            Peer::RelayClient => "the channel was closed or the SSH connection it ran on was lost",
        };
        io::Error::new(e.kind(), format!("{}: {e}: {why}", self.label))
    }

    fn set_waiting(&mut self, waiting: bool) {
        if self.waiting != waiting {
            self.waiting = waiting;
            if waiting {
                self.flow.waiting_readers.fetch_add(1, Ordering::Relaxed);
            } else {
                self.flow.waiting_readers.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for SshStream {
    fn drop(&mut self) {
        self.set_waiting(false);
    }
}

impl AsyncRead for SshStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if let Some((data, _permit)) = &mut this.current {
                let n = data.len().min(buf.remaining());
                buf.put_slice(&data.split_to(n));
                if data.is_empty() {
                    // Dropping the permit gives the bytes back to the pump.
                    this.current = None;
                }
                this.read_bytes.fetch_add(n as u64, Ordering::Relaxed);
                this.set_waiting(false);
                return Poll::Ready(Ok(()));
            }
            if this.done {
                return Poll::Ready(Ok(()));
            }
            let item = match this.rx.poll_recv(cx) {
                Poll::Pending => {
                    this.set_waiting(true);
                    return Poll::Pending;
                }
                Poll::Ready(item) => item,
            };
            this.set_waiting(false);
            match item {
                Some(Item::Data(data, permit)) => this.current = Some((data, permit)),
                Some(Item::Eof) | None => this.done = true,
                Some(Item::Error(e)) => {
                    this.done = true;
                    return Poll::Ready(Err(e));
                }
            }
        }
    }
}

impl AsyncWrite for SshStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let written = ready!(self.writer.as_mut().poll_write(cx, buf));
        Poll::Ready(written.map_err(|e| self.explain(e)))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = ready!(self.writer.as_mut().poll_flush(cx));
        Poll::Ready(flushed.map_err(|e| self.explain(e)))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.writer.as_mut().poll_shutdown(cx))?;
        Poll::Ready(Ok(()))
    }
}

/// Moves a channel's messages from russh's small queue into the stream's
/// byte-bounded buffer, so russh's session task rarely waits on this channel.
struct Pump {
    /// Told when the connection is closed for stalling others.
    stalled: Arc<Notify>,
    tx: mpsc::UnboundedSender<Item>,
    budget: Arc<Semaphore>,
    read_bytes: Arc<AtomicU64>,
    flow: Arc<SessionFlow>,
    stall: StallPolicy,
    label: Arc<str>,
    peer: Peer,
}

impl Pump {
    async fn run(&self, read_half: &mut russh::ChannelReadHalf) {
        loop {
            let msg = tokio::select! {
                msg = read_half.wait() => msg,
                () = self.tx.closed() => return,
            };
            match msg {
                Some(ChannelMsg::Data { data }) => {
                    let Some(permit) = self.reserve(data.len()).await else {
                        return;
                    };
                    if self.tx.send(Item::Data(data, permit)).is_err() {
                        return;
                    }
                }
                // The target closed its side; the channel may still take writes.
                Some(ChannelMsg::Eof) => {
                    let _ = self.tx.send(Item::Eof);
                }
                Some(ChannelMsg::Close) => {
                    let _ = self.tx.send(Item::Eof);
                    return;
                }
                // russh drops a channel's sender when its session ends: the
                // bastion (or the network to it) went away mid-connection.
                // Say so, naming it, rather than show a bare end of stream.
                None => {
                    let why = match self.peer {
                        Peer::Bastion => {
                            "the SSH connection to the bastion was lost; the next connection reconnects"
                        }
                        Peer::RelayClient => "the SSH connection it ran on was lost",
                    };
                    let _ = self.tx.send(Item::Error(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        format!("{}: {why}", self.label),
                    )));
                    return;
                }
                // stderr-style data and requests do not occur on direct-tcpip.
                Some(_) => {}
            }
        }
    }

    /// Waits until the buffer has room for `len` bytes. `None`: the stream was
    /// dropped, or the reader stalled others and the connection was closed.
    async fn reserve(&self, len: usize) -> Option<OwnedSemaphorePermit> {
        // Each queued packet also costs its allocation and queue slot, so it is
        // charged that too: a flood of tiny packets fills the budget like bulk
        // data does. A packet is never larger than the buffer, but do not wait
        // forever if it were.
        let want = (len + PACKET_OVERHEAD).min(CHANNEL_BUFFER_BYTES) as u32;
        // The common case: there is room, no timer needed.
        if let Ok(permit) = self.budget.clone().try_acquire_many_owned(want) {
            return Some(permit);
        }
        // The check runs every `shared`.
        let StallPolicy {
            shared: grace,
            alone,
        } = self.stall;
        let mut seen = self.read_bytes.load(Ordering::Relaxed);
        let mut stuck_since = tokio::time::Instant::now();
        loop {
            let acquire = self.budget.clone().acquire_many_owned(want);
            let tick = async {
                match grace {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                permit = acquire => return permit.ok(),
                () = self.tx.closed() => return None,
                () = tick => {
                    let now = self.read_bytes.load(Ordering::Relaxed);
                    let others = self.flow.waiting_readers.load(Ordering::Relaxed);
                    if now != seen {
                        stuck_since = tokio::time::Instant::now();
                    }
                    let long_enough = alone.is_some_and(|a| stuck_since.elapsed() >= a);
                    if now == seen && (others > 0 || long_enough) {
                        let secs = stuck_since.elapsed().as_secs_f32();
                        tracing::warn!(
                            "{}: closing a connection whose reader stopped for {secs:.0} s with {} MiB buffered, \
                             so the other connections on the same SSH session ({others} waiting) can proceed",
                            self.label,
                            CHANNEL_BUFFER_BYTES >> 20
                        );
                        let _ = self.tx.send(Item::Error(io::Error::new(
                            io::ErrorKind::ConnectionAborted,
                            format!(
                                "{}: connection closed by airlock: nothing was read from it for {secs:.0} s while \
                                 the other side kept sending ({} MiB buffered), which holds up every other \
                                 connection on the same SSH session",
                                self.label,
                                CHANNEL_BUFFER_BYTES >> 20
                            ),
                        )));
                        self.stalled.notify_one();
                        return None;
                    }
                    seen = now;
                }
            }
        }
    }
}
