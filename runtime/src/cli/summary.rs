//! The per-table summary `sync` and `demo` print after a sync.

use std::io::Write;

use crate::job::{SyncReport, thousands};

/// Prints where the job went, upserts and deletes per table, checkpoints and
/// the rate. One lock on stdout, so the lines stay together.
pub(super) fn print(r: &SyncReport) {
    let s = &r.stats;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "synced job `{}` into {} in {:.2}s",
        r.job,
        r.destination,
        s.elapsed.as_secs_f64()
    );
    let width = s.tables.keys().map(String::len).max().unwrap_or(5).max(5);
    let _ = writeln!(
        out,
        "  {:<width$}  {:>12}  {:>10}",
        "table", "upserts", "deletes"
    );
    for (name, t) in &s.tables {
        let _ = writeln!(
            out,
            "  {name:<width$}  {:>12}  {:>10}",
            thousands(t.upserts),
            thousands(t.deletes)
        );
    }
    let rate = s.total_upserts() as f64 / s.elapsed.as_secs_f64().max(1e-9);
    let _ = writeln!(
        out,
        "  {} checkpoints, {} rows/s",
        s.checkpoints,
        thousands(rate as u64)
    );
}
