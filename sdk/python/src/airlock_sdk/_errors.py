"""The errors a connector raises, one class per kind of the contract's `error-kind`."""

from __future__ import annotations


class Error(Exception):
    """A failure to report to the host: a kind and a message a person can act on.

    Raise one of the subclasses; the host shows the message with the kind
    ("config error: ...") and exits with 2 for `config`, 1 for the others.
    Never put secrets in the message.
    """

    #: The contract's `error-kind`: config, auth, network, source or internal.
    kind = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.kind} error: {self.message}"


class ConfigError(Error):
    """The connector's config is wrong: the user must change it."""

    kind = "config"


class AuthError(Error):
    """The source refused the credentials."""

    kind = "auth"


class NetworkError(Error):
    """The source could not be reached."""

    kind = "network"


class SourceError(Error):
    """The source answered with an error (missing table, permission, ...)."""

    kind = "source"


class InternalError(Error):
    """A bug or an unexpected state in the connector."""

    kind = "internal"


#: The error class of each kind, for errors that come back from the host.
BY_KIND = {
    "config": ConfigError,
    "auth": AuthError,
    "network": NetworkError,
    "source": SourceError,
    "internal": InternalError,
}


class NetError(NetworkError, OSError):
    """A network failure: `net_kind` says which (unknown-endpoint, denied,
    unreachable, timeout, tls, closed), `message` what happened and what to do.

    It is a `NetworkError` (raised out of `sync`, the host reports a network
    error) and an `OSError`, so code written against sockets catches it too.
    """

    def __init__(self, net_kind: str, message: str) -> None:
        Error.__init__(self, f"{net_kind}: {message}")
        self.net_kind = net_kind
        self.detail = message

    def __str__(self) -> str:
        return self.message
