"""What a mechanism module exposes so that the CLI, the auditor and the experiments can use it.

A mechanism module defines its immutable instance model (a :class:`specmarket.core.Model`), a pure
``clear(instance) -> Outcome`` function, and one module-level ``SPEC = MechanismSpec(...)`` that the
registry (:mod:`specmarket.mechanisms`, an explicit table of name -> module) finds. Nothing here
does I/O, and importing this module loads neither numpy nor pydantic (the command line lists the
mechanisms without them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

if TYPE_CHECKING:
    import numpy as np

    from specmarket.core.model import Model
    from specmarket.core.outcome import Outcome

Role = Literal["buyer", "seller"]

#: The instance model of one mechanism (a :class:`~specmarket.core.Model` subclass).
InstanceT = TypeVar("InstanceT", bound="Model")

#: Properties the auditor can check:
#: ``ic`` incentive compatibility (no profitable unilateral misreport),
#: ``ir`` individual rationality (truthful utility ≥ 0),
#: ``bb`` weak budget balance on every instance (revenue ≥ 0),
#: ``bb-ex-ante`` weak budget balance on average (mean revenue ≥ 0),
#: ``npt`` no positive transfers (buyers never receive money, sellers never pay).
PROPERTIES = ("ic", "ir", "bb", "bb-ex-ante", "npt")


@dataclass(frozen=True)
class MechanismSpec(Generic[InstanceT]):
    """Everything generic code needs to know about one mechanism, typed by its instance model.

    ``MechanismSpec[vickrey.Instance]`` says that ``clear``, ``roles``, ``true_value``,
    ``random_instance`` and ``deviations`` all take (or make) a ``vickrey.Instance``; generic code
    that holds specs of several mechanisms uses ``MechanismSpec[Any]``.

    Attributes
    ----------
    name
        Registry name used on the command line (``specmarket clear NAME``).
    title
        One line: what it is.
    source
        Where it comes from (seed file and section, or the literature).
    instance_type
        The pydantic :class:`~specmarket.core.Model` of one instance (also the JSON format).
    clear
        ``clear(instance) -> Outcome``: the allocation and payment rules, pure.
    roles
        ``roles(instance) -> {id: "buyer" | "seller"}``.
    true_value
        ``true_value(instance, pid, allocation) -> float``: the value participant ``pid`` whose true
        type is given in ``instance`` has for ``allocation`` (an entry of ``Outcome.allocation``).
    claims
        Properties from :data:`PROPERTIES` the mechanism is claimed to satisfy.
    random_instance
        ``random_instance(rng) -> instance``: a seeded generator of small random instances.
    deviations
        ``deviations(instance, pid, rng) -> iterable of (label, misreported instance)``: unilateral
        misreports of ``pid`` (bid/ask on a grid plus random points, and quantity where taken).
    example
        File name of the example instance under ``examples/``.
    """

    name: str
    title: str
    source: str
    instance_type: type[InstanceT]
    clear: Callable[[InstanceT], Outcome]
    roles: Callable[[InstanceT], Mapping[str, Role]]
    true_value: Callable[[InstanceT, str, Any], float]
    claims: frozenset[str] = frozenset()
    random_instance: Callable[[np.random.Generator], InstanceT] | None = None
    deviations: (
        Callable[[InstanceT, str, np.random.Generator], Iterable[tuple[str, InstanceT]]] | None
    ) = None
    example: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.claims) - set(PROPERTIES)
        if unknown:
            raise ValueError(f"unknown claimed properties {unknown}; known: {PROPERTIES}")

    def parse(self, data: Any) -> InstanceT:
        """Validate a decoded JSON object into this mechanism's instance."""
        return self.instance_type.parse(data)

    def clear_json(self, data: Any) -> dict[str, Any]:
        """Parse, clear and serialise in one step (the CLI's and the service's path)."""
        return self.clear(self.parse(data)).to_json()


def scalar_grid(
    true: float, low: float, high: float, n_grid: int, n_random: int, rng: np.random.Generator
) -> list[float]:
    """Misreport values for one scalar report: an even grid on ``[low, high]``, points just around
    the true value, and ``n_random`` uniform random points (all distinct from ``true``)."""
    import numpy as np

    pts = list(np.linspace(low, high, n_grid)) if n_grid > 0 else []
    span = max(high - low, 1e-9)
    pts += [true - 1e-3 * span, true + 1e-3 * span]
    pts += list(rng.uniform(low, high, size=n_random))
    return [float(p) for p in pts if p >= 0 and abs(p - true) > 1e-12]


def near_points(true: float, others: list[float], k: int = 3, eps: float = 1e-6) -> list[float]:
    """Reports just below and just above the ``k`` other reports nearest to ``true``: where the
    outcome of a threshold mechanism changes, so where a profitable misreport would show."""
    nearest = sorted(others, key=lambda v: abs(v - true))[:k]
    return [v + d for v in nearest for d in (-eps, eps) if v + d >= 0]


def scalar_misreports(
    instance: InstanceT,
    pid: str,
    sides: tuple[tuple[str, str], ...],
    points: Callable[[float], list[float]],
) -> Iterator[tuple[str, InstanceT]]:
    """Unilateral misreports of one scalar report of ``pid``, for a mechanism's ``deviations``.

    ``sides`` lists ``(list attribute, report field)`` pairs to look for ``pid`` in, e.g.
    ``(("buyers", "bid"), ("sellers", "ask"))``; ``points(true)`` gives the reports to try. Yields
    ``("field=value", instance with only that report changed)``.
    """
    for side, field_name in sides:
        parts = list(getattr(instance, side))
        for k, part in enumerate(parts):
            if part.id != pid:
                continue
            for x in points(getattr(part, field_name)):
                new = list(parts)
                new[k] = part.model_copy(update={field_name: float(x)})
                yield f"{field_name}={x:.6g}", instance.model_copy(update={side: tuple(new)})
            return
