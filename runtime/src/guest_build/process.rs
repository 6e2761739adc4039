//! Running a build tool: a wall-time limit, and its output kept (the last
//! [`OUTPUT_TAIL`] bytes of stdout and stderr together) to show when it fails.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How much of a tool's output is kept for an error message.
pub const OUTPUT_TAIL: usize = 16 * 1024;

/// What a finished tool did.
pub struct Finished {
    /// Whether it exited with status 0.
    pub success: bool,
    /// The tail of what it printed (stdout and stderr, interleaved as read).
    pub output: String,
}

/// Why a tool could not be run to the end.
#[derive(Debug)]
pub enum RunError {
    /// It could not be started (not installed, not executable).
    Spawn(std::io::Error),
    /// It ran longer than its limit and was killed.
    Timeout(Duration, String),
}

/// Runs `cmd` (stdin closed) for at most `limit`.
pub fn run(cmd: &mut Command, limit: Duration) -> Result<Finished, RunError> {
    // A group of its own, so a timeout also stops what the tool started
    // (npm runs node, which runs wizer): they hold the output pipes open.
    let mut child = cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(RunError::Spawn)?;
    let tail = Arc::new(Mutex::new(Vec::<u8>::new()));
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut pipe| {
        let tail = tail.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
                t.extend_from_slice(&buf[..n]);
                if t.len() > 2 * OUTPUT_TAIL {
                    let cut = t.len() - OUTPUT_TAIL;
                    t.drain(..cut);
                }
            }
        })
    })
    .collect();
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > limit => {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .stderr(Stdio::null())
                    .status();
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => break None,
        }
    };
    for r in readers {
        let _ = r.join();
    }
    let output = {
        let t = tail.lock().unwrap_or_else(|e| e.into_inner());
        let from = t.len().saturating_sub(OUTPUT_TAIL);
        String::from_utf8_lossy(&t[from..]).trim_end().to_owned()
    };
    match status {
        Some(status) => Ok(Finished {
            success: status.success(),
            output,
        }),
        None => Err(RunError::Timeout(limit, output)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_tail_and_enforces_the_limit() {
        let done = run(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert!(!done.success);
        assert!(
            done.output.contains("out") && done.output.contains("err"),
            "{}",
            done.output
        );
        let long = run(
            Command::new("sh").args(["-c", "head -c 100000 /dev/zero | tr '\\0' x"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(long.output.len(), OUTPUT_TAIL);
        assert!(matches!(
            run(Command::new("sleep").arg("5"), Duration::from_millis(200)),
            Err(RunError::Timeout(..))
        ));
    }
}
