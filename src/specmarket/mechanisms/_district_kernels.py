"""Compiled kernels of District-D's winner determination and critical values (numba).

These are the loops behind :func:`specmarket.mechanisms.district.critical_thresholds`: the greedy
of Algorithms 7/10 (``MaxMarginalRev`` over eq. (30) with Algorithm 9's seller sets), the run
without each winning buyer (Algorithm 11, lines 1–9) and the run without each sold seller
(Algorithm 12, lines 1–9, with Algorithm 8's sets through Lemma 3), all in virtual space (seed 003).

Their Python twin is :class:`specmarket.mechanisms.district._State` and
:func:`specmarket.mechanisms.district._thresholds_python`: the kernels perform exactly the same
floating-point operations in the same order (sums of virtual asks in increasing ``(ψ, index)``
rank, ``γ`` accumulated round by round), so both give bit-for-bit the same transactions and
thresholds; the tests compare them with ``==``.

State of one run (arrays, so that a run can be copied cheaply):

* ``usable[k, w]``: buyer ``k``'s usable channels (eligible, not removed, not held by a buyer it
  conflicts with) as a bit set over the ``(ψ, index)`` ranking, 64 ranks per word;
* ``sold[w]``: the channels already sold (``T^s``), same encoding;
* ``active[k]``: buyer ``k`` may still be chosen;
* ``cost[k]`` / ``cost1[k]``: the virtual cost of ``k``'s Algorithm-9 set of ``r_k`` channels /
  of its best ``r_k − 1`` channels (``inf`` if impossible); ``score[k] = r_k φ_k − cost[k]`` for
  active buyers, ``−inf`` otherwise;
* ``observer``: the buyer whose threshold a rerun is computing (inactive, row kept current), or −1.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Where (and whether) compiled kernels may be cached: a read-only install or HOME falls back.
from specmarket._numba_cache import CACHE as _CACHE

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
_ONE = np.uint64(1)
_ZERO = np.uint64(0)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=_CACHE, inline="always")
def popcount(x):  # type: ignore[no-untyped-def]
    """Number of set bits of a ``uint64`` (SWAR; LLVM turns it into ``popcnt``)."""
    x = x - ((x >> _ONE) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return np.int64((x * _H01) >> np.uint64(56))


@njit(cache=_CACHE, inline="always")
def lowest_bit(x):  # type: ignore[no-untyped-def]
    """Index of the lowest set bit of a non-zero ``uint64``."""
    return popcount((x & (~x + _ONE)) - _ONE)


@njit(cache=_CACHE)
def count_reusable(row, sold):  # type: ignore[no-untyped-def]
    """``|usable ∩ T^s|``: the buyer's channels that are sold already (free to reuse)."""
    have = 0
    for w in range(row.size):
        x = row[w] & sold[w]
        if x != _ZERO:
            have += popcount(x)
    return have


@njit(cache=_CACHE)
def row_costs(row, sold, r, psi_r, have):  # type: ignore[no-untyped-def]
    """Algorithm-9 costs of one buyer for ``r`` and for ``r − 1`` channels (``_State.row_costs``),
    given its number ``have`` of reusable channels (:func:`count_reusable`).

    Reusable channels cost nothing; the rest are the cheapest unsold usable channels, lowest rank
    first, their virtual asks summed in that order.
    """
    if have >= r:
        return 0.0, 0.0
    nw = row.size
    inf = np.inf
    c1 = 0.0 if have >= r - 1 else inf
    c = c1
    total = 0.0
    got = have
    w = 0
    fresh = row[0] & ~sold[0] if nw > 0 else _ZERO
    while got < r:
        while fresh == _ZERO and w < nw - 1:
            w += 1
            fresh = row[w] & ~sold[w]
        if fresh == _ZERO:
            c = inf
            if got + 1 <= r - 1:
                c1 = inf
            break
        b = lowest_bit(fresh)
        fresh &= fresh - _ONE
        total += psi_r[w * 64 + b]
        got += 1
        if got == r - 1:
            c1 = total
        if got == r:
            c = total
    return c, c1


@njit(cache=_CACHE)
def tree_fix(tree, score, i):  # type: ignore[no-untyped-def]
    """Re-establish the tournament tree above leaf ``i`` after ``score[i]`` changed.

    ``tree`` has ``2P`` entries for ``P`` (a power of two ≥ N) padded scores; node ``p`` holds the
    first index of maximum score in its range (the left child wins ties), so the root ``tree[1]``
    is the first buyer of maximum score, as ``numpy.argmax`` in the Python twin.
    """
    half = tree.size // 2
    p = (half + i) >> 1
    while p >= 1:
        a = tree[2 * p]
        b = tree[2 * p + 1]
        tree[p] = a if score[a] >= score[b] else b
        p >>= 1


@njit(cache=_CACHE)
def set_score(tree, score, k, value):  # type: ignore[no-untyped-def]
    """``score[k] = value``, keeping the tree (no work if the score is unchanged)."""
    if score[k] != value:
        score[k] = value
        tree_fix(tree, score, k)


@njit(cache=_CACHE)
def update_row(k, usable, sold, active, r, rphi, psi_r, cost, cost1, score, tree, have):  # type: ignore[no-untyped-def]
    """Refresh buyer ``k``'s costs and score (``_State._update``); ``have[k]`` is current."""
    c, c1 = row_costs(usable[k], sold, r[k], psi_r, have[k])
    cost[k] = c
    cost1[k] = c1
    set_score(tree, score, k, rphi[k] - c if active[k] else -np.inf)


@njit(cache=_CACHE)
def init_state(elig_words, skip_buyer, skip_rank, r, rphi, psi_r):  # type: ignore[no-untyped-def]
    """Fresh state of a run without buyer ``skip_buyer`` / seller of rank ``skip_rank`` (−1)."""
    n, nw = elig_words.shape
    usable = elig_words.copy()
    if skip_rank >= 0:
        mask = ~(_ONE << np.uint64(skip_rank % 64))
        for k in range(n):
            usable[k, skip_rank // 64] &= mask
    sold = np.zeros(nw, dtype=np.uint64)
    active = np.ones(n, dtype=np.bool_)
    if skip_buyer >= 0:
        active[skip_buyer] = False
    cost = np.full(n, np.inf)
    cost1 = np.full(n, np.inf)
    half = 1
    while half < n:
        half *= 2
    score = np.full(half, -np.inf)  # padded to a power of two for the tree
    tree = np.zeros(2 * half, dtype=np.int64)
    have = np.zeros(n, dtype=np.int64)  # nothing is sold yet
    for k in range(n):
        c, c1 = row_costs(usable[k], sold, r[k], psi_r, 0)
        cost[k] = c
        cost1[k] = c1
        score[k] = rphi[k] - c if active[k] else -np.inf
    for i in range(half):
        tree[half + i] = i
    for p in range(half - 1, 0, -1):
        a = tree[2 * p]
        b = tree[2 * p + 1]
        tree[p] = a if score[a] >= score[b] else b
    return usable, sold, active, cost, cost1, score, tree, have


@njit(cache=_CACHE)
def step(score, tree):  # type: ignore[no-untyped-def]
    """``MaxMarginalRev(T)``: the first buyer of maximum score, or −1 if none is feasible."""
    k = tree[1]
    return k if score[k] > -np.inf else -1


@njit(cache=_CACHE)
def choose_sellers(row, sold, r, pick):  # type: ignore[no-untyped-def]
    """Algorithm 9's set ``S*`` as a bit set ``pick`` (reused channels first, then the cheapest
    unsold, lowest rank first); ``pick`` is overwritten."""
    nw = row.size
    for w in range(nw):
        pick[w] = _ZERO
    left = r
    for phase in range(2):  # reusable (sold) channels first, then unsold ones
        for w in range(nw):
            pool = row[w] & ~sold[w] if phase == 1 else row[w] & sold[w]
            while pool != _ZERO and left > 0:
                low = pool & (~pool + _ONE)
                pick[w] |= low
                pool ^= low
                left -= 1


@njit(cache=_CACHE)
def apply(  # type: ignore[no-untyped-def]
    buyer,
    pick,
    usable,
    sold,
    active,
    observer,
    r,
    rphi,
    psi_r,
    cost,
    cost1,
    score,
    tree,
    have,
    nbr_ptr,
    nbr_idx,
    new,
):
    """Add transaction ``(S, buyer)`` with ``S`` = ``pick`` (``_State.apply``; ``new`` is scratch,
    only its words where ``pick`` is non-zero are meaningful).

    Only the winner's conflict neighbours that could use one of its channels lose them; when the
    transaction sells new channels, the rows that could use them gain reusable channels. The
    count ``have[k] = |usable_k ∩ T^s|`` is kept for active rows and the observer, and a row's
    costs are recomputed only when they can change: not when it could reuse ``r_k`` channels
    before and after (both costs 0), nor when it cannot get ``r_k − 1`` channels at all (both
    ``inf``, for ever: usable sets only shrink).
    """
    nw = sold.size
    # the (at most r) words that the transaction touches, and those with newly sold channels
    words = np.empty(nw, dtype=np.int64)
    nword = 0
    fresh = np.empty(nw, dtype=np.int64)
    nfresh = 0
    for w in range(nw):
        if pick[w] != _ZERO:
            words[nword] = w
            nword += 1
            new[w] = pick[w] & ~sold[w]
            if new[w] != _ZERO:
                fresh[nfresh] = w
                nfresh += 1
            sold[w] |= pick[w]
    active[buyer] = False
    set_score(tree, score, buyer, -np.inf)
    cost1[buyer] = np.inf
    for e in range(nbr_ptr[buyer], nbr_ptr[buyer + 1]):
        k = nbr_idx[e]
        if not (active[k] or k == observer):
            for i in range(nword):
                w = words[i]
                usable[k, w] &= ~pick[w]
            continue
        hit = False
        lost = 0
        for i in range(nword):
            w = words[i]
            x = usable[k, w] & pick[w]
            if x != _ZERO:
                usable[k, w] &= ~pick[w]
                hit = True
                x &= ~new[w]  # channels sold before: counted in have
                if x != _ZERO:
                    lost += popcount(x)
        if hit:
            before = have[k]
            have[k] = before - lost
            if have[k] < r[k] or before < r[k]:
                update_row(k, usable, sold, active, r, rphi, psi_r, cost, cost1, score, tree, have)
    if nfresh > 0:
        for k in range(usable.shape[0]):
            if not (active[k] or k == observer):
                continue
            gain = 0
            for i in range(nfresh):
                w = fresh[i]
                x = usable[k, w] & new[w]
                if x != _ZERO:
                    gain += popcount(x)
            if gain == 0:
                continue
            before = have[k]
            have[k] = before + gain
            if before >= r[k] or (cost1[k] == np.inf and k != observer):
                continue
            update_row(k, usable, sold, active, r, rphi, psi_r, cost, cost1, score, tree, have)


@njit(cache=_CACHE)
def _accepts(profit, gamma, delta):  # type: ignore[no-untyped-def]
    return delta >= 0.0 if profit else gamma + delta >= 0.0


@njit(cache=_CACHE)
def _final_target(profit, gamma):  # type: ignore[no-untyped-def]
    return 0.0 if profit else -gamma


@njit(cache=_CACHE)
def buyer_rerun(  # type: ignore[no-untyped-def]
    n,
    gamma,
    usable,
    sold,
    active,
    cost,
    cost1,
    score,
    tree,
    have,
    r,
    rphi,
    psi_r,
    profit,
    nbr_ptr,
    nbr_idx,
):
    """Finish the run without buyer ``n`` from the given state (modified in place); the least
    ``φ_n`` with which ``n`` would have been chosen in one of its rounds (Algorithm 11 lines 3–9,
    ``_buyer_rounds``)."""
    nw = sold.size
    pick = np.zeros(nw, dtype=np.uint64)
    new = np.zeros(nw, dtype=np.uint64)
    rn = float(r[n])
    best = np.inf
    while True:
        k = step(score, tree)
        last = k < 0 or not _accepts(profit, gamma, score[k])
        c = cost[n]
        if c == np.inf:
            count = 0
            for w in range(nw):
                count += popcount(usable[n, w])
            if count < r[n]:
                return best  # usable sets only shrink: n can never get r_n channels again
        else:
            target = _final_target(profit, gamma) if last else score[k]
            v = (target + c) / rn
            if v < best:
                best = v
        if last:
            return best
        delta = score[k]
        choose_sellers(usable[k], sold, r[k], pick)
        gamma += delta
        apply(
            k,
            pick,
            usable,
            sold,
            active,
            n,
            r,
            rphi,
            psi_r,
            cost,
            cost1,
            score,
            tree,
            have,
            nbr_ptr,
            nbr_idx,
            new,
        )


@njit(cache=_CACHE)
def seller_rerun(  # type: ignore[no-untyped-def]
    rank, elig_words, elig_col, r, rphi, psi_r, profit, nbr_ptr, nbr_idx
):
    """The run without the seller of rank ``rank``, from scratch; the largest ``ψ_m`` with which
    it would have been chosen (Algorithm 12 lines 3–9, ``_seller_rounds``):
    ``max_j r_j φ_j − C^{−m}_j − Δ_l`` over buyers ``j`` that may use it, ``C^{−m}_j = cost1``."""
    usable, sold, active, cost, cost1, score, tree, have = init_state(
        elig_words, -1, rank, r, rphi, psi_r
    )
    n, nw = usable.shape
    pick = np.zeros(nw, dtype=np.uint64)
    new = np.zeros(nw, dtype=np.uint64)
    gamma = 0.0
    best = -np.inf
    while True:
        k = step(score, tree)
        last = k < 0 or not _accepts(profit, gamma, score[k])
        v = -np.inf
        for j in range(n):
            if elig_col[j]:
                x = rphi[j] - cost1[j]
                if x > v:
                    v = x
        if v == -np.inf:
            return best  # cost1 = inf is permanent: no buyer can take this seller any more
        target = _final_target(profit, gamma) if last else score[k]
        if v - target > best:
            best = v - target
        if last:
            return best
        delta = score[k]
        choose_sellers(usable[k], sold, r[k], pick)
        gamma += delta
        apply(
            k,
            pick,
            usable,
            sold,
            active,
            -1,
            r,
            rphi,
            psi_r,
            cost,
            cost1,
            score,
            tree,
            have,
            nbr_ptr,
            nbr_idx,
            new,
        )


@njit(cache=_CACHE)
def full_run(  # type: ignore[no-untyped-def]
    elig_words, r, rphi, psi_r, profit, nbr_ptr, nbr_idx, skip_buyer, skip_rank, with_thresholds
):
    """Algorithm 7/10 (without buyer ``skip_buyer`` / ranked seller ``skip_rank``, −1: none)
    and, if ``with_thresholds`` (only without skips), every winner's critical virtual value.

    Returns ``(buyers, picks, deltas, gammas, thresholds)``: per round the winner, its seller set
    (bit set rows), ``Δ_l``, ``γ`` before the round, and the winner's threshold. The run without a
    winner coincides with the full run until the winner's round, so its rerun starts from a copy
    of the full run's state there; the earlier rounds' candidates ``(Δ_l + C_n)/r_n`` are kept
    for all buyers at once (``early``), as in ``_thresholds_python``.
    """
    usable, sold, active, cost, cost1, score, tree, have = init_state(
        elig_words, skip_buyer, skip_rank, r, rphi, psi_r
    )
    n, nw = usable.shape
    buyers = np.empty(n, dtype=np.int64)
    picks = np.zeros((n, nw), dtype=np.uint64)
    deltas = np.empty(n)
    gammas = np.empty(n)
    thr = np.empty(n)
    early = np.full(n, np.inf)
    pick = np.zeros(nw, dtype=np.uint64)
    new = np.zeros(nw, dtype=np.uint64)
    gamma = 0.0
    rounds = 0
    while True:
        k = step(score, tree)
        last = k < 0 or not _accepts(profit, gamma, score[k])
        if with_thresholds:
            target = _final_target(profit, gamma) if last else score[k]
            for j in range(n):
                if active[j] and (last or j != k):  # the winner's own round: its rerun
                    v = (target + cost[j]) / float(r[j])
                    if v < early[j]:
                        early[j] = v
        if last:
            break
        delta = score[k]
        choose_sellers(usable[k], sold, r[k], pick)
        if with_thresholds:
            a2 = active.copy()
            a2[k] = False
            s2 = score.copy()
            t2 = tree.copy()
            set_score(t2, s2, k, -np.inf)
            y = buyer_rerun(
                k,
                gamma,
                usable.copy(),
                sold.copy(),
                a2,
                cost.copy(),
                cost1.copy(),
                s2,
                t2,
                have.copy(),
                r,
                rphi,
                psi_r,
                profit,
                nbr_ptr,
                nbr_idx,
            )
            thr[rounds] = y
        buyers[rounds] = k
        picks[rounds] = pick
        deltas[rounds] = delta
        gammas[rounds] = gamma
        rounds += 1
        gamma += delta
        apply(
            k,
            pick,
            usable,
            sold,
            active,
            skip_buyer,
            r,
            rphi,
            psi_r,
            cost,
            cost1,
            score,
            tree,
            have,
            nbr_ptr,
            nbr_idx,
            new,
        )
    for t in range(rounds):
        e = early[buyers[t]]
        if e < thr[t]:
            thr[t] = e
    return buyers[:rounds], picks[:rounds], deltas[:rounds], gammas[:rounds], thr[:rounds]
