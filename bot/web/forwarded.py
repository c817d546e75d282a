"""Who the client is: the TCP peer, or — behind a reverse proxy we trust — the address it saw.

`web_trusted_proxies` lists the proxies (addresses or networks). A request whose TCP peer is one
of them has its `X-Forwarded-For` read from the right: hops that are themselves trusted are
skipped, and the first address that is not trusted is the client (everything left of it was
written by the client and is ignored); its `X-Forwarded-Proto` (`http` or `https`, the value the
nearest proxy set) is the scheme. From any other peer both headers are ignored, so nobody can
choose their own rate-limit bucket or pass for https by sending a header.

Limits and counts are kept per `client_key`: an IPv4 address, or the /64 network of an IPv6
address (one subscriber's line holds a whole /64, and could otherwise rotate through it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
FORWARDED_FOR = "X-Forwarded-For"
FORWARDED_PROTO = "X-Forwarded-Proto"
MAX_HOPS = 20  # a longer chain is not a real one: the rest is ignored


def parse_address(text: str | None) -> IPAddress | None:
    """An address as a peer or a proxy writes it (`1.2.3.4`, `1.2.3.4:80`, `[2001:db8::1]:80`,
    `fe80::1%eth0`, an IPv4-mapped IPv6 address), or None when it is not one."""
    if not text:
        return None
    value = text.strip()
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:  # IPv4 with a port
        value = value.partition(":")[0]
    value = value.partition("%")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_key(address: str | None) -> str:
    """The key one client's limits are counted under: the IPv4 address, an IPv6 /64."""
    parsed = parse_address(address)
    if parsed is None:
        return address or "unknown"
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


class TrustedProxies:
    """The reverse proxies whose forwarding headers are believed."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.networks = [ipaddress.ip_network(e.strip(), strict=False) for e in entries]

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: str | IPAddress | None) -> bool:
        parsed = address if not isinstance(address, str | None) else parse_address(address)
        if parsed is None:
            return False
        return any(parsed.version == n.version and parsed in n for n in self.networks)

    def client(self, peer: str | None, forwarded_for: Iterable[str]) -> str | None:
        """The client's address: the rightmost untrusted hop of X-Forwarded-For when the peer
        is trusted, else the peer. A hop that is not an address ends the walk at the last
        trusted one (a proxy that wrote it is misconfigured; nothing left of it is believed)."""
        if not self.trusts(peer):
            return peer
        hops = [h for header in forwarded_for for h in header.split(",")][-MAX_HOPS:]
        client = peer
        for hop in reversed(hops):
            address = parse_address(hop)
            if address is None:
                break
            client = str(address)
            if not self.trusts(address):
                break
        return client

    def scheme(self, peer: str | None, forwarded_proto: Iterable[str], default: str) -> str:
        """`http` or `https` as the nearest trusted proxy says, else the connection's own."""
        if not self.trusts(peer):
            return default
        values = [v.strip().lower() for header in forwarded_proto for v in header.split(",")]
        return values[-1] if values and values[-1] in ("http", "https") else default


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def forwarded_middleware(
    proxies: TrustedProxies,
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Middleware (the first): behind a trusted proxy, the request carries the client's
    address as `request.remote` and the scheme the client used as `request.scheme`."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        peer = request.remote
        if not proxies.trusts(peer):
            return await handler(request)
        remote = proxies.client(peer, request.headers.getall(FORWARDED_FOR, []))
        scheme = proxies.scheme(peer, request.headers.getall(FORWARDED_PROTO, []), request.scheme)
        return await handler(request.clone(remote=remote, scheme=scheme))

    return middleware
