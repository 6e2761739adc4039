//! The progress bar `sync` shows on a terminal, and the log writer that prints
//! log lines above it instead of through it.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::job::Progress;

/// The progress bar, if one is showing; log lines print above it.
#[derive(Clone, Default)]
pub(super) struct BarSlot(Arc<Mutex<Option<ProgressBar>>>);

impl BarSlot {
    /// Shows a spinner for `job` and returns the task that redraws it from
    /// `progress` every 100 ms (abort it, then [`clear`](Self::clear)).
    pub(super) fn show(&self, job: &str, progress: Arc<Progress>) -> tokio::task::JoinHandle<()> {
        let bar = ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} [{elapsed}] {prefix}: {msg}")
                .expect("valid template"),
        );
        bar.set_prefix(format!("syncing {job}"));
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                bar.set_message(progress.snapshot().line());
                bar.tick();
            }
        })
    }

    /// Removes the bar from the terminal; later log lines go straight to stderr.
    pub(super) fn clear(&self) {
        if let Some(bar) = self.0.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

/// stderr for `tracing`: with a bar showing, each write suspends the bar so
/// the line lands above it.
pub(super) struct BarWriter(pub(super) BarSlot);

impl Write for BarWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = self.0.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match bar {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
