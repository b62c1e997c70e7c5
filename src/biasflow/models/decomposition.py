"""Orthogonal decomposability of linear tensor networks (Yun, Krishnan, Mobahi 2021): a leaf type.

A network is orthogonally decomposable (ODec) when M(x) = Σ_t [Sx]_t (U_1e_t) ⊗ ⋯ ⊗ (U_Le_t) with
orthonormal (unitary) U_l; it is then an untied diagonal network on the transformed data. Models with a
transformed-space bias provide ``decomposition() -> Decomposition`` (diagonal nets: S = I; full-length
circular convolutions: S = DFT; a general tensor: :func:`decompose_dense`, found numerically).

>>> Decomposition(True, "fourier", "DFT", 2).transform([1.0, 0.0]).tolist()
[(1+0j), (1+0j)]
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import BiasflowError

FC_REASON = (
    "fully connected networks of depth ≥ 2 are not orthogonally decomposable (every input "
    "coordinate reaches every hidden unit, so M(x) is no sum of orthogonal rank-one terms); "
    "their predicted limit is the ℓ2 max-margin (Ji & Telgarsky 2019a) instead"
)


@dataclasses.dataclass(frozen=True, eq=False)
class Decomposition:
    """Whether a tensor network is orthogonally decomposable, and its transform.

    Attributes:
        decomposable: True for an ODec network.
        kind: ``identity`` (diagonal nets, S = I on β), ``fourier`` (full-length conv, S = DFT),
            ``tensor`` (a numerically found decomposition of a general tensor network), or ``none``.
        reason: one line: the transform found, or which assumption fails.
        S: the transform (m × d, possibly complex) for ``tensor``; None for ``identity``/``fourier``
            (applied implicitly) and ``none``.
        bases: the per-layer bases U_l for ``tensor``.
        depth: L.
        fully_connected: a fully connected network (not ODec; its limit is the ℓ2 max-margin,
            Ji & Telgarsky 2019a).
    """

    decomposable: bool
    kind: str
    reason: str
    depth: int
    S: np.ndarray | None = None
    bases: tuple | None = None
    fully_connected: bool = False

    def transform(self, beta) -> np.ndarray:
        """The transformed coordinates of a predictor: β (identity), fft(β) (fourier), S-coordinates."""
        b = np.asarray(beta, dtype=float)
        if self.kind == "identity":
            return b
        if self.kind == "fourier":
            return np.fft.fft(b)
        if self.kind == "tensor":
            # β = Sᵀρ ⇒ ρ = least-squares solution (exact on range(Sᵀ))
            return np.linalg.lstsq(self.S.T, b.astype(self.S.dtype), rcond=None)[0]
        raise BiasflowError(f"no transformed space: {self.reason}")


def decompose_dense(T: np.ndarray, tol: float) -> Decomposition:
    sizes = T.shape[1:]
    L = len(sizes)
    candidates = [("identity", [np.eye(k) for k in sizes])]
    if len(set(sizes)) == 1:
        k = sizes[0]
        candidates.append(("Fourier", [np.fft.fft(np.eye(k)) / math.sqrt(k)] * L))
    grams = []
    for l in range(L):
        U = np.moveaxis(T, l + 1, 0).reshape(sizes[l], -1)
        w, V = np.linalg.eigh(U @ U.T)
        grams.append(V[:, ::-1])
    candidates.append(("Gram-eigen", grams))
    worst = ""
    for label, bases in candidates:
        That = T.astype(complex)
        for l, B in enumerate(bases):
            That = np.moveaxis(np.tensordot(That, B.conj(), axes=([l + 1], [0])), -1, l + 1)
        E = np.sum(np.abs(That) ** 2, axis=0)
        total = E.sum()
        if total == 0:
            return Decomposition(False, "none", "the tensor is zero", L)
        supp = np.argwhere(E > tol * E.max())
        clash = [l for l in range(L) if len(np.unique(supp[:, l])) < len(supp)]
        if not clash:
            S = np.stack([That[(slice(None), *t)] for t in supp])
            if np.allclose(S.imag, 0, atol=tol * np.abs(S).max()):
                S = S.real
            cols = tuple(B[:, supp[:, l]] for l, B in enumerate(bases))
            return Decomposition(
                True,
                "tensor",
                f"orthogonally decomposable in the {label} basis with {len(supp)} rank-one terms",
                L,
                S=S,
                bases=cols,
            )
        worst = worst or (
            f"in the {label} basis layer {clash[0] + 1} indices are shared by several terms "
            f"({len(supp)} terms, {len(np.unique(supp[:, clash[0]]))} distinct indices)"
        )
    return Decomposition(
        False,
        "none",
        f"not orthogonally decomposable in the identity, Fourier or layer-Gram eigenbases: {worst}",
        L,
    )


__all__ = ["FC_REASON", "Decomposition", "decompose_dense"]
