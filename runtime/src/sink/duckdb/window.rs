//! The open window, everything since the last commit, and its one
//! transaction: when it opens, when a checkpoint is folded into it instead of
//! committed, when folding ends, and what an abort keeps.
//!
//! States: no transaction (rows pending or gathered in memory only); an open
//! transaction (direct appends or a truncate in it); an open transaction
//! holding a folded checkpoint ([`Held`]). A commit, [`Sink::close`], a
//! truncate or the end of [`FOLD_FOR`] commits the held checkpoint; an abort
//! commits it without the rows after it; a destination error drops it with
//! the rest of the window.

use std::time::Instant;

use super::DuckDbSink;
use super::append::append_direct;
use super::cell::{Cell, now};
use super::context::Context;
use super::merge::merge;
use super::sql;
use crate::schema::Value;
use crate::sink::SinkResult;

#[cfg(doc)]
use super::FOLD_FOR;
#[cfg(doc)]
use super::table::Table;
#[cfg(doc)]
use crate::sink::Sink;

/// A checkpoint folded into the open transaction: every row before it is in
/// the transaction, and each table's rows after it lie at or above its
/// [`Table::mark`]. A later commit, [`Sink::close`], [`Sink::abort`], a
/// truncate, or the end of [`FOLD_FOR`] commits it.
pub(super) struct Held {
    pub job: String,
    pub state: String,
    /// Checkpoints folded into this one, itself included.
    pub count: u64,
}

impl DuckDbSink {
    pub(super) fn begin(&mut self) -> SinkResult<()> {
        if !self.in_tx {
            self.conn
                .execute_batch("BEGIN TRANSACTION")
                .ctx("*", "BEGIN")?;
            self.in_tx = true;
        }
        Ok(())
    }

    /// Commits the window: gathered rows, every pending operation and, if
    /// given, a state. On failure everything uncommitted is dropped.
    pub(super) fn transact(&mut self, state: Option<&Held>) -> SinkResult<()> {
        let result = self.begin().and_then(|()| {
            let at = now();
            for t in self.tables.values_mut() {
                append_direct(&self.conn, t, at)?;
                merge(&self.conn, t, at)?;
            }
            if let Some(h) = state {
                save_state(&self.conn, h)?;
            }
            self.conn.execute_batch("COMMIT").ctx("*", "COMMIT")
        });
        match result {
            Ok(()) => {
                self.durable += state.map_or(0, |h| h.count);
                self.ended();
            }
            Err(_) => self.rollback(),
        }
        result
    }

    /// Commits the open transaction if it is older than `fold_for`, with the
    /// held checkpoint if any (the rows after it become durable ahead of the
    /// state, which replays them harmlessly).
    pub(super) fn commit_if_due(&mut self) -> SinkResult<()> {
        match self.window.is_some_and(|w| w.elapsed() >= self.fold_for) {
            true => self.commit_held(),
            false => Ok(()),
        }
    }

    /// Commits the held checkpoint, and whatever else the window holds.
    pub(super) fn commit_held(&mut self) -> SinkResult<()> {
        let held = self.held.take();
        let idle = self.tables.values().all(|t| t.is_idle());
        if !self.in_tx && held.is_none() && idle {
            return Ok(());
        }
        self.transact(held.as_ref())
    }

    /// Called before an upsert: a folded checkpoint waits for no later one
    /// past its time, and the window opens if it is not open.
    pub(super) fn open_window(&mut self) -> SinkResult<()> {
        if self.held.is_some() {
            self.commit_if_due()?;
        }
        self.window.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Commits `state` of `job` with every row before it: folded into the
    /// open transaction while the window holds only direct appends and is
    /// younger than `fold_for`, committed at once otherwise.
    pub(super) fn checkpoint(&mut self, job: &str, state: &str) -> SinkResult<()> {
        // Another job's folded checkpoint is not replaced by this one.
        if self.held.as_ref().is_some_and(|h| h.job != job) {
            self.commit_held()?;
        }
        let count = 1 + self.held.as_ref().map_or(0, |h| h.count);
        let held = Held {
            job: job.to_owned(),
            state: state.to_owned(),
            count,
        };
        let fold = !self.truncated
            && self.tables.values().all(|t| t.pending.is_empty())
            && self.window.is_some_and(|w| w.elapsed() < self.fold_for);
        if !fold {
            return self.transact(Some(&held));
        }
        // Every row before the checkpoint goes into the transaction now, and
        // each table's bound marks where the rows after it begin.
        self.append_all_gathered()?;
        for t in self.tables.values_mut() {
            t.mark = t.keys_below;
        }
        self.held = Some(held);
        Ok(())
    }

    /// Marks every row of `table` deleted, in the open transaction.
    pub(super) fn truncate_table(&mut self, table: &str) -> SinkResult<()> {
        // An abort cannot take a truncate back out of the transaction, so a
        // folded checkpoint commits before it.
        if self.held.is_some() {
            self.commit_held()?;
        }
        self.window.get_or_insert_with(Instant::now);
        self.truncated = true;
        self.begin()?;
        let done = self
            .conn
            .execute(&sql::truncate(table), [Cell(&Value::Timestamp(now()))])
            .ctx(table, "truncating")
            .map(drop);
        if done.is_err() {
            self.rollback();
        }
        done
    }

    /// Commits the held checkpoint, if any, without the rows after it; drops
    /// everything else uncommitted.
    pub(super) fn abort_window(&mut self) {
        if let Some(held) = self.held.take()
            && self.keep_held(&held).is_ok()
        {
            self.durable += held.count;
            self.ended();
        } else {
            self.rollback();
        }
    }

    /// Forgets the window once it is committed or rolled back.
    pub(super) fn ended(&mut self) {
        (self.in_tx, self.truncated, self.window, self.held) = (false, false, None, None);
        for t in self.tables.values_mut() {
            t.mark = None;
        }
    }

    /// Drops everything uncommitted, folded checkpoints included.
    pub(super) fn rollback(&mut self) {
        if self.in_tx {
            // Errors only if DuckDB already ended the transaction itself.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        for t in self.tables.values_mut() {
            t.clear_pending();
        }
        self.ended();
    }

    /// Commits the held checkpoint without what came after it: gathered and
    /// pending rows are dropped, and rows appended after it (at or above each
    /// table's mark) deleted.
    fn keep_held(&mut self, held: &Held) -> SinkResult<()> {
        self.begin()?;
        for t in self.tables.values_mut() {
            t.clear_pending();
            if let (Some(mark), Some(sql)) = (t.mark, &t.past_mark_sql) {
                (self.conn.execute(sql, [mark]))
                    .ctx(&t.name, "dropping rows after the checkpoint")?;
            }
        }
        save_state(&self.conn, held)?;
        self.conn.execute_batch("COMMIT").ctx("*", "COMMIT")
    }
}

/// Saves a job's state, counting the checkpoints it stands for.
fn save_state(conn: &duckdb::Connection, h: &Held) -> SinkResult<()> {
    let (job, count) = (h.job.as_str(), h.count as i64);
    let params: [&dyn duckdb::ToSql; 5] = [
        &job,
        &h.state,
        &job,
        &count,
        &Cell(&Value::Timestamp(now())),
    ];
    (conn.execute(sql::SAVE_STATE, params))
        .ctx(
            "_airlock_state",
            &format!("saving the state of job `{job}`"),
        )
        .map(drop)
}
