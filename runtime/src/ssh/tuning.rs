//! The russh client configuration every hop uses: algorithms, keepalive, and the
//! flow-control sizes.
//!
//! ## Flow control, and why these numbers
//!
//! russh 0.65's client re-opens a channel's SSH window as soon as its session task
//! *receives* data, not when the application reads it, and then hands the data to
//! a bounded per-channel queue of [`CHANNEL_QUEUE_MESSAGES`] messages with an
//! awaiting send. So the SSH window does not hold back a channel whose reader
//! stopped; what does is that await, and it parks the whole session task (every
//! channel, keepalives, rekeying) until the queue has room. (Upstream: russh
//! issue #770 and PR #730.) Sending is fine: a channel's writer waits for that
//! channel's own remote window.
//!
//! airlock therefore drains each channel's queue at once into its own per-connection
//! buffer of at most [`CHANNEL_BUFFER_BYTES`] (see `stream.rs`). A reader that falls
//! behind by less than that costs nothing; one that stops while the server keeps
//! sending fills it, and only then does the session wait. If another connection
//! on the same session is waiting for data meanwhile and the stopped reader has
//! read nothing for the stall timeout, the stopped connection is closed with an
//! error that says so, and the others move again. Memory per channel is bounded by
//! `CHANNEL_BUFFER_BYTES + CHANNEL_QUEUE_MESSAGES * MAX_PACKET_SIZE`.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use russh::keys::{Algorithm, EcdsaCurve, HashAlg};
use russh::{Preferred, cipher, compression, kex, mac};

use crate::config::SshHop;

/// SSH receive window per channel. It bounds bytes in flight on the wire (not
/// our memory, see the module docs), so it sets the throughput over a
/// high-latency link: 8 MiB keeps ~650 Mbit/s going at 100 ms RTT. OpenSSH's own
/// default is 2 MiB.
pub const WINDOW_SIZE: u32 = 8 * 1024 * 1024;

/// Largest data packet we accept. OpenSSH advertises 32 KiB for TCP forwarding
/// channels and fills packets from 16 KiB socket reads, so a larger value gains
/// nothing against it; russh also warns above 64 KiB.
pub const MAX_PACKET_SIZE: u32 = 32 * 1024;

/// Messages russh queues per channel before its session task waits. Kept small:
/// our pump empties it continuously, and when a connection's buffer is full this
/// is the extra memory it may hold (32 × 32 KiB = 1 MiB).
pub const CHANNEL_QUEUE_MESSAGES: usize = 32;

/// Bytes a connection buffers for a reader that has not caught up yet.
pub const CHANNEL_BUFFER_BYTES: usize = 4 * 1024 * 1024;

/// How long a connection whose reader stopped may hold up the others on its
/// session before it is closed (the client's default, and the relay's).
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Channels the relay lets one SSH connection hold open at once (a worker's
/// session to it, or a customer's). The reverse-SSH transport names it when the
/// relay refuses a channel for want of resources.
pub const MAX_CHANNELS_PER_CONNECTION: usize = 64;

/// Key exchanges, best first: post-quantum hybrid, curve25519, NIST ECDH, then
/// finite-field groups with SHA-512 (no SHA-1, no group-exchange). Each side adds
/// its markers: `ext-info-c`/`-s` (so RSA keys sign with SHA-2) and
/// `kex-strict-c-v00@openssh.com`/`-s-` (strict key exchange, Terrapin, CVE-2023-48795).
const KEX: &[kex::Name] = &[
    kex::MLKEM768X25519_SHA256,
    kex::CURVE25519,
    kex::CURVE25519_PRE_RFC_8731,
    kex::ECDH_SHA2_NISTP256,
    kex::ECDH_SHA2_NISTP384,
    kex::ECDH_SHA2_NISTP521,
    kex::DH_G16_SHA512,
    kex::DH_G18_SHA512,
];

/// [`KEX`] followed by one side's markers.
fn kex_with(markers: [kex::Name; 2]) -> Cow<'static, [kex::Name]> {
    Cow::Owned([KEX, &markers[..]].concat())
}

/// AES-GCM first (hardware AES makes it the fastest on servers), then
/// ChaCha20-Poly1305, then AES-CTR with an encrypt-then-MAC SHA-2 MAC for old servers.
const CIPHERS: &[cipher::Name] = &[
    cipher::AES_256_GCM,
    cipher::AES_128_GCM,
    cipher::CHACHA20_POLY1305,
    cipher::AES_256_CTR,
    cipher::AES_128_CTR,
];

/// MACs for the CTR fallback only (AEAD ciphers carry their own); SHA-2 only.
const MACS: &[mac::Name] = &[
    mac::HMAC_SHA256_ETM,
    mac::HMAC_SHA512_ETM,
    mac::HMAC_SHA256,
    mac::HMAC_SHA512,
];

/// Host key signature algorithms; RSA only with SHA-2 (no `ssh-rsa`/SHA-1).
const HOST_KEYS: &[Algorithm] = &[
    Algorithm::Ed25519,
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP256,
    },
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP384,
    },
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP521,
    },
    Algorithm::Rsa {
        hash: Some(HashAlg::Sha512),
    },
    Algorithm::Rsa {
        hash: Some(HashAlg::Sha256),
    },
];

/// The algorithms airlock offers, in order.
pub fn preferred() -> Preferred {
    Preferred {
        kex: kex_with([
            kex::EXTENSION_SUPPORT_AS_CLIENT,
            kex::EXTENSION_OPENSSH_STRICT_KEX_AS_CLIENT,
        ]),
        key: Cow::Borrowed(HOST_KEYS),
        host_key_certificates: Cow::Borrowed(&[]),
        cipher: Cow::Borrowed(CIPHERS),
        mac: Cow::Borrowed(MACS),
        // Database traffic through a tunnel is rarely worth the CPU of zlib.
        compression: Cow::Borrowed(&[compression::NONE]),
    }
}

/// The algorithms airlock's SSH server (the relay) accepts: as [`preferred`],
/// with the server's key exchange markers. Client keys are verified with the
/// same list, so RSA client keys must sign with SHA-2.
pub fn server_preferred() -> Preferred {
    Preferred {
        kex: kex_with([
            kex::EXTENSION_SUPPORT_AS_SERVER,
            kex::EXTENSION_OPENSSH_STRICT_KEX_AS_SERVER,
        ]),
        ..preferred()
    }
}

/// The russh client configuration for `hop`.
pub fn client_config(hop: &SshHop) -> Arc<russh::client::Config> {
    Arc::new(russh::client::Config {
        client_id: russh::SshId::Standard(Cow::Borrowed(concat!(
            "SSH-2.0-airlock_",
            env!("CARGO_PKG_VERSION")
        ))),
        window_size: WINDOW_SIZE,
        maximum_packet_size: MAX_PACKET_SIZE,
        channel_buffer_size: CHANNEL_QUEUE_MESSAGES,
        preferred: preferred(),
        keepalive_interval: Some(hop.keepalive_interval),
        keepalive_max: hop.keepalive_count as usize,
        inactivity_timeout: None,
        nodelay: true,
        ..Default::default()
    })
}
