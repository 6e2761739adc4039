//! Live counters of a sync, shared between the sandbox (which writes them) and
//! whoever shows progress or the final summary.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

/// What one table received during this run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TableStats {
    /// Rows upserted.
    pub upserts: u64,
    /// Keys deleted.
    pub deletes: u64,
    /// Truncations.
    pub truncates: u64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    /// Per table, in name order.
    pub tables: BTreeMap<String, TableStats>,
    /// Checkpoints committed in this run.
    pub checkpoints: u64,
    /// Time since the run started.
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Snapshot {
    /// Rows upserted across tables.
    pub fn total_upserts(&self) -> u64 {
        self.tables.values().map(|t| t.upserts).sum()
    }

    /// One line: `users 1,200 · events 1,200 · 3 checkpoints`.
    pub fn line(&self) -> String {
        let mut parts: Vec<String> = self
            .tables
            .iter()
            .map(|(name, t)| format!("{name} {}", thousands(t.upserts)))
            .collect();
        parts.push(format!("{} checkpoints", self.checkpoints));
        parts.join(" · ")
    }
}

/// Formats `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Thread-safe counters. Updated once per batch, so a lock is cheap enough.
#[derive(Debug)]
pub struct Progress {
    started: Mutex<Instant>,
    inner: Mutex<(BTreeMap<String, TableStats>, u64)>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            started: Mutex::new(Instant::now()),
            inner: Mutex::new((BTreeMap::new(), 0)),
        }
    }
}

impl Progress {
    /// Adds to one table's counters.
    pub fn add(&self, table: &str, f: impl FnOnce(&mut TableStats)) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match g.0.get_mut(table) {
            Some(t) => f(t),
            None => f(g.0.entry(table.to_owned()).or_default()),
        }
    }

    /// Restarts the clock: elapsed time and rates then cover the sync alone, not
    /// compiling and preparing it.
    pub fn restart_clock(&self) {
        *self.started.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    /// Counts `n` more committed checkpoints.
    pub fn checkpoints(&self, n: u64) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).1 += n;
    }

    /// Makes sure `table` shows up in summaries even if it receives nothing.
    pub fn declare(&self, table: &str) {
        self.add(table, |_| {});
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        let started = *self.started.lock().unwrap_or_else(|e| e.into_inner());
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Snapshot {
            tables: g.0.clone(),
            checkpoints: g.1,
            elapsed: started.elapsed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_counts() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        let p = Progress::default();
        p.declare("events");
        p.add("users", |t| t.upserts += 1200);
        p.checkpoints(1);
        assert_eq!(
            p.snapshot().line(),
            "events 0 · users 1,200 · 1 checkpoints"
        );
    }
}
