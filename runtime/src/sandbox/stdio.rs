//! The connector's stdout and stderr: forwarded line by line to `tracing`,
//! tagged with the job, with secrets masked, and the last lines kept so a trap
//! can be shown together with what the connector printed (a Rust panic message).

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use crate::redact::Redactor;

/// Longest line kept whole; longer output is split so one call cannot grow a buffer.
const MAX_LINE: usize = 8 * 1024;
/// Lines kept for error reports.
const TAIL_LINES: usize = 20;

/// Which stream of the connector.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    /// fd 1.
    Stdout,
    /// fd 2 (Rust panics print here).
    Stderr,
}

/// A write-only sink for one stdio stream of one job. Cheap to clone.
#[derive(Clone)]
pub struct GuestOutput {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    job: String,
    stream: Stream,
    redactor: Redactor,
    partial: Vec<u8>,
    tail: VecDeque<String>,
}

impl GuestOutput {
    /// A stream whose lines are logged for `job`.
    pub fn new(job: &str, stream: Stream, redactor: Redactor) -> Self {
        GuestOutput {
            inner: Arc::new(Mutex::new(Inner {
                job: job.to_owned(),
                stream,
                redactor,
                partial: Vec::new(),
                tail: VecDeque::with_capacity(TAIL_LINES),
            })),
        }
    }

    /// The last lines written (including an unterminated one), oldest first.
    pub fn tail(&self) -> Vec<String> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut lines: Vec<String> = inner.tail.iter().cloned().collect();
        if !inner.partial.is_empty() {
            lines.push(
                inner
                    .redactor
                    .redact(&String::from_utf8_lossy(&inner.partial))
                    .into_owned(),
            );
        }
        lines
    }

    fn write(&self, mut bytes: &[u8]) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        while !bytes.is_empty() {
            let room = MAX_LINE - inner.partial.len();
            let (line_end, take) = match bytes.iter().position(|&b| b == b'\n') {
                Some(i) if i < room => (true, i + 1),
                _ => (bytes.len() >= room, bytes.len().min(room)),
            };
            let chunk = &bytes[..take];
            inner
                .partial
                .extend_from_slice(chunk.strip_suffix(b"\n").unwrap_or(chunk));
            bytes = &bytes[take..];
            if line_end {
                inner.emit();
            }
        }
    }
}

impl Inner {
    fn emit(&mut self) {
        let raw = String::from_utf8_lossy(&self.partial);
        let line = self
            .redactor
            .redact(raw.trim_end_matches('\r'))
            .into_owned();
        self.partial.clear();
        match self.stream {
            Stream::Stdout => tracing::info!(target: "airlock::guest", job = %self.job, "{line}"),
            Stream::Stderr => tracing::warn!(target: "airlock::guest", job = %self.job, "{line}"),
        }
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
    }
}

impl AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        // Never blocks and never fails: a connector must not die because its log is slow.
        self.write(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_bounds_them_and_masks_secrets() {
        let mut r = Redactor::default();
        r.add("s3cret");
        let out = GuestOutput::new("j", Stream::Stderr, r);
        out.write(b"panicked at src/lib.rs:1:1:\npassword s3c");
        out.write(b"ret leaked\r\nhalf");
        assert_eq!(
            out.tail(),
            ["panicked at src/lib.rs:1:1:", "password *** leaked", "half"]
        );
        out.write(&vec![b'x'; MAX_LINE * 2 + 5]);
        let tail = out.tail();
        assert!(tail.iter().all(|l| l.len() <= MAX_LINE));
        // "half" filled the first line up; 9 bytes are left open.
        assert_eq!(tail.last().unwrap().len(), 9);
    }
}
