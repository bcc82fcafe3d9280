"""Refuse outbound calls to addresses inside the operator's network, at the socket.

A model author's endpoint URL is untrusted input: without this guard it could point the
arena at its own database, a cloud metadata service (169.254.169.254) or an admin port
on loopback (server-side request forgery). Rules, in one place (`address_problem`):

- only globally routable unicast addresses: no loopback, private (RFC 1918, fc00::/7),
  link-local, carrier-grade NAT (100.64.0.0/10), multicast, unspecified, reserved or
  documentation ranges, and no cloud metadata address (also those in public ranges);
- IPv6 spellings of IPv4 are judged by the IPv4 address they carry: IPv4-mapped
  (::ffff:0:0/96), NAT64 (64:ff9b::/96) and 6to4 (2002::/16); IPv4-compatible (::/96),
  local-use NAT64 (64:ff9b:1::/48) and Teredo (2001::/32) are refused outright;
- every address a name resolves to is checked, so one private answer refuses the name;
- a host written as a number in any spelling but dotted decimal (2130706433, 0177.0.0.1,
  0x7f.1, 127.1) is refused as written, before anything resolves it;
- URLs: http(s) only, no user:password@ part.

The check and the connection are one step: `PinnedBackend` is the network backend of
the HTTP client's connection pool (`PinnedTransport`); it resolves the host once,
judges the answer and dials exactly the address it judged, so a DNS answer that
changes between a check and the connection (rebinding) cannot reach a private address.
TLS is unaffected: httpcore starts TLS on the dialled stream with the URL's host as
server name, so the certificate is still checked against the host the author gave.
`check_url` / `check_url_sync` apply the same rules up front (a clear error at
submission time); they do not replace the backend, which checks every connection.

Resolution goes through a resolver, `(host, port) -> [address, ...]`, run in a worker
thread: `system_resolver` (getaddrinfo) unless a caller (a test) passes its own.
Operator-configured workers on a private network opt out with `allow_private: true`.
"""

from __future__ import annotations

import ipaddress
import math
import socket
import typing
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
import httpcore
import httpx

from generators.protocol import GeneratorError

Resolver = Callable[[str, int], Sequence[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddressError(GeneratorError):
    """The URL, or the address its host is or resolves to, is refused."""


class UnresolvableHostError(BlockedAddressError):
    """The host did not resolve (at connection time this is a connection failure, retried)."""


# ---- address rules ------------------------------------------------------------------

#: cloud metadata and host services; some sit in public ranges (Azure's 168.63.129.16)
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean instance metadata
        "169.254.170.2",  # AWS ECS task metadata and credentials
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure wire server
        "192.0.0.192",  # Oracle Cloud
        "fd00:ec2::254",  # AWS instance metadata over IPv6
    )
)


def _rules(table: Iterable[tuple[str, str]]) -> list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]]:
    return [(ipaddress.ip_network(network), reason) for network, reason in table]


_IPV4_RULES = _rules(
    [
        ("0.0.0.0/8", "an unspecified address"),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a carrier-grade NAT address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "a reserved address (IETF protocol assignments)"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a reserved address (6to4 relay anycast)"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a reserved address (benchmarking)"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
    ]
)

# IPv6 ranges that embed an IPv4 address, judged by that address (before the rules below)
_IPV4_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")

_IPV6_RULES = _rules(
    [
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("::/96", "an IPv4-compatible address (deprecated)"),
        ("::ffff:0:0:0/96", "an IPv4-translated address"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("100::/64", "a discard-only address"),
        ("2001::/32", "a Teredo address"),
        ("2001:db8::/32", "a documentation address"),
        ("3fff::/20", "a documentation address"),
        ("5f00::/16", "a reserved address (SRv6)"),
        ("fc00::/7", "a private (unique local) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address (deprecated)"),
        ("ff00::/8", "a multicast address"),
    ]
)


def address_problem(address: str) -> str | None:
    """Why connecting to `address` (an IP literal) is refused; None for a public unicast address."""
    if "%" in address:
        return "a scoped (link-local) address"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "not an IP address"
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        for network, kind, embedded in (
            (_IPV4_MAPPED, "IPv4-mapped", ip.ipv4_mapped),
            (_NAT64, "NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)),
            (_SIX_TO_FOUR, "6to4", ip.sixtofour),
        ):
            if ip in network and embedded is not None:
                problem = address_problem(str(embedded))
                return f"{problem}, written as {kind} IPv6" if problem else None
        rules = _IPV6_RULES
    else:
        rules = _IPV4_RULES
    for network, reason in rules:
        if ip in network:
            return reason
    if not ip.is_global:
        return "a non-global address"
    return None


def is_public(address: str) -> bool:
    """True for globally routable unicast addresses (see `address_problem`)."""
    return address_problem(address) is None


def check_addresses(host: str, addresses: Sequence[str]) -> None:
    """Raise BlockedAddressError unless there is an address and every one is public."""
    if not addresses:
        raise BlockedAddressError(f"{host} does not resolve to any address")
    for address in addresses:
        problem = address_problem(address)
        if problem:
            raise BlockedAddressError(
                f"{host} resolves to {problem} ({address}); only public addresses are allowed "
                "(set allow_private: true only for hosts you trust)"
            )


# ---- hosts and URLs ---------------------------------------------------------------------


def _ip_literal(host: str) -> str | None:
    """The host as a canonical IP address string, if it is one written the standard way."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def check_host(host: str) -> None:
    """Refuse a host written as a number in a spelling other than dotted decimal or IPv6.

    getaddrinfo reads 2130706433, 0177.0.0.1, 0x7f.1 and 127.1 all as 127.0.0.1; such
    spellings are refused as written (their resolved address would be judged anyway).
    """
    name = host.rstrip(".")
    if _ip_literal(name) is not None and name == host:
        return
    try:
        packed = socket.inet_aton(name)
    except (OSError, ValueError):
        return
    raise BlockedAddressError(
        f"{host} is a numeric address in a non-standard spelling (it means {socket.inet_ntoa(packed)}); "
        "write IP addresses in dotted decimal"
    )


def split_url(url: str) -> tuple[str, int]:
    """Host and port of an http(s) URL without credentials; anything else is refused."""
    if any(c.isspace() or c == "\\" or ord(c) < 32 for c in url):
        raise BlockedAddressError("the URL contains spaces, control characters or backslashes")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedAddressError("only http and https URLs with a host are allowed")
    if "@" in parts.netloc:
        raise BlockedAddressError("the URL carries credentials (user:password@host); give the key by api_key_env")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise BlockedAddressError("the URL has an invalid port") from None
    check_host(parts.hostname)
    return parts.hostname, port


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's addresses for `host` (getaddrinfo), each once, in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _resolve_sync(host: str, port: int, resolver: Resolver | None) -> list[str]:
    check_host(host)
    literal = _ip_literal(host)
    if literal is not None:
        return [literal]
    try:
        return list((resolver or system_resolver)(host, port))
    except (OSError, UnicodeError):  # socket.gaierror is an OSError
        raise UnresolvableHostError(f"{host} could not be resolved") from None


def resolve_public_sync(host: str, port: int, resolver: Resolver | None = None) -> list[str]:
    """Resolve `host` once and return its addresses if all are public; else BlockedAddressError."""
    addresses = _resolve_sync(host, port, resolver)
    check_addresses(host, addresses)
    return addresses


async def resolve_public(host: str, port: int, resolver: Resolver | None = None) -> list[str]:
    """`resolve_public_sync` in a worker thread (abandoned, not awaited, on cancellation)."""
    return await anyio.to_thread.run_sync(resolve_public_sync, host, port, resolver, abandon_on_cancel=True)


async def check_url(url: str, allow_private: bool = False, resolver: Resolver | None = None) -> None:
    """Raise BlockedAddressError unless the URL is allowed and its host resolves to public addresses only."""
    host, port = split_url(url)
    if not allow_private:
        await resolve_public(host, port, resolver)


def check_url_sync(url: str, allow_private: bool = False, resolver: Resolver | None = None) -> None:
    """`check_url` for synchronous callers (validation at submission time)."""
    host, port = split_url(url)
    if not allow_private:
        resolve_public_sync(host, port, resolver)


# ---- the transport: check and connect in one step ----------------------------------------


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """A network backend that dials only the public addresses it has just checked.

    `connect_tcp` resolves the host once (through `resolver`), refuses the host unless
    every address is public (BlockedAddressError, not retried), and connects to those
    addresses in order through `inner` (httpcore's AnyIO backend), by IP literal, so
    nothing resolves the name again. With `allow_private`, it is `inner` unchanged.
    """

    def __init__(
        self,
        allow_private: bool = False,
        resolver: Resolver | None = None,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if self.allow_private:
            return await self.inner.connect_tcp(
                host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
            )
        deadline = math.inf if timeout is None else anyio.current_time() + timeout
        try:
            with anyio.fail_after(timeout):
                addresses = await resolve_public(host, port, self.resolver)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took more than {timeout:g} s") from None
        except UnresolvableHostError as exc:
            raise httpcore.ConnectError(str(exc)) from None
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            remaining = None if timeout is None else max(0.0, deadline - anyio.current_time())
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout=remaining, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:  # try the next checked address; timeouts end here
                failure = exc
        assert failure is not None  # resolve_public returns at least one address
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddressError("Unix sockets are not allowed for remote endpoints")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's default transport (no proxies, certificates verified) dialling through `backend`."""

    def __init__(self, backend: httpcore.AsyncNetworkBackend, limits: httpx.Limits | None = None) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        super().__init__(trust_env=False, limits=limits)
        # httpx builds its pool without a way to pass a network backend: build it again, with one
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )
