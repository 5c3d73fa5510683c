"""The client's address, as far as this server can know it.

Behind a reverse proxy every request comes from the proxy, which names the client in
`X-Forwarded-For`. Anyone can send that header, so it is believed only from the proxies listed
in `MOODLINE_TRUSTED_PROXIES` (addresses or networks), and then only as far as they vouch: the
address kept is the right-most one that is not itself a trusted proxy — the hop that reached our
proxies from outside. Everything downstream (the audit trail, sign-in throttling) reads
`REMOTE_ADDR`, which this middleware sets.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from functools import cache

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _trusted(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())


def _is_trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str, forwarded_for: str, trusted: Sequence[Network]) -> str:
    """The address to record for a request from `peer` carrying `X-Forwarded-For`."""
    if not forwarded_for or not _is_trusted(peer, trusted):
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        if not hop:
            continue
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a malformed chain vouches for nothing
        if not _is_trusted(hop, trusted):
            return hop
    return peer  # every hop is one of ours


class TrustedProxyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        trusted = _trusted(tuple(settings.MOODLINE_TRUSTED_PROXIES))
        peer = request.META.get("REMOTE_ADDR", "")
        request.META["REMOTE_ADDR"] = client_address(
            peer, request.META.get("HTTP_X_FORWARDED_FOR", ""), trusted
        )
        return self.get_response(request)


def axes_client_ip(request: HttpRequest) -> str | None:
    """For django-axes: the address this middleware settled on, never a header of its own."""
    address: str | None = request.META.get("REMOTE_ADDR")
    return address
