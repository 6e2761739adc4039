//! One connect attempt's deadline, passed down every step of it.
//!
//! Each step (resolve and TCP, the SSH hops, the channel, TLS) stops at the same
//! instant and, when it is the one running out of time, says so in its own words;
//! a later step gets only what the earlier ones left.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::NetError;

/// When a connect attempt must be done, and the setting that said so.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    /// `timeout` from now.
    pub fn after(timeout: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + timeout,
            timeout,
        }
    }

    /// The instant.
    pub fn at(&self) -> Instant {
        self.at
    }

    /// The configured timeout it was made from (for messages).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs `step` until the deadline; past it, a timeout error saying that
    /// `doing` did not finish within the connect timeout.
    pub async fn run<T>(
        &self,
        doing: impl FnOnce() -> String,
        step: impl Future<Output = Result<T, NetError>>,
    ) -> Result<T, NetError> {
        match tokio::time::timeout_at(self.at, step).await {
            Ok(r) => r,
            Err(_) => Err(NetError::timeout(format!(
                "{} did not finish within the connect timeout ({} s, connect_timeout_secs)",
                doing(),
                self.timeout.as_secs_f32()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::NetErrorKind;

    #[tokio::test]
    async fn a_later_step_gets_what_the_earlier_left_and_names_itself() {
        let d = Deadline::after(Duration::from_millis(500));
        let first = d.run(|| "connecting".into(), async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(())
        });
        first.await.unwrap();
        let started = Instant::now();
        let second = d.run(|| "the TLS handshake with db.example".into(), async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(())
        });
        let e = second.await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_millis(400),
            "the rest, not a fresh timeout"
        );
        assert_eq!(e.kind, NetErrorKind::Timeout);
        assert_eq!(
            e.message,
            "the TLS handshake with db.example did not finish within the connect timeout \
             (0.5 s, connect_timeout_secs)"
        );
    }
}
