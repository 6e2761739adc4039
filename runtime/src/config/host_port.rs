//! `HOST:PORT` as users write it: in the connection file (`via.ssh.target`,
//! `via.reverse_ssh.relay`) and on the command line (`airlock fingerprint`).

/// Splits `HOST:PORT` into host and port; an IPv6 host goes in brackets
/// (`[::1]:22`), and the brackets are not part of the host returned.
///
/// With `default_port`, the port may be left out: `HOST`, `[::1]` and a bare
/// IPv6 address (`::1`, which has no other reading) get that port. Without
/// it the port is required, and a bare IPv6 address is refused, since its
/// last group could be taken for a port. An empty host, port 0 and anything
/// that is not a port number are refused. The caller words the error, as it
/// knows which key or argument the text came from.
pub fn split_host_port(s: &str, default_port: Option<u16>) -> Option<(String, u16)> {
    let (host, port) = match s.strip_prefix('[') {
        Some(rest) => {
            let (host, tail) = rest.split_once(']')?;
            match tail.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None if tail.is_empty() => (host, None),
                None => return None,
            }
        }
        None => match s.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => (host, Some(port)),
            // Two colons or more without brackets: a bare IPv6 address.
            Some(_) => (s, None),
            None => (s, None),
        },
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default_port?,
    };
    (!host.is_empty() && port != 0).then(|| (host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::split_host_port;

    fn hp(host: &str, port: u16) -> Option<(String, u16)> {
        Some((host.to_owned(), port))
    }

    #[test]
    fn a_required_port() {
        for (text, want) in [
            ("localhost:15432", hp("localhost", 15432)),
            ("relay.example.com:2222", hp("relay.example.com", 2222)),
            ("10.0.0.1:22", hp("10.0.0.1", 22)),
            ("[::1]:15432", hp("::1", 15432)),
            ("[fe80::1%eth0]:22", hp("fe80::1%eth0", 22)),
            ("localhost", None),
            ("[::1]", None),
            ("::1:5432", None),
            (":5432", None),
            ("[]:5432", None),
            ("h:0", None),
            ("h:70000", None),
            ("h:", None),
            ("h:x", None),
            ("", None),
            ("[::1]x:5", None),
            ("[::1", None),
            ("[::1]:", None),
        ] {
            assert_eq!(split_host_port(text, None), want, "{text:?}");
        }
    }

    #[test]
    fn a_default_port() {
        for (text, want) in [
            ("bastion.example.com", hp("bastion.example.com", 22)),
            ("bastion.example.com:2222", hp("bastion.example.com", 2222)),
            ("127.0.0.1", hp("127.0.0.1", 22)),
            ("[::1]", hp("::1", 22)),
            ("[::1]:2222", hp("::1", 2222)),
            ("::1", hp("::1", 22)),
            ("fe80::1", hp("fe80::1", 22)),
            ("", None),
            (":22", None),
            ("[]", None),
            ("h:", None),
            ("h:0", None),
            ("h:ssh", None),
            ("[::1]x", None),
            ("[::1", None),
        ] {
            assert_eq!(split_host_port(text, Some(22)), want, "{text:?}");
        }
    }
}
