"""The outbound guard: which addresses are refused, what the operator may allow, and that a
checked request goes to the checked address and nowhere else."""

import ipaddress

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.core.outbound import (
    Target,
    UnsafeTarget,
    operator_allow_list,
    parse_allow_entry,
    pinned_httpx_client,
    post,
    refusal_reason,
    resolve_target,
)
from tests.apps.core.recording_server import recording_server


@pytest.mark.parametrize(
    "address, reason",
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("198.18.0.1", "private"),  # benchmarking
        ("192.0.2.1", "private"),  # documentation
        ("::ffff:127.0.0.1", "IPv4-mapped"),
        ("::ffff:8.8.8.8", "IPv4-mapped"),
        ("::7f00:1", "IPv4-compatible"),
        ("2002:7f00:1::", "6to4"),
        ("2002:c0a8:101::1", "6to4"),
        ("2002:808:808::1", "6to4"),  # even a public IPv4 inside: 6to4 relays are not ours
        ("64:ff9b::7f00:1", "NAT64"),
        ("64:ff9b:1::1", "local NAT64"),
        ("2001:0:4136:e378::1", "Teredo"),
        ("fd00::1", "unique-local"),
        ("fec0::1", "site-local"),
        ("2001:db8::1", "private"),  # documentation
    ],
)
def test_every_non_public_address_is_refused_with_its_kind(address, reason):
    assert reason in (refusal_reason(ipaddress.ip_address(address)) or "")


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address):
    assert refusal_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "host", ["127.1", "2130706433", "0x7f000001", "0177.0.0.1", "134744072", "0x8.8.8.8", "1"]
)
def test_unusual_ipv4_spellings_are_refused_even_when_they_name_a_public_address(host):
    with pytest.raises(UnsafeTarget, match="unusual form"):
        resolve_target(f"http://{host}/v1", allow=())


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://example.com/", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("http:///v1", "needs a host"),
        ("http://user:pw@8.8.8.8/", "user name or password"),
        ("http://8.8.8.8:99999/", "not a valid URL"),
        ("http://no-such-host.invalid/", "does not resolve"),
        ("http://localhost:8000/v1", "loopback"),
        ("http://[::ffff:10.0.0.1]/", "IPv4-mapped"),
    ],
)
def test_bad_or_unsafe_urls_are_refused_with_the_reason(url, message):
    with pytest.raises(UnsafeTarget, match=message):
        resolve_target(url, allow=())


def test_a_public_address_is_the_pinned_target():
    target = resolve_target("https://8.8.8.8/v1/chat?x=1", allow=())
    assert target == Target(
        scheme="https", host="8.8.8.8", port=443, path="/v1/chat?x=1", address="8.8.8.8"
    )


@pytest.mark.parametrize(
    "entry, url, allowed",
    [
        ("127.0.0.1", "http://127.0.0.1:8000/v1", True),
        ("127.0.0.1:8000", "http://127.0.0.1:8000/v1", True),
        ("127.0.0.1:8000", "http://127.0.0.1:6379/", False),  # another port: Redis stays shut
        ("localhost", "http://localhost:8000/v1", True),  # a trusted name
        ("localhost:8000", "http://localhost:8001/", False),
        ("127.0.0.0/8", "http://127.0.0.2:5432/", True),
        ("10.0.0.0/8", "http://127.0.0.1/", False),
        ("[::1]:8000", "http://[::1]:8000/", True),
        ("[::1]:8000", "http://[::1]:5432/", False),
        ("LocalHost.", "http://localhost/", True),  # names compare case- and dot-insensitively
    ],
)
def test_the_operator_allows_exactly_the_hosts_ports_and_networks_listed(entry, url, allowed):
    entries = (parse_allow_entry(entry),)
    if allowed:
        assert resolve_target(url, allow=entries).address
    else:
        with pytest.raises(UnsafeTarget, match="ARBITER_OUTBOUND_ALLOW_HOSTS"):
            resolve_target(url, allow=entries)


def test_the_allow_list_is_read_from_settings_and_a_bad_entry_stops_the_app(settings):
    settings.ARBITER_OUTBOUND_ALLOW_HOSTS = ["vllm.lan:8000", "10.0.0.0/24"]
    assert [e.host or str(e.network) for e in operator_allow_list()] == ["vllm.lan", "10.0.0.0/24"]
    settings.ARBITER_OUTBOUND_ALLOW_HOSTS = ["10.0.0.0/33"]
    with pytest.raises(ImproperlyConfigured, match="ARBITER_OUTBOUND_ALLOW_HOSTS"):
        operator_allow_list()
    settings.ARBITER_OUTBOUND_ALLOW_HOSTS = ["127.1"]
    with pytest.raises(ImproperlyConfigured, match="not a host name or an address"):
        operator_allow_list()


def test_a_pinned_client_connects_to_the_checked_address_keeping_the_host_name():
    # A name that resolved to 127.0.0.1 when it was checked: whatever it resolves to later
    # (DNS rebinding), the connection goes to the checked address.
    with recording_server() as server:
        target = Target(
            scheme="http", host="models.example", port=server.port, path="/", address="127.0.0.1"
        )
        with pinned_httpx_client(target) as client:
            answer = client.post(f"http://models.example:{server.port}/v1/chat/completions")
            with pytest.raises(UnsafeTarget, match="not the checked host"):
                client.get(f"http://other.example:{server.port}/")
    assert answer.status_code == 200
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Host"] == f"models.example:{server.port}"


def test_a_pinned_client_never_follows_a_redirect():
    with recording_server() as inside, recording_server(status=302, location=inside.url) as outer:
        target = Target(
            scheme="http", host="127.0.0.1", port=outer.port, path="/", address="127.0.0.1"
        )
        with pinned_httpx_client(target) as client:
            answer = client.get(f"{outer.url}/")
    assert answer.status_code == 302
    assert len(outer.requests) == 1 and inside.requests == []


def test_a_webhook_post_goes_to_the_checked_address_and_a_redirect_is_just_its_status():
    with recording_server() as inside, recording_server(status=307, location=inside.url) as outer:
        target = Target(
            scheme="http", host="hooks.example", port=outer.port, path="/in", address="127.0.0.1"
        )
        status = post(target, b"{}", {"Content-Type": "application/json"}, timeout=5)
    assert status == 307
    assert outer.requests[0]["headers"]["Host"] == f"hooks.example:{outer.port}"
    assert inside.requests == []


def _certificate_for(tmp_path, name: str):
    """A throwaway CA and a server certificate for `name` signed by it (PEM files)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(2)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = (tmp_path / n for n in ("ca.pem", "cert.pem", "key.pem"))
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


def test_a_pinned_https_client_checks_the_certificate_of_the_name_not_of_the_address(tmp_path):
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    import httpx

    ca_file, cert_file, key_file = _certificate_for(tmp_path, "models.example")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    trust = ssl.create_default_context(cafile=str(ca_file))
    try:
        right = Target(
            scheme="https", host="models.example", port=port, path="/", address="127.0.0.1"
        )
        with pinned_httpx_client(right, verify=trust) as client:
            assert client.get(f"https://models.example:{port}/").text == "ok"
        wrong = Target(
            scheme="https", host="other.example", port=port, path="/", address="127.0.0.1"
        )
        with pinned_httpx_client(wrong, verify=trust) as client, pytest.raises(httpx.ConnectError):
            client.get(f"https://other.example:{port}/")
    finally:
        httpd.shutdown()
        httpd.server_close()
