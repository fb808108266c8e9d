"""Where a webhook may be sent, and the one guarded way of sending to it.

A webhook URL is typed by a user, and the worker that POSTs to it sits inside the network next to
PostgreSQL, Redis, the admin and a cloud's metadata service. So, at save time and again at send time:
- only http and https, and no user name or password in the URL;
- the host is resolved and every address it resolves to must be public (`ipaddress` `is_global`,
  not multicast or reserved; an IPv4 address carried inside an IPv6 one is checked as itself);
- the operator's FOREWARN_WEBHOOK_ALLOWED_HOSTS (host names or CIDRs, e.g. an internal chat server)
  lifts the public-address rule for those hosts alone.
At send time the connection goes to the address that was checked (no second lookup, so DNS cannot
change between the check and the connection), with the original host in the Host header and as the
TLS server name. No redirect is followed: a 3xx is a failure that says so. Connecting and the whole
answer each have a small time limit, and at most RESPONSE_LIMIT_BYTES of the answer are read.
"""

import contextlib
import http.client
import ipaddress
import json
import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from forecasts.exceptions import WebhookDeliveryFailed

RESPONSE_LIMIT_BYTES = 64 * 1024
SCHEMES = {"http": 80, "https": 443}
# IPv6 prefixes that carry an IPv4 address the packet may end up at (NAT64's well-known prefix).
NAT64 = ipaddress.ip_network("64:ff9b::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookTargetRefused(ValueError):
    """Forewarn will not send to this webhook URL; the message says why. Retrying cannot help."""


@dataclass(frozen=True)
class WebhookTarget:
    """A checked webhook URL: where to connect, and what to call the host while doing so."""

    scheme: str
    host: str
    port: int
    path: str
    address: Address


@dataclass(frozen=True)
class WebhookAnswer:
    """What the endpoint answered (a 2xx: anything else raises)."""

    status: int
    reason: str


def allowed_hosts() -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    """The operator's allow-list (FOREWARN_WEBHOOK_ALLOWED_HOSTS): host names, and networks."""
    names, networks = set(), []
    for entry in settings.FOREWARN.get("WEBHOOK_ALLOWED_HOSTS", []):
        entry = entry.strip().lower().rstrip(".")
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError as error:
            if "/" in entry or ":" in entry:
                raise ImproperlyConfigured(
                    f"FOREWARN_WEBHOOK_ALLOWED_HOSTS: {entry!r} is neither a host name nor a CIDR."
                ) from error
            names.add(entry)
    return names, networks


def embedded_addresses(address: Address) -> list[Address]:
    """The address and any IPv4 address inside it (mapped, 6to4, Teredo, NAT64)."""
    addresses = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            addresses.append(address.ipv4_mapped)
        if address.sixtofour:
            addresses.append(address.sixtofour)
        if address.teredo:
            addresses.extend(address.teredo)
        if address in NAT64:
            addresses.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return addresses


def address_is_public(address: Address) -> bool:
    """True for an address on the public internet, whatever IPv4 address it carries."""
    return all(
        candidate.is_global and not candidate.is_multicast and not candidate.is_reserved
        for candidate in embedded_addresses(address)
    )


def webhook_url_parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a webhook URL; refuses other schemes and credentials."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise WebhookTargetRefused(f"Not a valid URL: {error}.") from error
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise WebhookTargetRefused("Use an http or https URL.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise WebhookTargetRefused("A webhook URL may not contain a user name or password.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise WebhookTargetRefused("The URL has no host.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port or SCHEMES[scheme], path


def host_addresses(host: str, port: int) -> list[Address]:
    """Every address the host resolves to, in the resolver's order (an address literal is itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise WebhookDeliveryFailed(f"The host {host} does not resolve: {error}.") from error
    addresses = []
    for *_, sockaddr in found:
        address = ipaddress.ip_address(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise WebhookDeliveryFailed(f"The host {host} does not resolve.")
    return addresses


def webhook_target_check(url: str) -> WebhookTarget:
    """The checked target of a webhook URL, pinned to its first resolved address.

    Raises WebhookTargetRefused when Forewarn will not send there, WebhookDeliveryFailed when the
    host does not resolve (perhaps for now).
    """
    scheme, host, port, path = webhook_url_parse(url)
    names, networks = allowed_hosts()
    addresses = host_addresses(host, port)
    if host.lower() not in names:
        for address in addresses:
            if not address_is_public(address) and not any(
                candidate in network for candidate in embedded_addresses(address) for network in networks
            ):
                raise WebhookTargetRefused(
                    f"{host} is not a public address ({address}): Forewarn sends webhooks to the public "
                    "internet only, unless the operator allows the host in FOREWARN_WEBHOOK_ALLOWED_HOSTS."
                )
    address = addresses[0]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return WebhookTarget(scheme=scheme, host=host, port=port, path=path, address=address)


class PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to a checked address, naming the original host in the Host header."""

    def __init__(self, target: WebhookTarget, *, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self.target = target

    def connect(self):
        self.sock = socket.create_connection((str(self.target.address), self.target.port), self.timeout)


class PinnedHTTPSConnection(PinnedHTTPConnection):
    """The same over TLS, verifying the certificate against the original host name."""

    default_port = http.client.HTTPS_PORT

    def __init__(self, target: WebhookTarget, *, timeout: float):
        super().__init__(target, timeout=timeout)
        self.tls = ssl.create_default_context()

    def connect(self):
        super().connect()
        self.sock = self.tls.wrap_socket(self.sock, server_hostname=self.target.host)


def webhook_post(*, url: str, payload: dict) -> WebhookAnswer:
    """POST JSON to a webhook through every check above; no redirect is followed.

    Raises WebhookTargetRefused or ValueError when retrying cannot help (refused target, a redirect,
    a 4xx), WebhookDeliveryFailed when it may (no answer, a 5xx, 408, 429).
    """
    target = webhook_target_check(url)
    timeout = settings.FOREWARN["WEBHOOK_TIMEOUT_SECONDS"]
    connection_class = PinnedHTTPSConnection if target.scheme == "https" else PinnedHTTPConnection
    connection = connection_class(target, timeout=timeout)
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "Forewarn", "Connection": "close"}
    # Each read has the timeout; this bounds the whole answer, however slowly it trickles in.
    expired = threading.Event()
    deadline = threading.Timer(timeout, connection_abort, args=[connection, expired])
    try:
        connection.connect()
        deadline.start()
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(RESPONSE_LIMIT_BYTES)
    except (http.client.HTTPException, OSError) as error:
        if expired.is_set() or isinstance(error, TimeoutError):
            raise WebhookDeliveryFailed(f"No answer within {timeout:g} seconds.") from error
        raise WebhookDeliveryFailed(f"{type(error).__name__}: {error}") from error
    finally:
        deadline.cancel()
        connection.close()
    if expired.is_set():  # the cut-off can look like the end of a complete answer
        raise WebhookDeliveryFailed(f"No answer within {timeout:g} seconds.")
    status, reason = response.status, response.reason
    if 300 <= status < 400:
        location = response.getheader("Location", "")[:200]
        raise ValueError(f"HTTP {status} {reason}: redirects are not followed (to {location or 'nowhere'}).")
    if status >= 400:
        if status < 500 and status not in (408, 429):
            raise ValueError(f"HTTP {status} {reason}")
        raise WebhookDeliveryFailed(f"HTTP {status} {reason}")
    if status < 200:
        raise WebhookDeliveryFailed(f"HTTP {status} {reason}")
    return WebhookAnswer(status=status, reason=reason)


def connection_abort(connection: http.client.HTTPConnection, expired: threading.Event) -> None:
    """Unblock a read that is past the deadline (closing alone would not wake it)."""
    expired.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
