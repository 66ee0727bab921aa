"""Where webhooks may be sent: only to public addresses, unless the site allows private ones.

A target URL is resolved once, every address it resolves to is checked, and the request then
goes to that checked address (with the original Host and TLS server name), so a name that
resolves differently a moment later (DNS rebinding) cannot redirect it. Redirects are never
followed. Literal IPs in any spelling (127.1, 2130706433, [::ffff:10.0.0.1]) are resolved by
the C library without the network and checked like names.
"""

import http.client
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from apps.core.errors import ApplicationError


class UnsafeTarget(ApplicationError):
    status = 400


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the checked IP the request goes to


def private_allowed() -> bool:
    return bool(getattr(settings, "ARBITER_WEBHOOKS_ALLOW_PRIVATE", False))


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
        or not address.is_global
    )


def resolve_target(url: str) -> Target:
    """The URL's parts and the address to send to, or `UnsafeTarget` saying why not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeTarget("A webhook URL must start with http:// or https://.")
    if not parts.hostname:
        raise UnsafeTarget("A webhook URL needs a host.")
    if parts.username or parts.password:
        raise UnsafeTarget("A webhook URL must not carry a user name or password.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeTarget("The webhook URL's port is not valid.") from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeTarget(f"The host {parts.hostname!r} does not resolve.") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not private_allowed():
        refused = sorted({str(a) for a in addresses if not _is_public(a)})
        if refused:
            raise UnsafeTarget(
                f"The host {parts.hostname!r} resolves to a loopback, private or link-local "
                f"address ({', '.join(refused)}); webhooks go to public addresses only."
            )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(
        scheme=parts.scheme, host=parts.hostname, port=port, path=path, address=str(addresses[0])
    )


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(target: Target, body: bytes, headers: dict, *, timeout: float) -> int:
    """POSTs to the checked address and returns the HTTP status (the body is read and dropped).
    Network failures raise OSError."""
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = kind(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
        return response.status
    finally:
        connection.close()
