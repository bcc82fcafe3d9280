"""The outbound-address guard the remote backend (and submissions) rely on.

Names resolve through resolvers these tests control, and nothing is dialled but
loopback: where the guard would connect to a public address, a stub backend records
the address and refuses, so the tests assert where the transport *would* connect.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpcore
import httpx
import pytest

from generators.net_guard import (
    BlockedAddressError,
    PinnedBackend,
    PinnedTransport,
    address_problem,
    check_url,
    check_url_sync,
    is_public,
    system_resolver,
)


class FakeDNS:
    """A resolver answering from a table; a list of lists is answered in turn (the last one repeats)."""

    def __init__(self, table: dict[str, list[str] | list[list[str]]]):
        self.table = table
        self.questions: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.questions.append((host, port))
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = self.table[host]
        if answer and isinstance(answer[0], list):
            turn = min(len(self.questions_for(host)) - 1, len(answer) - 1)
            return list(answer[turn])
        return list(answer)

    def questions_for(self, host: str) -> list[tuple[str, int]]:
        return [q for q in self.questions if q[0] == host]


class StubStream(httpcore.AsyncNetworkStream):
    """What the stub 'connects' to: records the TLS server name asked for, then fails."""

    def __init__(self, record: list):
        self.record = record

    async def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        self.record.append(("start_tls", server_hostname))
        raise httpcore.ConnectError("stub: no TLS here")

    async def aclose(self) -> None:
        pass


class StubDialler(httpcore.AsyncNetworkBackend):
    """The last step, stubbed: records each (address, port) it is asked to dial.

    Loopback addresses are dialled for real (a listener the test started); any other
    address is never dialled: with `fake_tls` it returns a stream that records TLS,
    otherwise it fails as a refused connection would.
    """

    def __init__(self, fake_tls: bool = False):
        self.dialled: list[tuple[str, int]] = []
        self.tls: list = []
        self.fake_tls = fake_tls

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.dialled.append((host, port))
        if ipaddress.ip_address(host).is_loopback:
            return await httpcore.AnyIOBackend().connect_tcp(host, port, timeout=timeout)
        if self.fake_tls:
            return StubStream(self.tls)
        raise httpcore.ConnectError("stub: public addresses are not dialled in tests")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def pinned(resolver, dialler: StubDialler, allow_private: bool = False) -> httpx.AsyncClient:
    backend = PinnedBackend(allow_private=allow_private, resolver=resolver, inner=dialler)
    return httpx.AsyncClient(transport=PinnedTransport(backend), follow_redirects=False, trust_env=False, timeout=5)


# ---- the address rules ---------------------------------------------------------------

REFUSED_ADDRESSES = [
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("::", "unspecified"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("198.18.0.1", "reserved"),
    ("192.0.0.8", "reserved"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("2001:db8::1", "documentation"),
    ("169.254.169.254", "metadata"),
    ("169.254.170.2", "metadata"),
    ("100.100.100.200", "metadata"),
    ("168.63.129.16", "metadata"),
    ("fd00:ec2::254", "metadata"),
    # IPv6 spellings of IPv4 addresses
    ("::ffff:127.0.0.1", "loopback address, written as IPv4-mapped"),
    ("::ffff:7f00:1", "loopback address, written as IPv4-mapped"),
    ("::ffff:10.0.0.1", "private address, written as IPv4-mapped"),
    ("::ffff:169.254.169.254", "metadata address, written as IPv4-mapped"),
    ("::127.0.0.1", "IPv4-compatible"),
    ("::169.254.169.254", "IPv4-compatible"),
    ("::8.8.8.8", "IPv4-compatible"),
    ("64:ff9b::127.0.0.1", "loopback address, written as NAT64"),
    ("64:ff9b::a9fe:a9fe", "metadata address, written as NAT64"),
    ("64:ff9b::10.0.0.1", "private address, written as NAT64"),
    ("64:ff9b:1::8.8.8.8", "local-use NAT64"),
    ("2002:7f00:1::1", "loopback address, written as 6to4"),
    ("2002:a9fe:a9fe::1", "metadata address, written as 6to4"),
    ("2002:c0a8:101::", "private address, written as 6to4"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("2001::1", "Teredo"),
    ("::ffff:0:7f00:1", "IPv4-translated"),
    ("100::1", "discard"),
]


@pytest.mark.parametrize("address, reason", REFUSED_ADDRESSES)
def test_non_public_addresses_are_refused_with_their_reason(address, reason):
    problem = address_problem(address)
    assert problem is not None and reason in problem, problem
    assert not is_public(address)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"]
)
def test_public_addresses_and_ipv6_spellings_of_them_are_allowed(address):
    assert address_problem(address) is None and is_public(address)


def test_the_table_is_big_enough():
    assert len(REFUSED_ADDRESSES) >= 20


# ---- URLs, checked up front -----------------------------------------------------------

DNS = FakeDNS(
    {
        "localhost": ["127.0.0.1", "::1"],
        "metadata.google.internal": ["169.254.169.254"],
        "half-private.test": ["8.8.8.8", "10.0.0.7"],
        "nat64-loopback.test": ["64:ff9b::7f00:1"],
        "sixtofour-metadata.test": ["2002:a9fe:a9fe::"],
        "compat-loopback.test": ["::127.0.0.1"],
        "mapped-loopback.test": ["::ffff:127.0.0.1"],
        "models.example": ["8.8.8.8", "2606:4700:4700::1111"],
        "nothing.test": [],
    }
)


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://127.0.0.1:8000/v1", "loopback"),
        ("http://localhost/v1", "loopback"),
        ("http://[::1]:80", "loopback"),
        ("http://169.254.169.254/latest", "metadata"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("http://10.0.0.7", "private"),
        ("http://half-private.test/", "private"),
        ("http://[::ffff:127.0.0.1]/", "IPv4-mapped"),
        ("http://[::ffff:7f00:1]/", "IPv4-mapped"),
        ("http://[::127.0.0.1]/", "IPv4-compatible"),
        ("http://[64:ff9b::a9fe:a9fe]/", "NAT64"),
        ("http://[2002:7f00:1::]/", "6to4"),
        ("http://nat64-loopback.test/", "NAT64"),
        ("http://sixtofour-metadata.test/", "6to4"),
        ("http://compat-loopback.test/", "IPv4-compatible"),
        ("http://mapped-loopback.test/", "IPv4-mapped"),
        ("http://[fe80::1%25eth0]/", "link-local"),
        ("http://0x7f000001/", "non-standard spelling"),
        ("http://2130706433/", "non-standard spelling"),
        ("http://0177.0.0.1/", "non-standard spelling"),
        ("http://0x7f.1/", "non-standard spelling"),
        ("http://127.1/", "non-standard spelling"),
        ("http://127.0.0.1./", "non-standard spelling"),
        ("http://0/", "non-standard spelling"),
        ("http://nothing.test/", "does not resolve to any address"),
        ("http://no-such-host.test/", "could not be resolved"),
        ("http://user:secret@8.8.8.8/", "credentials"),
        ("http://8.8.8.8@127.0.0.1/", "credentials"),
        ("http://8.8.8.8\\@127.0.0.1/", "backslashes"),
    ],
)
async def test_refused_urls(url, reason):
    with pytest.raises(BlockedAddressError, match=reason):
        await check_url(url, resolver=DNS)
    with pytest.raises(BlockedAddressError, match=reason):
        check_url_sync(url, resolver=DNS)


async def test_public_urls_pass_and_allow_private_skips_the_address_check():
    await check_url("https://8.8.8.8/v1", resolver=DNS)
    check_url_sync("https://models.example/v1", resolver=DNS)
    await check_url("http://127.0.0.1:8000", allow_private=True)
    await check_url("http://localhost:8000", allow_private=True, resolver=DNS)


@pytest.mark.parametrize(
    "url",
    ["ftp://8.8.8.8/", "file:///etc/passwd", "gopher://8.8.8.8/", "http:///nohost", "http://8.8.8.8:99999/"],
)
async def test_other_schemes_and_broken_urls_are_refused_even_for_private_hosts(url):
    with pytest.raises(BlockedAddressError):
        await check_url(url, allow_private=True)


def test_credentials_are_refused_even_for_private_hosts():
    with pytest.raises(BlockedAddressError, match="credentials"):
        check_url_sync("http://worker:pw@10.0.0.5:8001/v1", allow_private=True)


def test_the_system_resolver_reads_ip_literals_without_asking_anyone():
    assert system_resolver("127.0.0.1", 80) == ["127.0.0.1"]


# ---- the transport: the address checked is the address dialled ------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:9/",
        "http://metadata.google.internal/",
        "http://half-private.test/",
        "http://nat64-loopback.test/",
        "http://sixtofour-metadata.test/",
        "http://compat-loopback.test/",
        "http://mapped-loopback.test/",
        "http://[::ffff:127.0.0.1]:9/",
        "http://[64:ff9b::7f00:1]:9/",
        "http://2130706433:9/",
        "http://0x7f.1:9/",
        "http://127.1:9/",
        "http://169.254.169.254/",
    ],
)
async def test_the_transport_refuses_before_dialling(url):
    dialler = StubDialler()
    async with pinned(DNS, dialler) as client:
        with pytest.raises(BlockedAddressError):
            await client.get(url)
    assert dialler.dialled == []


async def test_the_transport_dials_exactly_the_checked_address_once_resolved():
    dns = FakeDNS({"models.example": ["8.8.8.8", "2606:4700:4700::1111"]})
    dialler = StubDialler()
    async with pinned(dns, dialler) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://models.example:8080/v1/models")
    assert dns.questions == [("models.example", 8080)]  # resolved once, by the guard
    # both checked addresses tried in order, as IP literals: nothing resolves the name again
    assert dialler.dialled == [("8.8.8.8", 8080), ("2606:4700:4700::1111", 8080)]


async def test_tls_still_checks_the_url_host_not_the_dialled_address():
    dialler = StubDialler(fake_tls=True)
    async with pinned(FakeDNS({"models.example": ["8.8.8.8"]}), dialler) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("https://models.example/v1/models")
    assert dialler.dialled == [("8.8.8.8", 443)]
    assert dialler.tls == [("start_tls", "models.example")]


async def test_unresolvable_names_fail_as_connection_errors_at_connect_time():
    dialler = StubDialler()
    async with pinned(FakeDNS({}), dialler) as client:
        with pytest.raises(httpx.ConnectError, match="could not be resolved"):
            await client.get("http://gone.test/")
    assert dialler.dialled == []


class LoopbackListener:
    """A TCP listener on 127.0.0.1 that counts the connections it gets (the rebinding target)."""

    async def __aenter__(self) -> LoopbackListener:
        self.connections = 0
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecret")
        await writer.drain()
        writer.close()

    async def __aexit__(self, *exc) -> None:
        self.server.close()


async def test_a_dns_answer_that_changes_after_the_check_does_not_reach_loopback():
    async with LoopbackListener() as listener:
        url = f"http://rebind.test:{listener.port}/"
        dns = FakeDNS({"rebind.test": [["8.8.8.8"], ["127.0.0.1"]]})  # public first, loopback after
        dialler = StubDialler()
        await check_url(url, resolver=dns)  # the submission-time check sees the public answer
        async with pinned(dns, dialler) as client:
            with pytest.raises(BlockedAddressError, match="loopback"):
                await client.get(url)
        assert len(dns.questions) == 2  # one check, one connection: the connection judged its own answer
        assert dialler.dialled == [] and listener.connections == 0


async def test_rebinding_between_connections_is_judged_per_connection():
    async with LoopbackListener() as listener:
        url = f"http://rebind.test:{listener.port}/"
        dns = FakeDNS({"rebind.test": [["8.8.8.8"], ["::ffff:127.0.0.1"]]})
        dialler = StubDialler()
        async with pinned(dns, dialler) as client:
            with pytest.raises(httpx.ConnectError):  # first connection: the stub stands in for 8.8.8.8
                await client.get(url)
            with pytest.raises(BlockedAddressError, match="IPv4-mapped"):
                await client.get(url)
        assert dialler.dialled == [("8.8.8.8", listener.port)] and listener.connections == 0


async def test_allow_private_dials_private_hosts_as_before():
    async with LoopbackListener() as listener:
        dialler = StubDialler()
        async with pinned(FakeDNS({}), dialler, allow_private=True) as client:
            response = await client.get(f"http://127.0.0.1:{listener.port}/")
        assert response.text == "secret" and listener.connections == 1
        assert dialler.dialled == [("127.0.0.1", listener.port)]


async def test_a_slow_resolver_is_bounded_by_the_connect_timeout():
    def slow(host: str, port: int) -> list[str]:
        import time

        time.sleep(1.0)
        return ["8.8.8.8"]

    dialler = StubDialler()
    backend = PinnedBackend(resolver=slow, inner=dialler)
    async with httpx.AsyncClient(transport=PinnedTransport(backend), timeout=httpx.Timeout(5, connect=0.2)) as client:
        started = asyncio.get_running_loop().time()
        with pytest.raises(httpx.ConnectTimeout):
            await client.get("http://slow.test/")
        assert asyncio.get_running_loop().time() - started < 0.9
    assert dialler.dialled == []
