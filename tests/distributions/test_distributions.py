"""Tests of specmarket.distributions: closed forms, inverses, regularity, ironing, JSON, errors."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from specmarket.core import Model
from specmarket.distributions import (
    Distribution,
    DistributionField,
    Empirical,
    Exponential,
    Histogram,
    Mixture,
    TruncatedNormal,
    Uniform,
    distribution_from_json,
)
from specmarket.errors import InvalidInput


def bimodal() -> Mixture:
    """An irregular bimodal prior: two well separated truncated normals."""
    return Mixture(
        (0.5, 0.5), (TruncatedNormal(2.0, 0.5, 0.0, 10.0), TruncatedNormal(8.0, 0.5, 0.0, 10.0))
    )


REGULAR: list[Distribution] = [
    Uniform(0.0, 10.0),
    Uniform(-3.0, 5.0),
    Exponential(0.5),
    Exponential(2.0, shift=1.0),
    TruncatedNormal(5.0, 2.0, 0.0, 10.0),
    TruncatedNormal(0.0, 1.0, 3.0, 40.0),  # far upper tail: log-space formulas
    Histogram((0.0, 1.0, 3.0), (1 / 3, 2 / 3)),  # equal densities: uniform in disguise
]

ALL: list[Distribution] = [
    *REGULAR,
    bimodal(),
    Histogram((0.0, 1.0, 2.0, 3.0), (0.5, 0.1, 0.4)),
    Mixture((0.3, 0.7), (Exponential(1.0), Exponential(0.1))),
    Empirical((1.0, 2.0, 3.0, 10.0), (0.4, 0.3, 0.2, 0.1)),
]


# ---- closed forms --------------------------------------------------------------------------------


def test_uniform_closed_forms() -> None:
    u = Uniform(2.0, 10.0)
    b = np.linspace(2.0, 10.0, 17)
    np.testing.assert_allclose(u.buyer.virtual_value(b), 2 * b - 10.0)
    np.testing.assert_allclose(u.seller.virtual_value(b), 2 * b - 2.0)
    np.testing.assert_allclose(u.cdf(b), (b - 2.0) / 8.0)
    np.testing.assert_allclose(u.pdf(b), 1 / 8.0)
    assert u.buyer.virtual_value(7.0) == 4.0
    assert u.seller.virtual_value(3.0) == 4.0
    assert u.buyer.inverse_virtual_value(4.0) == 7.0
    assert u.seller.inverse_virtual_value(4.0) == 3.0
    z = Uniform(0.0, 1.0)
    assert z.buyer.virtual_value(0.75) == 0.5  # 2b − 1
    assert z.seller.virtual_value(0.25) == 0.5  # 2a
    assert u.mean == 6.0 and u.support == (2.0, 10.0)


def test_exponential_closed_forms() -> None:
    e = Exponential(0.5, shift=1.0)
    a = np.array([1.0, 2.0, 5.0])
    np.testing.assert_allclose(e.buyer.virtual_value(a), a - 2.0)
    np.testing.assert_allclose(e.seller.virtual_value(a), a + (np.exp(0.5 * (a - 1.0)) - 1) / 0.5)
    np.testing.assert_allclose(e.cdf(a), 1 - np.exp(-0.5 * (a - 1.0)))
    np.testing.assert_allclose(e.pdf(a), 0.5 * np.exp(-0.5 * (a - 1.0)))
    assert e.buyer.inverse_virtual_value(3.0) == 5.0
    assert e.support == (1.0, math.inf) and e.mean == 3.0
    # ψ⁻¹ through Lambert W, also where ψ is astronomically large
    big = np.array([1.0, 1.5, 30.0, 600.0, 1400.0])
    psi = e.seller.virtual_value(big)
    np.testing.assert_allclose(e.seller.inverse_virtual_value(psi), big, rtol=1e-12)
    assert e.seller.inverse_virtual_value(math.inf) == math.inf


@pytest.mark.parametrize("d", ALL, ids=repr)
def test_generic_formulas_match_definition(d: Distribution) -> None:
    """φ = b − (1 − F)/f and ψ = a + F/f against the class's own cdf/pdf (seed 003 (13)–(14))."""
    if isinstance(d, Empirical):
        pytest.skip("discrete virtual values, tested separately")
    lo, hi = d.support
    x = d.ppf(np.linspace(0.01, 0.99, 41))
    f, big_f = d.pdf(x), d.cdf(x)
    np.testing.assert_allclose(d.buyer.virtual_value(x), x - (1 - big_f) / f, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(d.seller.virtual_value(x), x + big_f / f, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(d.cdf(d.ppf([0.1, 0.5, 0.9])), [0.1, 0.5, 0.9], atol=1e-10)
    # arguments are clipped into the support
    assert d.buyer.virtual_value(lo - 5.0) == d.buyer.virtual_value(lo)
    if math.isfinite(hi):
        assert d.seller.virtual_value(hi + 5.0) == d.seller.virtual_value(hi)


def test_truncated_normal_matches_scipy_and_far_tail() -> None:
    t = TruncatedNormal(5.0, 2.0, 0.0, 10.0)
    ref = stats.truncnorm(-2.5, 2.5, loc=5.0, scale=2.0)
    x = np.linspace(0.0, 10.0, 11)
    np.testing.assert_allclose(t.cdf(x), ref.cdf(x), atol=1e-13)
    np.testing.assert_allclose(t.pdf(x), ref.pdf(x), rtol=1e-12)
    assert t.mean == pytest.approx(5.0)
    far = TruncatedNormal(0.0, 1.0, 30.0, 35.0)  # mass ~1e-197: naive formulas give 0/0
    v = far.buyer.virtual_value(np.linspace(30.0, 35.0, 6))
    assert np.all(np.isfinite(v)) and np.all(np.diff(v) > 0)
    # (1 − F)/f → 1/z (Mills ratio) deep in the tail of an untruncated-above normal
    assert far.buyer.virtual_value(30.0) == pytest.approx(30.0 - 1 / 30.0, rel=1e-3)


# ---- inverses ------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    low=st.floats(-100, 100),
    width=st.floats(0.01, 100),
    t=st.floats(0, 1),
)
def test_uniform_inverse_roundtrip(low: float, width: float, t: float) -> None:
    u = Uniform(low, low + width)
    x = low + t * width
    assert u.buyer.inverse_virtual_value(u.buyer.virtual_value(x)) == pytest.approx(
        x, abs=1e-9 * (1 + abs(x))
    )
    assert u.seller.inverse_virtual_value(u.seller.virtual_value(x)) == pytest.approx(
        x, abs=1e-9 * (1 + abs(x))
    )


@settings(max_examples=60, deadline=None)
@given(rate=st.floats(0.01, 50), shift=st.floats(-10, 10), q=st.floats(0, 0.999999))
def test_exponential_inverse_roundtrip(rate: float, shift: float, q: float) -> None:
    e = Exponential(rate, shift)
    x = float(e.ppf(q))
    tol = 1e-9 * (1 + abs(x))
    assert e.buyer.inverse_virtual_value(e.buyer.virtual_value(x)) == pytest.approx(x, abs=tol)
    assert e.seller.inverse_virtual_value(e.seller.virtual_value(x)) == pytest.approx(x, abs=tol)


NUMERIC = [
    TruncatedNormal(5.0, 2.0, 0.0, 10.0),
    TruncatedNormal(-1.0, 3.0, 0.0, 4.0),
    Histogram((0.0, 1.0, 2.0), (0.3, 0.7)),
    Mixture((0.3, 0.7), (Exponential(1.0), Exponential(0.1))),
]


@settings(max_examples=40, deadline=None)
@given(k=st.integers(0, len(NUMERIC) - 1), q=st.floats(0, 0.9999))
def test_numeric_inverse_roundtrip(k: int, q: float) -> None:
    d = NUMERIC[k]
    x = float(d.ppf(q))
    tol = 1e-8 * (1 + abs(x))
    if d.buyer.is_regular():
        assert d.buyer.inverse_virtual_value(d.buyer.virtual_value(x)) == pytest.approx(x, abs=tol)
    if d.seller.is_regular():
        assert d.seller.inverse_virtual_value(d.seller.virtual_value(x)) == pytest.approx(
            x, abs=tol
        )


def test_numeric_inverse_matches_brentq() -> None:
    t = TruncatedNormal(5.0, 2.0, 0.0, 10.0)
    for y in (-20.0, -3.0, 0.0, 4.2, 9.9):
        ref = optimize.brentq(lambda b, y=y: t.buyer.virtual_value(b) - y, 0.0, 10.0, xtol=1e-14)
        assert t.buyer.inverse_virtual_value(y) == pytest.approx(ref, abs=1e-10)
    for y in (0.5, 7.0, 12.0, 20.0):
        ref = optimize.brentq(lambda a, y=y: t.seller.virtual_value(a) - y, 0.0, 10.0, xtol=1e-14)
        assert t.seller.inverse_virtual_value(y) == pytest.approx(ref, abs=1e-10)
    # vectorised call agrees with scalar calls
    ys = np.linspace(-30.0, 10.0, 51)
    np.testing.assert_allclose(
        t.buyer.inverse_virtual_value(ys), [t.buyer.inverse_virtual_value(float(y)) for y in ys]
    )


@pytest.mark.parametrize("d", ALL, ids=repr)
def test_inverse_clamps_outside_range(d: Distribution) -> None:
    lo, hi = d.support
    phi_lo = d.buyer.virtual_value(lo)
    assert d.buyer.inverse_virtual_value(phi_lo - 1.0) == lo
    assert d.seller.inverse_virtual_value(d.seller.virtual_value(lo) - 1.0) == lo
    assert d.buyer.inverse_ironed_virtual_value(-1e300) == lo
    assert d.seller.inverse_ironed_virtual_value(-1e300) == lo
    if math.isfinite(hi):
        assert d.buyer.inverse_virtual_value(d.buyer.virtual_value(hi) + 1.0) == hi
        assert d.seller.inverse_virtual_value(d.seller.virtual_value(hi) + 1.0) == hi
    else:
        y = 1e6
        b = d.buyer.inverse_virtual_value(y)
        assert d.buyer.virtual_value(b) == pytest.approx(y, rel=1e-9)


def test_vectorised_shapes() -> None:
    for d in ALL:
        assert math.isnan(d.buyer.inverse_virtual_value(math.nan))
        assert math.isnan(d.seller.inverse_ironed_virtual_value(math.nan))
        assert math.isnan(d.buyer.virtual_value(math.nan))
        assert math.isnan(d.seller.ironed_virtual_value(math.nan))
        assert isinstance(d.buyer.virtual_value(1.0), float)
        assert isinstance(d.seller.inverse_ironed_virtual_value(1.0), float)
        arr = np.ones((2, 3))
        for name in ("cdf", "pdf"):
            assert np.shape(getattr(d, name)(arr)) == (2, 3), (d, name)
        for view in (d.buyer, d.seller):
            for name in (
                "virtual_value",
                "inverse_virtual_value",
                "ironed_virtual_value",
                "inverse_ironed_virtual_value",
            ):
                assert np.shape(getattr(view, name)(arr)) == (2, 3), (view, name)


# ---- regularity and ironing ----------------------------------------------------------------------


@pytest.mark.parametrize("d", REGULAR, ids=repr)
def test_regular_distributions(d: Distribution) -> None:
    assert d.buyer.is_regular() and d.seller.is_regular()
    lo, hi = d.support
    x = np.linspace(lo, lo + 10.0 if math.isinf(hi) else hi, 2001)
    np.testing.assert_array_equal(d.buyer.ironed_virtual_value(x), d.buyer.virtual_value(x))
    np.testing.assert_array_equal(d.seller.ironed_virtual_value(x), d.seller.virtual_value(x))


def test_bimodal_is_irregular() -> None:
    m = bimodal()
    assert not m.buyer.is_regular()
    assert not m.seller.is_regular()
    assert Histogram((0.0, 1.0, 2.0, 3.0), (0.5, 0.1, 0.4)).buyer.is_regular() is False
    # φ jumps by S(1/d_j − 1/d_{j+1}) and ψ by F(1/d_{j+1} − 1/d_j) at an edge: a rising density
    # is buyer-regular but seller-irregular
    rising = Histogram((0.0, 1.0, 2.0), (0.3, 0.7))
    assert rising.buyer.is_regular() and not rising.seller.is_regular()
    x = np.linspace(0.0, 2.0, 4001)
    assert np.all(np.diff(rising.seller.ironed_virtual_value(x)) >= 0)
    # the views know their side and their distribution
    assert m.buyer.role == "buyer" and m.seller.role == "seller"
    assert m.buyer.dist is m and m.buyer is m.buyer  # one view per distribution, cached


def _pava(h: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Isotonic (non-decreasing) weighted regression by pool-adjacent-violators: the derivative of
    the convex minorant of ``∫ h`` — an independent reference for ironing."""
    vals: list[float] = []
    wts: list[float] = []
    cnt: list[int] = []
    for v, wt in zip(h, w, strict=True):
        vals.append(float(v))
        wts.append(float(wt))
        cnt.append(1)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            v2, w2, c2 = vals.pop(), wts.pop(), cnt.pop()
            vals[-1] = (vals[-1] * wts[-1] + v2 * w2) / (wts[-1] + w2)
            wts[-1] += w2
            cnt[-1] += c2
    return np.repeat(vals, cnt)


@pytest.mark.parametrize("buyer", [True, False])
def test_ironing_bimodal(buyer: bool) -> None:
    m = bimodal()
    phi = m.buyer.virtual_value if buyer else m.seller.virtual_value
    iron = m.buyer.ironed_virtual_value if buyer else m.seller.ironed_virtual_value
    x = np.linspace(-1.0, 11.0, 60001)
    ironed = iron(x)
    assert np.all(np.diff(ironed) >= 0), "ironed virtual value must be non-decreasing"
    assert np.min(ironed - phi(x)) < -1 if buyer else np.max(ironed - phi(x)) > 1  # really ironed
    # equal to φ where φ needs no ironing: far from the flat part
    ir = m._ironing_buyer if buyer else m._ironing_seller
    assert ir is not None and len(ir.lows) == 1
    outside = (x < ir.lows[0] - 1e-9) | (x > ir.highs[0] + 1e-9)
    np.testing.assert_array_equal(ironed[outside], phi(x)[outside])
    # independent reference: PAVA on h(q) = φ(F⁻¹(q)) over a fine quantile grid (on a milder
    # bimodal prior: with sd 0.5 the trough density is ~1e-8 and h has a −4e7 spike that a
    # uniform quantile grid cannot integrate)
    m = Mixture(
        (0.5, 0.5), (TruncatedNormal(3.0, 1.0, 0.0, 10.0), TruncatedNormal(7.0, 1.0, 0.0, 10.0))
    )
    assert not m.buyer.is_regular() and not m.seller.is_regular()
    phi = m.buyer.virtual_value if buyer else m.seller.virtual_value
    iron = m.buyer.ironed_virtual_value if buyer else m.seller.ironed_virtual_value
    q = (np.arange(40000) + 0.5) / 40000
    xq = m.ppf(q)
    ref = _pava(phi(xq), np.full(q.size, 1 / q.size))
    np.testing.assert_allclose(iron(xq), ref, atol=2e-2)
    # ironing preserves E[φ(X)] (= low for the buyer: H(1) − H(0))
    assert np.mean(iron(xq)) == pytest.approx(np.mean(phi(xq)), abs=1e-3)


def test_ironing_histogram_exact() -> None:
    """Densities 0.5, 0.1, 0.4 on [0,1],[1,2],[2,3]: by hand φ̄ = −1.2 on [0.4, 2] (q ∈ [.2, .6])."""
    h = Histogram((0.0, 1.0, 2.0, 3.0), (0.5, 0.1, 0.4))
    assert h.buyer.ironed_virtual_value(1.0) == pytest.approx(-1.2, abs=1e-6)
    assert h.buyer.ironed_virtual_value(0.2) == pytest.approx(2 * 0.2 - 2.0)  # φ = 4q − 2 = 2x − 2
    assert h.buyer.ironed_virtual_value(2.5) == pytest.approx(h.buyer.virtual_value(2.5))
    assert h.buyer.inverse_ironed_virtual_value(-1.2) == pytest.approx(0.4, abs=1e-6)
    assert h.buyer.inverse_ironed_virtual_value(-1.0) == pytest.approx(2.0, abs=1e-6)


@pytest.mark.parametrize("buyer", [True, False])
def test_ironed_inverse_is_generalised_inverse(buyer: bool) -> None:
    m = bimodal()
    iron = m.buyer.ironed_virtual_value if buyer else m.seller.ironed_virtual_value
    inv = m.buyer.inverse_ironed_virtual_value if buyer else m.seller.inverse_ironed_virtual_value
    lo, hi = m.support
    ys = np.linspace(float(iron(lo)) + 0.01, float(iron(hi)) - 0.01, 301)
    ir = m._ironing_buyer if buyer else m._ironing_seller
    assert ir is not None
    ys = np.append(ys, ir.slopes)  # exactly the flat level: ends of the flat part
    x = inv(ys)
    eps = 1e-7
    if buyer:  # inf{b : φ̄(b) ≥ y}
        assert np.all(iron(x) >= ys - 1e-9)
        assert np.all(iron(x - eps) < ys)
        assert inv(ir.slopes[0]) == pytest.approx(ir.lows[0], abs=1e-9)
    else:  # sup{a : ψ̄(a) ≤ y}
        assert np.all(iron(x) <= ys + 1e-9)
        assert np.all(iron(x + eps) > ys)
        assert inv(ir.slopes[0]) == pytest.approx(ir.highs[0], abs=1e-9)


def test_gap_in_support() -> None:
    """Disjoint uniforms: f = 0 in the gap, so φ = −inf there; not regular, but the ironed value
    stays non-decreasing and coincides with φ on the support (h(q) is already monotone)."""
    m = Mixture((0.5, 0.5), (Uniform(0.0, 1.0), Uniform(2.0, 3.0)))
    assert m.buyer.virtual_value(1.5) == -math.inf and m.seller.virtual_value(1.5) == math.inf
    assert not m.buyer.is_regular()
    x = np.linspace(-1.0, 4.0, 5001)
    ironed = m.buyer.ironed_virtual_value(x)
    assert np.all(np.diff(ironed) >= 0)
    on = (x <= 1.0) | (x >= 2.0)
    np.testing.assert_allclose(ironed[on], m.buyer.virtual_value(x[on]))


# ---- the discrete (empirical) distribution -------------------------------------------------------


def test_empirical_discrete_virtual_values() -> None:
    e = Empirical((3.0, 1.0, 10.0, 2.0), (0.2, 0.4, 0.1, 0.3))  # sorted internally
    assert e.values == (1.0, 2.0, 3.0, 10.0)
    # φ_i = v_i − (v_{i+1} − v_i) S_{i+1}/p_i, φ_n = v_n
    np.testing.assert_allclose(e.buyer.virtual_value(e.values), [-0.5, 1.0, -0.5, 10.0])
    # ψ_i = v_i + (v_i − v_{i−1}) F_{i−1}/p_i, ψ_1 = v_1
    np.testing.assert_allclose(e.seller.virtual_value(e.values), [1.0, 2 + 0.4 / 0.3, 6.5, 73.0])
    assert not e.buyer.is_regular() and e.seller.is_regular()
    # ironing merges atoms 2 and 3: revenue-curve chord from S=0.1 (R=1) to S=0.6 (R=1.2)
    np.testing.assert_allclose(e.buyer.ironed_virtual_value(e.values), [-0.5, 0.4, 0.4, 10.0])
    # revenue identity E[φ] = E[φ̄] = v_1 (the revenue curve telescopes)
    p = np.array(e.probs)
    assert float(p @ e.buyer.virtual_value(e.values)) == pytest.approx(1.0)
    assert float(p @ e.buyer.ironed_virtual_value(e.values)) == pytest.approx(1.0)
    # bids round down to atoms, asks round up
    assert e.buyer.virtual_value(2.9) == pytest.approx(1.0) and e.seller.virtual_value(2.1) == 6.5
    # generalised inverses on atoms
    flat = float(e.buyer.ironed_virtual_value(2.0))
    assert flat == pytest.approx(0.4)
    assert e.buyer.inverse_ironed_virtual_value(flat) == 2.0
    assert e.buyer.inverse_ironed_virtual_value(flat + 0.01) == 10.0
    assert e.buyer.inverse_ironed_virtual_value(11.0) == 10.0
    assert e.buyer.inverse_virtual_value(0.0) == 2.0
    assert e.seller.inverse_virtual_value(6.5) == 3.0
    assert e.seller.inverse_virtual_value(6.4) == 2.0
    assert e.seller.inverse_virtual_value(0.0) == 1.0
    assert e.cdf(2.5) == pytest.approx(0.7) and e.pdf(2.0) == pytest.approx(0.3) and e.pdf(2.5) == 0


def test_empirical_seller_ironing() -> None:
    e = Empirical((1.0, 2.0, 3.0), (0.1, 0.8, 0.1))  # ψ = 1, 2.125, 12  regular
    assert e.seller.is_regular()
    # ψ_2 = 2 + 0.45/0.1 = 6.5 > ψ_3 = 3 + 0.55/0.45
    e2 = Empirical((1.0, 2.0, 3.0), (0.45, 0.1, 0.45))
    assert not e2.seller.is_regular()
    ironed = e2.seller.ironed_virtual_value(e2.values)
    assert np.all(np.diff(ironed) >= 0)
    p = np.array(e2.probs)
    # E[ψ̄] = E[ψ] = E-cost curve end point v_n F_n = v_n
    assert float(p @ ironed) == pytest.approx(3.0)


# ---- sampling ------------------------------------------------------------------------------------


@pytest.mark.parametrize("d", ALL, ids=repr)
def test_sampling_deterministic_and_mean(d: Distribution) -> None:
    a = d.sample(np.random.default_rng(7), 20000)
    b = d.sample(np.random.default_rng(7), 20000)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (20000,)
    lo, hi = d.support
    assert np.all((a >= lo) & (a <= hi))
    sd = float(np.std(a))
    assert float(np.mean(a)) == pytest.approx(d.mean, abs=5 * sd / math.sqrt(a.size) + 1e-12)
    assert isinstance(d.sample(np.random.default_rng(1)), float)
    assert d.sample(3, 5).shape == (5,)  # an int seed is accepted


# ---- immutability, JSON, errors ------------------------------------------------------------------


def test_immutable() -> None:
    u = Uniform(0, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        u.low = 5.0  # type: ignore[misc]
    assert u == Uniform(0.0, 1.0) and hash(u) == hash(Uniform(0.0, 1.0))


@pytest.mark.parametrize("d", ALL, ids=repr)
def test_json_roundtrip(d: Distribution) -> None:
    assert distribution_from_json(d.to_json()) == d


def test_json_examples() -> None:
    assert distribution_from_json({"kind": "uniform", "low": 0, "high": 10}) == Uniform(0, 10)
    assert distribution_from_json({"kind": "exponential", "rate": 1}) == Exponential(1.0)
    m = distribution_from_json(
        {
            "kind": "mixture",
            "weights": [0.5, 0.5],
            "components": [
                {"kind": "truncated_normal", "mean": 2, "sd": 0.5, "low": 0, "high": 10},
                {"kind": "truncated_normal", "mean": 8, "sd": 0.5, "low": 0, "high": 10},
            ],
        }
    )
    assert m == bimodal()


BAD_JSON: list[tuple[Any, str]] = [
    ([1, 2], "<root>"),
    ({"low": 0, "high": 1}, "kind"),
    ({"kind": "gamma", "shape": 2}, "kind"),
    ({"kind": 3}, "kind"),
    ({"kind": "uniform", "low": 0}, "high"),
    ({"kind": "uniform", "low": 0, "high": 1, "mode": 0.5}, "mode"),
    ({"kind": "uniform", "low": 1, "high": 1}, "high"),
    ({"kind": "uniform", "low": "0", "high": 1}, "low"),
    ({"kind": "uniform", "low": True, "high": 1}, "low"),
    ({"kind": "uniform", "low": float("nan"), "high": 1}, "low"),
    ({"kind": "uniform", "low": 0, "high": float("inf")}, "high"),
    ({"kind": "exponential", "rate": 0}, "rate"),
    ({"kind": "exponential", "rate": 1, "shift": float("-inf")}, "shift"),
    ({"kind": "truncated_normal", "mean": 0, "sd": 0, "low": 0, "high": 1}, "sd"),
    ({"kind": "truncated_normal", "mean": 0, "sd": -1, "low": 0, "high": 1}, "sd"),
    ({"kind": "truncated_normal", "mean": 0, "sd": 1, "low": 2, "high": 1}, "high"),
    ({"kind": "truncated_normal", "mean": 0, "sd": 1, "low": 1e3, "high": 2e3}, "high"),
    ({"kind": "empirical", "values": [1, 2], "probs": [0.5, 0.6]}, "probs"),
    ({"kind": "empirical", "values": [1, 2], "probs": [1.0]}, "probs"),
    ({"kind": "empirical", "values": [1, 1], "probs": [0.5, 0.5]}, "values[1]"),
    ({"kind": "empirical", "values": [1, 2], "probs": [1.5, -0.5]}, "probs[1]"),
    ({"kind": "empirical", "values": [1, 2], "probs": [1.0, 0.0]}, "probs[1]"),
    ({"kind": "empirical", "values": [], "probs": []}, "values"),
    ({"kind": "empirical", "values": "12", "probs": [1.0]}, "values"),
    ({"kind": "empirical", "values": [1, None], "probs": [0.5, 0.5]}, "values[1]"),
    ({"kind": "histogram", "edges": [0, 2, 1], "probs": [0.5, 0.5]}, "edges[2]"),
    ({"kind": "histogram", "edges": [0, 1, 2], "probs": [1.0]}, "probs"),
    ({"kind": "histogram", "edges": [0], "probs": []}, "edges"),
    (
        {"kind": "mixture", "weights": [0.5, 0.5], "components": [{"kind": "uniform"}]},
        "components[0].low",
    ),
    ({"kind": "mixture", "weights": [1.5, -0.5], "components": []}, "weights[1]"),
    ({"kind": "mixture", "weights": [0.5], "components": []}, "weights"),
    (
        {
            "kind": "mixture",
            "weights": [0.5, 0.5],
            "components": [{"kind": "uniform", "low": 0, "high": 1}, {"kind": "exponential"}],
        },
        "components[1].rate",
    ),
    (
        {
            "kind": "mixture",
            "weights": [1.0],
            "components": [{"kind": "empirical", "values": [1], "probs": [1]}],
        },
        "components[0].kind",
    ),
    ({"kind": "mixture", "weights": [1.0], "components": {"kind": "uniform"}}, "components"),
]


@pytest.mark.parametrize(("data", "field"), BAD_JSON, ids=[str(f) for _, f in BAD_JSON])
def test_bad_json_names_field(data: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        distribution_from_json(data)
    assert info.value.field == field, str(info.value)


def test_unknown_kind_lists_known() -> None:
    with pytest.raises(InvalidInput, match="unknown distribution kind") as info:
        distribution_from_json({"kind": "gamma"})
    for known in ("uniform", "exponential", "truncated_normal", "empirical", "mixture"):
        assert known in str(info.value)


def test_constructor_errors_name_parameter() -> None:
    cases: list[tuple[Any, str]] = [
        (lambda: Uniform(0, math.nan), "high"),
        (lambda: Uniform(2, 1), "high"),
        (lambda: Exponential(-1), "rate"),
        (lambda: TruncatedNormal(math.inf, 1, 0, 1), "mean"),
        (lambda: TruncatedNormal(0, 0, 0, 1), "sd"),
        (lambda: Mixture((0.5, 0.5), (Uniform(0, 1), "x")), "components[1]"),  # type: ignore[arg-type]
        (lambda: Mixture((0.5, 0.5), (Uniform(0, 1),)), "components"),
        (lambda: Mixture((1.0,), (Empirical((1.0,), (1.0,)),)), "components[0]"),  # type: ignore[arg-type]
    ]
    for make, field in cases:
        with pytest.raises(InvalidInput) as info:
            make()
        assert info.value.field == field
    with pytest.raises(InvalidInput, match="rng"):
        Uniform(0, 1).sample("seed")


def test_json_reads_type_as_the_former_name_of_kind() -> None:
    """Files written before the rename say ``type``: read the same, written back as ``kind``."""
    old = {
        "type": "mixture",
        "weights": [0.5, 0.5],
        "components": [
            {"type": "truncated_normal", "mean": 2, "sd": 0.5, "low": 0, "high": 10},
            {"kind": "truncated_normal", "mean": 8, "sd": 0.5, "low": 0, "high": 10},
        ],
    }
    m = distribution_from_json(old)
    assert m == bimodal()
    assert m.to_json()["kind"] == "mixture" and "type" not in m.to_json()
    assert all("kind" in c and "type" not in c for c in m.to_json()["components"])
    empirical = {"type": "empirical", "values": [1], "probs": [1]}
    for data, field in [
        ({"type": "gamma"}, "type"),
        ({"kind": "uniform", "type": "uniform", "low": 0, "high": 1}, "type"),
        ({"type": "mixture", "weights": [1.0], "components": [empirical]}, "components[0].type"),
    ]:
        with pytest.raises(InvalidInput) as info:
            distribution_from_json(data)
        assert info.value.field == field, str(info.value)


def test_every_class_is_read_by_its_kind() -> None:
    from specmarket.distributions import KNOWN_KINDS

    assert {type(d).kind for d in ALL} == set(KNOWN_KINDS)
    for d in ALL:
        assert d.to_json()["kind"] == type(d).kind


class _Prior(Model):
    prior: DistributionField


def test_pydantic_embedding() -> None:
    p = _Prior.parse({"prior": {"kind": "uniform", "low": 0, "high": 10}})
    assert p.prior == Uniform(0, 10)
    assert p.model_dump() == {"prior": {"kind": "uniform", "low": 0.0, "high": 10.0}}
    assert _Prior(prior=Exponential(1.0)).prior == Exponential(1.0)
    bad = {
        "prior": {
            "kind": "mixture",
            "weights": [1.0],
            "components": [{"kind": "uniform", "low": 0, "high": -1}],
        }
    }
    with pytest.raises(InvalidInput) as info:
        _Prior.parse(bad)
    assert info.value.field == "prior.components[0].high"
    with pytest.raises(InvalidInput) as info:
        _Prior.parse({"prior": {"kind": "nope"}})
    assert info.value.field == "prior.kind"


# ---- property tests on random histograms and discrete priors ------------------------------------

_probs = st.lists(st.floats(0.02, 1.0), min_size=2, max_size=6).map(
    lambda w: tuple(x / sum(w) for x in w)
)


@settings(max_examples=15, deadline=None)
@given(probs=_probs, widths=st.lists(st.floats(0.1, 3.0), min_size=6, max_size=6))
def test_random_histogram_ironing(probs: tuple[float, ...], widths: list[float]) -> None:
    edges = tuple(np.concatenate([[0.0], np.cumsum(widths[: len(probs)])]))
    h = Histogram(edges, probs)
    x = np.linspace(-0.5, edges[-1] + 0.5, 4001)
    q = (np.arange(20000) + 0.5) / 20000
    xq = h.ppf(q)
    for phi, iron in (
        (h.buyer.virtual_value, h.buyer.ironed_virtual_value),
        (h.seller.virtual_value, h.seller.ironed_virtual_value),
    ):
        ironed = iron(x)
        assert np.all(np.diff(ironed) >= 0)
        # ironing preserves ∫ φ(F⁻¹(q)) dq
        assert np.mean(iron(xq)) == pytest.approx(np.mean(phi(xq)), abs=2e-3 * (1 + edges[-1]))
    if h.buyer.is_regular():
        np.testing.assert_array_equal(h.buyer.ironed_virtual_value(x), h.buyer.virtual_value(x))
    # E[φ(X)] = low (= 0 here): H(1) − H(0) = low − 0·F⁻¹(1)
    assert np.mean(h.buyer.virtual_value(xq)) == pytest.approx(0.0, abs=2e-3 * (1 + edges[-1]))


@settings(max_examples=50, deadline=None)
@given(probs=_probs, gaps=st.lists(st.floats(0.1, 5.0), min_size=6, max_size=6))
def test_random_empirical_ironing(probs: tuple[float, ...], gaps: list[float]) -> None:
    values = tuple(np.cumsum(gaps[: len(probs)]))
    e = Empirical(values, probs)
    p = np.array(e.probs)
    for phi, iron, expected in (
        (
            e.buyer.virtual_value,
            e.buyer.ironed_virtual_value,
            values[0],
        ),  # revenue curve ends at v_1
        (e.seller.virtual_value, e.seller.ironed_virtual_value, values[-1]),  # cost at v_n
    ):
        ironed = np.asarray(iron(e.values))
        assert np.all(np.diff(ironed) >= -1e-12)
        assert float(p @ ironed) == pytest.approx(expected)
        assert float(p @ phi(e.values)) == pytest.approx(expected)
    # the inverse of the ironed buyer value maps each atom's level back to (at most) that atom
    lv = e.buyer.ironed_virtual_value(e.values)
    assert np.all(e.buyer.inverse_ironed_virtual_value(lv) <= np.array(e.values))


def test_equal_distributions_share_tables() -> None:
    a = TruncatedNormal(1.0, 2.0, 0.0, 5.0)
    b = distribution_from_json(a.to_json())
    assert a is not b and a == b
    assert a._phi_table is b._phi_table  # built once
    c = TruncatedNormal(1.0, 2.0, 0.0, 6.0)
    assert c._phi_table is not a._phi_table


def test_nested_mixture_zero_weight_and_path_prefix() -> None:
    inner = {
        "kind": "mixture",
        "weights": [0.25, 0.75],
        "components": [
            {"kind": "uniform", "low": 0, "high": 1},
            {"kind": "exponential", "rate": 2, "shift": 1},
        ],
    }
    outer = {
        "kind": "mixture",
        "weights": [0.0, 1.0],
        "components": [{"kind": "uniform", "low": 50, "high": 60}, inner],
    }
    d = distribution_from_json(outer)
    assert d.support == (0.0, math.inf)  # the zero-weight component does not count
    assert d.mean == pytest.approx(0.25 * 0.5 + 0.75 * 1.5)
    assert distribution_from_json(d.to_json()) == d
    assert d.cdf(1.0) == pytest.approx(0.25)
    bad = {**outer, "components": [outer["components"][0], {**inner, "weights": [0.5, 0.6]}]}
    with pytest.raises(InvalidInput) as info:
        distribution_from_json(bad, path="buyers[2].prior")
    assert info.value.field == "buyers[2].prior.components[1].weights"
