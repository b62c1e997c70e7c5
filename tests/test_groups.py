"""Finite groups and their Fourier transform: convolution theorem, Plancherel, inversion, file loading."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from biasflow.errors import BiasflowError
from biasflow.groups import (
    cyclic,
    dihedral,
    get_group,
    load_group,
    plancherel_error,
    product,
    schatten_regularizer,
)

SHIPPED = ["C1", "C2", "C7", "C8", "D1", "D2", "D3", "D4", "D5", "D8", "C2xD3", "D3xD4",
           "product:cyclic:n=10,cyclic:n=10,cyclic:n=2", "product:dihedral:n=4,cyclic:n=3"]


@pytest.mark.parametrize("spec", SHIPPED)
def test_G1_convolution_theorem_plancherel_inversion(spec):
    g = get_group(spec)
    g.check(tol=1e-12)   # homomorphism, unitarity, character orthonormality: exact up to rounding
    assert sum(d * d for d in g.dims) == g.order
    rng = np.random.default_rng(1)
    f, h = rng.standard_normal((2, g.order))
    F, H, C = g.fourier(f), g.fourier(h), g.fourier(g.convolve(f, h))
    scale = np.linalg.norm(f) * np.linalg.norm(h) * g.order
    # G1: each entry is a sum of |G|² products of O(1) numbers: rounding ~ |G|·eps relative to the scale
    err = max(float(np.abs(c - a @ b).max()) for c, a, b in zip(C, F, H, strict=True)) / scale
    assert err <= 1e-12
    assert plancherel_error(g, f) <= 1e-12
    assert np.abs(g.inverse(F) - f).max() <= 1e-12 * np.abs(f).max() * g.order


def test_group_axioms_and_orders():
    d4 = dihedral(4)
    assert d4.order == 8 and d4.dims == (1, 1, 1, 1, 2)
    # s r s = r⁻¹ with r at position 1, s at position n = 4
    r, s = 1, 4
    assert d4.mul[d4.mul[s, r], s] == d4.inv[r] == 3
    # r^k s^j at k + n j: r^2 · s = r^2 s at position 2 + 4
    assert d4.mul[2, 4] == 6
    assert not d4.abelian and cyclic(5).abelian
    assert product(cyclic(2), cyclic(3)).abelian
    # row-major product order: (g, h) at g·|H| + h
    p = product(cyclic(2), cyclic(3))
    assert p.mul[1 * 3 + 2, 0 * 3 + 2] == 1 * 3 + 1


def test_cyclic_fourier_is_dft():
    rng = np.random.default_rng(0)
    f = rng.standard_normal(9)
    g = cyclic(9)
    # our f̂(ρ_k) = Σ f_j e^{+2πijk/9} = conj(fft(f)_k) for real f
    got = np.array([B[0, 0] for B in g.fourier(f)])
    assert np.allclose(got, np.conj(np.fft.fft(f)), atol=1e-12)
    # so on C_n the L = 2 regularizer is ‖fft β‖₁ (same moduli)
    assert abs(schatten_regularizer(g, f, 2) - np.abs(np.fft.fft(f)).sum()) < 1e-12


@given(st.integers(min_value=1, max_value=12))
def test_dihedral_any_n(n):
    g = dihedral(n)
    assert g.order == 2 * n and sum(d * d for d in g.dims) == 2 * n
    g.check(tol=1e-12)


def _d3_generator_doc(basis=None):
    """D3 from its generators r, s in each irrep, optionally in a non-unitary basis."""
    c, s_ = np.cos(2 * np.pi / 3), np.sin(2 * np.pi / 3)
    R = np.array([[c, -s_], [s_, c]])
    S = np.diag([1.0, -1.0])
    if basis is not None:
        Bi = np.linalg.inv(basis)
        R, S = basis @ R @ Bi, basis @ S @ Bi
    return {"name": "D3 from GAP", "generators": [[[[1.0]], [[1.0]]], [[[1.0]], [[-1.0]]], [R.tolist(), S.tolist()]]}


def test_load_group_from_generators_non_unitary(tmp_path):
    p = tmp_path / "d3.json"
    p.write_text(json.dumps(_d3_generator_doc(basis=np.array([[2.0, 1.0], [0.0, 1.0]]))))
    g = load_group(p)
    assert g.order == 6 and g.dims == (1, 1, 2) and not g.abelian
    g.check(tol=1e-12)
    f, h = np.random.default_rng(0).standard_normal((2, 6))
    C, F, H = g.fourier(g.convolve(f, h)), g.fourier(f), g.fourier(h)
    assert max(np.abs(c - a @ b).max() for c, a, b in zip(C, F, H, strict=True)) < 1e-12
    # words of the breadth-first enumeration: identity, then the generators
    assert g.labels[:3] == ("e", "g1", "g2")


def test_load_group_elements_and_npz(tmp_path):
    g0 = dihedral(3)
    perm = np.array([0, 4, 2, 5, 1, 3])      # a different element order; identity first
    doc = {"name": "D3 listed",
           "elements": [[[[[float(x.real), float(x.imag)] for x in row] for row in r[k]] for k in perm]
                        for r in g0.irreps]}
    pj = tmp_path / "d3.json"
    pj.write_text(json.dumps(doc))
    g = load_group(pj)
    assert g.order == 6
    # the derived table is D3's table in the new numbering
    assert np.array_equal(perm[g.mul], g0.mul[perm[:, None], perm[None, :]])
    pz = tmp_path / "d3.npz"
    np.savez(pz, **{f"elements_{q}": r[perm] for q, r in enumerate(g0.irreps)})
    assert np.array_equal(load_group(pz).mul, g.mul)
    assert get_group(f"file:{pz}").order == 6


def test_incomplete_irreps_named_with_sum(tmp_path):
    doc = _d3_generator_doc()
    doc["generators"] = doc["generators"][2:]      # keep only the 2-D one: generates D3, Σ d² = 4 ≠ 6
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(BiasflowError, match=r"'D3 from GAP' has order 6 but its irreps give Σ d_ρ² = 4"):
        load_group(p)


def test_bad_names_and_signals():
    for bad in ["icosahedral", "cyclic:n=0", "D", "product:", ""]:
        with pytest.raises(BiasflowError):
            get_group(bad)
    with pytest.raises(BiasflowError, match="length |G| = 8"):
        dihedral(4).fourier(np.ones(7))
    with pytest.raises(BiasflowError, match="does not exist"):
        load_group("/nonexistent/g.json")
