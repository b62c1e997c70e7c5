"""Loss levels, kept as log10 values so that targets such as ``1e-10000`` never underflow.

A loss level is never formed as a float: ``"1e-10000"`` is read from its text into ``log10 = -10000``.
:class:`Level` is the one typed form, parsed once at the edge (CLI options, sweep TOML, the Python API):

- a string is a loss value written as text: ``"1e-10000"``, ``"10^-10000"``, ``"1.5e-31"``, ``"2"``;
- a positive finite Python float is a loss VALUE (``2.0`` is the loss 2, ``1e-3`` the loss 0.001);
- anything else (≤ 0, NaN, ±inf, booleans, and floats that underflowed to 0.0 such as ``1e-400``) is
  refused with one line that says how to write tiny levels (as strings, e.g. ``"1e-400"``).

Library code that holds a log10 value builds a level with :meth:`Level.from_log10`.
"""

from __future__ import annotations

import dataclasses
import math
import re

from .errors import BiasflowError

LN10 = math.log(10.0)
"""ln 10: log10 x = ln x / LN10 (the one definition in biasflow)."""

_E_FORM = re.compile(r"^\s*(?P<mant>[0-9]*\.?[0-9]+)?\s*(?:[eE](?P<exp>[+-]?[0-9]+))?\s*$")
_POW_FORM = re.compile(
    r"^\s*(?:(?P<mant>[0-9]*\.?[0-9]+)\s*[*x×·]\s*)?10\s*(?:\^|\*\*)\s*\(?\s*(?P<exp>[+-]?[0-9]+)\s*\)?\s*$"
)
_HOW = 'write a positive loss value such as "1e-100", "10^-10000" or "1.5e-31" (tiny levels as strings)'


def _refuse(x, why: str) -> BiasflowError:
    return BiasflowError(f"cannot read loss level {x!r}: {why}; {_HOW}")


@dataclasses.dataclass(frozen=True, order=True)
class Level:
    """A positive loss level ℒ, stored as ``log10`` (ordered like the loss values).

    >>> Level.parse("1e-10000")
    Level('1e-10000')
    >>> Level.parse("10^-10000") == Level.parse("1e-10000") == Level.from_log10(-10000)
    True
    >>> Level.parse(2.0).log10 == math.log10(2), str(Level.parse("1.5e-31"))
    (True, '1.5e-31')
    >>> Level.parse("1e-3") < Level.parse(0.01) < Level.parse("2")
    True
    >>> Level.parse(1e-400)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    biasflow.errors.BiasflowError: cannot read loss level 0.0: the float is 0 (did 1e-400 ... underflow?); ...
    """

    log10: float

    def __post_init__(self):
        v = self.log10
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            raise BiasflowError(f"a loss level needs a finite log10 value (got {v!r}); {_HOW}")
        object.__setattr__(self, "log10", float(v))

    # -------------------------------------------------------------------------------- construction
    @classmethod
    def from_log10(cls, value: float) -> Level:
        """The level 10^value (``value`` finite)."""
        return cls(float(value))

    @classmethod
    def parse(cls, x) -> Level:
        """Read a level from a :class:`Level`, a string or a positive finite float (a loss VALUE)."""
        if isinstance(x, Level):
            return x
        if isinstance(x, bool):
            raise _refuse(x, "a boolean is not a loss level")
        if isinstance(x, str):
            return cls._parse_text(x)
        try:
            import numpy as np

            if isinstance(x, np.generic):
                x = x.item()
        except ImportError:  # pragma: no cover
            pass
        if isinstance(x, (int, float)):
            v = float(x)
            if math.isnan(v) or math.isinf(v):
                raise _refuse(x, "the value is not finite")
            if v == 0.0:
                why = "the float is 0 (did 1e-400 or smaller underflow?)" if isinstance(x, float) else "0"
                raise _refuse(x, why if isinstance(x, float) else "0 is never reached in finite time")
            if v < 0:
                raise _refuse(x, "a loss level must be positive (log10 values are written as Level.from_log10)")
            return cls(math.log10(v))
        raise _refuse(x, f"a {type(x).__name__} is not a loss level")

    @classmethod
    def _parse_text(cls, s: str) -> Level:
        m = _POW_FORM.match(s)
        if m is not None:
            mant = float(m.group("mant")) if m.group("mant") else 1.0
            if not (mant > 0 and math.isfinite(mant)):
                raise _refuse(s, "the mantissa must be positive")
            return cls(math.log10(mant) + int(m.group("exp")))
        m = _E_FORM.match(s)
        if m is None or m.group("mant") is None:
            raise _refuse(s, "not a number")
        mant = float(m.group("mant"))
        if not (mant > 0 and math.isfinite(mant)):
            raise _refuse(s, "the value must be positive")
        return cls(math.log10(mant) + int(m.group("exp") or 0))

    # -------------------------------------------------------------------------------------- views
    @property
    def value(self) -> float:
        """The level as a float (0.0 when it underflows float64: use :attr:`log10` for arithmetic)."""
        return 10.0**self.log10 if self.log10 > -323 else 0.0

    def __str__(self) -> str:
        return format_level(self.log10)

    def __repr__(self) -> str:
        return f"Level({str(self)!r})"


def as_log10(x) -> float:
    """log10 of a level given in any form :meth:`Level.parse` accepts."""
    return Level.parse(x).log10


def parse_level(text) -> float:
    """Parse a positive loss level (string or positive float VALUE) and return its log10.

    >>> parse_level("1e-10000")
    -10000.0
    >>> parse_level("2.5e-3") == math.log10(2.5) - 3
    True
    >>> parse_level(0.1)
    -1.0
    """
    return Level.parse(text).log10


def parse_levels(text) -> list[float]:
    """Parse comma-separated (or a list of) loss levels into sorted (decreasing) log10 values.

    >>> parse_levels("1e-10,1e-100, 1e-2")
    [-2.0, -10.0, -100.0]
    """
    parts = [p for p in str(text).split(",") if p.strip()] if isinstance(text, str) else list(text)
    if not parts:
        raise BiasflowError("empty list of loss levels: give e.g. --checkpoints 1e-10,1e-100")
    return sorted({parse_level(p) for p in parts}, reverse=True)


def format_level(log10_value: float) -> str:
    """Format a log10 loss level as a person writes it (3 significant digits).

    >>> format_level(-10000.0), format_level(math.log10(1.5) - 31), format_level(math.log10(2))
    ('1e-10000', '1.5e-31', '2')
    >>> format_level(-2.3)
    '5.01e-3'
    """
    from .fmt import log10_text  # the one number formatter (biasflow.fmt)

    return log10_text(log10_value, 3)


def default_checkpoints(until_log10: float) -> list[float]:
    """Geometric checkpoints in log(1/L): 1e-1, 1e-2, 1e-5, 1e-10, 1e-20, ... down to the target.

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
