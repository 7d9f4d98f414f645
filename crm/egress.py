"""Where webhooks may go: public addresses only, pinned after the check.

A webhook URL is chosen by an integration user, and the worker that posts to it
runs inside our network. Without rules it is a port scanner and a way into
internal services (server-side request forgery). So:

- at registration (``validate_destination``) and again at each delivery, the
  host is resolved and every address must be public: loopback, private,
  link-local, multicast, reserved and unspecified networks are refused;
- the delivery connects to the address that was checked (``post``), never
  resolving the name a second time, so a DNS answer that changes between the
  check and the connection ("DNS rebinding") cannot redirect it; TLS still
  verifies the certificate against the host name;
- redirects are not followed (``http.client`` never does), and a failure is
  reported as one of a fixed set of classes, never the socket's own text.

``WEBHOOK_ALLOW_PRIVATE_NETWORKS`` (development and tests, whose receiver is on
127.0.0.1) lifts the address rule; ``WEBHOOK_ALLOWED_PRIVATE_HOSTS`` lifts it
for named internal hosts an operator trusts (docs/security.md).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm.models.integrations import DeliveryError


class DeliveryFailed(Exception):
    def __init__(self, error: DeliveryError):
        super().__init__(error.value)
        self.error = error


BLOCKED_MESSAGE = _(
    "This host is in a loopback, private, link-local, multicast or reserved "
    "network: webhooks are sent to public addresses only."
)


def is_public(address: str) -> bool:
    """Return True if ``address`` is a public unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_multicast
        or ip.is_reserved
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_unspecified
    )


def _private_allowed(host: str) -> bool:
    allowed = {name.lower() for name in settings.WEBHOOK_ALLOWED_PRIVATE_HOSTS}
    return settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS or host.lower() in allowed


def _target(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(_("Use an http(s) URL with a host."))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ValidationError(_("The port is not a number from 1 to 65535.")) from exc
    return parts.scheme, parts.hostname, port


def resolve(host: str, port: int) -> list[str]:
    """Return the addresses of ``host`` (raises ``socket.gaierror``)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def validate_destination(url: str) -> None:
    """Refuse a URL whose host is, or resolves to, a non-public address.

    A name that does not resolve now is accepted: nothing can be reached
    through it, and every delivery checks it again.
    """
    _scheme, host, port = _target(url)
    if _private_allowed(host):
        return
    try:
        addresses = resolve(host, port)
    except (socket.gaierror, UnicodeError):
        return
    if not all(is_public(address) for address in addresses):
        raise ValidationError(BLOCKED_MESSAGE)


def checked_address(host: str, port: int) -> str:
    """Resolve ``host`` once and return the address to connect to, if allowed."""
    try:
        addresses = resolve(host, port)
    except (socket.gaierror, UnicodeError) as exc:
        raise DeliveryFailed(DeliveryError.DNS) from exc
    if not addresses:
        raise DeliveryFailed(DeliveryError.DNS)
    # One non-public answer refuses the name: a rebinding resolver mixes them.
    if not _private_allowed(host) and not all(map(is_public, addresses)):
        raise DeliveryFailed(DeliveryError.BLOCKED)
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to a checked address; the Host header still names the host."""

    def __init__(self, host, port, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address, the certificate verified for the host name."""

    def __init__(self, host, port, *, address: str, timeout: float):
        super().__init__(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> int:
    """POST ``body`` to ``url`` under the egress rules; return the HTTP status.

    Raise ``DeliveryFailed`` with the failure's class when no status came back.
    A redirect is returned as its status, not followed.
    """
    scheme, host, port = _target(url)
    address = checked_address(host, port)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection_class = (
        _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    )
    connection = connection_class(host, port, address=address, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        return connection.getresponse().status
    except TimeoutError as exc:  # socket.timeout is TimeoutError
        raise DeliveryFailed(DeliveryError.TIMEOUT) from exc
    except ConnectionRefusedError as exc:
        raise DeliveryFailed(DeliveryError.REFUSED) from exc
    except ssl.SSLError as exc:  # certificate errors included
        raise DeliveryFailed(DeliveryError.TLS) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryFailed(DeliveryError.CONNECTION) from exc
    finally:
        connection.close()
