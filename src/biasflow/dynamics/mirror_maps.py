"""Per-parameter mirror potentials around the initialization, unscaled or scaled (Liang & Montúfar 2025).

Φ(θ) = κ⁻² Σ_k φ(κ(θ_k − θ_k(0))) with φ one of

- ``quadratic``: φ(z) = z²/2 (mirror flow = gradient flow),
- ``cubic``: φ(z) = z²/2 + |z|³/3,
- ``quartic``: φ(z) = z²/2 + z⁴/4,

and κ = 1 (``unscaled``) or κ = N, the width (``scaled``: in the standard parametrization the output
weights move by O(1/N), so κ = N makes the argument of φ of order one and the potential shapes the bias
even as N → ∞). The mirror map is ∇Φ(θ)_k = φ'(κΔ_k)/κ, its inverse Δ_k = (φ')⁻¹(κζ_k)/κ, and
∇²Φ = diag φ''(κΔ). All functions work on NumPy and JAX arrays alike.

>>> import numpy as np
>>> p = Potential("quartic", kappa=10.0)
>>> z = np.array([-3.0, -1e-9, 0.0, 0.5, 40.0])
>>> bool(np.allclose(p.inverse(p.grad(z)), z, rtol=1e-14, atol=1e-24))
True
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import BiasflowError

POTENTIALS = ("quadratic", "cubic", "quartic")
SCALES = ("unscaled", "scaled")


def _xp(x):
    return np if isinstance(x, (np.ndarray, float, int, np.floating)) else __import__("jax.numpy").numpy


@dataclasses.dataclass(frozen=True)
class Potential:
    """φ applied per parameter to κ·Δ (see the module doc); ``kappa`` = 1 unscaled, N scaled."""

    kind: str = "quadratic"
    kappa: float = 1.0

    def __post_init__(self):
        if self.kind not in POTENTIALS:
            raise BiasflowError(f"unknown potential {self.kind!r}; use --potential quadratic, cubic or quartic")
        if not (self.kappa > 0):
            raise BiasflowError(f"potential scale κ must be > 0 (got {self.kappa!r})")

    @classmethod
    def for_model(cls, kind: str, scale: str, model) -> Potential:
        """The potential for ``model``: ``scale="scaled"`` needs the model's ``width`` (κ = N)."""
        if scale not in SCALES:
            raise BiasflowError(f"unknown --potential-scale {scale!r}; use unscaled or scaled")
        if scale == "unscaled":
            return cls(kind, 1.0)
        width = getattr(model, "width", None)
        if not width:
            name = getattr(model, "name", model)
            raise BiasflowError(f"--potential-scale scaled needs a model with a width (got {name!r})")
        return cls(kind, float(width))

    # φ and its derivatives at z = κΔ
    def phi(self, z):
        xp = _xp(z)
        if self.kind == "quadratic":
            return z * z / 2
        if self.kind == "cubic":
            return z * z / 2 + xp.abs(z) ** 3 / 3
        return z * z / 2 + z ** 4 / 4

    def dphi(self, z):
        xp = _xp(z)
        if self.kind == "quadratic":
            return z
        if self.kind == "cubic":
            return z + z * xp.abs(z)
        return z + z ** 3

    def d2phi(self, z):
        xp = _xp(z)
        if self.kind == "quadratic":
            return xp.ones_like(z)
        if self.kind == "cubic":
            return 1 + 2 * xp.abs(z)
        return 1 + 3 * z * z

    def dphi_inv(self, y):
        """(φ')⁻¹(y): closed forms (cubic: 2y/(1 + √(1 + 4|y|)); quartic: Cardano, then two Newton steps)."""
        xp = _xp(y)
        if self.kind == "quadratic":
            return y
        if self.kind == "cubic":
            return 2 * y / (1 + xp.sqrt(1 + 4 * xp.abs(y)))
        # z³ + z = y: z = A − 1/(3A), A = cbrt(|y|/2 + √(y²/4 + 1/27)), sign restored; Newton polishes the
        # cancellation for small |y| (g' = 3z² + 1 ≥ 1, so each step is safe and quadratically convergent)
        ay = xp.abs(y)
        A = xp.cbrt(ay / 2 + xp.sqrt(ay * ay / 4 + 1.0 / 27))
        z = xp.sign(y) * (A - 1 / (3 * A))
        for _ in range(2):
            z = z - (z ** 3 + z - y) / (3 * z * z + 1)
        return z

    # the mirror map in parameter coordinates Δ = θ − θ₀
    def grad(self, delta):
        """∇Φ: φ'(κΔ)/κ."""
        return self.dphi(self.kappa * delta) / self.kappa

    def inverse(self, zeta):
        """(∇Φ)⁻¹: Δ = (φ')⁻¹(κζ)/κ."""
        return self.dphi_inv(self.kappa * zeta) / self.kappa

    def hess(self, delta):
        """diag ∇²Φ = φ''(κΔ)."""
        return self.d2phi(self.kappa * delta)

    def value(self, delta):
        """Φ(Δ) summed: κ⁻² Σ φ(κΔ)."""
        return _xp(delta).sum(self.phi(self.kappa * delta)) / self.kappa ** 2

    def conjugate(self, zeta):
        """Φ*(ζ) summed = Σ (ζΔ − φ(κΔ)/κ²) at Δ = (∇Φ)⁻¹(ζ)."""
        d = self.inverse(zeta)
        return _xp(zeta).sum(zeta * d - self.phi(self.kappa * d) / self.kappa ** 2)


__all__ = ["POTENTIALS", "SCALES", "Potential"]
