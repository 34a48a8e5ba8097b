"""HostAllowList: which URLs run-time tool sources may reach (--allow-upstream)."""

from __future__ import annotations

import pytest

from planexec.registry import HostAllowList, HostNotAllowed

ALLOWED = HostAllowList(["Tools.Example.COM", "127.0.0.1:9000", "[::1]:8080", "bücher.de", "api.example:*"])


@pytest.mark.parametrize(
    "url",
    [
        "http://tools.example.com/mcp",
        "https://TOOLS.example.com./mcp",  # case and a trailing dot
        "https://tools.example.com:443/mcp",
        "http://127.0.0.1:9000/mcp",
        "https://127.0.0.1:9000/mcp",  # an explicit port allows either scheme
        "http://[::1]:8080/mcp",
        "http://[0:0:0:0:0:0:0:1]:8080/mcp",  # the same address written out
        "http://xn--bcher-kva.de/",
        "http://bücher.de/",  # IDNA-encoded before comparing
        "http://api.example:1234/",
        "https://api.example/",
    ],
)
def test_allowed_urls(url: str) -> None:
    ALLOWED.check(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://tools.example.com:8080/mcp",  # no port in the entry: the default port only
        "https://tools.example.com:80/mcp",
        "http://127.0.0.1/mcp",
        "http://127.0.0.1:9001/mcp",
        "http://[::1]/mcp",
        "http://evil.example/",
        "http://tools.example.com.evil.example/",
        "http://allowed@tools.example.com/",  # userinfo
        "http://tools.example.com:pw@evil.example/",
        "http://127.0.0.1:9000@evil.example/",
        "http://tools.example.com\\@evil.example/",  # backslash
        "http://evil.example\\.tools.example.com/",
        "http://evil.example#@tools.example.com",
        "http://tools.example.com /",
        "http:///mcp",  # no host
        "http://:9000/mcp",
        "ftp://tools.example.com/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "tools.example.com/mcp",
        "",
        "http://tools.example.com:0/",
        "http://tools.example.com:99999/",
        "http://0x7f.0.0.1:9000/",  # not 127.0.0.1 to us: refused, never guessed
    ],
)
def test_refused_urls(url: str) -> None:
    with pytest.raises(HostNotAllowed):
        ALLOWED.check(url)


def test_an_empty_list_allows_nothing() -> None:
    empty = HostAllowList([])
    assert not empty and ALLOWED
    with pytest.raises(HostNotAllowed):
        empty.check("http://127.0.0.1:9000/mcp")


@pytest.mark.parametrize(
    "entry",
    ["", "a b", "host:", "host:0", "host:65536", "host:http", "::1", "[::1", "[::1]x", "user@host", "h/p"],
)
def test_malformed_entries_are_refused(entry: str) -> None:
    with pytest.raises(HostNotAllowed):
        HostAllowList([entry])


def test_host_not_allowed_is_a_value_error() -> None:
    assert issubclass(HostNotAllowed, ValueError)
