"""Loss levels are parsed from text into log10 values without floating underflow."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from biasflow.errors import BiasflowError
from biasflow.levels import default_checkpoints, format_level, parse_level, parse_levels


@pytest.mark.parametrize("text, expected", [("1e-10000", -10000.0), ("1e-1000000", -1e6), ("0.5", math.log10(0.5)),
                                            ("3E-2", math.log10(3) - 2), ("1", 0.0), ("1e+3", 3.0)])
def test_parse(text, expected):
    # tol: parsing a decimal mantissa/exponent: one log10, ≤ 1 ulp of |level| ≤ 1e4
    assert parse_level(text) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("text", ["", "abc", "-1e-3", "0", "1e", "e-5", "nan", "1e-3x", "0e-5"])
def test_parse_rejects(text):
    with pytest.raises(BiasflowError, match="loss level"):
        parse_level(text)


@given(st.integers(-10**7, 10), st.floats(1.0, 9.99))
def test_roundtrip(exp, mant):
    text = f"{mant!r}e{exp}"
    # tol: log10(mantissa) + exponent with exponents up to 1e6: u·1e6 ≈ 1e-10
    assert parse_level(text) == pytest.approx(math.log10(mant) + exp, abs=1e-9)
    # tol: format_level keeps 4 significant digits of the mantissa: ≤ 5e-5 relative, i.e. ≤ 3e-5 in log10
    assert parse_level(format_level(parse_level(text))) == pytest.approx(parse_level(text), abs=5e-3)


def test_lists_and_defaults():
    assert parse_levels("1e-1,1e-100,1e-10") == [-1.0, -10.0, -100.0]
    with pytest.raises(BiasflowError):
        parse_levels(" , ")
    cps = default_checkpoints(-10000.0)
    assert cps[0] == -1.0 and cps[-1] == -10000.0 and cps == sorted(cps, reverse=True)
