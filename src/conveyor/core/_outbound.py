"""The outbound URL guard: which URLs conveyor may fetch or post to (RELIABILITY rule 5, S06).

A URL passes when its scheme is allowed (``https``; ``http`` only for a host the user
allowlisted) and every address its host resolves to is outside the blocked ranges:
loopback, link-local, private, carrier-grade NAT, multicast, unspecified, reserved and
cloud-metadata addresses, and IPv6 forms that embed one (IPv4-mapped, NAT64, 6to4,
Teredo). Hosts written as decimal, octal or hexadecimal IPv4 (``2130706433``,
``0177.0.0.1``, ``0x7f.1``) are refused outright: resolvers read them as addresses, people
do not. An allowlist of host names and networks lets a user reach an internal receiver on
purpose.

The caller connects to :attr:`CheckedURL.address`, the address that was checked (pinned),
so a DNS answer that changes between the check and the connect (DNS rebinding) cannot
send it elsewhere; the Host header and TLS server name stay the URL's host. Redirects are
never followed: a redirect is a new URL nobody checked.

Standard library only, so every layer can use it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ._errors import UnsafeURLError

__all__ = [
    "BLOCKED_RANGES",
    "CheckedURL",
    "OutboundPolicy",
    "Resolver",
    "blocked_range",
    "check_target",
    "check_url",
    "legacy_ipv4",
    "parse_networks",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# ``(host, port) -> addresses``; the default asks the system resolver.
Resolver = Callable[[str, int], Sequence[str]]

_DEFAULT_PORTS = {"https": 443, "http": 80}


def _nets(*cidrs: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(c) for c in cidrs)


# Checked in order: the first range that holds an address names it. Metadata first, so
# 169.254.169.254 is called what it is rather than "link-local".
BLOCKED_RANGES: tuple[tuple[str, tuple[IPNetwork, ...]], ...] = (
    (
        "cloud metadata",
        _nets(
            "169.254.169.254/32",  # AWS, GCP, Azure, OpenStack, DigitalOcean ...
            "169.254.170.2/32",  # AWS ECS task metadata
            "100.100.100.200/32",  # Alibaba Cloud
            "192.0.0.192/32",  # Oracle Cloud
            "fd00:ec2::254/128",  # AWS over IPv6
        ),
    ),
    ("unspecified", _nets("0.0.0.0/8", "::/128")),
    ("loopback", _nets("127.0.0.0/8", "::1/128")),
    ("link-local", _nets("169.254.0.0/16", "fe80::/10")),
    ("private", _nets("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10")),
    ("carrier-grade NAT", _nets("100.64.0.0/10")),
    ("multicast", _nets("224.0.0.0/4", "ff00::/8")),
    (
        "reserved",
        _nets(
            "192.0.0.0/24",
            "192.0.2.0/24",
            "192.88.99.0/24",
            "198.18.0.0/15",
            "198.51.100.0/24",
            "203.0.113.0/24",
            "240.0.0.0/4",
            "::/8",
            "100::/64",
            "2001:db8::/32",
            "2001:10::/28",
            "2001:20::/28",
        ),
    ),
)

# IPv6 ranges whose addresses carry an IPv4 address a packet may end up at.
_IPV4_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
_NAT64 = _nets("64:ff9b::/96", "64:ff9b:1::/48")
_TEREDO = ipaddress.ip_network("2001::/32")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


@dataclass(frozen=True)
class OutboundPolicy:
    """What may be reached: schemes, and the hosts and networks allowlisted on purpose.

    Attributes:
        schemes: Schemes allowed for any host that passes the address checks.
        allowed_hosts: Host names or literal addresses (lower case) reachable whatever they
            resolve to, over ``http`` too.
        allowed_networks: Networks whose addresses are reachable, over ``http`` too.
        setting: The settings section that holds the allowlists, named in errors
            (``notify`` gives ``notify.allowed_hosts``).
    """

    schemes: frozenset[str] = frozenset({"https"})
    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()
    setting: str = "notify"

    @classmethod
    def build(
        cls,
        *,
        allowed_hosts: Iterable[str] = (),
        allowed_networks: Iterable[str] = (),
        setting: str = "notify",
        schemes: Iterable[str] = ("https",),
    ) -> OutboundPolicy:
        """A policy from settings text (networks as CIDR, e.g. ``10.1.0.0/16``).

        Raises:
            ValueError: a network is not CIDR notation.
        """
        return cls(
            schemes=frozenset(s.lower() for s in schemes),
            allowed_hosts=frozenset(_normal_host(h) for h in allowed_hosts if h.strip()),
            allowed_networks=tuple(parse_networks(allowed_networks)),
            setting=setting,
        )

    def host_allowed(self, host: str) -> bool:
        return _normal_host(host) in self.allowed_hosts

    def network_allows(self, address: IPAddress) -> bool:
        return any(address.version == n.version and address in n for n in self.allowed_networks)


@dataclass(frozen=True)
class CheckedURL:
    """A URL that passed the guard, and the address to connect to.

    Attributes:
        scheme: ``https`` or ``http``.
        host: The host as written in the URL (lower case): the Host header and TLS name.
        port: The port to connect to.
        address: The checked address to connect to (pinned).
        addresses: Every address the host resolved to, all checked.
    """

    scheme: str
    host: str
    port: int
    address: str
    addresses: tuple[str, ...] = field(default=())

    @property
    def origin(self) -> str:
        """``scheme://host:port``: what may be shown (no path, query or credentials)."""
        return f"{self.scheme}://{_bracket(self.host)}:{self.port}"


def parse_networks(values: Iterable[str]) -> list[IPNetwork]:
    """Networks from CIDR text (a bare address is a one-address network).

    Raises:
        ValueError: naming the value that is not a network.
    """
    found = []
    for value in values:
        text = value.strip()
        if not text:
            continue
        try:
            found.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(
                f"{text!r} is not a network; write it in CIDR notation such as "
                "'10.1.0.0/16' or '127.0.0.1/32'"
            ) from None
    return found


def legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address a resolver reads from a numeric IPv4 host in any ``inet_aton`` form
    (``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``127.1``), or None if ``host`` is not one.
    The canonical dotted quad is returned too."""
    parts = host.split(".")
    if host.endswith("."):
        parts = parts[:-1]
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        try:
            if part[:2].lower() == "0x":
                numbers.append(int(part[2:], 16) if part[2:] else 0)
            elif len(part) > 1 and part.startswith("0"):
                numbers.append(int(part, 8))
            else:
                if not part.isdigit():
                    return None
                numbers.append(int(part, 10))
        except ValueError:
            return None
    # The last part fills every byte left: a.b.c.d, a.b.cd, a.bcd, abcd.
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = 0
    for n in head:
        value = value << 8 | n
    value = value << (8 * (4 - len(head))) | last
    return ipaddress.IPv4Address(value)


def blocked_range(address: IPAddress) -> tuple[str, str] | None:
    """``(name, network)`` of the blocked range holding ``address``, or None if it is a
    global unicast address. IPv6 addresses that embed an IPv4 one are judged by both."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _IPV4_MAPPED:
            embedded = address.ipv4_mapped
            assert embedded is not None
            inner = blocked_range(embedded)
            label = f" (to {inner[0]} {embedded})" if inner else ""
            return f"IPv4-mapped IPv6{label}", str(_IPV4_MAPPED)
        embedded_v4 = _embedded_ipv4(address)
        if embedded_v4 is not None:
            inner = blocked_range(embedded_v4)
            if inner is not None:
                return f"{inner[0]} (as {embedded_v4} inside IPv6)", inner[1]
        if address in _TEREDO:
            return "Teredo tunnel", str(_TEREDO)
    for name, networks in BLOCKED_RANGES:
        for network in networks:
            if address.version == network.version and address in network:
                return name, str(network)
    if not address.is_global:
        # Anything else IANA marks as not globally reachable.
        return "reserved", "IANA special-purpose registry"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.sixtofour is not None:
        return address.sixtofour
    for network in _NAT64:
        if address in network:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def check_url(
    url: str,
    policy: OutboundPolicy,
    *,
    resolve: bool = True,
    resolver: Resolver | None = None,
) -> CheckedURL | None:
    """Check ``url`` against ``policy``; return where to connect.

    With ``resolve=False`` only what the URL itself shows is checked (scheme, literal and
    numeric-form addresses), for validating settings without a network; None is returned
    when the host is a name that would need resolving.

    Raises:
        UnsafeURLError: the scheme is not allowed, the host is missing, written in a
            numeric form, or resolves to a blocked range. Never shows the URL's path,
            query or credentials (a Slack webhook's path is its secret).
        ConnectionError: the host does not resolve (a network problem, worth a retry).
    """
    if not isinstance(url, str) or not url.strip():
        raise UnsafeURLError(
            "An outbound URL must be a non-empty string such as 'https://hooks.example.com/x'.",
            hint="Set the URL of the channel.",
        )
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeURLError(
            f"An outbound URL could not be parsed ({exc}).",
            hint="Write it as https://host[:port]/path.",
        ) from None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    return check_target(
        scheme,
        host,
        port,
        policy,
        resolve=resolve,
        resolver=resolver,
    )


def check_target(
    scheme: str,
    host: str,
    port: int | None,
    policy: OutboundPolicy,
    *,
    resolve: bool = True,
    resolver: Resolver | None = None,
) -> CheckedURL | None:
    """Check an already parsed URL (its scheme, host and port); see :func:`check_url`.

    HTTP clients call this with their own parse of the URL, so the host checked is the
    host they would connect to.
    """
    scheme = scheme.lower()
    host = _normal_host(host)
    allow_hint = _allow_hint(policy)
    # http is let through here and judged once the addresses are known (allowlisted only).
    if scheme not in _DEFAULT_PORTS or (scheme not in policy.schemes and scheme != "http"):
        raise UnsafeURLError(
            f"The URL scheme {scheme + ':' if scheme else '(none)'} is not allowed for "
            f"outbound requests; only {' and '.join(sorted(policy.schemes))} (http only to a "
            "host allowlisted on purpose).",
            hint="Use an https:// URL.",
            scheme=scheme,
        )
    if not host:
        raise UnsafeURLError(
            "An outbound URL must name a host, as in https://hooks.example.com/x.",
            hint="Add the host to the URL.",
        )
    port = port if port is not None else _DEFAULT_PORTS[scheme]
    shown = f"{scheme}://{_bracket(host)}:{port}"
    named_allowed = policy.host_allowed(host)

    literal = _literal_address(host)
    numeric = None if literal is not None else legacy_ipv4(host)
    if numeric is not None:
        inner = blocked_range(numeric)
        where = f", in the {inner[0]} range {inner[1]}" if inner else ""
        raise UnsafeURLError(
            f"The host of {shown} is the address {numeric} written in a decimal, octal or "
            f"hexadecimal form{where}; outbound URLs take dotted-quad addresses only.",
            hint=f"Write the host as {numeric}" + (f"; {allow_hint}" if inner else "."),
            host=host,
            blocked_range=inner[1] if inner else None,
        )

    if literal is not None:
        addresses: list[IPAddress] = [literal]
    elif not resolve:
        _check_scheme_for(scheme, shown, policy, named_allowed, [])
        return None
    else:
        addresses = _resolve(host, port, resolver)
    # Every address must pass: a resolver may hand back any of them at connect time.
    for address in addresses:
        # An allowlisted name reaches what it resolves to, but for cloud metadata, which
        # only an allowlisted literal address or network reaches.
        if named_allowed and (literal is not None or not _is_metadata(address)):
            continue
        if policy.network_allows(address):
            continue
        blocked = blocked_range(address)
        if blocked is not None:
            via = "" if literal is not None else f" (the host {host!r} resolves to {address})"
            raise UnsafeURLError(
                f"Outbound requests to {shown} are refused: {address}{via} is in the "
                f"{blocked[0]} range {blocked[1]}.",
                hint=f"Use a public https:// URL; or, to reach this host on purpose, {allow_hint}.",
                host=host,
                address=str(address),
                blocked_range=blocked[1],
                range_name=blocked[0],
            )
    _check_scheme_for(scheme, shown, policy, named_allowed, addresses)
    return CheckedURL(
        scheme=scheme,
        host=host,
        port=port,
        address=str(addresses[0]),
        addresses=tuple(str(a) for a in addresses),
    )


def _check_scheme_for(
    scheme: str,
    shown: str,
    policy: OutboundPolicy,
    named_allowed: bool,
    addresses: Sequence[IPAddress],
) -> None:
    if scheme in policy.schemes:
        return
    allowlisted = named_allowed or (
        bool(addresses) and all(policy.network_allows(a) for a in addresses)
    )
    if not allowlisted:
        raise UnsafeURLError(
            f"Plain http is refused for {shown}: only https, or http to a host allowlisted "
            "on purpose.",
            hint=f"Use https://; or {_allow_hint(policy)}.",
            scheme=scheme,
        )


def _resolve(host: str, port: int, resolver: Resolver | None) -> list[IPAddress]:
    try:
        found = (resolver or _system_resolver)(host, port)
    except OSError as exc:
        raise ConnectionError(
            f"Could not resolve the host {host!r}: {exc.strerror or exc}."
        ) from None
    addresses: list[IPAddress] = []
    for text in found:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise ConnectionError(f"The host {host!r} resolves to no address.")
    return addresses


def _system_resolver(host: str, port: int) -> list[str]:
    infos: list[Any] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _literal_address(host: str) -> IPAddress | None:
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _is_metadata(address: IPAddress) -> bool:
    found = blocked_range(address)
    return found is not None and found[0] == "cloud metadata"


def _normal_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _allow_hint(policy: OutboundPolicy) -> str:
    return (
        f"add the host to {policy.setting}.allowed_hosts or its network to "
        f"{policy.setting}.allowed_networks"
    )
