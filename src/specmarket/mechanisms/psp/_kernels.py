"""Compiled kernels of the data market's buyer reply (numba), seed 002 eq. (18) and Lemma 3.2.

These are the inner loops of :func:`.market.engine.best_reply_fast`: eq. (18)
at every usable seller, the consistent-capacity test ``max_n n · D̄_(n)(y) ≥ z`` of eq. (22) and
the bisection for the buyer's target ``sup{z ≤ D_i : C_i(θ_i'(z)) ≥ z}``. They perform exactly the
floating-point operations of the per-seller reference (:func:`market._best_reply`), in the same
order, so the compiled reply gives bit-for-bit the same bids (the tests compare whole traces).

Inputs are the flat row buffers of :class:`market._Book`: ``price[start[j] : start[j] + count[j]]``
seller ``j``'s bid prices sorted in decreasing order, ``cum[start[j] + k]`` the sum of the first
``k`` quantities (rows are contiguous and short, so a binary search stays in one or two cache
lines).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Where (and whether) compiled kernels may be cached: a read-only install or HOME falls back.
from specmarket._numba_cache import CACHE

TOL = 1e-9  # market._TOL


@njit(cache=CACHE)
def quotes(price, cum, start, count, supply, reserve, usable, own_q, own_p, eps, y):  # type: ignore[no-untyped-def]
    """Usable sellers at price ``y``: (available, rank, effective price), in rank order.

    A seller whose reserve exceeds ``y + ε`` is out of reach; one within ε is quoted at its
    reserve (``market._capacity_candidates``). Sellers with nothing available are dropped.
    """
    n = usable.size
    a = np.empty(n)
    ix = np.empty(n, dtype=np.int64)
    yy = np.empty(n)
    m = 0
    for u in range(n):
        j = usable[u]
        c, v = _quote(
            price, cum, start[j], count[j], supply[j], reserve[j], own_q[j], own_p[j], eps, y
        )
        if c < 0:
            continue
        r = reserve[j]
        yj = y if y >= r else r
        if v > TOL:
            a[m] = v
            ix[m] = j
            yy[m] = yj
            m += 1
    return a[:m], ix[:m], yy[:m]


@njit(cache=CACHE)
def capacity(a):  # type: ignore[no-untyped-def]
    """``max_n n · D̄_(n)`` over the availabilities ``a`` (``market._capacity``)."""
    if a.size == 0:
        return 0.0
    s = np.sort(a)[::-1]
    best = -np.inf
    for n in range(s.size):
        c = float(n + 1) * s[n]
        if c > best:
            best = c
    return best


@njit(cache=CACHE)
def smallest_cover(a, v):  # type: ignore[no-untyped-def]
    """Smallest ``n`` with ``n · D̄_(n) ≥ v`` (0 if none), in O(len(a)) without sorting.

    ``n · a_(n) ≥ v`` holds exactly when at least ``n`` availabilities satisfy ``n · a_j ≥ v``
    (floating-point multiplication by ``n`` is monotone), and for each ``a_j`` the ``n`` that
    satisfy it form a ray ``n ≥ n_j``: count the ``n_j`` and scan.
    """
    m = a.size
    if m == 0:
        return 0
    if v <= 0.0:
        return 1
    cnt = np.zeros(m + 2, dtype=np.int64)
    for k in range(m):
        ak = a[k]
        if ak <= 0.0:
            continue
        r = v / ak
        if r > m + 1:
            continue
        nj = int(np.ceil(r))
        if nj < 1:
            nj = 1
        while nj > 1 and float(nj - 1) * ak >= v:
            nj -= 1
        while nj <= m and float(nj) * ak < v:
            nj += 1
        if nj <= m:
            cnt[nj] += 1
    s = 0
    for n in range(1, m + 1):
        s += cnt[n]
        if s >= n:
            return n
    return 0


@njit(cache=CACHE)
def best_first(a, ix, sel):  # type: ignore[no-untyped-def]
    """Positions ``sel`` ordered best first: decreasing availability, then rank."""
    keys = np.empty(sel.size)
    for k in range(sel.size):
        keys[k] = -a[sel[k]]
    order = np.argsort(keys, kind="mergesort")  # stable; sel is in rank order
    return sel[order]


@njit(cache=CACHE)
def top_n(a, n, v):  # type: ignore[no-untyped-def]
    """The ``n`` best positions (decreasing availability, then rank) among those with
    ``n · a ≥ v``, best first, by insertion into a buffer of ``n`` (positions are in rank order,
    so a later position never beats an equal availability)."""
    buf = np.empty(n, dtype=np.int64)
    m = 0
    for k in range(a.size):
        ak = a[k]
        if not float(n) * ak >= v:
            continue
        if m == n and not ak > a[buf[n - 1]]:
            continue
        i = m if m < n else n - 1
        while i > 0 and ak > a[buf[i - 1]]:
            buf[i] = buf[i - 1]
            i -= 1
        buf[i] = k
        if m < n:
            m += 1
    return buf[:m]


@njit(cache=CACHE)
def plan(a, ix, x):  # type: ignore[no-untyped-def]
    """Fewest sellers covering ``x`` (``market._plan``): positions best first, per-seller quantity.

    If no ``n`` covers ``x``, the ``n`` of largest capacity (first one beyond ``+ TOL``).
    """
    v = x - TOL
    n = smallest_cover(a, v)
    if n > 0:
        return top_n(a, n, v), x / n
    order = best_first(a, ix, np.arange(a.size))
    best_n = 0
    best_cap = 0.0
    for k in range(order.size):
        c = float(k + 1) * a[order[k]]
        if c > best_cap + TOL:
            best_n = k + 1
            best_cap = c
    if best_n == 0:
        return order[:0], 0.0
    return order[:best_n], best_cap / best_n


@njit(cache=CACHE)
def marginal_value(value, demand, elasticity, z):  # type: ignore[no-untyped-def]
    """``θ_i'(z)`` (``market.marginal_value``)."""
    if z >= demand:
        return 0.0 if z > demand else value * (1.0 - elasticity)
    zz = z if z > 0.0 else 0.0
    return value * (1.0 - elasticity * zz / demand)


@njit(cache=CACHE, inline="always")
def _quote(price, cum, s, n, supply_j, r, own_q_j, own_p_j, eps, y):  # type: ignore[no-untyped-def]
    """:func:`state` for one seller, its row and fields passed as scalars (hot loops).

    Only the two row buffers are passed as arrays: every array argument of a compiled call costs
    reference counting, which made the per-seller call ~10x slower than the search itself.
    Inlined into the loops that call it.
    """
    if r > y + eps + TOL:
        return -1, 0.0
    yj = y if y >= r else r
    t = (yj - 2 * TOL) + TOL
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) // 2
        if price[s + mid] > t:
            lo = mid + 1
        else:
            hi = mid
    used = cum[s + lo]
    own = 0
    if own_p_j >= yj - TOL:
        used = used - own_q_j
        own = 1
    v = supply_j - used
    return 2 * lo + own, (v if v > 0.0 else 0.0)


@njit(cache=CACHE)
def state(price, cum, start, count, supply, reserve, own_q, own_p, eps, j, y):  # type: ignore[no-untyped-def]
    """Seller ``j``'s quote at price ``y`` as a state code and an availability.

    The code is ``-1`` when ``j`` is out of reach, else ``2k + own`` with ``k`` the number of bids
    above the effective price and ``own`` whether the buyer's own bid is excluded; all three are
    monotone in ``y``, so two prices with the same code bracket prices with the same quote.
    The availability is eq. (18) with bids at ``≥`` the effective price counted and the buyer's
    own bid excluded (``market._Seller.available_to``), operation for operation.
    """
    return _quote(price, cum, start[j], count[j], supply[j], reserve[j], own_q[j], own_p[j], eps, y)


@njit(cache=CACHE)
def _requote(  # type: ignore[no-untyped-def]
    price,
    cum,
    start,
    count,
    supply,
    reserve,
    own_q,
    own_p,
    eps,
    usable,
    c_a,
    c_b,
    a_known,
    y,
    inside,
):
    """Quotes of the usable sellers at ``y`` as padded arrays (availability 0 if out of reach or
    ≤ TOL) and their codes. ``y`` lies in a price bracket whose ends gave codes ``c_a`` and ``c_b``;
    where they agree the quote ``a_known`` is reused (codes are monotone in the price), the others
    are searched. ``inside`` false (rounding put ``y`` outside the bracket): search all.
    """
    m = usable.size
    a = np.empty(m)
    code = np.empty(m, dtype=np.int64)
    for u in range(m):
        if inside and c_a[u] == c_b[u]:
            c = c_a[u]
            v = a_known[u] if c >= 0 else 0.0
        else:
            j = usable[u]
            c, v = _quote(
                price,
                cum,
                start[j],
                count[j],
                supply[j],
                reserve[j],
                own_q[j],
                own_p[j],
                eps,
                y,
            )
            if c < 0:
                v = 0.0
        code[u] = c
        a[u] = v if v > TOL else 0.0
    return a, code


@njit(cache=CACHE)
def _compact(usable, reserve, a, y):  # type: ignore[no-untyped-def]
    """Padded quotes → (available, rank, effective price) of the sellers with data, rank order."""
    m = 0
    for u in range(a.size):
        if a[u] > 0.0:
            m += 1
    av = np.empty(m)
    ix = np.empty(m, dtype=np.int64)
    yy = np.empty(m)
    k = 0
    for u in range(a.size):
        if a[u] > 0.0:
            j = usable[u]
            av[k] = a[u]
            ix[k] = j
            r = reserve[j]
            yy[k] = y if y >= r else r
            k += 1
    return av, ix, yy


@njit(cache=CACHE)
def probe(lo, hi, k, hint, width):  # type: ignore[no-untyped-def]
    """The ``k``-th point tested by the target search on the bracket ``(lo, hi)``.

    Warm start (docs/psp.md choice 5): first the buyer's last supremum ``hint``, then one
    ``width`` beyond it in the direction its test went, then plain bisection. Replies move the
    target little between rounds, so the bracket is usually narrow after two tests and the later
    steps re-search few sellers. Same guarantee as bisection: the search stops with
    ``hi − lo ≤ 10⁻⁴ D_i``.
    """
    z = 0.5 * (lo + hi)
    if k == 0:
        if lo < hint < hi:
            z = hint
    elif k == 1:
        c = z
        if lo == hint:
            c = hint + width
        elif hi == hint:
            c = hint - width
        if lo < c < hi:
            z = c
    return z


@njit(cache=CACHE)
def target(  # type: ignore[no-untyped-def]
    price,
    cum,
    start,
    count,
    supply,
    reserve,
    active,
    own_q,
    own_p,
    eps,
    cap,
    value,
    demand,
    el,
    hint,
):
    """Usable sellers, the buyer's target ``x`` and the quotes at its price (``_best_reply``).

    Usable: active, reserve ≤ ``y_max + ε``, data left at ``y_max = min(θ'(0), p^κ)``. Flat
    buyers: ``x = D_i`` at ``y_max``. Elastic buyers: ``x = [sup{z ≤ D_i : C_i(θ_i'(z)) ≥ z} −
    ε/θ'(0)]^+``, the supremum by bisection to ``10⁻⁴ D_i``, then the quotes at ``θ'(x)``.

    One pass quotes every seller at the two ends of the price range; afterwards only the sellers
    whose quote differs at the two ends of the current bracket are searched again (a binary
    search in their bid row), so a bisection step costs a few searches plus one O(M) count.
    Every decision is the reference's, on the same floating-point numbers.
    """
    n = active.size
    y_top = min(marginal_value(value, demand, el, 0.0), cap)  # = y_max
    y_bot = y_top if el == 0.0 else min(marginal_value(value, demand, el, demand), cap)
    usable = np.empty(n, dtype=np.int64)
    c_top = np.empty(n, dtype=np.int64)
    a_top = np.empty(n)
    c_bot = np.empty(n, dtype=np.int64)
    a_bot = np.empty(n)
    lim = y_top + eps + TOL
    m = 0
    for j in range(n):
        if not active[j] or not reserve[j] <= lim:
            continue
        c, v = _quote(
            price,
            cum,
            start[j],
            count[j],
            supply[j],
            reserve[j],
            own_q[j],
            own_p[j],
            eps,
            y_top,
        )
        if not v > TOL:
            continue
        usable[m] = j
        c_top[m] = c
        a_top[m] = v
        if el != 0.0:
            c2, v2 = _quote(
                price,
                cum,
                start[j],
                count[j],
                supply[j],
                reserve[j],
                own_q[j],
                own_p[j],
                eps,
                y_bot,
            )
            c_bot[m] = c2
            a_bot[m] = v2 if (c2 >= 0 and v2 > TOL) else 0.0
        m += 1
    usable = usable[:m]
    c_top = c_top[:m]
    a_top = a_top[:m]
    c_bot = c_bot[:m]
    a_bot = a_bot[:m]
    if el == 0.0:
        a, ix, yy = _compact(usable, reserve, a_top, y_top)
        return usable, demand, a, ix, yy
    if smallest_cover(a_bot, demand - TOL) > 0 or demand - TOL <= 0.0:
        x = demand
        c_lo, p_lo = c_bot, y_bot  # the bracket of the shaded price: [y_bot, y_top]
    else:
        # bisection: lo ↔ higher price (z = lo), hi ↔ lower price (z = hi)
        lo = 0.0
        hi = demand
        c_lo = c_top.copy()
        c_hi = c_bot.copy()
        p_lo, p_hi = y_top, y_bot
        a = a_top.copy()  # current quotes; exact for every seller whose two codes agree
        dyn = np.empty(m, dtype=np.int64)  # sellers whose codes differ: searched at each step
        nd = 0
        static_max = 0.0
        for u in range(m):
            if c_lo[u] == c_hi[u]:
                static_max = max(static_max, a[u])
            else:
                dyn[nd] = u
                nd += 1
        cm = np.empty(m, dtype=np.int64)
        if m > 0:
            for k_step in range(32):
                mid = probe(lo, hi, k_step, hint, 0.02 * demand)
                y = min(marginal_value(value, demand, el, mid), cap)
                if not p_hi <= y <= p_lo:  # rounding left the bracket: search every seller
                    for u in range(m):
                        if c_lo[u] == c_hi[u]:
                            c_hi[u] = -2  # forces a search; both ends get the new code below
                    nd = m
                    dyn[:m] = np.arange(m)
                    static_max = 0.0
                amax = static_max
                for d in range(nd):
                    u = dyn[d]
                    j = usable[u]
                    c, v = _quote(
                        price,
                        cum,
                        start[j],
                        count[j],
                        supply[j],
                        reserve[j],
                        own_q[j],
                        own_p[j],
                        eps,
                        y,
                    )
                    if c < 0 or not v > TOL:
                        v = 0.0
                    a[u] = v
                    cm[u] = c
                    if v > amax:
                        amax = v
                ok = amax >= mid or smallest_cover(a, mid) > 0
                if ok:
                    lo, p_lo = mid, y
                    for d in range(nd):
                        c_lo[dyn[d]] = cm[dyn[d]]
                else:
                    hi, p_hi = mid, y
                    for d in range(nd):
                        c_hi[dyn[d]] = cm[dyn[d]]
                k = 0
                for d in range(nd):
                    u = dyn[d]
                    if c_lo[u] == c_hi[u]:
                        static_max = max(static_max, a[u])
                    else:
                        dyn[k] = u
                        k += 1
                nd = k
                if hi - lo <= 1e-4 * demand:
                    break
        x = lo  # the shaded price lies in [p_lo, y_top]
    # the ε-best reply shades the supremum by ε/θ'(0) (Lazar–Semret; seed 002 §4.1)
    x = x - eps / value
    x = x if x > 0.0 else 0.0
    y = min(marginal_value(value, demand, el, x), cap)
    a, _ = _requote(
        price,
        cum,
        start,
        count,
        supply,
        reserve,
        own_q,
        own_p,
        eps,
        usable,
        c_lo,
        c_top,
        a_top,
        y,
        p_lo <= y <= y_top,
    )
    av, ix, yy = _compact(usable, reserve, a, y)
    return usable, x, av, ix, yy


@njit(cache=CACHE)
def set_row(price, cum, start, count, j, qp):  # type: ignore[no-untyped-def]
    """Rebuild seller ``j``'s row from its bids ``qp[k] = (quantity, price)`` in dict order.

    Prices sorted decreasingly, stable in the bids' order (as ``market._Seller._index``), and the
    running sums of the quantities in that order. Rows of quantity ``≤ 0`` (the holes of the
    seller's cached matrix, ``market.seller._Seller.bid_matrix``) are skipped: dropping entries
    from a stable sort leaves the stable sort of the rest, so the row is that of the live bids.
    """
    k = qp.shape[0]
    order = np.argsort(-qp[:, 1], kind="mergesort")
    s = start[j]
    acc = 0.0
    cum[s] = 0.0
    m = 0
    for i in range(k):
        o = order[i]
        if not qp[o, 0] > 0.0:
            continue
        price[s + m] = qp[o, 1]
        acc += qp[o, 0]
        cum[s + m + 1] = acc
        m += 1
    count[j] = m


@njit(cache=CACHE)
def repack(price, cum, start, count, new_price, new_cum, new_start):  # type: ignore[no-untyped-def]
    """Copy every row (``count[j]`` prices, ``count[j] + 1`` sums) to ``new_start[j]``."""
    for j in range(start.size):
        a = start[j]
        b = new_start[j]
        n = count[j]
        for k in range(n):
            new_price[b + k] = price[a + k]
        for k in range(n + 1):
            new_cum[b + k] = cum[a + k]


@njit(cache=CACHE)
def set_rows(price, cum, start, count, rows, sizes, qp):  # type: ignore[no-untyped-def]
    """:func:`set_row` for several sellers: row ``rows[k]`` from the next ``sizes[k]`` bids of
    ``qp`` (one call per buyer reply instead of one per changed seller)."""
    o = 0
    for k in range(rows.size):
        set_row(price, cum, start, count, rows[k], qp[o : o + sizes[k]])
        o += sizes[k]


@njit(cache=CACHE)
def quantity_at_price(value, demand, el, y):  # type: ignore[no-untyped-def]
    """``sup{z ≤ D_i : θ_i'(z) ≥ y}`` (``market.quantity_at_price``)."""
    if y > value + TOL:
        return 0.0
    if el == 0.0:
        return demand
    z = demand * (1.0 - y / value) / el
    z = z if z > 0.0 else 0.0
    return demand if demand <= z else z


@njit(cache=CACHE)
def select_pool(a, ix, x, pool_ranks):  # type: ignore[no-untyped-def]
    """:func:`plan`, but keep the current pool when it still covers ``x`` with as few sellers.

    ``market._select_pool``: no lateral moves between equally good pools.
    """
    top, q = plan(a, ix, x)
    npool = pool_ranks.size
    if npool == 0:
        return top, q
    cur = np.empty(npool, dtype=np.int64)
    m = 0
    lo = np.inf
    for r in pool_ranks:
        k = np.searchsorted(ix, r)
        if k < ix.size and ix[k] == r:
            cur[m] = k
            m += 1
            if a[k] < lo:
                lo = a[k]
    if m == 0 or m != npool or m > max(top.size, 1):
        return top, q
    if float(m) * lo >= x - TOL:
        return best_first(a, ix, np.sort(cur[:m])), x / m
    return top, q


@njit(cache=CACHE)
def reply(  # type: ignore[no-untyped-def]
    price,
    cum,
    start,
    count,
    supply,
    reserve,
    active,
    own_q,
    own_p,
    eps,
    cap,
    value,
    demand,
    el,
    pool_ranks,
    old_price,
    hint,
    hold,
):
    """The buyer's reply without its ISP part (``market.buyer.best_reply``): target ``x``, price,
    per-seller quantity and the pool's ranks, best first.

    With ``hold`` (``Policy.price_hold``): a new price within ε of the old one is not a new price
    unless holding it costs more than half an ε-step of data.
    """
    usable, x, a, ix, yy = target(
        price,
        cum,
        start,
        count,
        supply,
        reserve,
        active,
        own_q,
        own_p,
        eps,
        cap,
        value,
        demand,
        el,
        hint,
    )
    idx, q = select_pool(a, ix, x, pool_ranks)
    p = yy[idx].max() if idx.size else 0.0
    if hold and pool_ranks.size and idx.size and abs(p - old_price) < eps - TOL and old_price > 0:
        y = old_price
        ah, ixh, yyh = quotes(
            price, cum, start, count, supply, reserve, usable, own_q, own_p, eps, y
        )
        want = quantity_at_price(value, demand, el, y)
        # min(want, capacity): the capacity's value is needed only when it is below ``want``
        x_hold = want if smallest_cover(ah, want) > 0 or want <= 0.0 else capacity(ah)
        if x_hold > TOL and x_hold >= q * idx.size - 0.5 * eps / value * demand:
            a, ix, yy, x = ah, ixh, yyh, x_hold
            idx, q = select_pool(a, ix, x, pool_ranks)
            p2 = yy[idx].max() if idx.size else 0.0
            p = y if y >= p2 else p2
    return x, p, q, ix[idx]


# ----------------------------------------------------------------------------------------------
# The seller's round (``market._Seller.run_auction``): compiled twins of ``local_auction``
# ----------------------------------------------------------------------------------------------

AUCTION_TOL = 1e-12  # local_auction._TOL


@njit(cache=CACHE)
def allocate(qp, supply, reserve):  # type: ignore[no-untyped-def]
    """``local_auction.allocate`` (eq. (20)) on the bids ``qp[k] = (quantity, price)``.

    Same rule; a tie group's quantities are summed left to right (numpy sums groups of more than
    eight pairwise, so results may differ in the last bits; the tests compare the two).
    """
    n = qp.shape[0]
    out = np.zeros(n)
    keep = np.empty(n, dtype=np.int64)
    m = 0
    for k in range(n):
        if qp[k, 1] >= reserve - AUCTION_TOL and qp[k, 1] > 0 and qp[k, 0] > 0:
            keep[m] = k
            m += 1
    if m == 0:
        return out
    keep = keep[:m]
    neg = np.empty(m)
    for k in range(m):
        neg[k] = -qp[keep[k], 1]
    order = keep[np.argsort(neg, kind="mergesort")]
    left = supply
    k = 0
    while k < m and left > AUCTION_TOL:
        price = qp[order[k], 1]
        e = k
        want = 0.0
        while e < m and abs(qp[order[e], 1] - price) <= AUCTION_TOL:
            want += qp[order[e], 0]
            e += 1
        if want <= left:
            for g in range(k, e):
                out[order[g]] = qp[order[g], 0]
            left -= want
        else:
            share = left / want
            for g in range(k, e):
                out[order[g]] = qp[order[g], 0] * share
            left = 0.0
        k = e
    return out


@njit(cache=CACHE)
def outsider_price(qp, supply):  # type: ignore[no-untyped-def]
    """``local_auction.outsider_price`` (eq. (25)); ``nan`` where it returns ``None``."""
    n = qp.shape[0]
    live = np.empty(n, dtype=np.int64)
    m = 0
    for k in range(n):
        if qp[k, 0] > 0 and qp[k, 1] > 0:
            live[m] = k
            m += 1
    if m == 0:
        return np.nan
    live = live[:m]
    neg = np.empty(m)
    for k in range(m):
        neg[k] = -qp[live[k], 1]
    order = live[np.argsort(neg, kind="mergesort")]
    acc = 0.0
    cut = m
    for k in range(m):
        acc += qp[order[k], 0]
        if acc >= supply - AUCTION_TOL:
            cut = k
            break
    if cut >= m:
        return np.nan
    boundary = qp[order[cut], 1]
    for k in range(cut + 1, m):
        if qp[order[k], 1] < boundary - AUCTION_TOL:
            return qp[order[k], 1]
    return np.nan


@njit(cache=CACHE)
def _others_and_slot(bids, k):  # type: ignore[no-untyped-def]
    """The seller's bid vector without the bidder's row ``k`` (``-1``: none), in order, plus one
    spare last row for the bid to price: ``(qp, m)`` with ``m`` the others' count."""
    n = bids.shape[0]
    m = n - 1 if k >= 0 else n
    qp = np.empty((m + 1, 2))
    r = 0
    for i in range(n):
        if i != k:
            qp[r, 0] = bids[i, 0]
            qp[r, 1] = bids[i, 1]
            r += 1
    return qp, m


@njit(cache=CACHE)
def own_cost_excl(bids, k, q, p, supply, reserve):  # type: ignore[no-untyped-def]
    """A bidder's eq. (20) allocation and eq. (21) cost at one seller if it bid ``(q, p)``.

    ``bids`` is the seller's bid vector (rows ``(quantity, price)``, dictionary order) and ``k``
    the bidder's own row (``-1``: none); the bid vector used is ``bids`` without row ``k`` plus
    ``(q, p)`` last, as ``market.seller._Seller.others`` builds it. Then, as
    ``engine.own_cost_fast``:
    ``c = Σ_k p_k [a_k(without) − a_k(with)] + p_* [unsold(without) − unsold(with)]``, with the
    sums taken left to right (numpy's dot and pairwise sums may differ in the last bits).
    """
    qp, m = _others_and_slot(bids, k)
    qp[m, 0] = q
    qp[m, 1] = p
    with_ = allocate(qp, supply, reserve)
    mine = with_[m]
    if mine <= 1e-12:
        return 0.0, 0.0
    without = allocate(qp[:m], supply, reserve)
    cost = 0.0
    unsold = mine
    for i in range(m):
        cost += qp[i, 1] * (without[i] - with_[i])
        unsold += with_[i] - without[i]
    return mine, cost + reserve * unsold


@njit(cache=CACHE)
def own_cost_pair(bids, k, q1, p1, q2, p2, supply, reserve):  # type: ignore[no-untyped-def]
    """:func:`own_cost_excl` for two bids ``(q1, p1)`` and ``(q2, p2)`` of the same bidder at
    one seller in one call: ``(a1, c1, a2, c2)``; a bid with ``q ≤ 0`` is not evaluated
    (``(0, 0)``).

    The strict-improvement test compares the buyer's reply with its current bid at every seller
    either touches (``buyer.gain``): both share the others' bids and their eq. (20) allocation
    without the bidder, computed here once. Each pair ``(a, c)`` is, operation for operation,
    what :func:`own_cost_excl` returns for that bid (the tests compare the two).
    """
    qp, m = _others_and_slot(bids, k)
    out = np.zeros(4)
    without = np.zeros(m)
    have = False
    for t in range(2):
        q = q1 if t == 0 else q2
        p = p1 if t == 0 else p2
        if not q > 0.0:
            continue
        qp[m, 0] = q
        qp[m, 1] = p
        with_ = allocate(qp, supply, reserve)
        mine = with_[m]
        if mine <= 1e-12:
            continue
        if not have:
            without = allocate(qp[:m], supply, reserve)
            have = True
        cost = 0.0
        unsold = mine
        for i in range(m):
            cost += qp[i, 1] * (without[i] - with_[i])
            unsold += with_[i] - without[i]
        out[2 * t] = mine
        out[2 * t + 1] = cost + reserve * unsold
    return out[0], out[1], out[2], out[3]
