"""Errors gateway raises on purpose belong to one family (GatewayError), and keep the builtin
base they had, so every `except ValueError` around them still catches them."""

import pytest

from gateway.config.fields import Invalid
from gateway.config.values import boolean
from gateway.errors import GatewayError
from gateway.router.patterns import PatternError


@pytest.mark.parametrize("error", [Invalid, PatternError])
def test_value_errors_of_ours_are_gateway_errors(error: type[Exception]) -> None:
    assert issubclass(error, GatewayError)
    assert issubclass(error, ValueError)


def test_a_converters_verdict_is_caught_as_either() -> None:
    for family in (GatewayError, ValueError):
        with pytest.raises(family, match="expected"):
            boolean("yes")
