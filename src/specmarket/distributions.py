"""Value distributions for the Bayesian mechanisms: cdf, pdf, sampling, virtual values, ironing.

District-D (seed 003, appendix eqs. (13)–(14)) ranks buyers by their *virtual bid*
``φ(b) = b − (1 − F(b)) / f(b)`` and sellers by their *virtual ask* ``ψ(a) = a + F(a) / f(a)``
(Myerson 1981); both must be non-decreasing ("regular") for the greedy allocation to be monotone,
and irregular distributions are *ironed* (Myerson 1981 §6): in quantile space the buyer's curve
``H(q) = ∫_0^q φ(F⁻¹(t)) dt`` is replaced by its lower convex hull, whose derivative is the ironed
virtual value ``φ̄`` (non-decreasing by construction); the seller's ``K(q) = ∫_0^q ψ(F⁻¹(t)) dt``
likewise gives ``ψ̄``.

Classes (all immutable, validated at construction, raising :class:`InvalidInput` naming the
parameter):

* :class:`Uniform` ``(low, high)`` — closed forms everywhere;
* :class:`Exponential` ``(rate, shift=0)`` — closed forms everywhere (Lambert W for ``ψ⁻¹``);
* :class:`TruncatedNormal` ``(mean, sd, low, high)`` — log-space formulas, numeric inverses;
* :class:`Histogram` ``(edges, probs)`` — piecewise-uniform density (the *continuous*
  interpretation of an empirical distribution);
* :class:`Empirical` ``(values, probs)`` — a *discrete* distribution with the discrete virtual
  values of the literature (revenue-curve slopes, see the class docstring);
* :class:`Mixture` ``(weights, components)`` — e.g. irregular bimodal distributions.

Each distribution is seen from either side through a view: ``dist.buyer`` (φ) and ``dist.seller``
(ψ) both offer ``virtual_value``, ``inverse_virtual_value``, ``ironed_virtual_value``,
``inverse_ironed_virtual_value`` and ``is_regular`` (:class:`BuyerView`, :class:`SellerView`). The
JSON form names the class by its ``kind`` (:func:`distribution_from_json`).

Conventions shared by every class (see ``docs/distributions.md``):

* Every method accepting ``x``/``y`` is vectorised: a scalar gives a ``float``, an array an array.
* Virtual values clip their argument into the support: ``φ(b) = φ(clip(b, low, high))``.
* The buyer inverse is the lower generalised inverse ``φ⁻¹(y) = inf{b ∈ [low, high] : φ(b) ≥ y}``
  (``low`` when ``y ≤ φ(low)``, ``high`` when ``y > sup φ``); the seller inverse is the upper one
  ``ψ⁻¹(y) = sup{a ∈ [low, high] : ψ(a) ≤ y}`` (``low`` when ``y < ψ(low)``, ``high`` when
  ``y ≥ sup ψ``). These are the critical bid / ask of a threshold ``y`` with ties counted as wins.
  For strictly increasing virtual values they are the ordinary inverses.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import PlainSerializer, PlainValidator

from specmarket.core.spec import Role
from specmarket.errors import InvalidInput

__all__ = [
    "KNOWN_KINDS",
    "BuyerView",
    "Distribution",
    "DistributionField",
    "Empirical",
    "Exponential",
    "Histogram",
    "Mixture",
    "SellerView",
    "SideView",
    "TruncatedNormal",
    "Uniform",
    "distribution_from_json",
]

#: Tolerance on probabilities / weights summing to one.
SUM_TOL = 1e-9
#: Number of equally spaced quantiles in the grid used by regularity checks, ironing and the
#: bracketing of numeric inverses (plus geometric refinements near both ends).
GRID_POINTS = 4097

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


# --------------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------------


def _num(field: str, value: Any) -> float:
    """A finite real parameter (ints accepted, booleans and strings rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidInput(field, value, "must be a number")
    out = float(value)
    if not math.isfinite(out):
        raise InvalidInput(field, value, "must be a finite number (no NaN or infinity)")
    return out


def _num_seq(field: str, value: Any, min_len: int = 1) -> tuple[float, ...]:
    """A non-empty sequence of finite reals (a list/tuple/array), elements named ``field[i]``."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (Sequence, np.ndarray)):
        raise InvalidInput(field, value, "must be a list of numbers")
    out = tuple(_num(f"{field}[{i}]", v) for i, v in enumerate(value))
    if len(out) < min_len:
        raise InvalidInput(field, list(value), f"must have at least {min_len} element(s)")
    return out


def _probabilities(field: str, value: Any, strict_positive: bool) -> tuple[float, ...]:
    """Probabilities: finite, ``> 0`` (or ``≥ 0``), summing to one within :data:`SUM_TOL`."""
    probs = _num_seq(field, value)
    for i, p in enumerate(probs):
        if p < 0 or (strict_positive and p == 0):
            need = "> 0" if strict_positive else ">= 0"
            raise InvalidInput(f"{field}[{i}]", value[i], f"must be {need}")
    total = math.fsum(probs)
    if abs(total - 1.0) > SUM_TOL:
        raise InvalidInput(field, list(value), f"must sum to 1 (sum is {total!r})")
    return tuple(p / total for p in probs)


def _arr(x: Any) -> tuple[np.ndarray, bool]:
    arr = np.asarray(x, dtype=float)
    return arr, arr.ndim == 0


def _ret(arr: np.ndarray, scalar: bool) -> Any:
    return float(arr) if scalar else arr


def _rng(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise InvalidInput("rng", rng, "must be a numpy Generator (np.random.default_rng(seed)) or int")


# --------------------------------------------------------------------------------------------------
# numeric helpers: bracketed monotone root finding, convex hulls, generalised inverses
# --------------------------------------------------------------------------------------------------


def _bracket_solve(
    func: Callable[[np.ndarray], np.ndarray],
    y: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    buyer: bool,
    xtol: float = 1e-13,
    maxiter: int = 300,
) -> np.ndarray:
    """Vectorised Illinois regula falsi with bisection safeguard on a non-decreasing ``func``.

    Requires ``func(a) < y ≤ func(b)`` (``buyer``: returns ``inf{x : func(x) ≥ y}``) or
    ``func(a) ≤ y < func(b)`` (seller: returns ``sup{x : func(x) ≤ y}``), element-wise, to a
    relative precision ``xtol``. Every third step is a bisection, so the bracket at least halves
    every three evaluations even for flat or jumping functions (ironed virtual values).
    """
    a = np.array(a, dtype=float, copy=True)
    b = np.array(b, dtype=float, copy=True)
    y = np.asarray(y, dtype=float)
    with np.errstate(all="ignore"):
        fa = func(a) - y
        fb = func(b) - y
        last = np.zeros(a.shape, dtype=np.int8)
        for it in range(maxiter):
            tol = xtol * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
            act = np.flatnonzero((b - a) > tol)
            if act.size == 0:
                break
            aa, bb, ffa, ffb = a[act], b[act], fa[act], fb[act]
            mid = 0.5 * (aa + bb)
            if it % 3 == 2:
                x = mid
            else:
                x = aa - ffa * (bb - aa) / (ffb - ffa)
                x = np.where(np.isfinite(x), x, mid)
            # never step closer than tol/2 to an end: ends the search once the root is pinned
            half = 0.5 * tol[act]
            x = np.clip(x, aa + half, bb - half)
            fx = func(x) - y[act]
            move_a = fx < 0 if buyer else fx <= 0
            la = last[act]
            # Illinois: when the same end moves twice, halve the other end's stored value
            new_fb = np.where(move_a & (la == -1), 0.5 * ffb, ffb)
            new_fa = np.where(~move_a & (la == 1), 0.5 * ffa, ffa)
            a[act] = np.where(move_a, x, aa)
            fa[act] = np.where(move_a, fx, new_fa)
            b[act] = np.where(move_a, bb, x)
            fb[act] = np.where(move_a, new_fb, fx)
            last[act] = np.where(move_a, -1, 1)
    return b if buyer else a


def _lower_hull(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the vertices of the lower convex hull of points sorted by ``x`` (monotone chain).

    Collinear points are dropped (they lie on a hull edge).
    """
    xs: list[float] = np.asarray(x, dtype=float).tolist()
    ys: list[float] = np.asarray(y, dtype=float).tolist()
    hull: list[int] = []
    for i, (xi, yi) in enumerate(zip(xs, ys, strict=True)):
        while len(hull) >= 2:
            o, p = hull[-2], hull[-1]
            if (xs[p] - xs[o]) * (yi - ys[o]) - (ys[p] - ys[o]) * (xi - xs[o]) <= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    return np.asarray(hull, dtype=int)


def _quantile_grid() -> np.ndarray:
    """Quantiles ``0 = q_0 < … < q_N = 1``: equally spaced plus geometric points near both ends."""
    tails = np.logspace(-14, -3.5, 43)
    q = np.concatenate([np.linspace(0.0, 1.0, GRID_POINTS), tails, 1.0 - tails])
    return np.unique(np.clip(q, 0.0, 1.0))


_QGRID = _quantile_grid()

#: Derived tables (grids, regularity, ironing) shared between *equal* distributions: District-D
#: and the auditor rebuild the same prior from JSON for every instance, so the one-off cost of a
#: numeric distribution (≈ 0.1–0.5 s for a mixture) is paid once per distinct prior.
_SHARED: OrderedDict[Any, dict[str, Any]] = OrderedDict()
_SHARED_MAX = 256


class _shared_cached_property:
    """Like :class:`functools.cached_property`, but also shared by equal (hashable) instances
    through a small LRU (:data:`_SHARED`). Values must be treated as read-only."""

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        try:
            store = _SHARED.get(obj)
            if store is None:
                store = _SHARED[obj] = {}
                if len(_SHARED) > _SHARED_MAX:
                    _SHARED.popitem(last=False)
            else:
                _SHARED.move_to_end(obj)
        except TypeError:  # unhashable: per-instance cache only
            store = {}
        if self.name in store:
            value = store[self.name]
        else:
            value = store[self.name] = self.func(obj)
        obj.__dict__[self.name] = value
        return value


# --------------------------------------------------------------------------------------------------
# the interface
# --------------------------------------------------------------------------------------------------


class Distribution(ABC):
    """A value distribution on ``[low, high]`` (``high`` may be ``inf``).

    Subclasses are frozen dataclasses; everything derived (grids, ironing) is cached lazily.
    """

    kind: ClassVar[str] = ""

    # ---- basic -----------------------------------------------------------------------------
    @property
    @abstractmethod
    def support(self) -> tuple[float, float]:
        """``(low, high)``; ``high`` is ``math.inf`` for an unbounded support."""

    @property
    @abstractmethod
    def mean(self) -> float:
        """The expectation ``E[X]``."""

    @abstractmethod
    def cdf(self, x: Any) -> Any:
        """``F(x) = P(X ≤ x)``."""

    @abstractmethod
    def pdf(self, x: Any) -> Any:
        """The density ``f(x)`` (the mass function for :class:`Empirical`)."""

    @abstractmethod
    def ppf(self, q: Any) -> Any:
        """The quantile function ``F⁻¹(q) = inf{x : F(x) ≥ q}`` for ``q ∈ [0, 1]``."""

    def sample(self, rng: Any, size: int | tuple[int, ...] | None = None) -> Any:
        """Draw values with a seeded ``numpy.random.Generator`` (an ``int`` seed is accepted).

        Inverse-transform sampling ``F⁻¹(U)`` unless a subclass overrides it; ``size=None`` gives a
        ``float``.
        """
        gen = _rng(rng)
        u = gen.random(size)
        return _ret(np.asarray(self.ppf(u), dtype=float), size is None)

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """The JSON form accepted by :func:`distribution_from_json`."""

    # ---- the two sides ----------------------------------------------------------------------
    @cached_property
    def buyer(self) -> BuyerView:
        """The buyer's side: ``φ``, ``φ⁻¹``, ``φ̄``, ``φ̄⁻¹`` and regularity of ``φ``."""
        return BuyerView(self)

    @cached_property
    def seller(self) -> SellerView:
        """The seller's side: ``ψ``, ``ψ⁻¹``, ``ψ̄``, ``ψ̄⁻¹`` and regularity of ``ψ``."""
        return SellerView(self)

    # ---- what a subclass implements for the views (private: use ``buyer`` / ``seller``) -------
    @abstractmethod
    def _phi(self, b: Any) -> Any:
        """Buyer virtual value ``φ(b) = b − (1 − F(b)) / f(b)`` (seed 003 eq. (14))."""

    @abstractmethod
    def _psi(self, a: Any) -> Any:
        """Seller virtual value ``ψ(a) = a + F(a) / f(a)`` (seed 003 eq. (13))."""

    @abstractmethod
    def _phi_inv(self, y: Any) -> Any:
        """``φ⁻¹(y) = inf{b ∈ [low, high] : φ(b) ≥ y}`` (clamped to the support)."""

    @abstractmethod
    def _psi_inv(self, y: Any) -> Any:
        """``ψ⁻¹(y) = sup{a ∈ [low, high] : ψ(a) ≤ y}`` (clamped to the support)."""

    @abstractmethod
    def _is_regular(self, buyer: bool) -> bool:
        """Whether ``φ`` (``buyer``) or ``ψ`` (not ``buyer``) is non-decreasing."""

    @abstractmethod
    def _phi_bar(self, b: Any) -> Any:
        """Myerson-ironed buyer virtual value ``φ̄(b)``: non-decreasing, ``= φ`` if regular."""

    @abstractmethod
    def _psi_bar(self, a: Any) -> Any:
        """Ironed seller virtual value ``ψ̄(a)``: non-decreasing, ``= ψ`` if regular."""

    @abstractmethod
    def _phi_bar_inv(self, y: Any) -> Any:
        """``φ̄⁻¹(y) = inf{b ∈ [low, high] : φ̄(b) ≥ y}`` (clamped to the support)."""

    @abstractmethod
    def _psi_bar_inv(self, y: Any) -> Any:
        """``ψ̄⁻¹(y) = sup{a ∈ [low, high] : ψ̄(a) ≤ y}`` (clamped to the support)."""


class SideView(ABC):
    """One side of a :class:`Distribution`: the virtual values of a buyer or of a seller whose
    value (cost) is drawn from it, with their inverses, ironing and regularity.

    Obtained as ``dist.buyer`` or ``dist.seller`` (never built directly); both views have the same
    five methods, so code written for one side works for the other. Every method is vectorised (a
    scalar gives a ``float``, an array an array of the same shape) and clips its argument into the
    support.

    Parameters
    ----------
    dist
        The distribution seen from this side.
    """

    __slots__ = ("dist",)

    #: ``"buyer"`` or ``"seller"``.
    role: ClassVar[Role]

    def __init__(self, dist: Distribution) -> None:
        self.dist = dist

    def __repr__(self) -> str:
        return f"{self.dist!r}.{self.role}"

    @abstractmethod
    def virtual_value(self, x: Any) -> Any:
        """The virtual value of a report ``x``."""

    @abstractmethod
    def inverse_virtual_value(self, y: Any) -> Any:
        """The report whose virtual value is the threshold ``y`` (generalised inverse)."""

    @abstractmethod
    def ironed_virtual_value(self, x: Any) -> Any:
        """The Myerson-ironed (non-decreasing) virtual value of ``x``."""

    @abstractmethod
    def inverse_ironed_virtual_value(self, y: Any) -> Any:
        """The critical report of a threshold ``y`` on the ironed virtual value."""

    @abstractmethod
    def is_regular(self) -> bool:
        """Whether this side's virtual value is non-decreasing (no ironing needed)."""


class BuyerView(SideView):
    """The buyer's side of a distribution ``F`` with density ``f`` on ``[low, high]``:
    the virtual bid ``φ(b) = b − (1 − F(b)) / f(b)`` (seed 003 eq. (14), Myerson 1981)."""

    __slots__ = ()
    role: ClassVar[Role] = "buyer"

    def virtual_value(self, x: Any) -> Any:
        """Virtual bid ``φ(b) = b − (1 − F(b)) / f(b)`` (seed 003 eq. (14)) of ``b``
        clipped into the support.

        Parameters
        ----------
        x
            Bid(s) ``b``, scalar or array.

        Returns
        -------
        float or numpy.ndarray
            ``φ(b)``; ``−inf`` inside a gap of the support (``f = 0``).
        """
        return self.dist._phi(x)

    def inverse_virtual_value(self, y: Any) -> Any:
        """Lower generalised inverse ``φ⁻¹(y) = inf{b ∈ [low, high] : φ(b) ≥ y}``.

        ``low`` when ``y ≤ φ(low)``, ``high`` when ``y > sup φ``: the critical bid of a virtual
        threshold ``y`` with ties counted as wins.
        """
        return self.dist._phi_inv(y)

    def ironed_virtual_value(self, x: Any) -> Any:
        """Ironed virtual bid ``φ̄(b)``: the derivative in quantile space of the lower convex hull
        of ``H(q) = ∫_0^q φ(F⁻¹(t)) dt`` (Myerson 1981 §6); non-decreasing, ``= φ`` if regular.
        District-D ranks buyers by it (seed 003 eq. (14), ironed)."""
        return self.dist._phi_bar(x)

    def inverse_ironed_virtual_value(self, y: Any) -> Any:
        """``φ̄⁻¹(y) = inf{b ∈ [low, high] : φ̄(b) ≥ y}``: the critical bid of a threshold ``y``
        on the ironed virtual bid (clamped to the support)."""
        return self.dist._phi_bar_inv(y)

    def is_regular(self) -> bool:
        """Whether ``φ`` is non-decreasing on the support (then ``φ̄ = φ``)."""
        return self.dist._is_regular(True)


class SellerView(SideView):
    """The seller's side of a distribution ``F`` with density ``f`` on ``[low, high]``:
    the virtual ask ``ψ(a) = a + F(a) / f(a)`` (seed 003 eq. (13), Myerson 1981)."""

    __slots__ = ()
    role: ClassVar[Role] = "seller"

    def virtual_value(self, x: Any) -> Any:
        """Virtual ask ``ψ(a) = a + F(a) / f(a)`` (seed 003 eq. (13)) of ``a`` clipped into the
        support.

        Parameters
        ----------
        x
            Ask(s) ``a``, scalar or array.

        Returns
        -------
        float or numpy.ndarray
            ``ψ(a)``; ``+inf`` inside a gap of the support (``f = 0``).
        """
        return self.dist._psi(x)

    def inverse_virtual_value(self, y: Any) -> Any:
        """Upper generalised inverse ``ψ⁻¹(y) = sup{a ∈ [low, high] : ψ(a) ≤ y}``.

        ``low`` when ``y < ψ(low)``, ``high`` when ``y ≥ sup ψ``: the critical ask of a virtual
        threshold ``y`` with ties counted as wins.
        """
        return self.dist._psi_inv(y)

    def ironed_virtual_value(self, x: Any) -> Any:
        """Ironed virtual ask ``ψ̄(a)``: the derivative in quantile space of the lower convex hull
        of ``K(q) = ∫_0^q ψ(F⁻¹(t)) dt`` (Myerson 1981 §6); non-decreasing, ``= ψ`` if regular.
        District-D ranks sellers by it (seed 003 eq. (13), ironed)."""
        return self.dist._psi_bar(x)

    def inverse_ironed_virtual_value(self, y: Any) -> Any:
        """``ψ̄⁻¹(y) = sup{a ∈ [low, high] : ψ̄(a) ≤ y}``: the critical ask of a threshold ``y``
        on the ironed virtual ask (clamped to the support)."""
        return self.dist._psi_bar_inv(y)

    def is_regular(self) -> bool:
        """Whether ``ψ`` is non-decreasing on the support (then ``ψ̄ = ψ``)."""
        return self.dist._is_regular(False)


# --------------------------------------------------------------------------------------------------
# continuous distributions: generic numerics
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ironing:
    """Ironing data of one side on the value grid ``xs``.

    ``lows``/``highs``/``slopes``: the ironing intervals (value space) and their constant ironed
    value; ``table``: the ironed virtual value at ``xs`` (non-decreasing).
    """

    xs: np.ndarray
    table: np.ndarray
    lows: np.ndarray
    highs: np.ndarray
    slopes: np.ndarray


class ContinuousDistribution(Distribution):
    """Generic numerics for a distribution with a density on its support.

    Subclasses implement ``support``, ``mean``, ``cdf``, ``sf`` (``1 − F``), ``pdf``, ``ppf`` and
    may override the virtual values and their inverses with closed forms.
    """

    @abstractmethod
    def sf(self, x: Any) -> Any:
        """Survival function ``1 − F(x)`` (computed without cancellation where possible)."""

    # ---- raw virtual values ------------------------------------------------------------------
    def _clip(self, x: np.ndarray) -> np.ndarray:
        lo, hi = self.support
        return np.asarray(np.clip(x, lo, hi), dtype=float)

    def _sf_over_pdf(self, x: np.ndarray) -> np.ndarray:
        """``(1 − F(x)) / f(x)`` on the support (``inf`` where ``f = 0 < 1 − F``)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.asarray(self.sf(x), dtype=float)
            f = np.asarray(self.pdf(x), dtype=float)
            return np.where(s <= 0, 0.0, s / f)

    def _cdf_over_pdf(self, x: np.ndarray) -> np.ndarray:
        """``F(x) / f(x)`` on the support (``inf`` where ``f = 0 < F``)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.asarray(self.cdf(x), dtype=float)
            f = np.asarray(self.pdf(x), dtype=float)
            return np.where(c <= 0, 0.0, c / f)

    def _phi(self, b: Any) -> Any:
        """Buyer virtual value ``φ(b) = b − (1 − F(b)) / f(b)`` (seed 003 eq. (14)).

        ``b`` is clipped into the support; ``−inf`` inside a gap of the support (``f = 0``).
        """
        arr, scalar = _arr(b)
        x = self._clip(arr)
        return _ret(x - self._sf_over_pdf(x), scalar)

    def _psi(self, a: Any) -> Any:
        """Seller virtual value ``ψ(a) = a + F(a) / f(a)`` (seed 003 eq. (13)).

        ``a`` is clipped into the support; ``+inf`` inside a gap of the support (``f = 0``).
        """
        arr, scalar = _arr(a)
        x = self._clip(arr)
        return _ret(x + self._cdf_over_pdf(x), scalar)

    # ---- grids -------------------------------------------------------------------------------
    @_shared_cached_property
    def _qgrid(self) -> tuple[np.ndarray, np.ndarray]:
        """``(q, x)``: the quantile grid and ``x = F⁻¹(q)`` (finite points only)."""
        q = _QGRID
        x = np.asarray(self.ppf(q), dtype=float)
        keep = np.isfinite(x)
        return q[keep], x[keep]

    @_shared_cached_property
    def _xgrid(self) -> np.ndarray:
        """Sorted distinct value grid with the midpoints of consecutive quantile points.

        Midpoints land inside gaps of the support, where ``f = 0``.
        """
        x = np.unique(self._qgrid[1])
        grid = np.unique(np.concatenate([x, 0.5 * (x[:-1] + x[1:])]))
        pos = np.asarray(self.pdf(grid), dtype=float) > 0
        change = np.flatnonzero(pos[:-1] != pos[1:])
        if change.size == 0:
            return grid
        # locate the ends of each gap precisely (bisection on f > 0), so that the cell of the grid
        # holding a gap starts and ends on the support: the ironing table is then exact there
        a, b = grid[change].copy(), grid[change + 1].copy()
        a_pos = pos[change]
        for _ in range(80):
            m = 0.5 * (a + b)
            m_pos = np.asarray(self.pdf(m), dtype=float) > 0
            same = m_pos == a_pos
            a = np.where(same, m, a)
            b = np.where(same, b, m)
        ends = np.where(a_pos, a, b)  # the end lying on the support (f > 0)
        return np.unique(np.concatenate([grid, ends]))

    @_shared_cached_property
    def _phi_table(self) -> np.ndarray:
        return np.asarray(self._phi(self._xgrid), dtype=float)

    @_shared_cached_property
    def _psi_table(self) -> np.ndarray:
        return np.asarray(self._psi(self._xgrid), dtype=float)

    @_shared_cached_property
    def _regular(self) -> tuple[bool, bool]:
        def nondecreasing(v: np.ndarray) -> bool:
            # ±inf allowed (ψ may overflow at the top of a far tail); −inf after a finite value
            # (a gap of the support) or NaN is a violation
            prev = v[:-1]
            tol = np.where(np.isfinite(prev), 1e-9 * (1.0 + np.abs(prev)), 0.0)
            with np.errstate(invalid="ignore"):
                return bool(np.all(v[1:] >= prev - tol))

        return nondecreasing(self._phi_table), nondecreasing(self._psi_table)

    def _is_regular(self, buyer: bool) -> bool:
        """Regularity: ``φ`` / ``ψ`` non-decreasing on a fine grid (:data:`GRID_POINTS` quantiles
        and the midpoints between them, so gaps of the support are detected)."""
        phi_ok, psi_ok = self._regular
        return bool(phi_ok if buyer else psi_ok)

    # ---- generic inverses ---------------------------------------------------------------------
    def _generic_inverse(
        self,
        func: Callable[[np.ndarray], np.ndarray],
        xs: np.ndarray,
        vals: np.ndarray,
        y: Any,
        buyer: bool,
    ) -> Any:
        """Generalised inverse of ``func`` (tabulated as ``vals`` on sorted grid ``xs``).

        Buyer: ``inf{x : func(x) ≥ y}``; seller: ``sup{x : func(x) ≤ y}``; clamped to the support.
        The grid gives a bracket, :func:`_bracket_solve` refines it.
        """
        yarr, scalar = _arr(y)
        yf = yarr.reshape(-1)
        low, high = self.support
        n = len(xs)
        out = np.empty(yf.shape, dtype=float)
        if buyer:
            env = self._envelope(vals, True)
            idx = np.searchsorted(env, yf, side="left")  # first i with env_i ≥ y
            out[idx == 0] = low
            top = idx >= n
            out[top] = high
            mid = np.flatnonzero((idx > 0) & ~top)
            if mid.size:
                i = idx[mid]
                out[mid] = _bracket_solve(func, yf[mid], xs[i - 1], xs[i], buyer=True)
        else:
            env = self._envelope(vals, False)
            idx = np.searchsorted(env, yf, side="right") - 1  # last i with env_i ≤ y
            out[idx < 0] = low
            top = idx >= n - 1
            out[top] = high
            mid = np.flatnonzero((idx >= 0) & ~top)
            if mid.size:
                i = idx[mid]
                out[mid] = _bracket_solve(func, yf[mid], xs[i], xs[i + 1], buyer=False)
        if math.isinf(high):
            beyond = np.flatnonzero(top & (yf > vals[-1]) if buyer else top & (yf >= vals[-1]))
            if beyond.size:
                out[beyond] = self._beyond_grid(func, yf[beyond], xs[-1], buyer)
        out[np.isnan(yf)] = math.nan
        return _ret(out.reshape(yarr.shape), scalar)

    @_shared_cached_property
    def _envelopes(self) -> dict[tuple[int, bool], np.ndarray]:
        return {}

    def _envelope(self, vals: np.ndarray, buyer: bool) -> np.ndarray:
        """Running max (buyer) / running min from the right (seller) of a table, cached."""
        key = (id(vals), buyer)
        env: np.ndarray | None = self._envelopes.get(key)
        if env is None:
            env = np.maximum.accumulate(vals) if buyer else np.minimum.accumulate(vals[::-1])[::-1]
            self._envelopes[key] = env
        return env

    def _beyond_grid(
        self, func: Callable[[np.ndarray], np.ndarray], y: np.ndarray, start: float, buyer: bool
    ) -> np.ndarray:
        """Inverse for ``y`` above the last tabulated value of an unbounded support: widen the
        bracket geometrically, then solve (``inf`` if ``func`` never reaches ``y``)."""
        low = self.support[0]
        step = max(1.0, start - low)
        a = np.full(y.shape, start)
        b = np.full(y.shape, start + step)
        with np.errstate(all="ignore"):
            for _ in range(1100):
                fb = func(b)
                need = fb < y if buyer else fb <= y
                if not need.any():
                    break
                a = np.where(need, b, a)
                b = np.where(need, b + 2.0 * (b - low), b)
        ok = np.isfinite(b)
        out = np.full(y.shape, math.inf)
        if ok.any():
            out[ok] = _bracket_solve(func, y[ok], a[ok], b[ok], buyer=buyer)
        return out

    def _phi_inv(self, y: Any) -> Any:
        """``φ⁻¹(y) = inf{b ∈ [low, high] : φ(b) ≥ y}``: ``low`` if ``y ≤ φ(low)``, ``high`` if
        ``y > sup φ``; numeric (grid bracket + Illinois/bisection) unless overridden."""
        return self._generic_inverse(self._phi_raw, self._xgrid, self._phi_table, y, True)

    def _psi_inv(self, y: Any) -> Any:
        """``ψ⁻¹(y) = sup{a ∈ [low, high] : ψ(a) ≤ y}``: ``low`` if ``y < ψ(low)``, ``high`` if
        ``y ≥ sup ψ``; numeric unless overridden."""
        return self._generic_inverse(self._psi_raw, self._xgrid, self._psi_table, y, False)

    def _phi_raw(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._phi(x), dtype=float)

    def _psi_raw(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._psi(x), dtype=float)

    # ---- ironing ------------------------------------------------------------------------------
    def _hull_intervals(
        self, q: np.ndarray, x: np.ndarray, buyer: bool
    ) -> tuple[list[float], list[float], list[float], list[int]]:
        """Ironing intervals of the tabulated curve ``H`` (buyer) / ``K`` (seller) on grid ``q``.

        Returns value-space ends, slopes and the grid indices of the ends (for refinement).
        """
        raw_q = np.asarray(self._phi(x) if buyer else self._psi(x), dtype=float)
        keep = np.isfinite(raw_q)
        q, x, raw_q = q[keep], x[keep], raw_q[keep]
        exact = -(1.0 - q) * x if buyer else q * x
        inc = np.diff(exact)
        gap = np.asarray(self.pdf(0.5 * (x[1:] + x[:-1])), dtype=float) <= 0
        if gap.any():
            trap = 0.5 * (raw_q[1:] + raw_q[:-1]) * np.diff(q)
            inc = np.where(gap, trap, inc)
        curve = np.concatenate([[0.0], np.cumsum(inc)])
        hull = _lower_hull(q, curve)
        scale = 1.0 + float(np.max(np.abs(curve)))
        lows: list[float] = []
        highs: list[float] = []
        slopes: list[float] = []
        ends: list[int] = []
        kept = np.flatnonzero(keep)
        for i, j in pairwise(hull):
            if j - i < 2:
                continue
            slope = (curve[j] - curve[i]) / (q[j] - q[i])
            line = curve[i] + slope * (q[i + 1 : j] - q[i])
            if np.max(curve[i + 1 : j] - line) > 1e-11 * scale:
                lows.append(float(x[i]))
                highs.append(float(x[j]))
                slopes.append(float(slope))
                ends.extend([int(kept[i]), int(kept[j])])
        return lows, highs, slopes, ends

    def _iron(self, buyer: bool) -> _Ironing:
        """Myerson ironing in quantile space (Myerson 1981 §6).

        Buyer: ``H(q) = ∫_0^q φ(F⁻¹(t)) dt``, seller: ``K(q) = ∫_0^q ψ(F⁻¹(t)) dt``, tabulated on
        the quantile grid. Between consecutive grid points the increments are exact by integration
        by parts (``H = low − (1 − q) F⁻¹(q)``, ``K = q F⁻¹(q)``, valid where ``F⁻¹`` is
        continuous); across a gap of the support (density 0 between the two grid values, where
        ``F⁻¹`` jumps) the trapezoid rule on ``φ``/``ψ`` is used instead. The lower convex hull of
        the tabulated curve gives the ironing intervals: a hull edge that skips grid points lying
        strictly above it is an interval on which the ironed value is the edge's slope. Outside
        the intervals the ironed value is the exact ``φ``/``ψ``; finally it is clipped into the
        (non-decreasing) tabulated values of the neighbouring grid points, which makes it
        non-decreasing everywhere even at the grid resolution. Interval ends are accurate to the
        grid spacing (``≈ 2.4e-4`` in quantile).
        """
        q, x = self._qgrid
        lows, highs, slopes, ends = self._hull_intervals(q, x, buyer)
        for _ in range(3):  # refine the grid around the interval ends (≈ 32× finer per round)
            if not ends:
                break
            extra = [np.linspace(q[max(e - 1, 0)], q[min(e + 1, len(q) - 1)], 65) for e in ends]
            q_add = np.setdiff1d(np.concatenate(extra), q)
            x_add = np.asarray(self.ppf(q_add), dtype=float)
            ok = np.isfinite(x_add)
            q_all = np.concatenate([q, q_add[ok]])
            order = np.argsort(q_all, kind="stable")
            q, x = q_all[order], np.concatenate([x, x_add[ok]])[order]
            lows, highs, slopes, ends = self._hull_intervals(q, x, buyer)
        lo_arr, hi_arr, sl_arr = np.array(lows), np.array(highs), np.array(slopes)
        raw = self._phi_table if buyer else self._psi_table
        finite = np.isfinite(raw)  # drop grid points inside gaps of the support (f = 0)
        xs, raw = self._xgrid[finite], raw[finite]
        table = np.maximum.accumulate(self._ironed_unclipped(xs, raw, lo_arr, hi_arr, sl_arr))
        return _Ironing(xs, table, lo_arr, hi_arr, sl_arr)

    @staticmethod
    def _ironed_unclipped(
        x: np.ndarray, raw: np.ndarray, lows: np.ndarray, highs: np.ndarray, slopes: np.ndarray
    ) -> np.ndarray:
        """The slope on an ironing interval, else the raw value clipped between the slopes of the
        neighbouring intervals."""
        if lows.size == 0:
            return raw
        k = np.searchsorted(lows, x, side="right") - 1
        kc = np.clip(k, 0, len(lows) - 1)
        inside = (k >= 0) & (x <= highs[kc])
        prev = np.where(k >= 0, slopes[kc], -np.inf)
        nxt_i = np.clip(k + 1, 0, len(lows) - 1)
        nxt = np.where(k + 1 < len(lows), slopes[nxt_i], np.inf)
        return np.where(inside, slopes[kc], np.clip(raw, prev, nxt))

    @_shared_cached_property
    def _ironing_buyer(self) -> _Ironing | None:
        return None if self._is_regular(True) else self._iron(True)

    @_shared_cached_property
    def _ironing_seller(self) -> _Ironing | None:
        return None if self._is_regular(False) else self._iron(False)

    def _apply_ironing(self, ir: _Ironing, x: np.ndarray, raw: np.ndarray) -> np.ndarray:
        val = self._ironed_unclipped(x, raw, ir.lows, ir.highs, ir.slopes)
        n = len(ir.xs)
        i = np.searchsorted(ir.xs, x, side="right") - 1
        lo = ir.table[np.clip(i, 0, n - 1)]
        hi = np.where(i + 1 < n, ir.table[np.clip(i + 1, 0, n - 1)], np.inf)
        return np.asarray(np.clip(val, lo, hi), dtype=float)

    def _phi_bar(self, b: Any) -> Any:
        """Ironed buyer virtual value ``φ̄(b)`` (Myerson 1981 §6; see :meth:`_iron`).

        Equals :meth:`_phi` exactly when the distribution is regular.
        """
        ir = self._ironing_buyer
        if ir is None:
            return self._phi(b)
        arr, scalar = _arr(b)
        x = self._clip(arr)
        return _ret(self._apply_ironing(ir, x, self._phi_raw(x)), scalar)

    def _psi_bar(self, a: Any) -> Any:
        """Ironed seller virtual value ``ψ̄(a)``; equals :meth:`_psi` if regular."""
        ir = self._ironing_seller
        if ir is None:
            return self._psi(a)
        arr, scalar = _arr(a)
        x = self._clip(arr)
        return _ret(self._apply_ironing(ir, x, self._psi_raw(x)), scalar)

    def _phi_bar_inv(self, y: Any) -> Any:
        """``φ̄⁻¹(y) = inf{b ∈ [low, high] : φ̄(b) ≥ y}`` (the critical bid of a threshold)."""
        ir = self._ironing_buyer
        if ir is None:
            return self._phi_inv(y)

        def f(x: np.ndarray) -> np.ndarray:
            return np.asarray(self._phi_bar(x), dtype=float)

        return self._generic_inverse(f, ir.xs, ir.table, y, True)

    def _psi_bar_inv(self, y: Any) -> Any:
        """``ψ̄⁻¹(y) = sup{a ∈ [low, high] : ψ̄(a) ≤ y}`` (the critical ask of a threshold)."""
        ir = self._ironing_seller
        if ir is None:
            return self._psi_inv(y)

        def f(x: np.ndarray) -> np.ndarray:
            return np.asarray(self._psi_bar(x), dtype=float)

        return self._generic_inverse(f, ir.xs, ir.table, y, False)


# --------------------------------------------------------------------------------------------------
# uniform
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Uniform(ContinuousDistribution):
    """Uniform distribution on ``[low, high]``; every formula in closed form.

    ``φ(b) = 2b − high``, ``ψ(a) = 2a − low``, ``φ⁻¹(y) = (y + high) / 2``,
    ``ψ⁻¹(y) = (y + low) / 2`` (clamped to ``[low, high]``). Always regular.

    Parameters
    ----------
    low, high
        Finite bounds, ``low < high``.
    """

    low: float
    high: float
    kind: ClassVar[str] = "uniform"

    def __post_init__(self) -> None:
        low = _num("low", self.low)
        high = _num("high", self.high)
        if not low < high:
            raise InvalidInput("high", self.high, f"must be greater than low ({low!r})")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @property
    def support(self) -> tuple[float, float]:
        return (self.low, self.high)

    @property
    def mean(self) -> float:
        return 0.5 * (self.low + self.high)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "low": self.low, "high": self.high}

    def cdf(self, x: Any) -> Any:
        arr, scalar = _arr(x)
        return _ret(np.clip((arr - self.low) / (self.high - self.low), 0.0, 1.0), scalar)

    def sf(self, x: Any) -> Any:
        arr, scalar = _arr(x)
        return _ret(np.clip((self.high - arr) / (self.high - self.low), 0.0, 1.0), scalar)

    def pdf(self, x: Any) -> Any:
        arr, scalar = _arr(x)
        inside = (arr >= self.low) & (arr <= self.high)
        return _ret(np.where(inside, 1.0 / (self.high - self.low), 0.0), scalar)

    def ppf(self, q: Any) -> Any:
        arr, scalar = _arr(q)
        return _ret(self.low + np.clip(arr, 0.0, 1.0) * (self.high - self.low), scalar)

    def sample(self, rng: Any, size: int | tuple[int, ...] | None = None) -> Any:
        """``size`` draws of ``rng.uniform(low, high)``."""
        out = _rng(rng).uniform(self.low, self.high, size)
        return float(out) if size is None else np.asarray(out, dtype=float)

    def _phi(self, b: Any) -> Any:
        """``φ(b) = 2b − high`` for ``b`` clipped into ``[low, high]``."""
        arr, scalar = _arr(b)
        return _ret(2.0 * np.clip(arr, self.low, self.high) - self.high, scalar)

    def _psi(self, a: Any) -> Any:
        """``ψ(a) = 2a − low`` for ``a`` clipped into ``[low, high]``."""
        arr, scalar = _arr(a)
        return _ret(2.0 * np.clip(arr, self.low, self.high) - self.low, scalar)

    def _phi_inv(self, y: Any) -> Any:
        """``φ⁻¹(y) = (y + high) / 2`` clamped to ``[low, high]``."""
        arr, scalar = _arr(y)
        return _ret(np.clip(0.5 * (arr + self.high), self.low, self.high), scalar)

    def _psi_inv(self, y: Any) -> Any:
        """``ψ⁻¹(y) = (y + low) / 2`` clamped to ``[low, high]``."""
        arr, scalar = _arr(y)
        return _ret(np.clip(0.5 * (arr + self.low), self.low, self.high), scalar)

    def _is_regular(self, buyer: bool) -> bool:
        """Always ``True`` (``φ``, ``ψ`` have slope 2)."""
        return True

    def _phi_bar(self, b: Any) -> Any:
        """Regular: ``φ̄ = φ``."""
        return self._phi(b)

    def _psi_bar(self, a: Any) -> Any:
        """Regular: ``ψ̄ = ψ``."""
        return self._psi(a)

    def _phi_bar_inv(self, y: Any) -> Any:
        """Regular: ``φ̄⁻¹ = φ⁻¹``."""
        return self._phi_inv(y)

    def _psi_bar_inv(self, y: Any) -> Any:
        """Regular: ``ψ̄⁻¹ = ψ⁻¹``."""
        return self._psi_inv(y)


# --------------------------------------------------------------------------------------------------
# exponential
# --------------------------------------------------------------------------------------------------


def _w_of_exp(c: np.ndarray) -> np.ndarray:
    """Solve ``w + ln w = c`` (i.e. ``w = W(eᶜ)``, Lambert W) for ``c ≥ 1``, overflow-free."""
    c = np.asarray(c, dtype=float)
    out = np.empty_like(c)
    small = c <= 500.0
    if small.any():
        from scipy import special

        out[small] = special.lambertw(np.exp(c[small])).real
    big = ~small
    if big.any():
        cb = c[big]
        w = cb - np.log(cb)
        for _ in range(6):  # Newton on g(w) = w + ln w − c, g' = 1 + 1/w
            w = w - (w + np.log(w) - cb) / (1.0 + 1.0 / w)
        out[big] = w
    return out


@dataclass(frozen=True)
class Exponential(ContinuousDistribution):
    """Exponential distribution with ``rate`` λ, shifted to start at ``shift``: support
    ``[shift, ∞)``, ``F(x) = 1 − e^{−λ(x − shift)}``; every formula in closed form.

    ``φ(b) = b − 1/λ`` (constant hazard), ``ψ(a) = a + (e^{λ(a − shift)} − 1)/λ``,
    ``φ⁻¹(y) = max(shift, y + 1/λ)``, ``ψ⁻¹(y) = shift + (c − W(eᶜ))/λ`` with
    ``c = 1 + λ(y − shift)`` (Lambert W; ``shift`` for ``y ≤ shift``). Always regular.

    Parameters
    ----------
    rate
        λ > 0 (finite).
    shift
        Left end of the support (finite, default 0).
    """

    rate: float
    shift: float = 0.0
    kind: ClassVar[str] = "exponential"

    def __post_init__(self) -> None:
        rate = _num("rate", self.rate)
        if rate <= 0:
            raise InvalidInput("rate", self.rate, "must be > 0")
        object.__setattr__(self, "rate", rate)
        object.__setattr__(self, "shift", _num("shift", self.shift))

    @property
    def support(self) -> tuple[float, float]:
        return (self.shift, math.inf)

    @property
    def mean(self) -> float:
        return self.shift + 1.0 / self.rate

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "rate": self.rate, "shift": self.shift}

    def cdf(self, x: Any) -> Any:
        arr, scalar = _arr(x)
        z = np.maximum(arr - self.shift, 0.0)
        return _ret(-np.expm1(-self.rate * z), scalar)

    def sf(self, x: Any) -> Any:
        arr, scalar = _arr(x)
        z = np.maximum(arr - self.shift, 0.0)
        return _ret(np.exp(-self.rate * z), scalar)

    def pdf(self, x: Any) -> Any:
        arr, scalar = _arr(x)
        z = arr - self.shift
        with np.errstate(over="ignore"):
            val = np.where(z >= 0, self.rate * np.exp(-self.rate * np.maximum(z, 0.0)), 0.0)
        return _ret(val, scalar)

    def ppf(self, q: Any) -> Any:
        arr, scalar = _arr(q)
        with np.errstate(divide="ignore"):
            return _ret(self.shift - np.log1p(-np.clip(arr, 0.0, 1.0)) / self.rate, scalar)

    def sample(self, rng: Any, size: int | tuple[int, ...] | None = None) -> Any:
        """``shift + rng.exponential(1/rate, size)``."""
        out = self.shift + _rng(rng).exponential(1.0 / self.rate, size)
        return float(out) if size is None else np.asarray(out, dtype=float)

    def _phi(self, b: Any) -> Any:
        """``φ(b) = b − 1/λ`` for ``b ≥ shift`` (``b`` below the support is raised to ``shift``)."""
        arr, scalar = _arr(b)
        return _ret(np.maximum(arr, self.shift) - 1.0 / self.rate, scalar)

    def _psi(self, a: Any) -> Any:
        """``ψ(a) = a + (e^{λ(a − shift)} − 1)/λ`` for ``a ≥ shift`` (``inf`` on overflow)."""
        arr, scalar = _arr(a)
        x = np.maximum(arr, self.shift)
        with np.errstate(over="ignore"):
            return _ret(x + np.expm1(self.rate * (x - self.shift)) / self.rate, scalar)

    def _phi_inv(self, y: Any) -> Any:
        """``φ⁻¹(y) = max(shift, y + 1/λ)``."""
        arr, scalar = _arr(y)
        return _ret(np.maximum(arr + 1.0 / self.rate, self.shift), scalar)

    def _psi_inv(self, y: Any) -> Any:
        """Closed form via Lambert W: with ``u = λ(a − shift)`` the equation ``ψ(a) = y`` is
        ``u + eᵘ = c := 1 + λ(y − shift)``, so ``u = c − W(eᶜ)``; ``shift`` for ``y ≤ shift``;
        ``inf`` for ``y = inf``."""
        arr, scalar = _arr(y)
        c = 1.0 + self.rate * (arr - self.shift)
        out = np.full(arr.shape, self.shift, dtype=float)
        pos = np.isfinite(c) & (c > 1.0)
        if pos.any():
            cc = c[pos]
            u = np.maximum(np.log(_w_of_exp(cc)), 0.0)  # u = c − w = ln w (no cancellation)
            out[pos] = self.shift + u / self.rate
        out[np.isposinf(arr)] = math.inf
        out[np.isnan(arr)] = math.nan
        return _ret(out, scalar)

    def _is_regular(self, buyer: bool) -> bool:
        """Always ``True`` (``φ`` has slope 1, ``ψ`` slope ``e^{λ(a−shift)} + 1``)."""
        return True

    def _phi_bar(self, b: Any) -> Any:
        """Regular: ``φ̄ = φ``."""
        return self._phi(b)

    def _psi_bar(self, a: Any) -> Any:
        """Regular: ``ψ̄ = ψ``."""
        return self._psi(a)

    def _phi_bar_inv(self, y: Any) -> Any:
        """Regular: ``φ̄⁻¹ = φ⁻¹``."""
        return self._phi_inv(y)

    def _psi_bar_inv(self, y: Any) -> Any:
        """Regular: ``ψ̄⁻¹ = ψ⁻¹``."""
        return self._psi_inv(y)


# --------------------------------------------------------------------------------------------------
# truncated normal
# --------------------------------------------------------------------------------------------------


def _log_mass(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """``log(Φ(b) − Φ(a))`` for ``a ≤ b`` without cancellation (upper tail via ``Φ(−·)``)."""
    from scipy import special  # here, not at the top: loading scipy costs ~0.5 s at start-up

    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    out = np.empty(a.shape, dtype=float)
    up = a >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        if up.any():
            la = special.log_ndtr(-a[up])
            lb = special.log_ndtr(-b[up])
            out[up] = la + np.log1p(-np.exp(lb - la))
        dn = ~up
        if dn.any():
            la = special.log_ndtr(a[dn])
            lb = special.log_ndtr(b[dn])
            out[dn] = lb + np.log1p(-np.exp(la - lb))
    return out


@dataclass(frozen=True)
class TruncatedNormal(ContinuousDistribution):
    """Normal ``N(mean, sd²)`` truncated to ``[low, high]`` (log-concave, hence regular).

    With ``z = (x − mean)/sd``, ``α``, ``β`` the standardised bounds:
    ``(1 − F(x))/f(x) = sd·(Φ(β) − Φ(z))/φ_N(z)`` and ``F(x)/f(x) = sd·(Φ(z) − Φ(α))/φ_N(z)``,
    both evaluated in log space (:func:`_log_mass`) so that far tails do not overflow. Inverses
    are numeric (grid bracket + Illinois regula falsi, machine precision).

    Parameters
    ----------
    mean, sd
        Location and scale of the untruncated normal (``sd > 0``); stored as ``mean_`` and
        ``sd`` (the ``mean`` property is the expectation of the truncated law).
    low, high
        Finite truncation bounds, ``low < high``, with non-negligible mass between them.
    """

    mean_: float
    sd: float
    low: float
    high: float
    kind: ClassVar[str] = "truncated_normal"

    def __init__(self, mean: Any, sd: Any, low: Any, high: Any) -> None:
        m = _num("mean", mean)
        s = _num("sd", sd)
        if s <= 0:
            raise InvalidInput("sd", sd, "must be > 0")
        lo = _num("low", low)
        hi = _num("high", high)
        if not lo < hi:
            raise InvalidInput("high", high, f"must be greater than low ({lo!r})")
        object.__setattr__(self, "mean_", m)
        object.__setattr__(self, "sd", s)
        object.__setattr__(self, "low", lo)
        object.__setattr__(self, "high", hi)
        if self._log_z < -700.0:
            raise InvalidInput(
                "high", high, "[low, high] carries (numerically) no mass under N(mean, sd^2)"
            )

    @cached_property
    def _alpha(self) -> float:
        return (self.low - self.mean_) / self.sd

    @cached_property
    def _beta(self) -> float:
        return (self.high - self.mean_) / self.sd

    @cached_property
    def _log_z(self) -> float:
        return float(_log_mass(np.array(self._alpha), np.array(self._beta)))

    @property
    def support(self) -> tuple[float, float]:
        return (self.low, self.high)

    @property
    def mean(self) -> float:
        from scipy import stats

        return float(stats.truncnorm.mean(self._alpha, self._beta, loc=self.mean_, scale=self.sd))

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "mean": self.mean_,
            "sd": self.sd,
            "low": self.low,
            "high": self.high,
        }

    def _z(self, x: np.ndarray) -> np.ndarray:
        return np.asarray((np.clip(x, self.low, self.high) - self.mean_) / self.sd, dtype=float)

    def cdf(self, x: Any) -> Any:
        arr, scalar = _arr(x)
        z = self._z(arr)
        return _ret(np.clip(np.exp(_log_mass(self._alpha, z) - self._log_z), 0.0, 1.0), scalar)

    def sf(self, x: Any) -> Any:
        arr, scalar = _arr(x)
        z = self._z(arr)
        return _ret(np.clip(np.exp(_log_mass(z, self._beta) - self._log_z), 0.0, 1.0), scalar)

    def pdf(self, x: Any) -> Any:
        arr, scalar = _arr(x)
        z = (arr - self.mean_) / self.sd
        dens = np.exp(-0.5 * z * z - _LOG_SQRT_2PI - self._log_z) / self.sd
        inside = (arr >= self.low) & (arr <= self.high)
        return _ret(np.where(inside, dens, 0.0), scalar)

    def ppf(self, q: Any) -> Any:
        from scipy import stats

        arr, scalar = _arr(q)
        val = stats.truncnorm.ppf(
            np.clip(arr, 0.0, 1.0), self._alpha, self._beta, loc=self.mean_, scale=self.sd
        )
        return _ret(np.clip(np.asarray(val, dtype=float), self.low, self.high), scalar)

    def _log_pdf_std(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(-0.5 * z * z - _LOG_SQRT_2PI, dtype=float)

    def _sf_over_pdf(self, x: np.ndarray) -> np.ndarray:
        z = self._z(x)
        with np.errstate(over="ignore"):
            return np.asarray(
                self.sd * np.exp(_log_mass(z, self._beta) - self._log_pdf_std(z)), dtype=float
            )

    def _cdf_over_pdf(self, x: np.ndarray) -> np.ndarray:
        z = self._z(x)
        with np.errstate(over="ignore"):
            return np.asarray(
                self.sd * np.exp(_log_mass(self._alpha, z) - self._log_pdf_std(z)), dtype=float
            )


# --------------------------------------------------------------------------------------------------
# histogram (piecewise-uniform density)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Histogram(ContinuousDistribution):
    """Piecewise-uniform density: bin ``[edges[j], edges[j+1]]`` carries probability ``probs[j]``.

    The continuous interpretation of an empirical distribution: ``φ`` is piecewise linear with
    slope 2 inside each bin and jumps at an edge by ``(1 − F)(1/d_j − 1/d_{j+1})`` (``d`` = bin
    density), so it is irregular exactly where the density decreases enough. All ``probs`` must
    be ``> 0`` (the support is one interval; merge or drop empty bins).

    Parameters
    ----------
    edges
        ``k + 1`` strictly increasing finite bin edges.
    probs
        ``k`` bin probabilities ``> 0`` summing to 1 (within :data:`SUM_TOL`; renormalised).
    """

    edges: tuple[float, ...]
    probs: tuple[float, ...]
    kind: ClassVar[str] = "histogram"

    def __post_init__(self) -> None:
        edges = _num_seq("edges", self.edges, min_len=2)
        for i in range(1, len(edges)):
            if not edges[i] > edges[i - 1]:
                raise InvalidInput(f"edges[{i}]", edges[i], "edges must be strictly increasing")
        probs = _probabilities("probs", self.probs, strict_positive=True)
        if len(probs) != len(edges) - 1:
            raise InvalidInput(
                "probs", list(self.probs), f"must have len(edges) - 1 = {len(edges) - 1} entries"
            )
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "probs", probs)

    @cached_property
    def _e(self) -> np.ndarray:
        return np.asarray(self.edges)

    @cached_property
    def _cum(self) -> np.ndarray:
        cum = np.concatenate([[0.0], np.cumsum(self.probs)])
        cum[-1] = 1.0
        return cum

    @cached_property
    def _dens(self) -> np.ndarray:
        return np.asarray(self.probs) / np.diff(self._e)

    @property
    def support(self) -> tuple[float, float]:
        return (self.edges[0], self.edges[-1])

    @property
    def mean(self) -> float:
        e = self._e
        return float(np.sum(np.asarray(self.probs) * 0.5 * (e[:-1] + e[1:])))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "edges": list(self.edges), "probs": list(self.probs)}

    def cdf(self, x: Any) -> Any:
        arr, scalar = _arr(x)
        return _ret(np.interp(arr, self._e, self._cum), scalar)

    def sf(self, x: Any) -> Any:
        arr, scalar = _arr(x)
        return _ret(np.interp(arr, self._e, 1.0 - self._cum), scalar)

    def pdf(self, x: Any) -> Any:
        arr, scalar = _arr(x)
        j = np.clip(np.searchsorted(self._e, arr, side="right") - 1, 0, len(self.probs) - 1)
        inside = (arr >= self.edges[0]) & (arr <= self.edges[-1])
        return _ret(np.where(inside, self._dens[j], 0.0), scalar)

    def ppf(self, q: Any) -> Any:
        arr, scalar = _arr(q)
        return _ret(np.interp(np.clip(arr, 0.0, 1.0), self._cum, self._e), scalar)


# --------------------------------------------------------------------------------------------------
# mixture
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mixture(ContinuousDistribution):
    """Finite mixture ``F = Σ_k w_k F_k`` of continuous distributions (e.g. a bimodal prior).

    ``pdf``/``cdf``/``sf`` are the weighted sums; ``ppf`` is solved numerically (the quantile
    lies between the components' quantiles); sampling picks a component then samples it. Virtual
    values, regularity, ironing and inverses use the generic grid machinery.

    Parameters
    ----------
    weights
        Non-negative weights summing to 1 (within :data:`SUM_TOL`; renormalised).
    components
        As many continuous distributions (any class but :class:`Empirical`; nesting allowed).
    """

    weights: tuple[float, ...]
    components: tuple[ContinuousDistribution, ...]
    kind: ClassVar[str] = "mixture"

    def __post_init__(self) -> None:
        weights = _probabilities("weights", self.weights, strict_positive=False)
        comps = self.components
        if isinstance(comps, (str, bytes, Mapping)) or not isinstance(comps, (Sequence,)):
            raise InvalidInput("components", comps, "must be a list of distributions")
        comps = tuple(comps)
        if len(comps) != len(weights):
            raise InvalidInput(
                "components", list(comps), f"must have as many entries as weights ({len(weights)})"
            )
        for i, c in enumerate(comps):
            if not isinstance(c, ContinuousDistribution):
                raise InvalidInput(
                    f"components[{i}]", c, "must be a continuous distribution (not Empirical)"
                )
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "components", comps)

    @cached_property
    def _active(self) -> tuple[tuple[float, ContinuousDistribution], ...]:
        return tuple((w, c) for w, c in zip(self.weights, self.components, strict=True) if w > 0)

    @property
    def support(self) -> tuple[float, float]:
        lows = [c.support[0] for _, c in self._active]
        highs = [c.support[1] for _, c in self._active]
        return (min(lows), max(highs))

    @property
    def mean(self) -> float:
        return math.fsum(w * c.mean for w, c in self._active)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "weights": list(self.weights),
            "components": [c.to_json() for c in self.components],
        }

    def _sum(self, name: str, x: Any) -> Any:
        arr, scalar = _arr(x)
        total = np.zeros(arr.shape, dtype=float)
        for w, c in self._active:
            total = total + w * np.asarray(getattr(c, name)(arr), dtype=float)
        return _ret(total, scalar)

    def cdf(self, x: Any) -> Any:
        return self._sum("cdf", x)

    def sf(self, x: Any) -> Any:
        return self._sum("sf", x)

    def pdf(self, x: Any) -> Any:
        return self._sum("pdf", x)

    def ppf(self, q: Any) -> Any:
        arr, scalar = _arr(q)
        qf = np.clip(arr.reshape(-1), 0.0, 1.0)
        qs = np.array([np.asarray(c.ppf(qf), dtype=float) for _, c in self._active])
        a, b = qs.min(axis=0), qs.max(axis=0)
        out = b.copy()
        solve = np.flatnonzero((b > a) & (qf > 0) & (qf < 1))
        if solve.size:

            def f(x: np.ndarray) -> np.ndarray:
                return np.asarray(self.cdf(x), dtype=float)

            # F(a) < q ≤ F(b) may fail at a by rounding: step a down a hair
            aa = a[solve] - 1e-12 * np.maximum(1.0, np.abs(a[solve]))
            out[solve] = _bracket_solve(f, qf[solve], aa, b[solve], buyer=True)
        lo, hi = self.support
        out[qf <= 0] = lo
        out[qf >= 1] = hi
        return _ret(out.reshape(arr.shape), scalar)

    def sample(self, rng: Any, size: int | tuple[int, ...] | None = None) -> Any:
        """Pick a component with probability ``w_k``, then sample it (same generator)."""
        gen = _rng(rng)
        n = 1 if size is None else int(np.prod(size))
        ws = np.array([w for w, _ in self._active])
        which = gen.choice(len(ws), size=n, p=ws / ws.sum())
        out = np.empty(n, dtype=float)
        for k, (_, c) in enumerate(self._active):
            idx = np.flatnonzero(which == k)
            if idx.size:
                out[idx] = np.asarray(c.sample(gen, idx.size), dtype=float)
        if size is None:
            return float(out[0])
        return out.reshape(size)


# --------------------------------------------------------------------------------------------------
# empirical (discrete)
# --------------------------------------------------------------------------------------------------


def _hull_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Slope of the lower convex hull of points ``(x_k, y_k)`` over each elementary segment
    ``[x_{k−1}, x_k]`` (length ``len(x) − 1``)."""
    hull = _lower_hull(x, y)
    slopes = np.empty(len(x) - 1, dtype=float)
    for i, j in pairwise(hull):
        slopes[i:j] = (y[j] - y[i]) / (x[j] - x[i])
    return slopes


@dataclass(frozen=True)
class Empirical(Distribution):
    """Discrete distribution: atom ``values[i]`` with probability ``probs[i] > 0``.

    Virtual values are the *discrete* virtual values of the literature (revenue-curve slopes;
    e.g. Elkind 2007, Hartline "Mechanism Design and Approximation" ch. 3): with atoms
    ``v_1 < … < v_n``, ``F_i = Σ_{j≤i} p_j`` and ``S_i = Σ_{j≥i} p_j``,

    * buyer  ``φ_i = v_i − (v_{i+1} − v_i) S_{i+1} / p_i`` (``φ_n = v_n``): the slope of the
      revenue curve ``S ↦ v S`` between the points of ``v_{i+1}`` and ``v_i``;
    * seller ``ψ_i = v_i + (v_i − v_{i−1}) F_{i−1} / p_i`` (``ψ_1 = v_1``): the slope of the cost
      curve ``F ↦ v F``.

    Between atoms a bid is rounded *down* to an atom (a buyer is treated as its highest atom
    ``≤ b``) and an ask *up* (a seller as its lowest atom ``≥ a``); outside the support the end
    atoms apply. Ironing takes the concave hull of the revenue curve (convex hull of the cost
    curve) exactly. ``pdf`` is the mass function (``p_i`` at atoms, 0 elsewhere).

    Parameters
    ----------
    values
        Distinct finite atoms (any order; stored sorted).
    probs
        Their probabilities, ``> 0``, summing to 1 (within :data:`SUM_TOL`; renormalised).
    """

    values: tuple[float, ...]
    probs: tuple[float, ...]
    kind: ClassVar[str] = "empirical"

    def __post_init__(self) -> None:
        values = _num_seq("values", self.values)
        probs = _probabilities("probs", self.probs, strict_positive=True)
        if len(probs) != len(values):
            raise InvalidInput(
                "probs", list(self.probs), f"must have as many entries as values ({len(values)})"
            )
        seen: dict[float, int] = {}
        for i, v in enumerate(values):
            if v in seen:
                raise InvalidInput(f"values[{i}]", v, f"duplicate of values[{seen[v]}]")
            seen[v] = i
        order = sorted(range(len(values)), key=lambda i: values[i])
        object.__setattr__(self, "values", tuple(values[i] for i in order))
        object.__setattr__(self, "probs", tuple(probs[i] for i in order))

    @cached_property
    def _v(self) -> np.ndarray:
        return np.asarray(self.values)

    @cached_property
    def _p(self) -> np.ndarray:
        return np.asarray(self.probs)

    @cached_property
    def _cum(self) -> np.ndarray:
        cum = np.concatenate([[0.0], np.cumsum(self._p)])
        cum[-1] = 1.0
        return cum

    @property
    def support(self) -> tuple[float, float]:
        return (self.values[0], self.values[-1])

    @property
    def mean(self) -> float:
        return float(np.dot(self._v, self._p))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "values": list(self.values), "probs": list(self.probs)}

    def cdf(self, x: Any) -> Any:
        arr, scalar = _arr(x)
        return _ret(self._cum[np.searchsorted(self._v, arr, side="right")], scalar)

    def pdf(self, x: Any) -> Any:
        """The mass function: ``p_i`` at atom ``v_i``, 0 elsewhere."""
        arr, scalar = _arr(x)
        i = np.clip(np.searchsorted(self._v, arr, side="left"), 0, len(self._v) - 1)
        return _ret(np.where(self._v[i] == arr, self._p[i], 0.0), scalar)

    def ppf(self, q: Any) -> Any:
        arr, scalar = _arr(q)
        i = np.searchsorted(self._cum[1:], np.clip(arr, 0.0, 1.0), side="left")
        return _ret(self._v[np.clip(i, 0, len(self._v) - 1)], scalar)

    def sample(self, rng: Any, size: int | tuple[int, ...] | None = None) -> Any:
        """``rng.choice(values, p=probs)``."""
        out = _rng(rng).choice(self._v, size=size, p=self._p)
        return float(out) if size is None else np.asarray(out, dtype=float)

    # atoms' virtual values
    @cached_property
    def _phi_atoms(self) -> np.ndarray:
        v, p = self._v, self._p
        upper = 1.0 - self._cum[1:]  # S_{i+1}
        phi = v.copy()
        phi[:-1] = v[:-1] - (v[1:] - v[:-1]) * upper[:-1] / p[:-1]
        return phi

    @cached_property
    def _psi_atoms(self) -> np.ndarray:
        v, p = self._v, self._p
        lower = self._cum[:-1]  # F_{i−1}
        psi = v.copy()
        psi[1:] = v[1:] + (v[1:] - v[:-1]) * lower[1:] / p[1:]
        return psi

    @cached_property
    def _phi_ironed_atoms(self) -> np.ndarray:
        if self._is_regular(True):
            return self._phi_atoms
        # revenue curve points (S, v S) for S = 0, S_n, …, S_1 = 1; lower hull of (S, −R)
        s = np.concatenate([[0.0], (1.0 - self._cum[:-1])[::-1]])
        r = np.concatenate([[0.0], (self._v * (1.0 - self._cum[:-1]))[::-1]])
        slopes = -_hull_slopes(s, -r)  # segment k ↔ atom n − k (0-based from the top)
        return slopes[::-1]

    @cached_property
    def _psi_ironed_atoms(self) -> np.ndarray:
        if self._is_regular(False):
            return self._psi_atoms
        f = self._cum
        c = np.concatenate([[0.0], self._v * self._cum[1:]])
        return _hull_slopes(f, c)

    @staticmethod
    def _nan_or(arr: np.ndarray, val: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(arr), math.nan, val)

    def _down(self, x: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(self._v, x, side="right") - 1, 0, len(self._v) - 1)

    def _up(self, x: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(self._v, x, side="left"), 0, len(self._v) - 1)

    def _phi(self, b: Any) -> Any:
        """Discrete ``φ`` of the highest atom ``≤ b`` (the lowest atom below the support)."""
        arr, scalar = _arr(b)
        return _ret(self._nan_or(arr, self._phi_atoms[self._down(arr)]), scalar)

    def _psi(self, a: Any) -> Any:
        """Discrete ``ψ`` of the lowest atom ``≥ a`` (the highest atom above the support)."""
        arr, scalar = _arr(a)
        return _ret(self._nan_or(arr, self._psi_atoms[self._up(arr)]), scalar)

    def _phi_bar(self, b: Any) -> Any:
        """Ironed discrete ``φ̄``: slopes of the concave hull of the revenue curve."""
        arr, scalar = _arr(b)
        return _ret(self._nan_or(arr, self._phi_ironed_atoms[self._down(arr)]), scalar)

    def _psi_bar(self, a: Any) -> Any:
        """Ironed discrete ``ψ̄``: slopes of the convex hull of the cost curve."""
        arr, scalar = _arr(a)
        return _ret(self._nan_or(arr, self._psi_ironed_atoms[self._up(arr)]), scalar)

    def _inv_buyer(self, atoms: np.ndarray, y: Any) -> Any:
        arr, scalar = _arr(y)
        env = np.maximum.accumulate(atoms)
        i = np.clip(np.searchsorted(env, arr, side="left"), 0, len(atoms) - 1)
        return _ret(np.where(np.isnan(arr), math.nan, self._v[i]), scalar)

    def _inv_seller(self, atoms: np.ndarray, y: Any) -> Any:
        arr, scalar = _arr(y)
        env = np.minimum.accumulate(atoms[::-1])[::-1]
        i = np.clip(np.searchsorted(env, arr, side="right") - 1, 0, len(atoms) - 1)
        return _ret(np.where(np.isnan(arr), math.nan, self._v[i]), scalar)

    def _phi_inv(self, y: Any) -> Any:
        """Smallest atom whose ``φ`` reaches ``y`` (``low``/``high`` beyond the range)."""
        return self._inv_buyer(self._phi_atoms, y)

    def _psi_inv(self, y: Any) -> Any:
        """Largest atom whose ``ψ`` is ``≤ y`` (``low``/``high`` beyond the range)."""
        return self._inv_seller(self._psi_atoms, y)

    def _phi_bar_inv(self, y: Any) -> Any:
        """Smallest atom whose ``φ̄`` reaches ``y``."""
        return self._inv_buyer(self._phi_ironed_atoms, y)

    def _psi_bar_inv(self, y: Any) -> Any:
        """Largest atom whose ``ψ̄`` is ``≤ y``."""
        return self._inv_seller(self._psi_ironed_atoms, y)

    def _is_regular(self, buyer: bool) -> bool:
        """Discrete regularity: the atoms' ``φ_i`` (``ψ_i``) are non-decreasing."""
        v = self._phi_atoms if buyer else self._psi_atoms
        return bool(np.all(np.diff(v) >= -1e-12 * (1.0 + np.abs(v[:-1]))))


# --------------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------------


def _mixture_from_json(data: Mapping[str, Any]) -> Mixture:
    comps = data["components"]
    if not isinstance(comps, list):
        raise InvalidInput("components", comps, "must be a list of distribution objects")
    built: list[ContinuousDistribution] = []
    for i, c in enumerate(comps):
        d = distribution_from_json(c, f"components[{i}]")
        if not isinstance(d, ContinuousDistribution):
            key = "type" if isinstance(c, Mapping) and "kind" not in c else "kind"
            raise InvalidInput(
                f"components[{i}].{key}", d.kind, "mixture components must be continuous"
            )
        built.append(d)
    return Mixture(data["weights"], tuple(built))


#: How to read each kind: ``kind -> (required fields, optional fields, builder)``. The builder
#: gets the decoded object after the field names were checked; the classes validate the values.
_KINDS: dict[
    str, tuple[tuple[str, ...], tuple[str, ...], Callable[[Mapping[str, Any]], Distribution]]
] = {
    Uniform.kind: (("low", "high"), (), lambda d: Uniform(d["low"], d["high"])),
    Exponential.kind: (
        ("rate",),
        ("shift",),
        lambda d: Exponential(d["rate"], d.get("shift", 0.0)),
    ),
    TruncatedNormal.kind: (
        ("mean", "sd", "low", "high"),
        (),
        lambda d: TruncatedNormal(d["mean"], d["sd"], d["low"], d["high"]),
    ),
    Histogram.kind: (("edges", "probs"), (), lambda d: Histogram(d["edges"], d["probs"])),
    Empirical.kind: (("values", "probs"), (), lambda d: Empirical(d["values"], d["probs"])),
    Mixture.kind: (("weights", "components"), (), _mixture_from_json),
}
#: The distribution kinds :func:`distribution_from_json` reads, sorted.
KNOWN_KINDS: tuple[str, ...] = tuple(sorted(_KINDS))


def _join(prefix: str, field: str) -> str:
    if not prefix:
        return field
    if field in ("", "<root>"):
        return prefix
    return prefix + (field if field.startswith("[") else "." + field)


def distribution_from_json(data: Any, path: str = "") -> Distribution:
    """Build a distribution from its JSON form, e.g. ``{"kind": "uniform", "low": 0, "high": 10}``.

    The object's ``kind`` selects the class (its ``kind`` attribute); the other keys are that
    class's parameters: ``uniform`` (low, high), ``exponential`` (rate, optional shift),
    ``truncated_normal`` (mean, sd, low, high), ``histogram`` (edges, probs), ``empirical``
    (values, probs), ``mixture`` (weights, components: a list of non-empirical distribution
    objects). ``type`` is read as the former name of ``kind`` (files written before the rename);
    :meth:`Distribution.to_json` writes ``kind``. Errors are :class:`InvalidInput` naming the
    field path (prefixed with ``path``), e.g. ``components[1].rate``; an unknown kind lists the
    known ones.

    Parameters
    ----------
    data
        The decoded JSON object (a :class:`Distribution` is returned unchanged).
    path
        Prefix for the field paths in error messages (e.g. ``"buyers[0].prior"``).

    Returns
    -------
    Distribution
        The immutable distribution.

    Raises
    ------
    InvalidInput
        Naming the offending field.
    """
    where = path or "<root>"
    if isinstance(data, Distribution):
        return data
    if not isinstance(data, Mapping):
        raise InvalidInput(where, data, "a distribution must be a JSON object")
    if "kind" in data and "type" in data:
        raise InvalidInput(
            _join(path, "type"), data["type"], "give only 'kind' ('type' is its former name)"
        )
    key = "type" if "type" in data else "kind"
    if key not in data:
        raise InvalidInput(
            _join(path, "kind"), None, f"missing; known kinds: {', '.join(KNOWN_KINDS)}"
        )
    kind = data[key]
    if not isinstance(kind, str) or kind not in _KINDS:
        raise InvalidInput(
            _join(path, key), kind, f"unknown distribution kind; known: {', '.join(KNOWN_KINDS)}"
        )
    required, optional, build = _KINDS[kind]
    for name in data:
        if name != key and name not in required and name not in optional:
            allowed = ", ".join((*required, *optional))
            raise InvalidInput(
                _join(path, str(name)),
                data[name],
                f"unknown field for {kind!r}; allowed: {allowed}",
            )
    for name in required:
        if name not in data:
            raise InvalidInput(_join(path, name), None, f"missing (required for {kind!r})")
    try:
        return build(data)
    except InvalidInput as exc:
        raise InvalidInput(_join(path, exc.field), exc.value, exc.reason) from None


def _validate_field(value: Any) -> Distribution:
    return distribution_from_json(value)


def _serialize_field(value: Distribution) -> dict[str, Any]:
    return value.to_json()


#: Pydantic field type for embedding a distribution in a :class:`specmarket.core.Model`: accepts
#: the JSON object (or a :class:`Distribution`), validates it with :func:`distribution_from_json`
#: (errors name the path, e.g. ``buyers[0].prior.components[1].rate``) and serialises back to JSON.
DistributionField = Annotated[
    Distribution,
    PlainValidator(_validate_field),
    PlainSerializer(_serialize_field, return_type=dict),
]
