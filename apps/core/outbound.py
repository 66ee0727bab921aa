"""The one guard for every URL the app calls on its own: webhooks, model endpoints, anything later.

A URL is resolved once; every address it resolves to must be public, unless the operator
allow-lists it in ARBITER_OUTBOUND_ALLOW_HOSTS (the environment, never a project admin). The
request then goes to that checked address, with the URL's own Host header and TLS server name,
so a name that resolves differently a moment later (DNS rebinding) reaches nothing new. Redirects
are never followed, and callers report a failed request by its status and their own reason,
never by the body the target sent.

Refused: loopback, private, shared (100.64/10), link-local, multicast, reserved, unspecified and
documentation addresses; IPv6 forms that carry an IPv4 address inside (IPv4-mapped, IPv4-compatible,
6to4 2002::/16, Teredo 2001::/32, NAT64 64:ff9b::/96 and 64:ff9b:1::/48), unique-local and
site-local ranges; and IPv4 written in any spelling but four decimal numbers (127.1, 2130706433,
0x7f000001, 0177.0.0.1), which C resolvers accept and people misread.

Allow-list entries, comma-separated: a host name (`vllm.lan`), an address (`10.0.0.5`, `[fd00::5]`),
a network (`10.0.0.0/24`), each optionally with a port (`vllm.lan:8000`, `127.0.0.1:8001`). A named
host is trusted whatever it resolves to; an address or network allows exactly those addresses.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from apps.core.errors import ApplicationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_SETTING = "ARBITER_OUTBOUND_ALLOW_HOSTS"

# IPv6 ranges refused by name, checked before the generic "not global" test so the reason is exact.
_REFUSED_V6: tuple[tuple[ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.IPv6Network(net), why)
    for net, why in (
        ("::ffff:0:0/96", "an IPv4-mapped address"),
        ("::/96", "an IPv4-compatible address"),
        ("64:ff9b::/96", "a NAT64 address"),
        ("64:ff9b:1::/48", "a local NAT64 address"),
        ("2002::/16", "a 6to4 address"),
        ("2001::/32", "a Teredo address"),
        ("fc00::/7", "a unique-local (private) address"),
        ("fec0::/10", "a site-local address"),
        ("fe80::/10", "a link-local address"),
        ("ff00::/8", "a multicast address"),
    )
)


class UnsafeTarget(ApplicationError):
    """The URL may not be called: a bad form, a name that does not resolve, or an address the
    guard refuses. The message says which, in words fit for the person who typed the URL."""

    status = 400


@dataclass(frozen=True)
class Target:
    """A checked URL: where the request is addressed (`host`) and where it actually goes."""

    scheme: str
    host: str
    port: int
    path: str
    address: str  # the checked IP the connection is made to


@dataclass(frozen=True)
class AllowEntry:
    host: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    def allows(self, *, host: str, port: int, address: IPAddress | None) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host is not None:
            return self.host == host
        return address is not None and self.network is not None and address in self.network


def refusal_reason(address: IPAddress) -> str | None:
    """Why a connection to `address` is refused (e.g. "a loopback address"), or None if public."""
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "a scoped (link-local) address"
        for network, why in _REFUSED_V6:
            if address in network:
                return why
    for flag, why in (
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_reserved", "a reserved address"),
        ("is_private", "a private address"),
    ):
        if getattr(address, flag):
            return why
    if not address.is_global:
        return "a non-public address"
    return None


def _normal_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


def parse_allow_entry(text: str) -> AllowEntry:
    """One allow-list entry; ValueError says what is wrong with it."""
    text = text.strip()
    if not text:
        raise ValueError("an empty entry")
    if "/" in text:
        return AllowEntry(network=ipaddress.ip_network(text, strict=False))
    host, port = text, None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{text!r} is not [address] or [address]:port")
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = int(port_text)
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"{text!r} has no valid port")
    try:
        return AllowEntry(network=ipaddress.ip_network(host), port=port)
    except ValueError:
        pass
    if not host or _odd_ipv4_spelling(host):
        raise ValueError(f"{text!r} is not a host name or an address")
    return AllowEntry(host=_normal_host(host), port=port)


@lru_cache(maxsize=16)
def _parse_allow_list(entries: tuple[str, ...]) -> tuple[AllowEntry, ...]:
    from django.core.exceptions import ImproperlyConfigured

    parsed = []
    for entry in entries:
        try:
            parsed.append(parse_allow_entry(entry))
        except ValueError as exc:
            raise ImproperlyConfigured(f"{ALLOW_SETTING}: {exc}.") from None
    return tuple(parsed)


def operator_allow_list() -> tuple[AllowEntry, ...]:
    """The operator's allow-list, read from settings on every call (tests override it)."""
    from django.conf import settings

    return _parse_allow_list(tuple(getattr(settings, ALLOW_SETTING, ()) or ()))


def _odd_ipv4_spelling(host: str) -> bool:
    """True for IPv4 written other than as four decimal numbers: the C library takes 127.1,
    2130706433, 0x7f000001 and 0177.0.0.1 as addresses, Python's ipaddress does not."""
    try:
        ipaddress.ip_address(host)
        return False
    except ValueError:
        pass
    try:
        socket.inet_aton(host)
    except (OSError, UnicodeError, ValueError):
        return False
    return True


def resolve_target(
    url: str,
    *,
    purpose: str = "An outbound URL",
    allow: tuple[AllowEntry, ...] | None = None,
    allow_any_address: bool = False,
) -> Target:
    """The URL's parts and the checked address to send to, or UnsafeTarget saying why not.

    `purpose` starts the error messages ("A webhook URL", "A model server URL"); `allow` is the
    operator's allow-list (read from settings when None). `allow_any_address` skips the address
    check, for the deprecated ARBITER_WEBHOOKS_ALLOW_PRIVATE only.
    """
    try:
        parts = urlsplit(url.strip())
        port_given = parts.port
    except ValueError:
        raise UnsafeTarget(f"{purpose} is not a valid URL (check its host and port).") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeTarget(f"{purpose} must start with http:// or https://.")
    if not parts.hostname:
        raise UnsafeTarget(f"{purpose} needs a host.")
    if parts.username or parts.password:
        raise UnsafeTarget(f"{purpose} must not carry a user name or password.")
    host = _normal_host(parts.hostname)
    port = port_given or (443 if parts.scheme == "https" else 80)
    if _odd_ipv4_spelling(host):
        raise UnsafeTarget(
            f"{purpose} writes its IPv4 address in an unusual form ({parts.hostname}): write "
            "it as four decimal numbers, e.g. 203.0.113.7; outbound requests go to public "
            "addresses only."
        )
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeTarget(f"{purpose}: the host {parts.hostname!r} does not resolve.") from None
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if isinstance(address, ipaddress.IPv6Address) and info[4][3]:
            address = ipaddress.IPv6Address(f"{address}%{info[4][3]}")
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeTarget(f"{purpose}: the host {parts.hostname!r} does not resolve.")
    if not allow_any_address:
        entries = operator_allow_list() if allow is None else allow
        trusted_name = any(e.host and e.allows(host=host, port=port, address=None) for e in entries)
        if not trusted_name:
            for address in addresses:
                why = refusal_reason(address)
                if why and not any(
                    e.allows(host=host, port=port, address=address) for e in entries
                ):
                    raise UnsafeTarget(
                        f"{purpose} may not point at {parts.hostname!r}: it is or resolves to {why}; "
                        f"outbound requests go to public addresses only, unless the operator "
                        f"allows the host in {ALLOW_SETTING}."
                    )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=parts.scheme, host=host, port=port, path=path, address=str(addresses[0]))


# --- pinned connections -------------------------------------------------------------------------


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
    """POSTs to the checked address and returns the HTTP status; the answer's body is read (at
    most 64 KiB) and dropped, and a redirect is just its status. Network failures raise OSError."""
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = kind(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
        return response.status
    finally:
        connection.close()


def pinned_httpx_client(target: Target, **client_options):
    """An httpx.Client whose every connection goes to `target.address`, keeping the URL's Host
    header and TLS server name; a request to any other host or port raises UnsafeTarget.
    Redirects are not followed."""
    import httpx

    class PinnedTransport(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            url = request.url
            if _normal_host(url.host) != target.host or (url.port or _default_port(url)) != (
                target.port
            ):
                raise UnsafeTarget(f"Refused a request to {url.host}: not the checked host.")
            request.url = url.copy_with(host=target.address.split("%")[0])
            request.extensions = {**request.extensions, "sni_hostname": target.host}
            return super().handle_request(request)

    client_options["follow_redirects"] = False
    # TLS settings belong to the transport: a Client given a transport ignores its own.
    transport = PinnedTransport(verify=client_options.pop("verify", True))
    return httpx.Client(transport=transport, **client_options)


def _default_port(url) -> int:
    return 443 if url.scheme == "https" else 80
