"""Refuse outbound calls to addresses inside the operator's network.

A model author's endpoint URL is untrusted input: without this check it could point
the arena at its own database, a cloud metadata service (169.254.169.254) or an admin
port on loopback (server-side request forgery). Every address a host name resolves to
is checked, so a name with one public and one private address is refused too.
Operator-configured workers on a private network opt out with `allow_private: true`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from generators.protocol import GeneratorError


class BlockedAddressError(GeneratorError):
    """The URL's host is, or resolves to, a non-public address."""


def is_public(address: str) -> bool:
    """True for globally routable unicast addresses (IPv4-mapped IPv6 judged as IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def split_url(url: str) -> tuple[str, int]:
    """Host and port of an http(s) URL; anything else is refused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedAddressError("only http and https URLs with a host are allowed")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise BlockedAddressError("the URL has an invalid port") from None
    return parts.hostname, port


def check_addresses(host: str, addresses: list[str]) -> None:
    if not addresses:
        raise BlockedAddressError(f"{host} does not resolve to any address")
    for address in addresses:
        if not is_public(address):
            raise BlockedAddressError(
                f"{host} resolves to a private, loopback or link-local address ({address}); "
                "set allow_private: true only for hosts you trust"
            )


async def check_url(url: str, allow_private: bool = False) -> None:
    """Raise BlockedAddressError unless every address of the URL's host is public."""
    host, port = split_url(url)
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise BlockedAddressError(f"{host} could not be resolved") from None
    check_addresses(host, sorted({str(info[4][0]) for info in infos}))


def check_url_sync(url: str, allow_private: bool = False) -> None:
    """`check_url` for synchronous callers (validation at submission time)."""
    host, port = split_url(url)
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise BlockedAddressError(f"{host} could not be resolved") from None
    check_addresses(host, sorted({str(info[4][0]) for info in infos}))
