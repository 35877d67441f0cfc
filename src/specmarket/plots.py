"""Pictures of one instance: what people draw on the whiteboard when they explain a mechanism.

* :func:`supply_demand` — the double auctions (``mcafee``, ``trust``, ``district``): the demand
  curve (bids, highest first), the supply curve (asks, lowest first), their crossing (the efficient
  quantity) and the trades and prices of the mechanism's outcome.
* :func:`market_price_function`, :func:`market_price_figure`, :func:`psp_price_function` — the
  PSP market price function ``P_i(z; s_-i)`` (seed 002 eq. (1)) of one bidder: the least unit
  price that gets it ``z`` units given the other bids and the seller's reserve; the area under it
  up to the bidder's allocation is its PSP cost. Works for the classic PSP and for one seller's
  local auction of the data market.
* :func:`district_graph` — a District-D (or TRUST) allocation drawn on the buyers' conflict graph.

Every function returns a :class:`matplotlib.figure.Figure` built directly (no ``pyplot``, no
``matplotlib.use``): Jupyter shows it inline, ``fig.savefig(path)`` writes it, and the process's
backend is never touched. matplotlib and networkx are imported inside the functions, so importing
this module is cheap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from specmarket.core import Outcome
from specmarket.errors import InvalidInput

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "district_graph",
    "market_price_figure",
    "market_price_function",
    "price_function_integral",
    "psp_price_function",
    "supply_demand",
]

DOUBLE_AUCTIONS = ("mcafee", "trust", "district")


# --------------------------------------------------------------------------------------------------
# supply and demand
# --------------------------------------------------------------------------------------------------


def _curves(
    mechanism: str, instance: Any
) -> tuple[list[tuple[str, float, int]], list[tuple[str, float, int]], str]:
    """Demand steps ``(label, unit bid, units)`` highest first, supply steps lowest first, and the
    demand curve's name, for one of :data:`DOUBLE_AUCTIONS`.

    * mcafee: one unit per buyer at its bid;
    * trust: one channel per bid-independent group ``g`` at the group bid ``σ_g = |g| min b``
      (module :mod:`specmarket.mechanisms.trust`, step 2), so the curve is in channels;
    * district: ``r_n`` channels per buyer at its per-channel bid ``b_n``. With spectrum reuse a
      sold channel may serve several non-conflicting buyers, so District-D can serve more demand
      than the channels it buys: the crossing is the no-reuse benchmark, not its clearing rule.
    """
    sellers = sorted(
        ((s.id, float(s.ask), 1) for s in instance.sellers), key=lambda t: t[1]
    )  # stable: ties keep input order, as in the mechanisms
    if mechanism == "mcafee":
        demand = [(b.id, float(b.bid), 1) for b in instance.buyers]
        name = "demand (bids)"
    elif mechanism == "trust":
        from specmarket.mechanisms.trust import group_buyers

        buyers = instance.buyers
        idx = {b.id: k for k, b in enumerate(buyers)}
        conflict = np.zeros((len(buyers), len(buyers)), dtype=bool)
        for u, v in instance.conflicts:
            conflict[idx[u], idx[v]] = conflict[idx[v], idx[u]] = True
        demand = [
            (
                "+".join(buyers[k].id for k in g),
                len(g) * min(float(buyers[k].bid) for k in g),
                1,
            )
            for g in group_buyers(len(buyers), conflict)
        ]
        name = "demand (group bids σ_g)"
    elif mechanism == "district":
        demand = [(b.id, float(b.bid), int(b.demand)) for b in instance.buyers]
        name = "demand (bid per channel × r_n)"
    else:
        raise InvalidInput(
            "mechanism", mechanism, f"supply and demand are drawn for {DOUBLE_AUCTIONS}"
        )
    demand.sort(key=lambda t: -t[1])
    return demand, sellers, name


def _steps(levels: Sequence[tuple[str, float, int]]) -> tuple[np.ndarray, np.ndarray]:
    """x (cumulative units, starting at 0) and y (level of each unit block) for ``ax.step``."""
    units = np.array([u for _, _, u in levels], dtype=float)
    y = np.array([p for _, p, _ in levels], dtype=float)
    x = np.concatenate([[0.0], np.cumsum(units)])
    return x, np.concatenate([y, y[-1:]]) if y.size else y


def efficient_quantity(
    demand: Sequence[tuple[str, float, int]], supply: Sequence[tuple[str, float, int]]
) -> tuple[int, float, float]:
    """Where the curves cross: the largest number of units ``q`` such that the ``q``-th unit of
    demand is bid at least the ``q``-th unit of supply asks, with those two prices (the interval of
    market-clearing prices is ``[ask_q, bid_q]``). ``(0, nan, nan)`` when not even one unit trades.
    """
    d = [p for _, p, u in demand for _ in range(u)]
    s = [p for _, p, u in supply for _ in range(u)]
    q = 0
    while q < min(len(d), len(s)) and d[q] >= s[q]:
        q += 1
    if q == 0:
        return 0, math.nan, math.nan
    return q, d[q - 1], s[q - 1]


def supply_demand(
    instance: Any, outcome: Outcome | None = None, *, mechanism: str | None = None
) -> Figure:
    """Supply and demand curves of a double auction, their crossing, and the outcome's trades.

    Parameters
    ----------
    instance
        An instance of ``mcafee``, ``trust`` or ``district`` (its module's ``Instance``).
    outcome
        The outcome to draw (default: clear ``instance`` with its mechanism). Winning buyers are
        drawn at their unit payment (payment / channels bought) and winning sellers at what they
        receive, each at its place on the curve.
    mechanism
        Registry name; by default found from the instance's module.

    Returns
    -------
    Figure
        One axes: step curves labelled ``demand ...`` and ``supply (asks)``, a marker
        ``efficient: q units`` at the crossing (with the interval of clearing prices), and, for the
        outcome, ``buyers pay`` / ``sellers receive`` markers and a vertical line
        ``MECHANISM: n channels sold``.
    """
    from matplotlib.figure import Figure

    from specmarket.mechanisms import get

    if mechanism is None:
        mechanism = type(instance).__module__.rsplit(".", 1)[-1]
    if mechanism not in DOUBLE_AUCTIONS:
        raise InvalidInput(
            "mechanism", mechanism, f"supply and demand are drawn for {', '.join(DOUBLE_AUCTIONS)}"
        )
    spec = get(mechanism)
    if not isinstance(instance, spec.instance_type):
        raise InvalidInput("instance", type(instance).__name__, f"not a {mechanism} instance")
    if outcome is None:
        outcome = spec.clear(instance)
    demand, supply, dname = _curves(mechanism, instance)

    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    xd, yd = _steps(demand)
    xs, ys = _steps(supply)
    ax.step(xd, yd, where="post", color="#1f77b4", linewidth=2, label=dname)
    ax.step(xs, ys, where="post", color="#d62728", linewidth=2, label="supply (asks)")
    q, bid_q, ask_q = efficient_quantity(demand, supply)
    if q > 0:
        ax.vlines(q - 0.5, ask_q, bid_q, color="k", linewidth=3, alpha=0.35)
        ax.plot(
            [q - 0.5],
            [(ask_q + bid_q) / 2],
            "kD",
            markersize=7,
            label=f"efficient: {q} unit{'s' if q != 1 else ''}, prices [{ask_q:g}, {bid_q:g}]",
        )
    _draw_trades(ax, mechanism, demand, supply, outcome)
    ax.set_xlabel("quantity (channels)" if mechanism != "mcafee" else "quantity (units)")
    ax.set_ylabel("price per unit")
    ax.set_title(f"{mechanism}: supply and demand")
    ax.set_xlim(0, max(xd[-1], xs[-1]) + 0.5)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def _draw_trades(
    ax: Axes,
    mechanism: str,
    demand: Sequence[tuple[str, float, int]],
    supply: Sequence[tuple[str, float, int]],
    outcome: Outcome,
) -> None:
    """Markers for the outcome's winners at their unit prices, and the channels sold."""

    def sold(v: Any) -> bool:
        return bool(v) if not isinstance(v, (int, float)) else v > 0

    bx, by, sx, sy = [], [], [], []
    pos = 0.0
    for label, _, units in demand:
        members = label.split("+") if mechanism == "trust" else [label]
        if all(m in outcome.allocation and sold(outcome.allocation[m]) for m in members):
            paid = sum(outcome.payments[m] for m in members)
            bx.append(pos + units / 2)
            by.append(paid / units)
        pos += units
    pos = 0.0
    n_sold = 0
    for sid, _, units in supply:
        if sold(outcome.allocation.get(sid, 0)):
            sx.append(pos + units / 2)
            sy.append(-outcome.payments[sid] / units)
            n_sold += units
        pos += units
    if bx:
        ax.plot(bx, by, "o", color="#1f77b4", mfc="white", mew=2, label="buyers pay (per unit)")
    if sx:
        ax.plot(sx, sy, "s", color="#d62728", mfc="white", mew=2, label="sellers receive")
    ax.axvline(
        n_sold,
        color="0.3",
        linestyle="--",
        linewidth=1,
        label=f"{mechanism}: {n_sold} channel{'s' if n_sold != 1 else ''} sold",
    )


# --------------------------------------------------------------------------------------------------
# PSP market price function
# --------------------------------------------------------------------------------------------------


def market_price_function(
    quantities: Sequence[float] | np.ndarray,
    prices: Sequence[float] | np.ndarray,
    supply: float,
    reserve: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The PSP market price function of one bidder as a step function, seed 002 eq. (1).

    ``P_i(z; s_-i) = inf{y ≥ 0 : D_i(y; s_-i) ≥ z}`` with the available quantity
    ``D_i(y; s_-i) = [D − Σ_{k≠i, p_k > y} d_k]^+`` (eq. (2); eq. (18) for one seller of the
    data market, computed by :func:`specmarket.mechanisms.psp.local_auction.available`). The
    seller's reserve ``p_*`` (its own bid ``(D, p_*)``, eq. (27) in the data market) makes
    ``D_i(y) = 0`` below it, so ``P_i ≥ p_*`` for ``z > 0``. The infimum is the same under both
    tie rules (``≥`` of Lazar–Semret or the strict ``>`` of eq. (18)).

    Parameters
    ----------
    quantities, prices
        The *other* bidders' bids ``(d_k, p_k)``.
    supply
        ``D`` (``Q`` in the classic PSP).
    reserve
        The seller's reserve price.

    Returns
    -------
    (z, p)
        Breakpoints ``0 = z_0 < z_1 < … < z_m = D`` and levels ``p_1 < … < p_m``:
        ``P_i(z) = p_k`` for ``z ∈ (z_{k−1}, z_k]``. The PSP cost of an allocation ``a`` is
        ``∫_0^a P_i(z) dz`` (:func:`price_function_integral`).
    """
    from specmarket.mechanisms.psp.local_auction import available

    q = np.asarray(quantities, dtype=float)
    p = np.asarray(prices, dtype=float)
    for name, arr in (("quantities", q), ("prices", p)):
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise InvalidInput(name, arr.tolist(), "must be finite and non-negative")
    if q.shape != p.shape:
        raise InvalidInput("prices", p.tolist(), "must have one price per quantity")
    if not (math.isfinite(supply) and supply > 0):
        raise InvalidInput("supply", supply, "must be finite and positive")
    if not (math.isfinite(reserve) and reserve >= 0):
        raise InvalidInput("reserve", reserve, "must be finite and non-negative")
    candidates = sorted({float(reserve), *(float(v) for v in p[p >= reserve])})
    zs, ps = [0.0], []
    for y in candidates:
        d = available(q, p, supply, y, reserve)
        if d > zs[-1] + 1e-12:
            zs.append(d)
            ps.append(y)
    return np.array(zs), np.array(ps)


def price_function_integral(z: np.ndarray, p: np.ndarray, upto: float) -> float:
    """``∫_0^upto P(z) dz`` of a step function from :func:`market_price_function`."""
    widths = np.clip(np.minimum(z[1:], upto) - z[:-1], 0.0, None)
    return float(np.dot(widths, p))


def psp_price_function(instance: Any, bidder: str, outcome: Outcome | None = None) -> Figure:
    """The market price function of ``bidder`` in a classic PSP auction, with its bid and cost.

    Draws ``P_i(z; s_-i)`` (:func:`market_price_function`, seed 002 eq. (1)) given the other
    bids and the seller's reserve, the bidder's own bid ``(q_i, p_i)``, its allocation ``a_i``
    (eq. (3)) and, shaded, ``∫_0^{a_i} P_i`` — its second-price cost ``c_i`` (eq. (4)): what its
    allocation displaces, valued at the displaced bids' prices.

    Parameters
    ----------
    instance
        A :class:`specmarket.mechanisms.psp.rules.Instance`.
    bidder
        The id of one of its bids.
    outcome
        Default: ``clear(instance)``; its allocation and payment of ``bidder`` are shown.
    """
    from specmarket.mechanisms.psp.rules import Instance, clear

    if not isinstance(instance, Instance):
        raise InvalidInput("instance", type(instance).__name__, "not a psp instance")
    ids = [b.id for b in instance.bids]
    if bidder not in ids:
        raise InvalidInput("bidder", bidder, f"not a bid id; ids: {ids}")
    if outcome is None:
        outcome = clear(instance)
    others = [b for b in instance.bids if b.id != bidder]
    own = next(b for b in instance.bids if b.id == bidder)
    return market_price_figure(
        [b.quantity for b in others],
        [b.price for b in others],
        instance.quantity,
        instance.reserve,
        bidder=bidder,
        bid=(own.quantity, own.price),
        allocation=float(outcome.allocation[bidder]),
        paid=float(outcome.payments[bidder]),
        title=f"PSP: market price function of bidder {bidder}",
    )


def market_price_figure(
    quantities: Sequence[float] | np.ndarray,
    prices: Sequence[float] | np.ndarray,
    supply: float,
    reserve: float = 0.0,
    *,
    bidder: str = "i",
    bid: tuple[float, float] | None = None,
    allocation: float | None = None,
    paid: float | None = None,
    title: str | None = None,
) -> Figure:
    """Draw :func:`market_price_function` of one bidder in one (local) PSP auction.

    The arguments are those of :func:`market_price_function` — the *other* bids one seller
    holds, its supply ``D^j`` and reserve ``p_*^j`` — so the same picture serves the classic PSP
    (:func:`psp_price_function`) and a seller's local auction in the data market (seed 002
    eq. (18), reserve eq. (27)), e.g. rebuilt from a ``simulate data-market --trace``.

    Parameters
    ----------
    bidder
        Name used in the labels.
    bid
        The bidder's own bid ``(quantity, unit price)``, drawn as a star.
    allocation
        What it gets: a dashed line, and the area ``∫_0^a P`` (its PSP cost) shaded.
    paid
        What it paid, shown beside the area for comparison.
    title
        Axes title.
    """
    from matplotlib.figure import Figure

    z, p = market_price_function(quantities, prices, supply, reserve)
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    xs = np.repeat(z, 2)[1:-1]
    ys = np.repeat(p, 2)
    ax.plot(xs, ys, color="#1f77b4", linewidth=2, label=f"P_{bidder}(z): market price function")
    a = allocation
    if a is not None and a > 0:
        left = z[:-1][z[:-1] < a]  # left edges of the segments below a
        fx = np.concatenate([left, [a]])
        fy = np.concatenate([p[: left.size], p[left.size - 1 : left.size]])
        area = f"cost ∫₀^a P = {price_function_integral(z, p, a):.4g}"
        ax.fill_between(
            fx,
            fy,
            step="post",
            color="#1f77b4",
            alpha=0.2,
            label=area if paid is None else f"{area} (paid {paid:.4g})",
        )
    top = float(p.max()) if p.size else 0.0
    if bid is not None:
        ax.plot([bid[0]], [bid[1]], "r*", markersize=12, label=f"bid ({bid[0]:g}, {bid[1]:g})")
        top = max(top, bid[1])
    if a is not None:
        ax.axvline(a, color="0.3", linestyle="--", linewidth=1, label=f"allocation a = {a:.4g}")
    if reserve > 0:
        ax.axhline(reserve, color="0.5", linestyle=":", linewidth=1, label="reserve")
    ax.set_xlim(0, supply)
    ax.set_ylim(0, top * 1.15 + 1e-9)
    ax.set_xlabel("quantity z")
    ax.set_ylabel("unit price")
    ax.set_title(title or f"market price function of {bidder}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------------
# District allocation on the conflict graph
# --------------------------------------------------------------------------------------------------


def district_graph(instance: Any, outcome: Outcome | None = None, *, seed: int = 0) -> Figure:
    """A District-D (or TRUST) allocation drawn on the buyers' conflict graph.

    Nodes are buyers, edges their conflicts (two conflicting buyers never share a channel). A
    served buyer is coloured by the seller(s) whose channel it uses (several sellers: the first,
    with all listed in its label); unserved buyers are grey. Buyers sharing a colour reuse one
    channel, which is why they form an independent set. The layout is networkx's spring layout
    with ``seed`` (deterministic).

    Parameters
    ----------
    instance
        A ``district`` or ``trust`` instance.
    outcome
        Default: clear ``instance`` with its mechanism.
    seed
        Seed of the layout.
    """
    import networkx as nx
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from specmarket.mechanisms import get

    mechanism = type(instance).__module__.rsplit(".", 1)[-1]
    if mechanism not in ("district", "trust"):
        raise InvalidInput("instance", type(instance).__name__, "not a district or trust instance")
    if outcome is None:
        outcome = get(mechanism).clear(instance)
    g: nx.Graph[str] = nx.Graph()
    g.add_nodes_from(b.id for b in instance.buyers)
    g.add_edges_from(instance.conflicts)
    pos = nx.spring_layout(g, seed=seed)
    seller_ids = [s.id for s in instance.sellers]
    palette = _palette(len(seller_ids))
    colour = dict(zip(seller_ids, palette, strict=True))
    alloc: Mapping[str, Any] = outcome.allocation

    fig = Figure(figsize=(6.4, 4.8))
    ax = fig.subplots()
    nx.draw_networkx_edges(g, pos, ax=ax, edge_color="0.6", width=1.5)
    node_colours = []
    labels = {}
    for b in instance.buyers:
        got = list(alloc.get(b.id, []))
        node_colours.append(colour[got[0]] if got else "#dddddd")
        pay = outcome.payments.get(b.id, 0.0)
        labels[b.id] = f"{b.id}\n{','.join(got) or '—'}" + (f"\npays {pay:.3g}" if got else "")
    nx.draw_networkx_nodes(
        g,
        pos,
        ax=ax,
        nodelist=[b.id for b in instance.buyers],
        node_color=node_colours,
        node_size=1300,
        edgecolors="k",
    )
    nx.draw_networkx_labels(g, pos, labels=labels, ax=ax, font_size=8)
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markersize=10,
            markerfacecolor=colour[s],
            markeredgecolor="k",
            label=f"{s} (receives {-outcome.payments.get(s, 0.0):.3g})",
        )
        for s in seller_ids
        if alloc.get(s)
    ]
    handles.append(
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markersize=10,
            markerfacecolor="#dddddd",
            markeredgecolor="k",
            label="not served",
        )
    )
    ax.legend(handles=handles, fontsize=8, loc="best", title="channel of seller", title_fontsize=8)
    ax.set_title(f"{mechanism}: allocation on the conflict graph")
    ax.set_axis_off()
    ax.margins(0.15)
    fig.tight_layout()
    return fig


def _palette(n: int) -> list[str]:
    base = [
        "#8dd3c7",
        "#fdb462",
        "#bebada",
        "#fb8072",
        "#80b1d3",
        "#b3de69",
        "#fccde5",
        "#bc80bd",
        "#ccebc5",
        "#ffed6f",
    ]
    return [base[k % len(base)] for k in range(n)]
