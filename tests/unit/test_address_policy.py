"""The callback address policy as a table. Nothing here resolves a name or opens a socket."""

from __future__ import annotations

import ipaddress

import pytest

from taskforce.callbacks.address_policy import (
    RefusedAddress,
    check_host,
    host_address,
    parse_networks,
    refusal,
)

NONE = parse_networks([])
LOOPBACK_ALLOWED = parse_networks(["127.0.0.0/8", "::1/128"])

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("[::1]", "loopback"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),
    ("[::ffff:169.254.169.254]", "link-local"),
    ("169.254.169.254", "link-local"),
    ("[fe80::1]", "link-local"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("[fd00::1]", "private"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("0.0.0.0", "unspecified"),
    ("[::]", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("0177.0.0.1", "loopback"),        # octal
    ("2130706433", "loopback"),        # one 32-bit number
    ("0x7f.0.0.1", "loopback"),        # hex
    ("127.1", "loopback"),             # short form
    ("012.0.0.1", "private"),          # octal 10.0.0.1
    ("[64:ff9b::a9fe:a9fe]", "link-local"),   # NAT64 of 169.254.169.254
    ("[2002:7f00:1::]", "loopback"),           # 6to4 of 127.0.0.1
    ("localhost", "loopback name"),
    ("localhost.", "loopback name"),
    ("LOCALHOST", "loopback name"),
    ("api.localhost", "loopback name"),
    ("999.1.1.1", "neither a host name nor a valid address"),
]

PUBLIC = ["93.184.215.14", "8.8.8.8", "1.1.1.1", "[2606:4700:4700::1111]", "2001:4860:4860::8888",
          "[::ffff:8.8.8.8]", "134744072"]  # the last is 8.8.8.8 as one number


@pytest.mark.parametrize(("host", "why"), REFUSED)
def test_refused_by_default(host, why):
    verdict = check_host(host, NONE)
    assert verdict.allowed is False, host
    assert why in verdict.reason


@pytest.mark.parametrize("host", PUBLIC)
def test_public_addresses_are_allowed(host):
    assert check_host(host, NONE).allowed is True


@pytest.mark.parametrize("host", ["example.com", "hooks.customer.example", "xn--bcher-kva.example"])
def test_names_are_decided_by_their_resolved_addresses(host):
    assert check_host(host, NONE).allowed is None


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "::ffff:127.0.0.1", "0177.0.0.1",
                                  "2130706433", "localhost."])
def test_loopback_allowed_when_listed(host):
    verdict = check_host(host, LOOPBACK_ALLOWED)
    # localhost is then left to the lookup (which the address check then allows).
    assert verdict.allowed in (True, None), verdict


def test_allowing_loopback_does_not_allow_the_rest():
    for host in ("10.0.0.1", "169.254.169.254", "192.168.1.1", "100.64.0.1"):
        assert check_host(host, LOOPBACK_ALLOWED).allowed is False


def test_allow_list_accepts_private_networks_explicitly():
    allowed = parse_networks(["10.1.0.0/16"])
    assert refusal(ipaddress.ip_address("10.1.2.3"), allowed) is None
    assert refusal(ipaddress.ip_address("10.2.0.1"), allowed) is not None


def test_legacy_numeric_forms_are_read_like_inet_aton():
    assert str(host_address("0177.0.0.1")) == "127.0.0.1"
    assert str(host_address("2130706433")) == "127.0.0.1"
    assert str(host_address("0x7f000001")) == "127.0.0.1"
    assert host_address("example.com") is None
    assert host_address("1.example") is None
    with pytest.raises(RefusedAddress):
        host_address("1.2.3.4.5")


def test_bad_allow_list_entry_is_a_configuration_error():
    with pytest.raises(ValueError, match="callback_allowed_networks"):
        parse_networks(["not-a-network"])
