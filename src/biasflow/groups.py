"""Finite groups, their irreducible representations and the group Fourier transform.

A :class:`FiniteGroup` of order N has its elements numbered 0..N−1 (element 0 is the identity), a
multiplication table ``mul[a, b] = index of a·b``, and the complete list of its inequivalent irreducible
unitary representations over ℂ, ρ: G → U(d_ρ), stored as arrays of shape (N, d_ρ, d_ρ). A real signal on G
is a vector f ∈ R^N indexed by the element numbers.

**Element order (the same in every command).**

- cyclic C_n (``cyclic:n=8`` or ``C8``): r^k sits at position k;
- dihedral D_n of order 2n (``dihedral:n=4`` or ``D4``, with s r s = r⁻¹): r^k s^j sits at k + n·j
  (k < n, j ∈ {0, 1}); note that D4 has order 8 here (some papers call this group D8);
- direct products (``product:cyclic:n=2,dihedral:n=3`` or ``C2xD3``): (g_1, …, g_m) sits at the
  row-major index of its factors' positions (the last factor varies fastest);
- a group read from a file (``file:PATH``): the file's order, see :func:`load_group`.

**Fourier transform** (Lawrence, Georgiev, Dienes, Kiani 2022, following Diaconis 1988):

    f̂(ρ) = Σ_g f(g) ρ(g),       f(g) = |G|⁻¹ Σ_ρ d_ρ tr(ρ(g)ᴴ f̂(ρ)).

With the convolution (f ∗ h)(u) = Σ_v f(v) h(v⁻¹u) the convolution theorem reads (f ∗ h)^(ρ) = f̂(ρ) ĥ(ρ),
and Plancherel's identity ‖f‖² = |G|⁻¹ Σ_ρ d_ρ ‖f̂(ρ)‖²_F. Irreps are counted over ℂ, so Σ_ρ d_ρ² = |G|:
C_n has n one-dimensional irreps ρ_k(r) = e^{2πik/n}; a complex-conjugate pair ρ, ρ̄ is two irreps (its real
2 × 2 rotation block would count once with weight 1 per singular value pair — the same sums).

>>> g = get_group("dihedral:n=4")
>>> g.order, g.dims
(8, (1, 1, 1, 1, 2))
>>> g.element_name(5)             # r^1 s
'r s'
>>> import numpy as np
>>> f, h = np.arange(8.0), np.ones(8)
>>> bool(np.allclose(g.inverse(g.fourier(f)), f))
True
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import BiasflowError

TOL = 1e-8
"""Tolerance of the structural checks of supplied irreps (homomorphism, orthogonality of characters)."""


@dataclasses.dataclass(frozen=True, eq=False)
class FiniteGroup:
    """A finite group with its irreducible unitary representations over ℂ.

    Attributes:
        name: the spec it was built from (e.g. ``"dihedral:n=4"``).
        mul: (N, N) int array, ``mul[a, b]`` is the index of the product a·b.
        irreps: tuple of complex arrays of shape (N, d_ρ, d_ρ): ρ(g) for every element g.
        labels: a readable name per element (optional).
    """

    name: str
    mul: np.ndarray
    irreps: tuple
    labels: tuple = ()

    def __post_init__(self):
        mul = np.asarray(self.mul)
        N = mul.shape[0] if mul.ndim == 2 else 0
        if mul.ndim != 2 or mul.shape != (N, N) or N < 1:
            raise BiasflowError(f"group {self.name!r}: the multiplication table must be a square N×N array")
        object.__setattr__(self, "mul", mul.astype(np.int64))
        object.__setattr__(self, "irreps", tuple(np.asarray(r, dtype=np.complex128) for r in self.irreps))
        total = sum(r.shape[1] ** 2 for r in self.irreps)
        if total != N:
            raise BiasflowError(
                f"group {self.name!r} has order {N} but its irreps give Σ d_ρ² = {total}; supply the complete "
                "list of inequivalent irreducible representations (over ℂ)"
            )

    # ------------------------------------------------------------------ structure
    @property
    def order(self) -> int:
        return int(self.mul.shape[0])

    @property
    def dims(self) -> tuple:
        """d_ρ of every irrep, in the stored order."""
        return tuple(int(r.shape[1]) for r in self.irreps)

    @property
    def abelian(self) -> bool:
        return bool(np.array_equal(self.mul, self.mul.T))

    @property
    def inv(self) -> np.ndarray:
        """inv[g] is the index of g⁻¹."""
        return _inverse_table(self.mul)

    def element_name(self, g: int) -> str:
        return self.labels[g] if self.labels else f"g{g}"

    # ------------------------------------------------------------------ Fourier analysis
    def fourier_matrix(self) -> np.ndarray:
        """(Σ d_ρ², N) complex matrix F with F f = the entries of all f̂(ρ), blocks in order, row-major."""
        return _stack_fourier(self)

    def fourier(self, f) -> list[np.ndarray]:
        """f̂(ρ) = Σ_g f(g) ρ(g) for every irrep ρ (a list of d_ρ × d_ρ complex matrices)."""
        f = self.check_signal(f)
        return [np.einsum("g,gab->ab", f, r) for r in self.irreps]

    def inverse(self, blocks: Sequence) -> np.ndarray:
        """f(g) = |G|⁻¹ Σ_ρ d_ρ tr(ρ(g)ᴴ f̂(ρ)), returned real (the imaginary part is dropped: it is zero for
        the transform of a real signal up to rounding)."""
        if len(blocks) != len(self.irreps):
            raise BiasflowError(
                f"group {self.name!r} has {len(self.irreps)} irreps but {len(blocks)} blocks were given"
            )
        out = np.zeros(self.order, dtype=np.complex128)
        for B, r in zip(blocks, self.irreps, strict=True):
            B = np.asarray(B, dtype=np.complex128)
            if B.shape != r.shape[1:]:
                raise BiasflowError(f"a Fourier block must have shape {r.shape[1:]}, got {B.shape}")
            out += r.shape[1] * np.einsum("gab,ab->g", r.conj(), B)
        return (out / self.order).real

    def convolve(self, f, h) -> np.ndarray:
        """(f ∗ h)(u) = Σ_v f(v) h(v⁻¹u), computed on the group (no Fourier transform)."""
        f, h = self.check_signal(f), self.check_signal(h)
        return f @ h[self.conv_index()]

    def conv_index(self) -> np.ndarray:
        """T with T[v, u] = index of v⁻¹u, so that (f ∗ h) = f @ h[T]."""
        return self.mul[self.inv]

    def check_signal(self, f) -> np.ndarray:
        f = np.asarray(f, dtype=float)
        if f.shape != (self.order,):
            raise BiasflowError(
                f"a signal on the group {self.name!r} must have length |G| = {self.order}, got shape {f.shape}"
            )
        return f

    # ------------------------------------------------------------------ checks
    def check(self, tol: float = TOL) -> dict:
        """Verify the group axioms and that the irreps are a complete set of inequivalent unitary irreducible
        representations; raise :class:`BiasflowError` naming the first failure, else return the errors."""
        N, mul = self.order, self.mul
        if mul.min() < 0 or mul.max() >= N:
            raise BiasflowError(f"group {self.name!r}: the multiplication table has entries outside 0..{N - 1}")
        for row in mul:
            if len(set(row.tolist())) != N:
                raise BiasflowError(f"group {self.name!r}: the multiplication table is not a Latin square")
        if not np.array_equal(mul[0], np.arange(N)):
            raise BiasflowError(f"group {self.name!r}: element 0 must be the identity")
        # associativity (ab)c = a(bc) and the homomorphism property: for all a when N ≤ 256, else for a fixed
        # random sample of 256 elements a
        a = np.arange(N) if N <= 256 else np.random.default_rng(0).choice(N, 256, replace=False)
        if not np.array_equal(mul[mul[a]], mul[a[:, None, None], mul[None, :, :]]):
            raise BiasflowError(f"group {self.name!r}: the multiplication table is not associative")
        hom = unit = 0.0
        for r in self.irreps:
            d = r.shape[1]
            for g in a:   # ρ(g)ρ(h) = ρ(gh) for every h (and every g of the sample)
                hom = max(hom, float(np.abs(np.einsum("ij,hjk->hik", r[g], r) - r[mul[g]]).max()))
            unit = max(unit, float(np.abs(np.einsum("gji,gjk->gik", r.conj(), r) - np.eye(d)).max()))
        chars = np.stack([np.trace(r, axis1=1, axis2=2) for r in self.irreps])
        gram = chars.conj() @ chars.T / N
        orth = float(np.abs(gram - np.eye(len(self.irreps))).max())
        errors = {"homomorphism": hom, "unitarity": unit, "character_orthonormality": orth}
        for what, v in errors.items():
            if not v <= tol:
                raise BiasflowError(
                    f"group {self.name!r}: the supplied irreps fail the {what.replace('_', ' ')} check "
                    f"(max error {v:.2e} > {tol:g})"
                )
        return errors


def _inverse_table(mul: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mul == 0)
    inv = np.empty(mul.shape[0], dtype=np.int64)
    inv[rows] = cols
    return inv


def _stack_fourier(group: FiniteGroup) -> np.ndarray:
    return np.concatenate([r.reshape(group.order, -1).T for r in group.irreps], axis=0)


# ====================================================================== shipped groups
def cyclic(n: int) -> FiniteGroup:
    """C_n = ⟨r | rⁿ = 1⟩; r^k at position k; irreps ρ_k(r^j) = e^{2πijk/n}, k = 0..n−1.

    >>> cyclic(3).dims
    (1, 1, 1)
    """
    n = _order_arg(n, "cyclic")
    k = np.arange(n)
    mul = (k[:, None] + k[None, :]) % n
    irreps = [np.exp(2j * np.pi * q * k / n)[:, None, None] for q in range(n)]
    return FiniteGroup(f"cyclic:n={n}", mul, tuple(irreps), tuple(_rpow(j) for j in k))


def dihedral(n: int) -> FiniteGroup:
    """D_n = ⟨r, s | rⁿ = s² = 1, s r s = r⁻¹⟩ of order 2n; r^k s^j at position k + n·j.

    Irreps: the trivial and the sign (s ↦ −1) characters, for even n two more (r ↦ −1, s ↦ ±1), and for
    1 ≤ q < n/2 the real 2-D representation r ↦ rotation by 2πq/n, s ↦ diag(1, −1) (irreducible over ℂ).

    >>> dihedral(3).dims, dihedral(6).dims
    ((1, 1, 2), (1, 1, 1, 1, 2, 2))
    """
    n = _order_arg(n, "dihedral")
    N = 2 * n
    idx = np.arange(N)
    k, j = idx % n, idx // n
    # (r^a s^b)(r^c s^e) = r^{a + (−1)^b c} s^{b+e}
    a, b = k[:, None], j[:, None]
    c, e = k[None, :], j[None, :]
    kk = (a + np.where(b == 0, c, -c)) % n
    jj = (b + e) % 2
    mul = kk + n * jj
    irreps = [np.ones((N, 1, 1)), np.where(j == 0, 1.0, -1.0)[:, None, None]]
    if n % 2 == 0:
        alt = np.where(k % 2 == 0, 1.0, -1.0)
        irreps += [alt[:, None, None], (alt * np.where(j == 0, 1.0, -1.0))[:, None, None]]
    for q in range(1, (n - 1) // 2 + 1):
        th = 2 * np.pi * q * k / n
        rot = np.stack([np.stack([np.cos(th), -np.sin(th)], -1), np.stack([np.sin(th), np.cos(th)], -1)], -2)
        refl = np.where(j == 0, 1.0, -1.0)
        S = np.zeros((N, 2, 2))
        S[:, 0, 0] = 1.0
        S[:, 1, 1] = refl
        irreps.append(rot @ S)
    labels = tuple((_rpow(kq) + (" s" if jq else "")).strip() or "e" for kq, jq in zip(k, j, strict=True))
    return FiniteGroup(f"dihedral:n={n}", mul, tuple(irreps), labels)


def product(*groups: FiniteGroup) -> FiniteGroup:
    """The direct product G_1 × ⋯ × G_m: elements in row-major order of the factors' positions; irreps
    ρ_1 ⊗ ⋯ ⊗ ρ_m (Kronecker products), in row-major order of the factors' irreps.

    >>> product(cyclic(2), dihedral(3)).dims
    (1, 1, 2, 1, 1, 2)
    """
    if not groups:
        raise BiasflowError("a product group needs at least one factor, e.g. product:cyclic:n=2,cyclic:n=3")
    G = groups[0]
    for H in groups[1:]:
        G = _product2(G, H)
    if len(groups) > 1:
        object.__setattr__(G, "name", "product:" + ",".join(g.name for g in groups))
    return G


def _product2(G: FiniteGroup, H: FiniteGroup) -> FiniteGroup:
    NG, NH = G.order, H.order
    mul = (G.mul[:, None, :, None] * NH + H.mul[None, :, None, :]).reshape(NG * NH, NG * NH)
    irreps = []
    for r in G.irreps:
        for s in H.irreps:
            kr = np.einsum("gab,hcd->ghacbd", r, s)
            d = r.shape[1] * s.shape[1]
            irreps.append(kr.reshape(NG * NH, d, d))
    labels = ()
    if G.labels and H.labels:
        labels = tuple(f"({a}, {b})" for a in G.labels for b in H.labels)
    return FiniteGroup(f"{G.name}×{H.name}", mul, tuple(irreps), labels)


def _rpow(k) -> str:
    k = int(k)
    return "e" if k == 0 else ("r" if k == 1 else f"r^{k}")


def _order_arg(n, what: str) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise BiasflowError(f"the {what} group needs a positive integer n (got {n!r}), e.g. {what}:n=4")
    if n > 100_000:
        raise BiasflowError(f"the {what} group with n = {n} is too large for dense Fourier matrices; use n ≤ 100000")
    return int(n)


# ====================================================================== loading irreps from a file
def load_group(path: str | Path, name: str | None = None) -> FiniteGroup:
    """Read a group from its irreducible representations in a JSON or ``.npz`` file.

    The file gives the matrices of every irrep in one of two forms (complex entries as ``[re, im]`` pairs in
    JSON, or as complex arrays in npz):

    - ``"elements"``: for each irrep, the list of the matrices ρ(g) of ALL N elements in one fixed order
      (element 0 must be the identity); the multiplication table is read from ``"mul"`` if present, else
      derived: a·b is the element whose matrices equal ρ(a)ρ(b) in every irrep (the sum of all irreps is
      faithful);
    - ``"generators"``: for each irrep, the matrices of the same list of generators; the elements are then
      generated breadth-first from the identity by right multiplication with the generators in the given
      order, and numbered in that order (a word in the generators per element is in ``labels``).

    In npz files, irrep q is stored as ``elements_q`` (N, d, d) or ``generators_q`` (m, d, d). Irreps given
    in a non-unitary basis (e.g. from GAP's ``IrreducibleRepresentations``) are made unitary by Weyl's trick
    (conjugation with (Σ_g ρ(g)ᴴρ(g))^{1/2}). The result is checked: group axioms, homomorphism, unitarity,
    orthonormal characters and Σ d_ρ² = |G|. A GAP session can export e.g. A5 with

        G := AlternatingGroup(5);; irr := IrreducibleRepresentations(G);;
        gens := GeneratorsOfGroup(G);;
        # write List(irr, r -> List(gens, g -> g^r)) as JSON, cyclotomics converted to [re, im] floats

    >>> import json, tempfile, os
    >>> doc = {"name": "C2", "generators": [[[[1]]], [[[-1]]]]}
    >>> p = os.path.join(tempfile.mkdtemp(), "c2.json")
    >>> _ = open(p, "w").write(json.dumps(doc))
    >>> load_group(p).dims
    (1, 1)
    """
    p = Path(path)
    if not p.is_file():
        raise BiasflowError(f"group file {str(p)!r} does not exist; give a JSON or .npz file of irreps")
    try:
        if p.suffix == ".npz":
            doc = _read_npz(p)
        else:
            doc = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise BiasflowError(f"cannot read group file {str(p)!r}: {e}") from None
    if not isinstance(doc, dict):
        raise BiasflowError(f"group file {str(p)!r} must hold an object with 'elements' or 'generators'")
    gname = name or str(doc.get("name") or f"file:{p}")
    if "elements" in doc:
        irreps = [_matrices(r, gname) for r in doc["elements"]]
        N = irreps[0].shape[0] if irreps else 0
        if any(r.shape[0] != N for r in irreps):
            raise BiasflowError(f"group {gname!r}: every irrep must list the matrices of all elements")
        mul = np.asarray(doc["mul"], dtype=np.int64) if "mul" in doc else _table_from_irreps(irreps, gname)
        labels = tuple(doc.get("labels", ()))
    elif "generators" in doc:
        gens = [_matrices(r, gname) for r in doc["generators"]]
        irreps, mul, labels = _close(gens, gname)
    else:
        raise BiasflowError(f"group file {str(p)!r} needs 'elements' or 'generators' (matrices of every irrep)")
    if not irreps:
        raise BiasflowError(f"group {gname!r}: the file lists no irreps")
    irreps = [_unitarize(r) for r in irreps]
    G = FiniteGroup(gname, mul, tuple(irreps), labels)
    G.check()
    return G


def _read_npz(p: Path) -> dict:
    with np.load(p, allow_pickle=False) as z:
        keys = set(z.files)
        out: dict = {}
        for kind in ("elements", "generators"):
            qs = sorted(int(k.split("_", 1)[1]) for k in keys if re.fullmatch(kind + r"_\d+", k))
            if qs:
                out[kind] = [np.asarray(z[f"{kind}_{q}"]) for q in qs]
        if "mul" in keys:
            out["mul"] = np.asarray(z["mul"])
        if "name" in keys:
            out["name"] = str(z["name"])
    return out


def _matrices(obj, gname: str) -> np.ndarray:
    a = np.asarray(obj) if isinstance(obj, np.ndarray) else _complex_array(obj)
    if a.ndim != 3 or a.shape[1] != a.shape[2] or a.shape[0] < 1:
        raise BiasflowError(f"group {gname!r}: each irrep must be a list of square matrices (got shape {a.shape})")
    return a.astype(np.complex128)


def _complex_array(obj) -> np.ndarray:
    a = np.asarray(obj, dtype=float)
    # entries given as [re, im] pairs have one more axis than matrices of reals
    if a.ndim == 4 and a.shape[-1] == 2:
        return a[..., 0] + 1j * a[..., 1]
    return a


def _flat(mats: list[np.ndarray]) -> np.ndarray:
    v = np.concatenate([m.ravel() for m in mats])
    return np.concatenate([v.real, v.imag])


def _key(mats: list[np.ndarray]) -> bytes:
    return (np.rint(_flat(mats) * 1e6) + 0.0).tobytes()     # + 0.0 turns −0 into 0


class _Lookup:
    """Element by its matrices: exact key of the entries rounded to 1e-6, else the nearest element
    (within 1e-6), so that rounding at a key boundary cannot lose an element."""

    def __init__(self):
        self.index: dict = {}
        self.vectors: list[np.ndarray] = []

    def find(self, mats) -> int | None:
        g = self.index.get(_key(mats))
        if g is not None or not self.vectors:
            return g
        dist = np.abs(np.stack(self.vectors) - _flat(mats)).max(axis=1)
        k = int(np.argmin(dist))
        return k if dist[k] < 1e-6 else None

    def add(self, mats) -> int:
        self.index[_key(mats)] = len(self.vectors)
        self.vectors.append(_flat(mats))
        return len(self.vectors) - 1


def _table_from_irreps(irreps: list[np.ndarray], gname: str) -> np.ndarray:
    N = irreps[0].shape[0]
    look = _Lookup()
    for g in range(N):
        mats = [r[g] for r in irreps]
        if look.find(mats) is not None:
            raise BiasflowError(f"group {gname!r}: elements {look.find(mats)} and {g} have the same matrices "
                                "in every irrep")
        look.add(mats)
    mul = np.empty((N, N), dtype=np.int64)
    for a in range(N):
        for b in range(N):
            c = look.find([r[a] @ r[b] for r in irreps])
            if c is None:
                raise BiasflowError(f"group {gname!r}: the listed matrices are not closed under multiplication")
            mul[a, b] = c
    return mul


def _close(gens: list[np.ndarray], gname: str, limit: int = 20_000):
    m = gens[0].shape[0]
    if any(g.shape[0] != m for g in gens):
        raise BiasflowError(f"group {gname!r}: every irrep must give the same number of generator matrices")
    elems = [[np.eye(g.shape[1], dtype=complex) for g in gens]]
    words = ["e"]
    look = _Lookup()
    look.add(elems[0])
    i = 0
    while i < len(elems):
        for t in range(m):
            new = [e @ g[t] for e, g in zip(elems[i], gens, strict=True)]
            if look.find(new) is None:
                look.add(new)
                elems.append(new)
                words.append((words[i] + f" g{t + 1}").replace("e ", ""))
                if len(elems) > limit:
                    raise BiasflowError(f"group {gname!r}: the generators generate more than {limit} elements")
        i += 1
    irreps = [np.stack([e[q] for e in elems]) for q in range(len(gens))]
    return irreps, _table_from_irreps(irreps, gname), tuple(words)


def _unitarize(r: np.ndarray) -> np.ndarray:
    H = np.einsum("gji,gjk->ik", r.conj(), r) / r.shape[0]
    w, V = np.linalg.eigh(H)
    if w.min() <= 0:
        return r
    P = (V * np.sqrt(w)) @ V.conj().T
    Pi = (V / np.sqrt(w)) @ V.conj().T
    return P @ r @ Pi


# ====================================================================== names
_ALIASES = {"c": "cyclic", "d": "dihedral"}


def get_group(spec: str | FiniteGroup) -> FiniteGroup:
    """A group from its name: ``cyclic:n=8``, ``dihedral:n=4``, ``product:cyclic:n=2,dihedral:n=3``, the
    short forms ``C8``, ``D4``, ``C2xD3``, or ``file:PATH`` (:func:`load_group`).

    >>> get_group("C2xC3").order, get_group("product:cyclic:n=2,cyclic:n=3").order
    (6, 6)
    >>> get_group("icosahedral")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    biasflow.errors.BiasflowError: unknown group 'icosahedral'; use cyclic:n=N, dihedral:n=N, product:A,B ...
    """
    if isinstance(spec, FiniteGroup):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise BiasflowError(f"a group name must be a non-empty string (got {spec!r})")
    if spec.strip().startswith("file:"):       # read every time: the file may change
        return load_group(spec.strip()[5:])
    return _get_group(spec.strip())


@lru_cache(maxsize=64)
def _get_group(spec: str) -> FiniteGroup:
    if spec.startswith("file:"):
        return load_group(spec[5:])
    if spec.startswith("product:"):
        parts = [p.strip() for p in spec[8:].split(",") if p.strip()]
        G = product(*[_get_group(p) for p in parts])
        object.__setattr__(G, "name", spec)
        return G
    m = re.fullmatch(r"(cyclic|dihedral):n=(\d+)", spec)
    if m:
        return (cyclic if m.group(1) == "cyclic" else dihedral)(int(m.group(2)))
    factors = re.fullmatch(r"([CcDd]\d+)(x[CcDd]\d+)*", spec)
    if factors:
        parts = spec.split("x")
        groups = [(cyclic if p[0] in "Cc" else dihedral)(int(p[1:])) for p in parts]
        G = groups[0] if len(groups) == 1 else product(*groups)
        object.__setattr__(G, "name", spec)
        return G
    raise BiasflowError(
        f"unknown group {spec!r}; use cyclic:n=N, dihedral:n=N, product:A,B (e.g. product:cyclic:n=2,dihedral:n=3), "
        "the short forms C8, D4, C2xD3, or file:PATH with its irreps"
    )


SHIPPED = ("cyclic", "dihedral", "product")
"""The families built in (any n); others come from files (:func:`load_group`)."""


def plancherel_error(group: FiniteGroup, f) -> float:
    """| ‖f‖² − |G|⁻¹ Σ_ρ d_ρ ‖f̂(ρ)‖²_F | / ‖f‖² (zero in exact arithmetic)."""
    f = group.check_signal(f)
    blocks = group.fourier(f)
    s = sum(B.shape[0] * float(np.sum(np.abs(B) ** 2)) for B in blocks) / group.order
    n2 = float(f @ f)
    return abs(n2 - s) / n2 if n2 > 0 else abs(s)


def singular_values(group: FiniteGroup, beta) -> list[np.ndarray]:
    """Singular values of every Fourier block β̂(ρ), in irrep order (descending within a block)."""
    return [np.linalg.svd(B, compute_uv=False) for B in group.fourier(beta)]


def schatten_regularizer(group: FiniteGroup, beta, depth: int) -> float:
    """R_L(β) = Σ_ρ d_ρ ‖β̂(ρ)‖_{S_{2/L}}^{2/L} = Σ_ρ d_ρ Σ_i σ_i(β̂(ρ))^{2/L} (Lawrence et al. 2022).

    For L = 2 it is the d_ρ-weighted sum of nuclear norms; on C_n it is ‖DFT β‖_{2/L}^{2/L}.

    >>> round(schatten_regularizer(cyclic(4), [1.0, 0, 0, 0], 2), 12)     # δ has a flat spectrum
    4.0
    """
    p = 2.0 / int(depth)
    return float(sum(d * np.sum(s**p) for d, s in zip(group.dims, singular_values(group, beta), strict=True)))


__all__ = [
    "FiniteGroup", "SHIPPED", "cyclic", "dihedral", "get_group", "load_group", "plancherel_error", "product",
    "schatten_regularizer", "singular_values",
]

