//! What airlock's SSH client and its SSH servers (the relay, the demo's bastion)
//! share: key loading, generation and fingerprints ([`keys`]), the algorithms
//! and flow-control sizes both sides use ([`tuning`]), and the byte stream over
//! one channel ([`SshStream`]) with the per-connection buffering that keeps a
//! stopped reader from stalling its whole session.
//!
//! The client itself (session pool, hops, host-key checks) is a transport:
//! [`crate::net::transport::ssh`]. The relay server is [`crate::relay`].
//! Everything runs on russh; `tuning` explains the algorithm choices.

pub mod keys;
pub(crate) mod stream;
pub mod tuning;

pub use keys::{fingerprint, generate_ed25519, key_type, load_client_key, write_private_key};
pub use stream::SshStream;
