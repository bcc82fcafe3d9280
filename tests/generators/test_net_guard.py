"""The outbound-address guard the remote backend (and submissions) rely on."""

from __future__ import annotations

import pytest

from generators.net_guard import BlockedAddressError, check_url, check_url_sync, is_public


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "fe80::1%eth0",
    ],
)
def test_private_addresses_are_not_public(address):
    assert not is_public(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses(address):
    assert is_public(address)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/v1",
        "http://localhost/v1",
        "http://[::1]:80",
        "http://169.254.169.254/latest",
        "http://10.0.0.7",
        "http://0x7f000001/",
        "http://2130706433/",
    ],
)
async def test_private_urls_are_refused(url):
    with pytest.raises(BlockedAddressError):
        await check_url(url)
    with pytest.raises(BlockedAddressError):
        check_url_sync(url)


async def test_public_ip_literal_passes_and_allow_private_skips_the_check():
    await check_url("https://8.8.8.8/v1")
    await check_url("http://127.0.0.1:8000", allow_private=True)


@pytest.mark.parametrize("url", ["ftp://8.8.8.8/", "file:///etc/passwd", "http:///nohost", "http://8.8.8.8:99999/"])
async def test_other_schemes_and_broken_urls_are_refused(url):
    with pytest.raises(BlockedAddressError):
        await check_url(url, allow_private=True)


async def test_unresolvable_host_is_refused():
    with pytest.raises(BlockedAddressError, match="could not be resolved"):
        await check_url("http://no-such-host.invalid/")
