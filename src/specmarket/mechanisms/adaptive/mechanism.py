"""ADAPTIVE: the dynamic index auction of one channel with time-evolving values (seed 004).

Model (seed 004 §III–IV, with the choices of ``docs/adaptive.md``):

* ``k`` SUs; SU ``i`` has a private type ``θ_i ≥ 0`` and an experience ``e_i`` = its SNR in dB on
  ``low … high`` (default −30 … 30) in 1 dB steps.
* Value (eq. (1), SNR made linear, Shannon capacity in bits):
  ``v(θ, e) = θ · B · log2(1 + 10^(e/10))``.
* Only the winner's experience moves: ``e' = clamp(e + z)``, ``z = Binomial(n, ½) − n/2`` (§V).
* Allocation: the SU with the highest Gittins index (eq. (3)), ties to the SU listed first.
* Payment of the winner (eq. (7)): ``p = (1 − δ) S₋ᵢ``, ``S₋ᵢ`` = optimal expected discounted
  welfare of the other SUs from their current states, computed exactly (Whittle's formula,
  :mod:`.bandit_value`); losers pay 0.

One call of :func:`clear` is one round. :func:`exact_utilities` evaluates a SU's expected discounted
utility (eq. (8)) under any stationary misreport exactly on the joint chain, which is how the tests
check Theorem 1 (periodic ex post IC and IR) and no positive transfers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Annotated, Any, Literal, Self

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, Strict, model_validator

from specmarket.core import (
    Id,
    MechanismSpec,
    Model,
    NonNegative,
    Outcome,
    Positive,
    require_nonempty,
    require_unique_ids,
)
from specmarket.errors import InvalidInput
from specmarket.mechanisms.adaptive.bandit_value import ScaledArmFamily

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: ``δ ∈ [0, 1)`` (δ = 1 makes the index undefined; eq. (7) then gives 0 anyway).
Discount = Annotated[float, Strict(), Field(ge=0, lt=1, allow_inf_nan=False)]
StrictInt = Annotated[int, Strict()]


class SnrRange(Model):
    """The SNR grid ``low … high`` dB in 1 dB steps (seed 004 §V: −30 … 30)."""

    low: StrictInt = -30
    high: StrictInt = 30

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.high <= self.low:
            raise InvalidInput("high", self.high, f"must be > low ({self.low})")
        if self.high - self.low > 400:
            raise InvalidInput("high", self.high, "at most 401 SNR levels")
        return self


class Step(Model):
    """The experience step ``z = Binomial(n, ½) − n/2`` (centred, so ``n`` must be even)."""

    type: Literal["binomial"] = "binomial"
    n: Annotated[int, Strict(), Field(ge=0)] = 2

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.n % 2:
            raise InvalidInput("n", self.n, "must be even (the binomial step is centred at 0)")
        return self


class User(Model):
    """One SU: id, type θ (reported) and current experience (SNR in dB, an integer)."""

    id: Id
    type: NonNegative
    snr_db: StrictInt


class Instance(Model):
    """One round of ADAPTIVE (the JSON of ``specmarket clear adaptive``)."""

    discount: Discount = 0.7
    bandwidth: Positive = 1.0
    snr_db: SnrRange = SnrRange()
    step: Step = Step()
    users: tuple[User, ...]

    @model_validator(mode="after")
    def _check(self) -> Self:
        require_nonempty(self.users, "users")
        require_unique_ids([u.id for u in self.users], "users")
        for k, u in enumerate(self.users):
            if not self.snr_db.low <= u.snr_db <= self.snr_db.high:
                raise InvalidInput(
                    f"users[{k}].snr_db",
                    u.snr_db,
                    f"must be in [{self.snr_db.low}, {self.snr_db.high}]",
                )
        return self


def capacity(snr_db: FloatArray | float, bandwidth: float = 1.0) -> FloatArray:
    """``B · log2(1 + 10^(e/10))``: the value per unit type (eq. (1), linear SNR, bits)."""
    return bandwidth * np.log2(1.0 + 10.0 ** (np.asarray(snr_db, dtype=float) / 10.0))


def snr_chain(low: int, high: int, n_step: int) -> FloatArray:
    """Transition matrix of ``e' = clamp(e + Binomial(n, ½) − n/2, low, high)`` (seed 004 §V)."""
    size = high - low + 1
    half = n_step // 2
    from math import comb

    probs = np.array([comb(n_step, j) for j in range(n_step + 1)], dtype=float) / 2.0**n_step
    p = np.zeros((size, size))
    for x in range(size):
        for j, pr in enumerate(probs):
            p[x, min(max(x + j - half, 0), size - 1)] += pr
    return p


@lru_cache(maxsize=64)
def market(low: int, high: int, n_step: int, discount: float, bandwidth: float) -> ScaledArmFamily:
    """The precomputed arm family of an SNR chain (indices ``G_0`` and exit table), cached."""
    return ScaledArmFamily.build(
        snr_chain(low, high, n_step),
        capacity(np.arange(low, high + 1, dtype=np.float64), bandwidth),
        discount,
    )


def family_of(instance: Instance) -> ScaledArmFamily:
    """The :func:`market` of an instance."""
    s = instance.snr_db
    return market(s.low, s.high, instance.step.n, instance.discount, instance.bandwidth)


def clear(instance: Instance) -> Outcome:
    """One round of ADAPTIVE: highest Gittins index wins (eq. (3)) and pays ``(1 − δ) S₋ᵢ``
    (eq. (7)).

    ``welfare`` keeps its meaning of every outcome, this round's realised ``Σ v``; the optimal
    expected discounted welfare of eq. (2) is reported under its own names: ``expected_welfare``
    (``S``, all users) and ``expected_welfare_without`` (id → ``S₋ᵢ``).
    """
    fam = family_of(instance)
    ids = [u.id for u in instance.users]
    th = np.array([u.type for u in instance.users])
    xs = np.array([u.snr_db - instance.snr_db.low for u in instance.users])
    g = th * fam.index[xs]
    w = int(np.argmax(g))
    total, without = fam.welfare(th, xs)
    price = (1.0 - instance.discount) * float(without[w])
    value = float(th[w] * fam.base_reward[xs[w]])
    return Outcome(
        mechanism="adaptive",
        allocation={pid: int(k == w) for k, pid in enumerate(ids)},
        payments={pid: (price if k == w else 0.0) for k, pid in enumerate(ids)},
        values={pid: (value if k == w else 0.0) for k, pid in enumerate(ids)},
        details={
            "winner": ids[w],
            "index": {pid: float(g[k]) for k, pid in enumerate(ids)},
            "expected_welfare": float(total),
            "expected_welfare_without": {pid: float(without[k]) for k, pid in enumerate(ids)},
            "price": price,
        },
    )


def true_value(instance: Instance, pid: str, allocation: Any) -> float:
    """This round's value ``θ B log2(1 + 10^(e/10))`` of the channel to ``pid`` (0 if not won)."""
    u = next(u for u in instance.users if u.id == pid)
    return float(u.type * capacity(u.snr_db, instance.bandwidth)) * float(allocation)


def random_instance(rng: np.random.Generator) -> Instance:
    """1–5 SUs, types uniform on [0, 10] (some rounded), SNR uniform on the default grid."""
    k = int(rng.integers(1, 6))
    th = rng.uniform(0, 10, size=k)
    if rng.random() < 0.3:
        th = np.round(th)
    snr = rng.integers(-30, 31, size=k)
    users = tuple(
        User(id=f"u{j}", type=float(t), snr_db=int(s))
        for j, (t, s) in enumerate(zip(th, snr, strict=True))
    )
    return Instance(discount=float(rng.choice([0.0, 0.5, 0.7, 0.9])), users=users)


def deviations(
    instance: Instance, pid: str, rng: np.random.Generator
) -> Iterator[tuple[str, Instance]]:
    """Misreports of ``pid`` in one round: other types (grid and random) and other SNRs."""
    k = next(i for i, u in enumerate(instance.users) if u.id == pid)
    user = instance.users[k]
    types = [0.0, 0.5 * user.type, 2.0 * user.type + 1.0, *rng.uniform(0, 12, size=3).tolist()]
    for t in types:
        users = list(instance.users)
        users[k] = user.model_copy(update={"type": float(t)})
        yield f"type={t:.6g}", instance.model_copy(update={"users": tuple(users)})
    lo, hi = instance.snr_db.low, instance.snr_db.high
    for s in {lo, hi, min(hi, user.snr_db + 3), max(lo, user.snr_db - 3)} - {user.snr_db}:
        users = list(instance.users)
        users[k] = user.model_copy(update={"snr_db": int(s)})
        yield f"snr_db={s}", instance.model_copy(update={"users": tuple(users)})


# ---------------------------------------------------------------------------------------------
# exact dynamic evaluation on the joint chain (small k): Theorem 1 and eq. (8)

PaymentRule = Callable[[ScaledArmFamily, FloatArray, IntArray, int], float]


def adaptive_payment(fam: ScaledArmFamily, thetas: FloatArray, states: IntArray, w: int) -> float:
    """Eq. (7): ``(1 − δ) S₋w`` from the others' true states."""
    return (1.0 - fam.discount) * float(fam.welfare(thetas, states)[1][w])


def joint_states(n: int, k: int) -> IntArray:
    """All ``n^k`` joint states as rows (last arm fastest)."""
    return np.indices((n,) * k).reshape(k, -1).T


def exact_utilities(
    fam: ScaledArmFamily,
    thetas: FloatArray,
    i: int,
    reported_type: float | None = None,
    report_state: IntArray | None = None,
    payment: PaymentRule = adaptive_payment,
) -> FloatArray:
    """Expected discounted utility (eq. (8)) of SU ``i`` from every joint state, exactly.

    The other SUs report truthfully; SU ``i`` reports type ``reported_type`` (default: true) and
    experience ``report_state[e]`` when its true experience is ``e`` (default: truth). The
    allocation uses the reported indices; the payment rule sees the others' true states and the
    reported profile (``payment(fam, reported thetas, reported states, winner)``); the experience
    that evolves is the true one. One linear solve on the ``n^k`` joint states (tests only).

    Returns
    -------
    numpy.ndarray
        ``U[s]`` for the joint states of :func:`joint_states` (flattened, last arm fastest).
    """
    n = fam.index.size
    k = thetas.size
    states = joint_states(n, k)
    size = states.shape[0]
    rep_th = thetas.astype(float).copy()
    if reported_type is not None:
        rep_th[i] = reported_type
    rep_map = np.arange(n) if report_state is None else np.asarray(report_state)
    strides = np.array([n ** (k - 1 - a) for a in range(k)])
    rep_states = states.copy()
    rep_states[:, i] = rep_map[states[:, i]]
    winners = np.argmax(rep_th * fam.index[rep_states], axis=1)
    reward = np.zeros(size)
    for s in np.flatnonzero(winners == i):
        x = states[s]
        reward[s] = thetas[i] * fam.base_reward[x[i]] - payment(fam, rep_th, rep_states[s], i)
    trans = np.zeros((size, size))
    rows = np.arange(size)
    xw = states[rows, winners]
    for y in range(n):
        prob = fam.transition[xw, y]
        cols = rows + (y - xw) * strides[winners]
        np.add.at(trans, (rows, cols), prob)
    return np.asarray(np.linalg.solve(np.eye(size) - fam.discount * trans, reward), np.float64)


SPEC = MechanismSpec(
    name="adaptive",
    title="ADAPTIVE: repeated channel auction, Gittins-index allocation, externality payments",
    source="seed 004 (Khaledi & Abouzeid, WiOpt 2014) §IV eqs. (1)–(7), Theorem 1",
    instance_type=Instance,
    clear=clear,
    roles=lambda inst: {u.id: "buyer" for u in inst.users},
    true_value=true_value,
    # Theorem 1's IC and IR are *dynamic* (expected discounted utility, periodic ex post); a single
    # round is neither IC nor IR, so the one-shot auditor is only given what holds per round.
    claims=frozenset({"npt", "bb"}),
    random_instance=random_instance,
    deviations=deviations,
    example="adaptive.json",
)
