"""Which addresses a callback may be delivered to.

A callback URL is chosen by a customer, so without a policy it is a way to make our server send
requests into our own network (cloud metadata at 169.254.169.254, an admin port on loopback, a
database on 10.x). By default only public unicast addresses are allowed; operators can allow
networks explicitly (``settings.callback_allowed_networks``).

The decision is taken on addresses, not names, at three points (see ``http.py``): the URL's host
when it is an address literal (or a legacy numeric form such as ``0177.0.0.1``), every address a
name resolves to, and finally the exact socket address about to be connected. So a name that
resolves to loopback, or rebinds between checks, is refused too.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: NAT64's well-known prefix: the last 32 bits are the IPv4 address really reached.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


class RefusedAddress(OSError):
    """A callback target the address policy does not allow. ``str()`` is the recorded reason."""


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """The operator's allow-list; a bad entry is a configuration error, raised at start-up."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"callback_allowed_networks: {value!r} is not a network ({exc})") from None
    return tuple(networks)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address really reaches, for the forms that carry one."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    # ::a.b.c.d, deprecated "IPv4-compatible" addresses (but not :: and ::1 themselves).
    if int(ip) >> 32 == 0 and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip))
    return None


def _kind(ip: IPAddress) -> str | None:
    """Why this address is not public, or None when it is."""
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"):
        return "a carrier-grade NAT (shared) address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if isinstance(ip, ipaddress.IPv6Address) and ip in _NAT64_LOCAL:
        return "a local-use NAT64 address"
    if not ip.is_global:
        return "not a public address"
    return None


def refusal(ip: IPAddress, allowed: tuple[IPNetwork, ...]) -> str | None:
    """Why delivering to ``ip`` is refused, or None when it is allowed."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
    candidates: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if ip.ipv4_mapped is not None:
            # ::ffff:a.b.c.d is an IPv4 socket address in IPv6 clothing: only a.b.c.d counts.
            ip = inner
            candidates = [inner]
        elif inner is not None:
            candidates.append(inner)
    if any(c.version == n.version and c in n for c in candidates for n in allowed):
        return None
    # The embedded IPv4 address (if any) first: it is what the packets really reach.
    for candidate in reversed(candidates):
        kind = _kind(candidate)
        if kind:
            shown = str(candidate) if candidate is ip else f"{candidate} (inside {ip})"
            return f"{shown} is {kind}; callbacks go only to public addresses"
    return None


def _is_numeric_label(label: str) -> bool:
    low = label.lower()
    if low.startswith("0x"):
        return all(c in "0123456789abcdef" for c in low[2:])
    return low.isascii() and low.isdigit()


def host_address(host: str) -> IPAddress | None:
    """The address a URL host denotes without any name lookup, or None when it is a name.

    Besides ordinary literals this reads the legacy numeric forms C's ``inet_aton`` accepts
    (``0177.0.0.1``, ``2130706433``, ``0x7f.1``), since a resolver would read them the same way.
    Raises ``RefusedAddress`` for an all-numeric host that is no address at all.
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text.split("%", 1)[0] if ":" in text else text)
    except ValueError:
        pass
    labels = text.rstrip(".").split(".")
    if labels and all(label and _is_numeric_label(label) for label in labels):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text.rstrip(".")))
        except OSError:
            raise RefusedAddress(f"{host} is neither a host name nor a valid address") from None
    return None


@dataclass(frozen=True)
class HostVerdict:
    """``allowed`` is True/False when the host alone decides, None when a lookup must."""

    allowed: bool | None
    reason: str | None = None


def check_host(host: str, allowed: tuple[IPNetwork, ...]) -> HostVerdict:
    """The policy applied to a URL's host before any lookup or connection."""
    if not host:
        return HostVerdict(False, "the callback URL has no host")
    name = host.strip().rstrip(".").lower()
    try:
        ip = host_address(host)
    except RefusedAddress as exc:
        return HostVerdict(False, str(exc))
    if ip is not None:
        reason = refusal(ip, allowed)
        return HostVerdict(reason is None, reason)
    # RFC 6761: these names always mean this machine; refuse them without asking a resolver,
    # unless loopback is explicitly allowed (then the lookup and the address check decide).
    if name == "localhost" or name.endswith(".localhost"):
        if refusal(ipaddress.ip_address("127.0.0.1"), allowed) is not None:
            return HostVerdict(False, f"{host} is this machine (a loopback name); "
                                      "callbacks go only to public addresses")
    return HostVerdict(None)
