"""The outbound URL guard on every SSRF vector, without a network: names resolve through
a table given to the guard."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest

from conveyor.core import (
    OutboundPolicy,
    UnsafeURLError,
    blocked_range,
    check_target,
    check_url,
    legacy_ipv4,
)

DNS = {
    "hooks.example.com": ["93.184.216.34"],
    "dual.example.com": ["93.184.216.34", "2606:2800:220:1::1"],
    "localhost": ["127.0.0.1", "::1"],
    "rebind.example.com": ["93.184.216.34", "10.0.0.7"],
    "metadata.example.com": ["169.254.169.254"],
    "receiver.internal": ["10.1.2.3"],
}
OPEN = OutboundPolicy.build()


def resolver(host: str, port: int) -> Sequence[str]:
    try:
        return DNS[host]
    except KeyError:
        raise OSError(f"no such host: {host}") from None


def refused(url: str, policy: OutboundPolicy = OPEN) -> UnsafeURLError:
    with pytest.raises(UnsafeURLError) as info:
        check_url(url, policy, resolver=resolver)
    return info.value


@pytest.mark.parametrize(
    ("url", "range_name", "network"),
    [
        ("https://169.254.169.254/latest/meta-data/", "cloud metadata", "169.254.169.254/32"),
        ("https://169.254.170.2/v2/credentials", "cloud metadata", "169.254.170.2/32"),
        ("https://100.100.100.200/latest", "cloud metadata", "100.100.100.200/32"),
        ("https://[fd00:ec2::254]/latest", "cloud metadata", "fd00:ec2::254/128"),
        ("https://127.0.0.1:5432/", "loopback", "127.0.0.0/8"),
        ("https://127.5.6.7/", "loopback", "127.0.0.0/8"),
        ("https://[::1]:8080/", "loopback", "::1/128"),
        ("https://0.0.0.0/", "unspecified", "0.0.0.0/8"),
        ("https://[::]/", "unspecified", "::/128"),
        ("https://169.254.1.1/", "link-local", "169.254.0.0/16"),
        ("https://[fe80::1]/", "link-local", "fe80::/10"),
        ("https://10.0.0.1/", "private", "10.0.0.0/8"),
        ("https://172.16.5.4/", "private", "172.16.0.0/12"),
        ("https://192.168.1.1/", "private", "192.168.0.0/16"),
        ("https://[fc00::1]/", "private", "fc00::/7"),
        ("https://[fd12:3456::1]/", "private", "fc00::/7"),
        ("https://100.64.0.1/", "carrier-grade NAT", "100.64.0.0/10"),
        ("https://224.0.0.1/", "multicast", "224.0.0.0/4"),
        ("https://[ff02::1]/", "multicast", "ff00::/8"),
        ("https://240.0.0.1/", "reserved", "240.0.0.0/4"),
        ("https://255.255.255.255/", "reserved", "240.0.0.0/4"),
        ("https://198.18.0.1/", "reserved", "198.18.0.0/15"),
        ("https://192.0.2.1/", "reserved", "192.0.2.0/24"),
        ("https://[2001:db8::1]/", "reserved", "2001:db8::/32"),
    ],
)
def test_literal_addresses_in_blocked_ranges_are_refused_naming_the_range(
    url: str, range_name: str, network: str
) -> None:
    exc = refused(url)
    assert f"in the {range_name} range {network}" in exc.message
    assert exc.range_name == range_name  # type: ignore[attr-defined]
    assert exc.hint is not None
    assert "notify.allowed_hosts" in exc.hint and "notify.allowed_networks" in exc.hint


@pytest.mark.parametrize(
    ("url", "fragment", "network"),
    [
        (
            "https://[::ffff:127.0.0.1]/",
            "IPv4-mapped IPv6 (to loopback 127.0.0.1)",
            "::ffff:0:0/96",
        ),
        ("https://[::ffff:169.254.169.254]/", "(to cloud metadata", "::ffff:0:0/96"),
        ("https://[::ffff:93.184.216.34]/", "IPv4-mapped IPv6 range", "::ffff:0:0/96"),
        ("https://[64:ff9b::7f00:1]/", "loopback (as 127.0.0.1 inside IPv6)", "127.0.0.0/8"),
        ("https://[2002:a9fe:a9fe::]/", "cloud metadata (as 169.254.169.254", "169.254.169.254/32"),
        ("https://[2001::1]/", "Teredo tunnel", "2001::/32"),
        ("https://[::127.0.0.1]/", "reserved", "::/8"),
    ],
)
def test_ipv6_forms_that_carry_an_ipv4_address_are_refused(
    url: str, fragment: str, network: str
) -> None:
    exc = refused(url)
    assert fragment in exc.message and network in exc.message


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0xA9.0xFE.0xA9.0xFE", "169.254.169.254"),
        ("2852039166", "169.254.169.254"),
        ("1572395042", "93.184.216.34"),
    ],
)
def test_numeric_ipv4_forms_are_refused_whatever_they_point_at(host: str, address: str) -> None:
    assert legacy_ipv4(host) == ipaddress.IPv4Address(address)
    exc = refused(f"https://{host}/hook")
    assert f"is the address {address} written in a decimal, octal or hexadecimal" in exc.message
    assert exc.hint is not None and f"Write the host as {address}" in exc.hint


@pytest.mark.parametrize("host", ["example.com", "1e100.net", "08.1.2.3", "1.2.3.4.5", "256.1.1.1"])
def test_names_are_not_numeric_forms(host: str) -> None:
    assert legacy_ipv4(host) is None


@pytest.mark.parametrize(
    ("url", "address", "range_name"),
    [
        ("https://localhost:8080/", "127.0.0.1", "loopback"),
        ("https://LOCALHOST./", "127.0.0.1", "loopback"),
        ("https://rebind.example.com/", "10.0.0.7", "private"),
        ("https://metadata.example.com/", "169.254.169.254", "cloud metadata"),
    ],
)
def test_names_are_refused_when_any_address_they_resolve_to_is_blocked(
    url: str, address: str, range_name: str
) -> None:
    exc = refused(url)
    assert f"resolves to {address}) is in the {range_name} range" in exc.message


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
        "ftp://hooks.example.com/x",
        "dict://hooks.example.com:11211/",
        "ldap://hooks.example.com/",
        "javascript:alert(1)",
        "hooks.example.com/no-scheme",
    ],
)
def test_schemes_other_than_https_are_refused(url: str) -> None:
    exc = refused(url)
    assert "is not allowed for outbound requests" in exc.message


def test_plain_http_needs_an_allowlisted_host() -> None:
    exc = refused("http://hooks.example.com/hook")
    assert "Plain http is refused for http://hooks.example.com:80" in exc.message
    by_name = OutboundPolicy.build(allowed_hosts=["hooks.example.com"])
    assert check_url("http://hooks.example.com/hook", by_name, resolver=resolver) is not None
    by_network = OutboundPolicy.build(allowed_networks=["93.184.216.0/24"])
    assert check_url("http://hooks.example.com/hook", by_network, resolver=resolver) is not None
    # A network holding only some of the host's addresses is not enough for http.
    partly = OutboundPolicy.build(allowed_networks=["93.184.216.0/24"])
    with pytest.raises(UnsafeURLError, match="Plain http is refused"):
        check_url("http://dual.example.com/", partly, resolver=resolver)


def test_public_https_passes_and_pins_a_checked_address() -> None:
    checked = check_url("https://dual.example.com:8443/a?b=c", OPEN, resolver=resolver)
    assert checked is not None
    assert (checked.scheme, checked.host, checked.port) == ("https", "dual.example.com", 8443)
    assert checked.address == "93.184.216.34"
    assert checked.addresses == ("93.184.216.34", "2606:2800:220:1::1")
    assert checked.origin == "https://dual.example.com:8443"


def test_allowlists_reach_internal_receivers_on_purpose() -> None:
    loopback = OutboundPolicy.build(allowed_hosts=["127.0.0.1"])
    checked = check_url("http://127.0.0.1:9000/hook", loopback, resolver=resolver)
    assert checked is not None and checked.address == "127.0.0.1"
    # Only that host: ::1 and other loopback addresses stay refused.
    with pytest.raises(UnsafeURLError, match="loopback"):
        check_url("http://[::1]:9000/hook", loopback, resolver=resolver)
    named = OutboundPolicy.build(allowed_hosts=["receiver.internal"])
    assert check_url("https://receiver.internal/", named, resolver=resolver) is not None
    network = OutboundPolicy.build(allowed_networks=["10.1.0.0/16"])
    assert check_url("https://receiver.internal/", network, resolver=resolver) is not None
    with pytest.raises(UnsafeURLError, match="10.0.0.7"):
        check_url("https://rebind.example.com/", network, resolver=resolver)


def test_an_allowlisted_name_never_reaches_cloud_metadata() -> None:
    named = OutboundPolicy.build(allowed_hosts=["metadata.example.com"])
    with pytest.raises(UnsafeURLError, match="cloud metadata"):
        check_url("https://metadata.example.com/", named, resolver=resolver)
    literal = OutboundPolicy.build(allowed_hosts=["169.254.169.254"])
    assert check_url("http://169.254.169.254/", literal, resolver=resolver) is not None


def test_errors_name_the_setting_of_the_policy_and_never_the_path() -> None:
    policy = OutboundPolicy.build(setting="data")
    exc = refused("https://127.0.0.1/services/T0/B0/s3cr3t?token=abc", policy)
    assert "data.allowed_hosts" in str(exc) and "data.allowed_networks" in str(exc)
    assert "s3cr3t" not in str(exc) and "token" not in str(exc)


def test_without_resolving_only_what_the_url_shows_is_checked() -> None:
    assert check_url("https://hooks.example.com/x", OPEN, resolve=False) is None
    with pytest.raises(UnsafeURLError, match="loopback"):
        check_url("https://127.0.0.1/x", OPEN, resolve=False)
    with pytest.raises(UnsafeURLError, match="Plain http"):
        check_url("http://hooks.example.com/x", OPEN, resolve=False)


def test_an_unresolvable_host_is_a_connection_problem_not_a_refusal() -> None:
    with pytest.raises(ConnectionError, match="Could not resolve the host 'nowhere.invalid'"):
        check_url("https://nowhere.invalid/", OPEN, resolver=resolver)


@pytest.mark.parametrize("url", ["", "   ", "https://", "https:///path", "https://[::1/"])
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURLError):
        check_url(url, OPEN, resolver=resolver)


def test_check_target_takes_a_parse_from_elsewhere() -> None:
    checked = check_target("HTTPS", "Hooks.Example.COM", None, OPEN, resolver=resolver)
    assert checked is not None and (checked.host, checked.port) == ("hooks.example.com", 443)


def test_global_addresses_are_in_no_blocked_range() -> None:
    for text in ("93.184.216.34", "8.8.8.8", "2606:2800:220:1::1", "1.1.1.1"):
        assert blocked_range(ipaddress.ip_address(text)) is None


def test_networks_must_be_cidr() -> None:
    with pytest.raises(ValueError, match="'10.0.0.0/33' is not a network"):
        OutboundPolicy.build(allowed_networks=["10.0.0.0/33"])
