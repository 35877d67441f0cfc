"""McAfee's trade-reduction double auction (McAfee 1992) — a baseline.

Unit-demand buyers with bids ``b`` and unit-supply sellers with asks ``s``. Sort bids descending,
``b_(1) ≥ b_(2) ≥ …``, and asks ascending, ``s_(1) ≤ s_(2) ≤ …`` (ties: the participant listed first
comes first). Let ``k`` be the number of efficient trades, the largest ``k`` with ``b_(k) ≥ s_(k)``.
With the candidate price ``p0 = (b_(k+1) + s_(k+1)) / 2``:

* if ``s_(k) ≤ p0 ≤ b_(k)``: the ``k`` top buyers and sellers trade, all at ``p0`` (budget
balanced);
* otherwise the ``k``-th pair is sacrificed: ``k − 1`` pairs trade, buyers pay ``b_(k)`` and sellers
  receive ``s_(k)``; the auctioneer keeps ``(k − 1)(b_(k) − s_(k)) ≥ 0``.

Where the ``(k+1)``-th buyer or seller does not exist we add a dummy buyer bidding 0 and a dummy
seller asking +∞ (so ``p0 = +∞`` when there is no ``(k+1)``-th seller): dummies do not depend on any
report, so truthfulness is kept. Dominant-strategy IC, IR and weakly budget balanced.

JSON: ``{"buyers": [{"id": "b1", "bid": 9}], "sellers": [{"id": "s1", "ask": 2}]}`` → ``winners``
(ids of trading buyers, best bid first, then of trading sellers, lowest ask first), ``payments``
(buyers pay > 0, sellers receive < 0). The numeric core :func:`clear_arrays` clears a million bids
and a million asks in about 15 ms (two value sorts and a threshold pass; its literal twin
:func:`clear_arrays_reference` sorts indices stably). Big markets can also be read from Parquet or
CSV files with one participant per row (:func:`clear_columnar_file`, ``docs/formats.md``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from pydantic import model_validator

from specmarket.core import (
    Id,
    MechanismSpec,
    Model,
    NonNegative,
    Outcome,
    Role,
    require_nonempty,
    require_unique_ids,
)
from specmarket.core.spec import near_points, scalar_grid, scalar_misreports
from specmarket.errors import InvalidInput


class Buyer(Model):
    id: Id
    bid: NonNegative


class Seller(Model):
    id: Id
    ask: NonNegative


class Instance(Model):
    """A double auction: at least one buyer and one seller, ids unique across both sides."""

    buyers: tuple[Buyer, ...]
    sellers: tuple[Seller, ...]

    @model_validator(mode="after")
    def _check(self) -> Self:
        require_nonempty(self.buyers, "buyers")
        require_nonempty(self.sellers, "sellers")
        require_unique_ids([b.id for b in self.buyers], "buyers")
        require_unique_ids([s.id for s in self.sellers], "sellers")
        buyer_ids = {b.id for b in self.buyers}
        for j, s in enumerate(self.sellers):
            if s.id in buyer_ids:
                raise InvalidInput(f"sellers[{j}].id", s.id, "id is also used by a buyer")
        return self


@dataclass(frozen=True)
class Clearing:
    """Result of :func:`clear_arrays` on index level.

    ``buyers`` / ``sellers``: indices (into the input arrays) of the trading participants, in
    increasing index order (:func:`rank_order` lists them best report first);
    ``buyer_price``: what each trading buyer pays; ``seller_price``: what each trading seller
    receives; ``efficient_trades``: ``k``; ``reduced``: whether the k-th pair was sacrificed.
    """

    buyers: np.ndarray
    sellers: np.ndarray
    buyer_price: float
    seller_price: float
    efficient_trades: int
    reduced: bool


def efficient_trades(b_sorted: np.ndarray, s_sorted: np.ndarray) -> int:
    """Largest ``k`` with ``b_(k) ≥ s_(k)``: ``b − s`` is non-increasing along the sorted prefix."""
    n = min(b_sorted.size, s_sorted.size)
    return int(np.count_nonzero(b_sorted[:n] >= s_sorted[:n]))


def _price_rule(b: np.ndarray, s: np.ndarray) -> tuple[int, int, float, float]:
    """``(k, trades, buyer price, seller price)`` from the sorted reports (bids descending, asks
    ascending): McAfee's rule of the module docstring, shared by both engines."""
    k = efficient_trades(b, s)
    if k == 0:
        return 0, 0, 0.0, 0.0
    b_next = b[k] if k < b.size else 0.0  # dummy buyer bids 0
    s_next = s[k] if k < s.size else np.inf  # dummy seller asks +inf
    p0 = 0.5 * b_next + 0.5 * s_next  # no overflow for huge reports
    if s[k - 1] <= p0 <= b[k - 1]:
        return k, k, float(p0), float(p0)
    return k, k - 1, float(b[k - 1]), float(s[k - 1])


def _first_best(values: np.ndarray, sorted_values: np.ndarray, q: int, low: bool) -> np.ndarray:
    """Indices of the ``q`` best reports (lowest if ``low``, else highest), ties to the lower
    index, in increasing index order — without an index sort.

    ``t = sorted_values[q − 1]`` is the ``q``-th best report; every report at least as good as
    ``t`` is taken, and if that is more than ``q`` (ties at ``t``) the surplus reports equal to
    ``t`` listed last are dropped."""
    if q == 0:
        return np.zeros(0, dtype=np.int64)
    t = sorted_values[q - 1]
    chosen = values <= t if low else values >= t
    surplus = int(np.count_nonzero(chosen)) - q
    if surplus:
        tied = np.flatnonzero(values == t)
        chosen[tied[tied.size - surplus :]] = False
    return np.flatnonzero(chosen).astype(np.int64, copy=False)


def clear_arrays(bids: np.ndarray, asks: np.ndarray, *, engine: str = "fast") -> Clearing:
    """McAfee's rule on arrays of bids and asks (validated finite and ≥ 0 by the caller).

    Fast engine: two value sorts (numpy's SIMD sort; sorting values, not indices, since only the
    ``k``-th and ``(k+1)``-th reports matter for the prices) and one threshold pass per side to
    pick the winners — ``O(n log n)`` with a small constant. Tie rule (documented in the module
    docstring and ``docs/formats.md``): among equal reports the participant listed first comes
    first, which the threshold pass implements by giving the places left at the threshold value to
    the lowest indices. ``engine="reference"`` runs :func:`clear_arrays_reference` (two stable
    index sorts, the rule read off literally); both return identical clearings.
    """
    if engine == "reference":
        return clear_arrays_reference(bids, asks)
    if engine != "fast":
        raise InvalidInput("engine", engine, "must be 'fast' or 'reference'")
    bids = np.asarray(bids, dtype=float)
    asks = np.asarray(asks, dtype=float)
    b = np.sort(bids)[::-1]
    s = np.sort(asks)
    k, q, bp, sp = _price_rule(b, s)
    return Clearing(
        _first_best(bids, b, q, low=False), _first_best(asks, s, q, low=True), bp, sp, k, q < k
    )


def clear_arrays_reference(bids: np.ndarray, asks: np.ndarray) -> Clearing:
    """Slow, literal twin of :func:`clear_arrays`: stable index sorts (bids descending, asks
    ascending, ties to the participant listed first), the first ``k`` or ``k − 1`` of each."""
    bids = np.asarray(bids, dtype=float)
    asks = np.asarray(asks, dtype=float)
    border = np.argsort(-bids, kind="stable")
    sorder = np.argsort(asks, kind="stable")
    k, q, bp, sp = _price_rule(bids[border], asks[sorder])
    return Clearing(
        np.sort(border[:q]).astype(np.int64), np.sort(sorder[:q]).astype(np.int64), bp, sp, k, q < k
    )


def rank_order(values: np.ndarray, idx: np.ndarray, low: bool) -> np.ndarray:
    """``idx`` (increasing) listed best report first: bids descending (``low=False``) or asks
    ascending (``low=True``), ties in input order.

    numpy's fast (SIMD) argsort is not stable, so ties are put right afterwards: the tied entries
    are contiguous in the sorted order, and sorting just those by (report, index) restores the
    input order among equals — the stable result at a fraction of a stable sort's cost."""
    key = values[idx] if low else -values[idx]
    order = np.argsort(key)
    sk = key[order]
    tie = sk[1:] == sk[:-1]
    if tie.any():
        at = np.flatnonzero(tie)
        pos = np.union1d(at, at + 1)
        sub = idx[order[pos]]
        fix = np.lexsort((sub, sk[pos]))
        order[pos] = order[pos][fix]
    return idx[order]


def clear(instance: Instance) -> Outcome:
    """Clear a McAfee double auction (see module docstring)."""
    bids = np.array([b.bid for b in instance.buyers], dtype=float)
    asks = np.array([s.ask for s in instance.sellers], dtype=float)
    c = clear_arrays(bids, asks)
    bwin = set(c.buyers.tolist())
    swin = set(c.sellers.tolist())
    alloc: dict[str, int] = {}
    pay: dict[str, float] = {}
    val: dict[str, float] = {}
    for i, bu in enumerate(instance.buyers):
        alloc[bu.id] = int(i in bwin)
        pay[bu.id] = c.buyer_price if i in bwin else 0.0
        val[bu.id] = bu.bid if i in bwin else 0.0
    for j, se in enumerate(instance.sellers):
        alloc[se.id] = int(j in swin)
        pay[se.id] = -c.seller_price if j in swin else 0.0
        val[se.id] = -se.ask if j in swin else 0.0
    winners = [instance.buyers[i].id for i in rank_order(bids, c.buyers, low=False).tolist()] + [
        instance.sellers[j].id for j in rank_order(asks, c.sellers, low=True).tolist()
    ]
    return Outcome(
        mechanism="mcafee",
        allocation=alloc,
        payments=pay,
        values=val,
        details={
            "winners": winners,
            "buyer_price": c.buyer_price,
            "seller_price": c.seller_price,
            "efficient_trades": c.efficient_trades,
            "trade_reduction": c.reduced,
        },
    )


# --------------------------------------------------------------------------- columnar path

#: Columns of a columnar McAfee file (Parquet or CSV; one participant per row, docs/formats.md).
COLUMNS = {"id": "string", "side": "string", "report": "number"}


def clear_columnar_file(path: Any) -> str:
    """Clear the McAfee instance in a Parquet or CSV file; returns the outcome's JSON text.

    One participant per row: ``id`` (non-empty string, unique), ``side`` (``buyer`` or
    ``seller``), ``report`` (the bid of a buyer, the ask of a seller; finite, in
    ``[0, 10^15]``). Buyers keep their row order among buyers, sellers among sellers, so the text
    equals ``specmarket clear mcafee`` on the JSON instance listing the same buyers and sellers in
    that order. Two million rows take about 2 CPU-seconds end to end in the CLI: the columns stay
    arrays (no per-participant objects) and the JSON text is assembled by pyarrow's string kernels.
    """
    return b"".join(columnar_outcome_parts(path)).decode("ascii")


def columnar_outcome_parts(path: Any) -> list[bytes | memoryview]:
    """The outcome's JSON text of :func:`clear_columnar_file` as ASCII pieces to be written one
    after the other (the CLI writes them without joining: two fewer copies of ~100 MB)."""
    import pyarrow as pa

    from specmarket import io

    # the system allocator: pyarrow's default pool (mimalloc) hands the few large buffers of this
    # path back to the OS and faults them in again, which doubled the system time here
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        return clear_table_parts(io.read_columns(path, COLUMNS))
    finally:
        pa.set_memory_pool(previous)


def clear_table(table: Any) -> str:
    """:func:`clear_columnar_file` on a :class:`pyarrow.Table` already read by
    :func:`specmarket.io.read_columns` (columns ``id``, ``side``, ``report``)."""
    return b"".join(clear_table_parts(table)).decode("ascii")


def clear_table_parts(table: Any) -> list[bytes | memoryview]:
    """:func:`clear_table` as pieces of ASCII text."""
    import pyarrow.compute as pc

    from specmarket import io
    from specmarket.core.model import MAX_MAGNITUDE

    ids, side, report = (table.column(c).combine_chunks() for c in ("id", "side", "report"))
    is_buyer = pc.equal(side, _text("buyer"))
    is_seller = pc.equal(side, _text("seller"))
    other = pc.invert(pc.or_(is_buyer, is_seller))
    if pc.any(other).as_py():
        i = _first_true(other)
        raise InvalidInput(f"rows[{i}].side", side[i].as_py(), "must be 'buyer' or 'seller'")
    values = io.to_numpy(report)
    bad = (values < 0) | (values > MAX_MAGNITUDE)
    if bad.any():
        i = int(np.argmax(bad))
        why = "must be ≥ 0" if values[i] < 0 else f"must be ≤ {MAX_MAGNITUDE:g}"
        raise InvalidInput(f"rows[{i}].report", float(values[i]), why)
    empty = pc.equal(pc.binary_length(ids), _arrow(np.zeros(1, np.int32))[0])
    if pc.any(empty).as_py():
        i = _first_true(empty)
        raise InvalidInput(f"rows[{i}].id", "", "must be a non-empty string")
    order = pc.sort_indices(ids)  # a string sort beats hashing two million ids
    ranked = ids.take(order)
    if len(ranked) > 1 and pc.any(pc.equal(ranked[1:], ranked[:-1])).as_py():
        seen: dict[str, int] = {}
        for i, pid in enumerate(ids.to_pylist()):
            if pid in seen:
                raise InvalidInput(f"rows[{i}].id", pid, f"duplicate id (also in row {seen[pid]})")
            seen[pid] = i
    bmask = io.to_numpy(is_buyer)
    brows = np.flatnonzero(bmask)
    srows = np.flatnonzero(~bmask)
    if brows.size == 0:
        raise InvalidInput("side", "no buyer", "the file must list at least one buyer")
    if srows.size == 0:
        raise InvalidInput("side", "no seller", "the file must list at least one seller")
    bids, asks = values[brows], values[srows]
    c = clear_arrays(bids, asks)
    in_order = brows.size == 0 or brows[-1] == brows.size - 1  # buyers first, then sellers
    quoted = _json_strings(ids if in_order else ids.take(_arrow(np.concatenate([brows, srows]))))
    n_b = brows.size
    win = np.zeros(len(quoted), dtype=bool)
    win[c.buyers] = True
    win[n_b + c.sellers] = True
    winners = _arrow(
        np.concatenate(
            [rank_order(bids, c.buyers, low=False), n_b + rank_order(asks, c.sellers, low=True)]
        )
    )
    winmask = _arrow(win)
    alloc = pc.if_else(winmask, _text("1"), _text("0"))
    on_buyer_side = _arrow(np.arange(win.size) < n_b)
    bp, sp = _text(repr(c.buyer_price + 0.0)), _text(repr(-c.seller_price + 0.0))
    pay = pc.if_else(winmask, pc.if_else(on_buyer_side, bp, sp), _text("0.0"))
    welfare = math.fsum([*bids[c.buyers].tolist(), *(-asks[c.sellers]).tolist()])
    q = c.buyers.size
    revenue = math.fsum([c.buyer_price] * q + [-c.seller_price] * q)
    keys = pc.binary_join_element_wise(_text("    "), quoted, _text(": "), _text(""))
    head = json.dumps({"mechanism": "mcafee"}, indent=2)[:-2]
    tail = {
        "buyer_price": c.buyer_price + 0.0,
        "seller_price": c.seller_price + 0.0,
        "efficient_trades": c.efficient_trades,
        "trade_reduction": c.reduced,
    }
    parts: list[bytes | memoryview] = [
        head.encode(),
        b',\n  "winners": ',
        _json_list(quoted.take(winners)),
        b",\n",
        json.dumps(tail, indent=2)[2:-2].encode(),
        b',\n  "allocation": ',
        _json_object(keys, alloc),
        b',\n  "payments": ',
        _json_object(keys, pay),
        b",\n",
        json.dumps({"welfare": welfare + 0.0, "revenue": revenue + 0.0}, indent=2, allow_nan=False)[
            2:
        ].encode(),
    ]
    return parts


# pyarrow imports pandas (≈ 0.3 s) the first time it converts a Python or numpy object
# (pa.array, pa.scalar, a str argument of a compute function); these build arrays from buffers


def _arrow(values: np.ndarray) -> Any:
    """A pyarrow array of a 1-d numpy array of int64, int32 or bool, built from its buffer."""
    import pyarrow as pa

    if values.dtype == np.bool_:
        bits = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), values.size, [None, _buffer(bits)])
    kind = {np.dtype(np.int64): pa.int64(), np.dtype(np.int32): pa.int32()}[values.dtype]
    data = np.ascontiguousarray(values)
    return pa.Array.from_buffers(kind, data.size, [None, _buffer(data)])


def _buffer(data: np.ndarray) -> Any:
    """A pyarrow buffer sharing a contiguous numpy array's memory."""
    import pyarrow as pa

    # numpy arrays have the buffer protocol, which pyarrow's type stubs do not accept
    return pa.py_buffer(data)  # type: ignore[arg-type]


def _strings(texts: list[str]) -> Any:
    """A pyarrow string array of ``texts``, built from its offsets and UTF-8 data buffers."""
    import pyarrow as pa

    encoded = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    buffers = [None, _buffer(offsets), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.string(), len(encoded), buffers)


def _text(text: str) -> Any:
    """A pyarrow string scalar."""
    return _strings([text])[0]


def _first_true(mask: Any) -> int:
    from specmarket import io

    return int(np.argmax(io.to_numpy(mask)))


def _json_strings(ids: Any) -> Any:
    """JSON literals (quoted, escaped as Python's ``json`` does) of a pyarrow string array."""
    import pyarrow.compute as pc

    safe = pc.all(pc.ascii_is_printable(ids)).as_py() and not any(
        pc.any(pc.match_substring(ids, ch)).as_py() for ch in ('"', "\\")
    )
    if not safe:
        from json.encoder import encode_basestring_ascii

        return _strings([encode_basestring_ascii(x) for x in ids.to_pylist()])
    return pc.binary_join_element_wise(_text('"'), ids, _text('"'), _text(""))


def _concat(lines: Any, drop: int = 0) -> memoryview:
    """All strings of a pyarrow string array, concatenated (a view of its value buffer), less the
    last ``drop`` bytes."""
    import pyarrow as pa

    arr = lines if isinstance(lines, pa.Array) else lines.combine_chunks()
    # a pyarrow Buffer has the buffer protocol, which its type stubs do not declare
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)  # type: ignore[arg-type]
    offsets = offsets[arr.offset : arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    if data is None:
        return memoryview(b"")
    return memoryview(data)[int(offsets[0]) : int(offsets[-1]) - drop]


def _json_list(quoted: Any) -> bytes:
    """A list of JSON literals as ``json.dumps(..., indent=2)`` writes it one level down."""
    import pyarrow.compute as pc

    if len(quoted) == 0:
        return b"[]"
    lines = pc.binary_join_element_wise(_text("    "), quoted, _text(",\n"), _text(""))
    body = _concat(lines, drop=2)
    return b"".join((b"[\n", body, b"\n  ]"))


def _json_object(keys: Any, values: Any) -> bytes:
    """An object as ``json.dumps(..., indent=2)`` writes it one level down, from the indented
    quoted keys with their colon (``    "id": ``) and the literal values."""
    import pyarrow.compute as pc

    body = _concat(pc.binary_join_element_wise(keys, values, _text(",\n"), _text("")), drop=2)
    return b"".join((b"{\n", body, b"\n  }"))


def roles(instance: Instance) -> dict[str, Role]:
    r: dict[str, Role] = {b.id: "buyer" for b in instance.buyers}
    r.update({s.id: "seller" for s in instance.sellers})
    return r


def true_value(instance: Instance, pid: str, allocation: Any) -> float:
    """A buyer values a unit at its bid; a seller's value of selling is minus its ask."""
    for b in instance.buyers:
        if b.id == pid:
            return b.bid * float(allocation)
    ask = next(s.ask for s in instance.sellers if s.id == pid)
    return -ask * float(allocation)


def random_instance(rng: np.random.Generator) -> Instance:
    """1–6 buyers and 1–6 sellers, values uniform on [0, 10] (sometimes rounded, to force ties)."""
    n, m = int(rng.integers(1, 7)), int(rng.integers(1, 7))
    bids, asks = rng.uniform(0, 10, n), rng.uniform(0, 10, m)
    if rng.random() < 0.3:
        bids, asks = np.round(bids), np.round(asks)
    return Instance(
        buyers=tuple(Buyer(id=f"b{i}", bid=float(v)) for i, v in enumerate(bids)),
        sellers=tuple(Seller(id=f"s{j}", ask=float(v)) for j, v in enumerate(asks)),
    )


def deviations(
    instance: Instance, pid: str, rng: np.random.Generator
) -> Iterator[tuple[str, Instance]]:
    """Misreported bid (buyer) or ask (seller): grid on [0, 12], near every other report, random."""
    others = [b.bid for b in instance.buyers if b.id != pid] + [
        s.ask for s in instance.sellers if s.id != pid
    ]
    yield from scalar_misreports(
        instance,
        pid,
        (("buyers", "bid"), ("sellers", "ask")),
        lambda true: scalar_grid(true, 0.0, 12.0, 5, 2, rng) + near_points(true, others),
    )


SPEC = MechanismSpec(
    name="mcafee",
    title="McAfee's trade-reduction double auction",
    source="baseline: McAfee (1992); compared against in seed 003 (District-D)",
    instance_type=Instance,
    clear=clear,
    roles=roles,
    true_value=true_value,
    claims=frozenset({"ic", "ir", "bb", "npt"}),
    random_instance=random_instance,
    deviations=deviations,
    example="mcafee.json",
)
