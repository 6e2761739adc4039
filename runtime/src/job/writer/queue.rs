//! The queue between the connector and the sink thread, bounded in
//! operations and in bytes of rows: the connector waits for room (at most a
//! given wait), the sink thread gives room back as it takes operations out.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Operations queued for the sink thread. The DuckDB sink appends a full
/// sync 16,384 rows at a time; the queue holds more than that in SDK batches
/// (1,024 rows), so the connector keeps reading while a chunk is appended
/// (at 8 it waited for every chunk: 2.9 s instead of 3.6 s for 500,000 rows).
pub(super) const QUEUE_OPS: usize = 64;
/// Bytes of rows queued for the sink thread. Eight batches of the host-call
/// payload limit (64 MiB) would be half a GiB; this keeps the queue to a few
/// dozen SDK batches, which is all the overlap needs. One batch larger than
/// this is still accepted when the queue is empty.
pub(super) const QUEUE_BYTES: u64 = 16 << 20;
/// How long the connector waits for room in the queue before the sync fails:
/// a destination that applies nothing for this long is stuck (a lock held by
/// another process, a full disk), not slow.
pub(super) const QUEUE_WAIT: Duration = Duration::from_secs(600);

/// What the queue to the sink thread holds, bounded by [`QUEUE_OPS`]
/// operations and [`QUEUE_BYTES`] of rows.
#[derive(Default)]
pub(super) struct Budget {
    used: Mutex<Used>,
    freed: Condvar,
}

#[derive(Default)]
struct Used {
    ops: usize,
    bytes: u64,
    /// The sink thread has ended (also by a panic): nothing waits any more.
    closed: bool,
}

impl Budget {
    /// Takes room for one operation holding `bytes` of rows, waiting while the
    /// queue is full. `false`: no room came within `wait`.
    pub(super) fn take(&self, bytes: u64, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut g = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let full = |u: &Used| {
            !u.closed && (u.ops >= QUEUE_OPS || (u.bytes > 0 && u.bytes + bytes > QUEUE_BYTES))
        };
        while full(&g) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            g = self
                .freed
                .wait_timeout(g, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        g.ops += 1;
        g.bytes += bytes;
        true
    }

    /// Gives back one operation's room.
    pub(super) fn give(&self, bytes: u64) {
        let mut g = self.used.lock().unwrap_or_else(|e| e.into_inner());
        g.ops = g.ops.saturating_sub(1);
        g.bytes = g.bytes.saturating_sub(bytes);
        self.freed.notify_all();
    }

    /// Waits (at most `wait`) until the sink thread has ended; `false` if it
    /// has not.
    pub(super) fn wait_closed(&self, wait: Duration) -> bool {
        let g = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let (g, _) = (self.freed)
            .wait_timeout_while(g, wait, |u| !u.closed)
            .unwrap_or_else(|e| e.into_inner());
        g.closed
    }

    /// The sink thread ended: nobody will give room back.
    pub(super) fn close(&self) {
        self.used.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.freed.notify_all();
    }
}

/// Closes the [`Budget`] when the sink thread ends, however it ends.
pub(super) struct CloseOnExit(pub Arc<Budget>);

impl Drop for CloseOnExit {
    fn drop(&mut self) {
        self.0.close();
    }
}
