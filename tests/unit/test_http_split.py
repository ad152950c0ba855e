"""clients/http.py splits a URL as urllib.parse.urlsplit does (without importing it for ours)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resonate_rpc_cli.clients.http import _split


def expected(url: str) -> tuple[object, ...]:
    p = urlsplit(url)
    return (p.scheme, p.netloc, p.hostname, p.port, p.path, p.query)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8001", "http://127.0.0.1:8001/", "http://localhost:5000/await-chain?x=1",
    "http://Host:1/a", "http://[::1]:80/x", "https://a:1/", "http://a/x", "http://u@h:1/p",
    "http://h:0080/p?q", "http://h:1/p#frag", "http://h:1?q=/x",
])
def test_split_is_urlsplit(url: str) -> None:
    assert tuple(_split(url)) == expected(url)


def test_a_port_out_of_range_is_refused_alike() -> None:
    with pytest.raises(ValueError, match="out of range"):
        expected("http://h:99999/")
    with pytest.raises(ValueError, match="out of range"):
        _split("http://h:99999/")


@given(st.from_regex(r"http://[a-z0-9.-]{1,12}:[0-9]{1,5}(/[a-z/?=&%.-]{0,12})?", fullmatch=True))
def test_plain_urls_split_alike(url: str) -> None:
    try:
        want = expected(url)
    except ValueError:
        with pytest.raises(ValueError):
            _split(url)
        return
    assert tuple(_split(url)) == want
