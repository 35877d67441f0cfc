"""Gittins indices of every state of a finite Markov reward chain.

The index of seed 004 eq. (3), in *reward units* (the ratio form):

.. math::

    G(x) = \\max_{\\tau \\ge 1} \\frac{E_x \\sum_{t=0}^{\\tau-1} \\beta^t r(X_t)}
                                  {E_x \\sum_{t=0}^{\\tau-1} \\beta^t}.

Fast path: the state-elimination ("largest remaining index") algorithm of Sonin (2008), the
algorithm the seed cites as [20] ("n³ + O(n²) operations"). The discounted chain is the
sub-stochastic matrix ``A = βP`` with a per-state exit mass ``d = 1 − Σ_y A(x, y)``; each state
carries a reward ``r`` and a discounted time ``c`` (initially 1). Repeatedly, the remaining state
``z`` with the largest ratio ``r(z)/c(z)`` has index ``r(z)/c(z)``; it is then eliminated — every
visit to ``z`` is continued, which is a Gaussian-elimination step on ``I − A`` with pivot ``z``::

    A(x, y) += A(x, z) A(z, y) / (1 − A(z, z)),   r(x) += A(x, z) r(z) / (1 − A(z, z)),  (same c, d)

The denominator ``1 − A(z, z)`` is computed as ``d(z) + Σ_{y≠z} A(z, y)`` (no cancellation, as in
the GTH algorithm), so β up to 0.999 and absorbing states are harmless.

Because the pivot order only needs the updated column of the next pivot, the rank-1 updates of a
block of pivots are deferred and applied as one matrix product (left-looking blocked elimination,
like blocked LU): the O(n³) work becomes BLAS-3. After each block the surviving states are moved
into the slots of the eliminated ones (O(block · n) copying), so the active matrix stays the leading
block of one buffer.

Slow references (tests only): :func:`gittins_restart` (the restart-in-state characterisation of
Katehakis & Veinott 1987, solved exactly by policy iteration) and :func:`gittins_bruteforce`
(eq. (3) literally: the best hitting time over all continuation sets, n ≤ 12).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from specmarket.errors import InvalidInput

#: Tolerance on row sums of a transition matrix.
ROW_SUM_TOL = 1e-9

FloatArray = NDArray[np.float64]


def validate_chain(
    transition: ArrayLike, reward: ArrayLike, discount: float
) -> tuple[FloatArray, FloatArray, float]:
    """Check and convert a Markov reward chain ``(P, r, β)``.

    Raises
    ------
    InvalidInput
        naming ``transition`` (not square, negative or non-finite entries, a row not summing to 1),
        ``reward`` (wrong length, non-finite) or ``discount`` (outside ``[0, 1)``).
    """
    try:
        p = np.array(transition, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInput("transition", transition, "must be a square matrix of numbers") from None
    if p.ndim != 2 or p.shape[0] != p.shape[1] or p.shape[0] == 0:
        raise InvalidInput("transition", np.shape(p), "must be a non-empty square matrix")
    n = p.shape[0]
    sums = p.sum(axis=1)  # one pass; a NaN or infinite entry makes its row sum non-finite
    if not np.isfinite(sums).all():
        bad = ~np.isfinite(p)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise InvalidInput(f"transition[{i}][{j}]", float(p[i, j]), "must be a finite number")
    if p.min() < 0:
        i, j = np.argwhere(p < 0)[0]
        raise InvalidInput(f"transition[{i}][{j}]", float(p[i, j]), "probabilities must be ≥ 0")
    off = np.abs(sums - 1.0) > ROW_SUM_TOL
    if off.any():
        i = int(np.argmax(off))
        raise InvalidInput(
            f"transition[{i}]",
            float(sums[i]),
            f"row sums to {float(sums[i]):.12g}; every row must sum to 1",
        )
    try:
        r = np.array(reward, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInput("reward", reward, "must be a list of numbers") from None
    if r.shape != (n,):
        raise InvalidInput("reward", np.shape(r), f"must be a list of {n} numbers (one per state)")
    if not np.isfinite(r).all():
        k = int(np.argmax(~np.isfinite(r)))
        raise InvalidInput(f"reward[{k}]", float(r[k]), "must be a finite number")
    if isinstance(discount, bool) or not isinstance(discount, (int, float, np.floating)):
        raise InvalidInput("discount", discount, "must be a number in [0, 1)")
    beta = float(discount)
    if not (0.0 <= beta < 1.0):
        raise InvalidInput("discount", discount, "must be in [0, 1)")
    return p, r, beta


#: From this many states on, the pivot loop runs compiled (numba) and BLAS threads are capped;
#: below it numpy's loop is fast enough and numba is not even imported.
COMPILED_FROM = 200


def gittins_indices(
    transition: ArrayLike,
    reward: ArrayLike,
    discount: float,
    block: int = 64,
    *,
    engine: str = "fast",
    threads: int | None = 1,
) -> FloatArray:
    """Gittins index (eq. (3) of seed 004, reward units) of every state, blocked elimination.

    Sonin's (2008) state-elimination algorithm with the rank-1 updates of ``block`` consecutive
    pivots deferred and applied as one matrix product. O(n³) time, O(n²) memory.

    Parameters
    ----------
    transition
        Row-stochastic ``n × n`` matrix ``P``.
    reward
        Reward ``r(x)`` per state.
    discount
        ``β ∈ [0, 1)``.
    block
        Number of pivots whose updates are deferred (1 = unblocked).
    engine
        ``"fast"`` (this algorithm; from :data:`COMPILED_FROM` states on its pivot loop is
        compiled) or ``"reference"`` (:func:`gittins_restart`, slow, for checks).
    threads
        BLAS threads for the block updates of chains with at least :data:`COMPILED_FROM` states
        (threadpoolctl); ``None`` leaves the BLAS library's own setting (all cores). The default 1
        is the fastest here: the updates are rank-``block`` products of at most ``n × n``, too
        small to gain from a second thread, which costs more CPU (and on a loaded machine more
        wall time) than it saves; see ``docs/adaptive.md``.

    Returns
    -------
    numpy.ndarray
        ``G`` with ``G[x]`` the index of state ``x``.
    """
    if engine == "reference":
        return gittins_restart(transition, reward, discount)
    if engine != "fast":
        raise InvalidInput("engine", engine, "must be 'fast' or 'reference'")
    if threads is not None and (isinstance(threads, bool) or int(threads) < 1):
        raise InvalidInput("threads", threads, "must be a whole number ≥ 1 or None")
    p, r, beta = validate_chain(transition, reward, discount)
    n = p.shape[0]
    block = max(1, int(block))
    if n < COMPILED_FROM:
        return _eliminate_blocked(p, r, beta, block, _pivot_block_py, _numpy_update, True)
    from specmarket.mechanisms.adaptive._gittins_kernel import pivot_block

    update = _blas_update()
    if threads is None:
        return _eliminate_blocked(p, r, beta, block, pivot_block, update, True)
    with _blas_controller().limit(limits=int(threads), user_api="blas"):
        return _eliminate_blocked(p, r, beta, block, pivot_block, update, True)


@cache
def _blas_controller() -> Any:
    """A threadpoolctl controller over the loaded BLAS libraries (numpy's and scipy's), made once:
    listing the libraries costs ~0.5 ms, a limit through a ready controller ~10 µs."""
    from threadpoolctl import (  # type: ignore[import-untyped]  # ships no type information
        ThreadpoolController,
    )

    _blas_update()  # loads scipy's BLAS
    np.dot(np.ones((2, 2)), np.ones((2, 2)))  # numpy loads its BLAS lazily
    return ThreadpoolController()


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with numpy's and scipy's BLAS on one thread (threadpoolctl), then restore
    the previous setting. For the small products of this subpackage — the Gittins block updates
    and the simulations' ``(runs × intervals) @ (intervals,)`` Whittle sums — a second OpenBLAS
    thread costs more CPU than it saves, and on a loaded machine several times the wall time
    (``docs/adaptive.md``, "BLAS threads"); parallelism comes from the experiment runner's
    worker processes instead."""
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield


PivotBlock = Callable[
    [
        FloatArray,
        int,
        FloatArray,
        NDArray[np.int64],
        FloatArray,
        FloatArray,
        FloatArray,
        FloatArray,
        int,
    ],
    None,
]
#: ``update(full, m, ut, w, nb)``: ``full[:m, :m] += ut[:nb, :m].T @ w[:nb, :m]`` in place.
BlockUpdate = Callable[[FloatArray, int, FloatArray, FloatArray, int], None]


def _pivot_block_py(
    full: FloatArray,
    m: int,
    rcd: FloatArray,
    act: NDArray[np.int64],
    index: FloatArray,
    ut: FloatArray,
    w: FloatArray,
    alive: FloatArray,
    nb: int,
) -> None:
    """``nb`` pivots of the active block ``full[:m, :m]`` (left-looking; numpy). The Python twin
    of the compiled :func:`specmarket.mechanisms.adaptive._gittins_kernel.pivot_block`."""
    a = full[:m, :m]
    rcd_m = rcd[:, :m]
    for t in range(nb):
        ratio = rcd_m[0] / rcd_m[1]
        z = int(ratio.argmax())
        index[act[z]] = ratio[z]
        col = a[:, z] + w[:t, z] @ ut[:t, :m]  # current column z (left-looking)
        row = a[z] + ut[:t, z] @ w[:t, :m]  # current row z
        alive[z] = 0.0
        col *= alive
        row *= alive
        rcd_z = rcd_m[:, z].copy()
        denom = rcd_z[2] + row.sum()  # = 1 - a(z, z), without cancellation
        f = col / denom
        rcd_m += rcd_z[:, None] * f
        rcd_m[0, z] = -np.inf
        ut[t, :m] = f
        w[t, :m] = row


def _numpy_update(full: FloatArray, m: int, ut: FloatArray, w: FloatArray, nb: int) -> None:
    full[:m, :m] += ut[:nb, :m].T @ w[:nb, :m]


@cache
def _blas_update() -> BlockUpdate:
    """The block update as one BLAS ``dgemm`` with ``β = 1`` (accumulating into ``full`` in
    place, through its leading dimension) — numpy's ``matmul`` cannot accumulate, and the extra
    pass ``full += product`` over the active block costs half as much as the product itself.
    scipy's BLAS is called through ctypes; in column-major terms ``full[:m, :m]`` is ``Fᵀ`` and
    the update is ``Fᵀ += wᵀ ut``."""
    import ctypes

    from numba.extending import get_cython_function_address

    ptr = ctypes.POINTER
    c_int, c_double = ctypes.c_int, ctypes.c_double
    proto = ctypes.CFUNCTYPE(
        None,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ptr(c_int),
        ptr(c_int),
        ptr(c_int),
        ptr(c_double),
        ctypes.c_void_p,
        ptr(c_int),
        ctypes.c_void_p,
        ptr(c_int),
        ptr(c_double),
        ctypes.c_void_p,
        ptr(c_int),
    )
    dgemm = proto(get_cython_function_address("scipy.linalg.cython_blas", "dgemm"))
    one = c_double(1.0)

    def update(full: FloatArray, m: int, ut: FloatArray, w: FloatArray, nb: int) -> None:
        assert full.flags.c_contiguous and ut.flags.c_contiguous and w.flags.c_contiguous
        assert full.shape[1] == ut.shape[1] == w.shape[1]
        mm, kk, ld = c_int(m), c_int(nb), c_int(full.shape[1])
        dgemm(
            b"N",
            b"T",
            ctypes.byref(mm),
            ctypes.byref(mm),
            ctypes.byref(kk),
            ctypes.byref(one),
            w.ctypes.data,
            ctypes.byref(ld),
            ut.ctypes.data,
            ctypes.byref(ld),
            ctypes.byref(one),
            full.ctypes.data,
            ctypes.byref(ld),
        )

    return update


def _eliminate_blocked(
    p: FloatArray,
    r0: FloatArray,
    beta: float,
    block: int,
    pivots: PivotBlock,
    update: BlockUpdate = _numpy_update,
    overwrite: bool = False,
) -> FloatArray:
    """The blocked elimination on a validated chain (``overwrite``: ``p`` may be used as the work
    buffer)."""
    n = p.shape[0]
    # the active states always occupy the leading m × m block of ``full``
    full = np.multiply(p, beta, out=p) if overwrite else beta * p
    act = np.arange(n, dtype=np.int64)  # original state of each active position
    # rows: reward r, discounted time c, exit mass d = 1 - sum_y a(x, y); a dead state has r = -inf
    rcd = np.empty((3, n))
    rcd[0] = r0
    rcd[1] = 1.0
    rcd[2] = np.maximum(1.0 - full.sum(axis=1), 0.0)
    index = np.empty(n)
    # deferred updates of the current block: a_current = a + ut[:nb].T @ w[:nb]
    ut = np.empty((block, n))
    w = np.empty((block, n))
    m = n
    while m:
        nb = min(block, m)
        alive = np.ones(m)
        pivots(full, m, rcd, act, index, ut, w, alive, nb)
        new_m = m - nb
        if new_m == 0:
            break
        # move the alive states sitting at positions ≥ new_m into the dead slots < new_m
        src = np.flatnonzero(alive[new_m:]) + new_m
        dst = np.flatnonzero(alive[:new_m] == 0.0)
        if src.size:
            full[dst, :m] = full[src, :m]
            full[:m, dst] = full[:m, src]
            rcd[:, dst] = rcd[:, src]
            act[dst] = act[src]
            ut[:nb, dst] = ut[:nb, src]
            w[:nb, dst] = w[:nb, src]
        update(full, new_m, ut, w, nb)
        m = new_m
    return index


def gittins_naive(transition: ArrayLike, reward: ArrayLike, discount: float) -> FloatArray:
    """Unblocked largest-remaining-index elimination (one rank-1 update of the whole matrix per
    pivot). Same algorithm as :func:`gittins_indices`; kept as the benchmark's naive baseline."""
    p, r0, beta = validate_chain(transition, reward, discount)
    n = p.shape[0]
    a = beta * p
    r = r0.copy()
    c = np.ones(n)
    d = np.maximum(1.0 - a.sum(axis=1), 0.0)
    alive = np.ones(n, dtype=bool)
    index = np.empty(n)
    for _ in range(n):
        ratio = np.where(alive, r / c, -np.inf)
        z = int(np.argmax(ratio))
        index[z] = ratio[z]
        alive[z] = False
        col = np.where(alive, a[:, z], 0.0)
        row = np.where(alive, a[z, :], 0.0)
        denom = d[z] + row.sum()
        f = col / denom
        r += f * r[z]
        c += f * c[z]
        d += f * d[z]
        a += np.outer(f, row)
    return index


def gittins_restart(
    transition: ArrayLike, reward: ArrayLike, discount: float, max_iter: int = 1000
) -> FloatArray:
    """Slow reference: the restart-in-state characterisation (Katehakis & Veinott 1987).

    For each state ``s``, the MDP with actions "continue from x" (reward ``r(x)``, move by
    ``P(x, ·)``) and "restart in s" (reward ``r(s)``, move by ``P(s, ·)``) has value ``V_s``;
    ``G(s) = (1 − β) V_s(s)``. Solved exactly by policy iteration (one linear solve per step).
    O(n⁴) or worse: tests only.
    """
    p, r, beta = validate_chain(transition, reward, discount)
    n = p.shape[0]
    eye = np.eye(n)
    out = np.empty(n)
    scale = 1.0 + np.abs(r).max() / (1.0 - beta)
    for s in range(n):
        restart = np.zeros(n, dtype=bool)
        v: FloatArray = np.zeros(n)
        for _ in range(max_iter):
            pp = np.where(restart[:, None], p[s][None, :], p)
            rr = np.where(restart, r[s], r)
            v = np.asarray(np.linalg.solve(eye - beta * pp, rr), dtype=np.float64)
            q_cont = r + beta * p @ v
            q_rest = r[s] + beta * p[s] @ v
            better_rest = q_rest > q_cont + 1e-13 * scale
            better_cont = q_cont > q_rest + 1e-13 * scale
            new = np.where(better_rest, True, np.where(better_cont, False, restart))
            if np.array_equal(new, restart):
                break
            restart = new
        out[s] = (1.0 - beta) * v[s]
    return out


def gittins_bruteforce(transition: ArrayLike, reward: ArrayLike, discount: float) -> FloatArray:
    """Eq. (3) taken literally: for each state, the best ratio over all stopping rules "stop on
    first leaving C" (all 2ⁿ continuation sets C; optimal stopping times of a Markov chain are of
    this form). Exponential: n ≤ 12, tests only."""
    p, r, beta = validate_chain(transition, reward, discount)
    n = p.shape[0]
    if n > 12:
        raise InvalidInput("transition", n, "brute force is limited to 12 states")
    best = np.full(n, -np.inf)
    for mask in itertools.product((False, True), repeat=n):
        cset = np.array(mask, dtype=bool)
        idx = np.flatnonzero(cset)
        num_c = np.zeros(n)
        den_c = np.zeros(n)
        if idx.size:
            sub = np.eye(idx.size) - beta * p[np.ix_(idx, idx)]
            sol = np.linalg.solve(sub, np.column_stack([r[idx], np.ones(idx.size)]))
            num_c[idx], den_c[idx] = sol[:, 0], sol[:, 1]
        num = r + beta * p @ num_c
        den = 1.0 + beta * p @ den_c
        best = np.maximum(best, num / den)
    return best


def gittins_from_json(data: Any) -> dict[str, list[float]]:
    """``{"transition": [[...]], "reward": [...], "discount": β}`` → ``{"index": [...]}``
    (the ``specmarket gittins`` command)."""
    if not isinstance(data, dict):
        raise InvalidInput("<root>", data, "must be a JSON object")
    extra = set(data) - {"transition", "reward", "discount"}
    if extra:
        raise InvalidInput(sorted(extra)[0], data[sorted(extra)[0]], "unknown key")
    for key in ("transition", "reward", "discount"):
        if key not in data:
            raise InvalidInput(key, None, "is required")
    return {"index": gittins_indices(data["transition"], data["reward"], data["discount"]).tolist()}
