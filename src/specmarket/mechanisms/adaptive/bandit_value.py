"""Exact optimal value of a multi-armed bandit (the welfare ``S`` and ``S₋ᵢ`` of seed 004).

Seed 004 defines the expected future social welfare ``S(θ, e_t)`` (eq. (2)) and ``S₋ᵢ`` (the same
without SU ``i``, proof of Theorem 1) as optimal values of a multi-armed bandit whose arms are the
SUs. We compute them exactly — no Monte Carlo — with Whittle's (1980) retirement formula:

.. math::

    Φ(x, M) = B - \\int_M^B \\prod_i \\frac{∂φ_i(x_i, m)}{∂m}\\,dm,
    \\qquad \\frac{∂φ_i(x_i, m)}{∂m} = E_{x_i}[β^{T_i(m)}],

where ``φ_i(x_i, m)`` is arm ``i``'s value with a retirement reward ``m`` and ``T_i(m)`` its optimal
retirement time: the first time its state has a Gittins index (reward units) below ``λ = (1 − β)m``.
Between two consecutive index values of all the arms, each ``E[β^{T_i}]`` is constant, equal to the
discounted exit probability ``h_C(x_i)`` from the continuation set ``C = {y : G_i(y) > λ}``, so with
the sorted breakpoints ``b_0 < … < b_K`` (all arms' index values) the value is the finite sum

.. math::

    S = \\frac{1}{1-β}\\Big(b_0 + \\sum_j (b_{j+1} - b_j)
        \\big(1 - \\prod_i h_{C_i(j)}(x_i)\\big)\\Big),

valid for any non-empty subset of the arms (the product is 1 above the subset's largest index and 0
below ``b_0``). ``S₋ᵢ`` is the same sum with arm ``i`` left out of the product.

In the mechanism every SU has the same SNR chain and rewards ``θ_i r_0`` (seed 004 eq. (1)), so the
indices are ``θ_i G_0`` and the continuation sets are the upper sets of ``G_0``: one table ``H`` of
``n + 1`` exit discounts serves all SUs (:class:`ScaledArmFamily`).

:func:`bandit_value_bruteforce` (policy iteration on the joint chain) is the test reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from specmarket.errors import InvalidInput
from specmarket.mechanisms.adaptive.gittins import gittins_indices, validate_chain

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def exit_discounts(transition: FloatArray, discount: float, order: IntArray) -> FloatArray:
    """``H[m, x] = E_x[β^T]`` with ``T`` the first time ``t ≥ 0`` the chain is outside the
    continuation set ``C_m = {order[0], …, order[m-1]}`` (``H[m, x] = 1`` for ``x ∉ C_m``).

    One linear solve per ``m``: ``(I − βP_CC) h_C = βP_{C,C^c} 1``. O(n⁴), done once per chain.
    """
    n = transition.shape[0]
    out = np.ones((n + 1, n))
    for m in range(1, n + 1):
        cset = order[:m]
        rest = order[m:]
        sub = np.eye(m) - discount * transition[np.ix_(cset, cset)]
        rhs = discount * transition[np.ix_(cset, rest)].sum(axis=1)
        out[m, cset] = np.linalg.solve(sub, rhs)
    return out


@dataclass(frozen=True)
class ScaledArmFamily:
    """Arms sharing one chain ``(P, β)`` with rewards ``θ · r_0`` (``θ ≥ 0``).

    Attributes
    ----------
    transition, base_reward, discount
        The chain, the rewards at ``θ = 1`` and ``β``.
    index
        ``G_0``: Gittins indices at ``θ = 1`` (an arm of type θ has indices ``θ G_0``).
    order
        States by decreasing ``G_0`` (ties: lower state first).
    sorted_index
        ``G_0`` sorted increasingly.
    exits
        ``H`` of :func:`exit_discounts` for the continuation sets ``order[:m]``.
    """

    transition: FloatArray
    base_reward: FloatArray
    discount: float
    index: FloatArray
    order: IntArray
    sorted_index: FloatArray
    exits: FloatArray

    @classmethod
    def build(
        cls, transition: ArrayLike, base_reward: ArrayLike, discount: float
    ) -> ScaledArmFamily:
        """Validate the chain and precompute ``G_0`` and ``H`` (O(n⁴) once)."""
        p, r, beta = validate_chain(transition, base_reward, discount)
        if (r < 0).any():
            raise InvalidInput("reward", r.tolist(), "base rewards must be ≥ 0")
        g = gittins_indices(p, r, beta)
        order = np.argsort(-g, kind="stable")
        return cls(p, r, beta, g, order, np.sort(g), exit_discounts(p, beta, order))

    def _grid(self, thetas: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Breakpoints ``b`` (all arms' index values, sorted, unique), interval widths and
        midpoints."""
        b = np.unique(np.outer(thetas, self.index).ravel())
        return b, np.diff(b), 0.5 * (b[1:] + b[:-1])

    def counts(self, thetas: FloatArray, mids: FloatArray) -> IntArray:
        """``m[j, i]`` = size of arm ``i``'s continuation set ``{y : θ_i G_0(y) > mids[j]}``."""
        n = self.index.size
        out = np.empty((mids.size, thetas.size), dtype=np.int64)
        for i, theta in enumerate(thetas):
            if theta > 0:
                out[:, i] = n - np.searchsorted(theta * self.sorted_index, mids, side="right")
            else:
                out[:, i] = np.where(mids < 0, n, 0)
        return out

    def profile(self, thetas: ArrayLike) -> Profile:
        """Precompute Whittle's grid for a fixed set of SUs (their types): a round then costs one
        gather and two cumulative products (:meth:`Profile.welfare`)."""
        th = np.asarray(thetas, dtype=float)
        b, width, mids = self._grid(th)
        return Profile(self, th, float(b[0]), width, self.counts(th, mids))

    def welfare(self, thetas: ArrayLike, states: ArrayLike) -> tuple[float, FloatArray]:
        """``S`` (all arms) and ``S₋ᵢ`` for every ``i`` by Whittle's formula (module docstring).

        Returns
        -------
        (float, numpy.ndarray)
            ``S`` and the array of ``S₋ᵢ`` (``0`` when ``i`` is alone).
        """
        return self.profile(thetas).welfare(states)

    def grid(self, theta_values: ArrayLike) -> TypeGrid:
        """Precompute a :class:`TypeGrid` for SUs whose types are all in ``theta_values``."""
        th = np.asarray(theta_values, dtype=float)
        if (th <= 0).any():
            raise InvalidInput("theta_values", th.tolist(), "types must be > 0")
        b, width, mids = self._grid(th)
        n = self.index.size
        counts = np.stack(
            [n - np.searchsorted(t * self.sorted_index, mids, side="right") for t in th]
        )
        table = self.exits[counts[:, None, :], np.arange(n)[None, :, None]]  # (types, n, J)
        zero = table <= 0.0
        logs = np.log(np.where(zero, 1.0, table))
        return TypeGrid(self, th, b[0], width, counts, logs, zero.astype(np.int64))


@dataclass(frozen=True)
class Profile:
    """Whittle's sum for a fixed list of SU types: breakpoints and continuation-set sizes."""

    family: ScaledArmFamily
    thetas: FloatArray
    low: float
    width: FloatArray
    counts: IntArray  # (J, k)

    def welfare(self, states: ArrayLike) -> tuple[float, FloatArray]:
        """``S`` and every ``S₋ᵢ`` at the SUs' states (positions on the chain)."""
        xs = np.asarray(states, dtype=np.int64)
        k = xs.size
        f = self.family.exits[self.counts, xs[None, :]]  # f[j, i] = E_{x_i}[β^{T_i}] on interval j
        scale = 1.0 / (1.0 - self.family.discount)
        total = scale * (self.low + self.width @ (1.0 - f.prod(axis=1)))
        if k == 1:
            return float(total), np.zeros(1)
        pre = np.ones_like(f)
        suf = np.ones_like(f)
        np.cumprod(f[:, :-1], axis=1, out=pre[:, 1:])
        suf[:, :-1] = np.cumprod(f[:, :0:-1], axis=1)[:, ::-1]
        without = scale * (self.low + self.width @ (1.0 - pre * suf))
        return float(total), without


@dataclass(frozen=True)
class TypeGrid:
    """Whittle's sum on a breakpoint grid fixed by a finite set of types (the simulations'
    vectorised path: many runs at once, types given as indices into ``theta_values``)."""

    family: ScaledArmFamily
    theta_values: FloatArray
    low: float
    width: FloatArray
    counts: IntArray  # counts[type, j] = size of the continuation set at level mids[j]
    log_exits: FloatArray  # log E[β^T] per (type, state, interval), 0 where E = 0
    zero_exits: IntArray  # 1 where E[β^T] = 0 (the arm never retires at that level)

    def value_from_logs(self, log_sum: FloatArray, zeros: IntArray) -> FloatArray:
        """Whittle's sum from the per-interval ``Σ log E`` and the count of zero factors (the
        simulations' incremental path: the sums change only for the arm that moved)."""
        prod = np.where(zeros == 0, np.exp(log_sum), 0.0)
        return (self.low + (1.0 - prod) @ self.width) / (1.0 - self.family.discount)

    def welfare_without(self, types: IntArray, states: IntArray, exclude: IntArray) -> FloatArray:
        """``S₋ᵢ`` for many runs at once: ``types``/``states`` are ``(R, k)``, ``exclude`` is
        ``(R,)`` (the arm left out; ``-1`` for none, giving ``S``). Returns ``(R,)``."""
        f = self.family.exits[self.counts[types], states[..., None]]  # (R, k, J)
        r, k = types.shape
        if k == 1 and (exclude >= 0).all():
            return np.zeros(r)
        mask = np.arange(k)[None, :] == exclude[:, None]
        f[mask] = 1.0
        prod = f.prod(axis=1)  # (R, J)
        scale = 1.0 / (1.0 - self.family.discount)
        return np.asarray(scale * (self.low + (1.0 - prod) @ self.width), dtype=np.float64)


def bandit_value_bruteforce(
    transition: ArrayLike, rewards: ArrayLike, discount: float, max_iter: int = 200
) -> FloatArray:
    """Optimal value of the multi-armed bandit on the joint chain (test reference).

    Arms share ``transition``; ``rewards`` is ``(k, n)``. Policy iteration on the ``n^k`` joint
    states (one dense solve per iteration), started from the myopic policy. Returns an array of
    shape ``(n,) * k``.
    """
    p = np.asarray(transition, dtype=float)
    rw = np.atleast_2d(np.asarray(rewards, dtype=float))
    k, n = rw.shape
    beta = float(discount)
    shape = (n,) * k
    size = n**k
    grid = np.indices(shape).reshape(k, size)  # grid[a, s] = state of arm a in joint state s
    strides = np.array([n ** (k - 1 - a) for a in range(k)])
    # per arm: joint transition matrix when arm a is played
    mats = []
    for a in range(k):
        t = np.zeros((size, size))
        for y in range(n):
            target = (grid + 0).copy()
            target[a] = y
            t[np.arange(size), strides @ target] += p[grid[a], y]
        mats.append(t)
    rew = np.stack([rw[a, grid[a]] for a in range(k)])  # (k, size)
    policy = np.argmax(rew, axis=0)
    eye = np.eye(size)
    v = np.zeros(size)
    for _ in range(max_iter):
        pp = np.stack([mats[a][s] for s, a in enumerate(policy)])
        rr = rew[policy, np.arange(size)]
        v = np.linalg.solve(eye - beta * pp, rr)
        q = np.stack([rew[a] + beta * mats[a] @ v for a in range(k)])
        best = q.max(axis=0)
        cur = q[policy, np.arange(size)]
        improve = best > cur + 1e-12 * (1.0 + np.abs(best))
        if not improve.any():
            break
        policy = np.where(improve, np.argmax(q, axis=0), policy)
    return v.reshape(shape)
