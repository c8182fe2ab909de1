"""The shared grammar others import: the one RFC 9110 token pattern and the host label."""

from __future__ import annotations

import pytest

from gateway.http import grammar


@pytest.mark.parametrize("text", ["GET", "x-custom", "!#$%&'*+-.^_`|~09azAZ"])
def test_tokens(text: str) -> None:
    assert grammar.is_token(text)


@pytest.mark.parametrize("text", ["", "a b", "a:b", "a(b)", "caf\xe9", "a\t", 'a"b'])
def test_not_tokens(text: str) -> None:
    assert not grammar.is_token(text)


@pytest.mark.parametrize("label", ["a", "api", "x-1", "_dmarc", "0"])
def test_host_labels(label: str) -> None:
    assert grammar.HOST_LABEL.fullmatch(label)


@pytest.mark.parametrize("label", ["", "-a", "a-", "a.b", "A", "a b", "*"])
def test_not_host_labels(label: str) -> None:
    assert not grammar.HOST_LABEL.fullmatch(label)
