"""The outcome of clearing a market, shared by every mechanism.

Sign convention (everywhere in specmarket): a *positive* payment means the participant pays, a
*negative* one means it receives money. Every participant of the instance appears in ``payments``
(0.0 for those who neither pay nor receive).

Each participant's utility is quasi-linear: ``u_i = v_i(x_i) − p_i`` where ``x_i`` is its
allocation,
``v_i`` its value for it (a seller's value of selling is minus its cost) and ``p_i`` its signed
payment. Hence

* welfare (social surplus) ``W = Σ_i v_i(x_i)``,
* revenue (the auctioneer's surplus) ``R = Σ_i p_i``,
* and ``Σ_i u_i + R = W``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported only when a frame is asked for (the CLI starts fast)
    import pandas as pd


#: Rows of :meth:`Outcome._repr_html_` before it abbreviates (a notebook stays responsive).
HTML_MAX_ROWS = 60


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Outcome:
    """Allocation and signed payments produced by one clearing of a mechanism.

    Attributes
    ----------
    mechanism
        Registry name of the mechanism that produced it.
    allocation
        Participant id → what it gets (units, 0/1, a list of channel ids, ...; JSON-serialisable).
    payments
        Participant id → signed payment (positive: pays; negative: receives).
    values
        Participant id → value of its allocation *under its report* (seller: minus its cost).
        With truthful reports these are the true values, so ``welfare`` is the social welfare.
    details
        Mechanism-specific fields copied into the JSON output (e.g. ``winner``, ``price``).
    """

    mechanism: str
    allocation: Mapping[str, Any]
    payments: Mapping[str, float]
    values: Mapping[str, float]
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "allocation", _frozen(self.allocation))
        # "+ 0.0" turns −0.0 into 0.0 so that outputs never show a negative zero
        payments = {k: float(v) + 0.0 for k, v in self.payments.items()}
        values = {k: float(v) + 0.0 for k, v in self.values.items()}
        object.__setattr__(self, "payments", _frozen(payments))
        object.__setattr__(self, "values", _frozen(values))
        object.__setattr__(self, "details", _frozen(self.details))
        missing = set(self.payments) ^ set(self.allocation)
        if missing:
            raise ValueError(f"allocation and payments must list the same ids; differ on {missing}")

    @property
    def welfare(self) -> float:
        """Social welfare ``Σ_i v_i(x_i)`` under the reports."""
        return math.fsum(self.values.values())

    @property
    def revenue(self) -> float:
        """Auctioneer surplus ``Σ_i p_i`` (positive: the auctioneer keeps money)."""
        return math.fsum(self.payments.values())

    def utility(self, pid: str, value: float | None = None) -> float:
        """Quasi-linear utility ``v − p_i`` of ``pid``.

        ``value`` is the participant's *true* value of its allocation; by default its reported value
        (``values[pid]``), which is the true one when it reported truthfully.
        """
        v = self.values.get(pid, 0.0) if value is None else value
        return v - self.payments[pid]

    def to_frame(self, roles: Mapping[str, str] | None = None) -> pd.DataFrame:
        """The outcome as a pandas DataFrame, one row per participant, indexed by id.

        Columns: ``role`` (``"buyer"``/``"seller"``, when known), ``allocation``, ``payment``
        (signed: positive = pays), ``value`` (of its allocation under its report) and
        ``utility = value − payment`` (quasi-linear, see the module docstring). Participants
        keep the order of ``allocation``.

        Parameters
        ----------
        roles
            Participant id → role, e.g. ``spec.roles(instance)`` of the mechanism's
            :class:`~specmarket.core.MechanismSpec`. Without it, a ``roles`` mapping in
            ``details`` is used if the mechanism put one there; otherwise there is no ``role``
            column. Ids missing from ``roles`` get a missing role (``None``/NA).
        """
        import pandas as pd

        if roles is None:
            given = self.details.get("roles")
            roles = given if isinstance(given, Mapping) else None
        ids = list(self.allocation)
        data: dict[str, list[Any]] = {}
        if roles is not None:
            data["role"] = [roles.get(pid) for pid in ids]
        data["allocation"] = [_jsonable(self.allocation[pid]) for pid in ids]
        data["payment"] = [self.payments[pid] for pid in ids]
        data["value"] = [self.values.get(pid, 0.0) for pid in ids]
        data["utility"] = [self.utility(pid) for pid in ids]
        frame = pd.DataFrame(data, index=pd.Index(ids, name="participant"))
        frame.attrs["mechanism"] = self.mechanism
        return frame

    def _repr_html_(self) -> str:
        """HTML table for Jupyter: the mechanism, welfare and revenue, then one row per
        participant (the columns of :meth:`to_frame`; beyond :data:`HTML_MAX_ROWS` participants
        the first and last rows, as pandas abbreviates a long frame)."""
        from html import escape

        head = (
            f"<p><b>{escape(self.mechanism)}</b>: welfare {self.welfare:.6g}, "
            f"revenue {self.revenue:.6g}, {len(self.allocation)} participants</p>"
        )
        return head + self.to_frame().to_html(border=0, max_rows=HTML_MAX_ROWS)

    def to_json(self) -> dict[str, Any]:
        """The outcome as a JSON-ready dict: ``mechanism``, the details, ``allocation``,
        ``payments``, ``welfare`` and ``revenue``."""
        out: dict[str, Any] = {"mechanism": self.mechanism}
        out.update(_jsonable(dict(self.details)))
        out["allocation"] = _jsonable(dict(self.allocation))
        out["payments"] = dict(self.payments)
        out["welfare"] = self.welfare
        out["revenue"] = self.revenue
        return out


def _jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and mapping proxies into plain JSON types.

    numpy is looked up, not imported: if nothing has imported it, no value can be a numpy one
    (and ``specmarket clear vickrey`` stays free of it)."""
    np = sys.modules.get("numpy")
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in obj]
    if np is not None and isinstance(obj, np.ndarray):
        return obj.tolist()
    if np is not None and isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj + 0.0
    return obj
