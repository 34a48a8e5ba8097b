"""Which hosts run-time tool sources may reach: ``planexec serve --allow-upstream HOST[:PORT]``.

An entry is ``HOST``, ``HOST:PORT`` or ``HOST:*``; IPv6 literals go in brackets
(``[::1]:9000``). Ports: an entry without a port allows the URL scheme's default port
only (80 for http, 443 for https), so ``--allow-upstream tools.example`` never opens
``tools.example:6379``; ``HOST:PORT`` allows that port under either scheme; ``HOST:*``
any port. Hosts compare lowercased, IDNA-encoded, without a trailing dot. An empty list
allows nothing.

:meth:`HostAllowList.check` refuses (raising :class:`HostNotAllowed`, a ValueError) any
URL that is not plain ``http``/``https`` with a host, carries userinfo
(``http://allowed@evil/``), contains a backslash, whitespace or a control character, or
whose host the MCP client's own URL parser (httpx2) reads differently from ours: a URL
is only allowed when both agree on where it goes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2

__all__ = ["HostAllowList", "HostNotAllowed"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_ANY_PORT = -1


class HostNotAllowed(ValueError):
    """A URL a run-time tool source may not reach (or an allow-list entry that is malformed)."""


def _normal_host(host: str) -> str:
    """``host`` lowercased, IDNA-encoded, without brackets or a trailing dot (ValueError if unusable)."""
    host = host.strip().removeprefix("[").removesuffix("]").rstrip(".").lower()
    if not host:
        raise ValueError("no host")
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    if any(c in host for c in "/\\@ :%?#") or any(ord(c) < 0x21 for c in host):
        raise ValueError(f"{host!r} is not a host name")
    try:
        encoded = host.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise ValueError(f"{host!r} is not a valid host name ({error})") from None
    return encoded.lower()


@dataclass(frozen=True, slots=True)
class _Entry:
    host: str
    port: int | None  # None: the scheme's default port; _ANY_PORT: any

    @classmethod
    def parse(cls, text: str) -> _Entry:
        text = text.strip()
        if text.startswith("["):  # [v6] or [v6]:port
            host, bracket, rest = text[1:].partition("]")
            if not bracket or (rest and not rest.startswith(":")):
                raise HostNotAllowed(f"--allow-upstream {text!r}: expected [IPV6] or [IPV6]:PORT")
            port_text = rest[1:] if rest else None
        elif text.count(":") > 1:
            raise HostNotAllowed(f"--allow-upstream {text!r}: put an IPv6 address in brackets, [::1]:PORT")
        else:
            host, colon, port_text_or_empty = text.partition(":")
            port_text = port_text_or_empty if colon else None
        try:
            normal = _normal_host(host)
        except ValueError as error:
            raise HostNotAllowed(f"--allow-upstream {text!r}: {error}") from None
        if port_text is None:
            return cls(normal, None)
        if port_text == "*":
            return cls(normal, _ANY_PORT)
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise HostNotAllowed(f"--allow-upstream {text!r}: the port must be 1-65535 or *")
        return cls(normal, int(port_text))

    def allows(self, host: str, port: int, scheme: str) -> bool:
        if host != self.host:
            return False
        if self.port is None:
            return port == _DEFAULT_PORTS[scheme]
        return self.port in (_ANY_PORT, port)


class HostAllowList:
    """The hosts given by ``--allow-upstream`` (see the module docstring for the rules)."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self._entries = tuple(_Entry.parse(entry) for entry in entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def check(self, url: str) -> None:
        """Return if ``url`` may be reached; raise :class:`HostNotAllowed` saying why not."""
        host, port, scheme = _target(url)
        if not any(entry.allows(host, port, scheme) for entry in self._entries):
            where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            if not self._entries:
                raise HostNotAllowed(
                    f"{where} is not allowed: this server allows no upstream hosts "
                    "(start it with --allow-upstream HOST[:PORT])"
                )
            raise HostNotAllowed(f"{where} is not allowed: add it with --allow-upstream HOST[:PORT]")


def _target(url: str) -> tuple[str, int, str]:
    """(host, port, scheme) of ``url``, refusing anything ambiguous."""
    if not isinstance(url, str) or not url:
        raise HostNotAllowed("the URL is empty")
    if "\\" in url or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise HostNotAllowed(f"{url!r}: backslashes, spaces and control characters are not allowed in a URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise HostNotAllowed(f"{url!r} is not a valid URL: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise HostNotAllowed(f"{url!r}: only http:// and https:// URLs are allowed")
    if "@" in parts.netloc:
        raise HostNotAllowed(f"{url!r}: credentials in the URL (user@host) are not allowed")
    if not parts.hostname:
        raise HostNotAllowed(f"{url!r} has no host")
    try:
        host = _normal_host(parts.hostname)
        theirs = httpx2.URL(url)
        their_host = _normal_host(theirs.host)
    except (ValueError, httpx2.InvalidURL) as error:
        raise HostNotAllowed(f"{url!r}: unusable host ({error})") from None
    if port is None:
        port = _DEFAULT_PORTS[scheme]
    if port == 0:
        raise HostNotAllowed(f"{url!r}: port 0 is not a port to connect to")
    their_port = _DEFAULT_PORTS[scheme] if theirs.port is None else theirs.port
    if their_host != host or their_port != port:
        raise HostNotAllowed(f"{url!r}: the host is ambiguous")
    return host, port, scheme
