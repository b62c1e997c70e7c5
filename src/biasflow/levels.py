"""Loss levels as log10 values, so that targets such as ``1e-10000`` never underflow.

A loss level is never formed as a float (docs/theory/numerics.md §2.1): ``"1e-10000"`` is parsed from its text into
``log10 = -10000``. Levels are kept as ``float`` log10 values everywhere in biasflow.
"""

from __future__ import annotations

import math
import re

from .errors import BiasflowError

_LEVEL = re.compile(r"^\s*(?P<mant>[0-9]*\.?[0-9]+)?\s*(?:[eE](?P<exp>[+-]?[0-9]+))?\s*$")
LN10 = math.log(10.0)


def parse_level(text: str | float | int) -> float:
    """Parse a positive loss level and return its log10, without ever forming the value as a float.

    >>> parse_level("1e-10000")
    -10000.0
    >>> parse_level("2.5e-3") == math.log10(2.5) - 3
    True
    >>> parse_level(0.1)
    -1.0
    >>> parse_level("-1e-3")
    Traceback (most recent call last):
    ...
    biasflow.errors.BiasflowError: cannot read loss level '-1e-3': write a positive number such as 1e-100 or 1e-10000
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if not (math.isfinite(text) and text > 0):
            raise BiasflowError(
                f"cannot read loss level {text!r}: write a positive number such as 1e-100 or 1e-10000"
            )
        return math.log10(text)
    s = str(text)
    m = _LEVEL.match(s)
    if m is None or (m.group("mant") is None and m.group("exp") is None) or m.group("mant") is None:
        raise BiasflowError(
            f"cannot read loss level {s!r}: write a positive number such as 1e-100 or 1e-10000"
        )
    mant = float(m.group("mant"))
    if not (mant > 0 and math.isfinite(mant)):
        raise BiasflowError(f"cannot read loss level {s!r}: the mantissa must be positive")
    exp = int(m.group("exp") or 0)
    return math.log10(mant) + exp


def parse_levels(text: str) -> list[float]:
    """Parse a comma-separated list of loss levels into sorted (decreasing) log10 values.

    >>> parse_levels("1e-10,1e-100, 1e-2")
    [-2.0, -10.0, -100.0]
    """
    parts = [p for p in str(text).split(",") if p.strip()]
    if not parts:
        raise BiasflowError("empty list of loss levels: give e.g. --checkpoints 1e-10,1e-100")
    return sorted({parse_level(p) for p in parts}, reverse=True)


def format_level(log10_value: float) -> str:
    """Format a log10 loss level as text.

    >>> format_level(-10000.0)
    '1e-10000'
    >>> format_level(-2.3)
    '5.01e-03'
    """
    if float(log10_value).is_integer():
        return f"1e{int(log10_value)}"
    e = math.floor(log10_value)
    return f"{10 ** (log10_value - e):.2f}e{e:+03d}"


def default_checkpoints(until_log10: float) -> list[float]:
    """Geometric checkpoints in log(1/L) (docs/theory/numerics.md §2.3): 1e-1, 1e-2, 1e-5, 1e-10, 1e-20, ... down to
    the target.

    >>> default_checkpoints(-1000.0)
    [-1.0, -2.0, -5.0, -10.0, -20.0, -50.0, -100.0, -200.0, -500.0, -1000.0]
    >>> default_checkpoints(-3.0)
    [-1.0, -2.0, -3.0]
    """
    out: list[float] = []
    k = 0
    while True:
        for m in (1, 2, 5):
            v = -float(m * 10**k)
            if v <= until_log10:
                out.append(float(until_log10))
                return sorted(set(out), reverse=True)
            out.append(v)
        k += 1
