//! The byte stream every transport yields and TLS wraps.

use tokio::io::{AsyncRead, AsyncWrite};

/// A bidirectional byte stream to a peer, whatever carries it (TCP, an SSH
/// channel, TLS over either).
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// A boxed [`Stream`].
pub type BoxStream = Box<dyn Stream>;
