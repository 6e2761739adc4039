//! Why a connection could not be made or went away, in words a person can act on.

use std::fmt;

/// The broad reason, as the connector sees it (`network-error-kind` in the WIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetErrorKind {
    /// No endpoint of that name in the connection config.
    UnknownEndpoint,
    /// The egress policy, a host-key check, authentication or a limit refused it.
    Denied,
    /// Name lookup, the route or the peer failed.
    Unreachable,
    /// A connect or handshake took too long.
    Timeout,
    /// The TLS handshake failed.
    Tls,
    /// The connection is closed, or in a state that does not allow the call.
    Closed,
}

/// What an SSH server answered, when that answer is why a connection failed.
/// A route built on SSH (the reverse tunnel's relay) uses it to say what the
/// answer means there, without reading the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SshRefusal {
    /// The server refused to open the `direct-tcpip` channel
    /// (administratively prohibited).
    ChannelProhibited,
    /// The server could not connect to the channel's target (connect failed).
    ChannelConnectFailed,
    /// The server refused the channel for want of resources (too many open).
    ChannelResourceShortage,
    /// The server rejected the public key offered.
    KeyRejected,
}

/// A network failure: its kind and a message that names the endpoint, host or
/// fingerprint involved and says what to do. Never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetError {
    /// The broad reason.
    pub kind: NetErrorKind,
    /// The message for the user.
    pub message: String,
    /// The SSH server's answer behind it, if that is the cause.
    pub refusal: Option<SshRefusal>,
}

impl NetError {
    /// An error of `kind` with `message`.
    pub fn new(kind: NetErrorKind, message: impl Into<String>) -> NetError {
        NetError {
            kind,
            message: message.into(),
            refusal: None,
        }
    }

    /// The same error, caused by the SSH server's answer `refusal`.
    pub fn refused_by(mut self, refusal: SshRefusal) -> NetError {
        self.refusal = Some(refusal);
        self
    }

    /// [`NetErrorKind::Denied`].
    pub fn denied(message: impl Into<String>) -> NetError {
        Self::new(NetErrorKind::Denied, message)
    }

    /// [`NetErrorKind::Unreachable`].
    pub fn unreachable(message: impl Into<String>) -> NetError {
        Self::new(NetErrorKind::Unreachable, message)
    }

    /// [`NetErrorKind::Timeout`].
    pub fn timeout(message: impl Into<String>) -> NetError {
        Self::new(NetErrorKind::Timeout, message)
    }

    /// [`NetErrorKind::Tls`].
    pub fn tls(message: impl Into<String>) -> NetError {
        Self::new(NetErrorKind::Tls, message)
    }

    /// [`NetErrorKind::Closed`].
    pub fn closed(message: impl Into<String>) -> NetError {
        Self::new(NetErrorKind::Closed, message)
    }

    /// The same error with `context: ` in front of the message.
    pub fn context(mut self, context: impl fmt::Display) -> NetError {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NetError {}
