"""The property auditor: searches random instances for violations of a mechanism's properties.

For each of ``instances`` random instances (instance ``t`` is drawn from
``numpy.random.default_rng([seed, t])``, so results do not depend on order) the auditor clears the
truthful reports and checks

* **ir** – individual rationality: every participant's truthful utility ``v_i(x_i) − p_i ≥ 0``;
* **bb** – weak budget balance per instance: revenue ``Σ p_i ≥ 0``;
* **npt** – no positive transfers: buyers never receive money (``p_i ≥ 0``), sellers never pay;
* **ic** – incentive compatibility: for each participant and each unilateral misreport produced by
  the mechanism's ``deviations`` (bid/ask on a grid plus random points, and quantity where taken),
  the utility under its *true* type does not rise;

and over all instances

* **bb-ex-ante** – the mean revenue is not significantly negative (the upper end of its 95%
  confidence interval is ≥ 0).

A violation keeps its witness: the instance (as JSON), the participant and the deviation. Numbers
are compared with a tolerance ``tol · (1 + |reference|)`` to ignore rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from specmarket.core.spec import PROPERTIES, InstanceT, MechanismSpec
from specmarket.errors import InvalidInput


@dataclass(frozen=True)
class Violation:
    """One witnessed violation of a property."""

    property: str
    instance: dict[str, Any]
    participant: str | None
    deviation: str | None
    truthful: float
    observed: float
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "property": self.property,
            "participant": self.participant,
            "deviation": self.deviation,
            "truthful": self.truthful,
            "observed": self.observed,
            "detail": self.detail,
            "instance": self.instance,
        }


@dataclass
class AuditReport:
    """What the auditor found."""

    mechanism: str
    instances: int
    seed: int
    checked: tuple[str, ...]
    claimed: tuple[str, ...]
    counts: dict[str, int] = field(default_factory=dict)
    witnesses: dict[str, list[Violation]] = field(default_factory=dict)
    deviations_tried: int = 0
    mean_revenue: float = 0.0
    revenue_ci: tuple[float, float] = (0.0, 0.0)

    @property
    def violations(self) -> list[Violation]:
        """All kept witnesses, property by property."""
        return [v for p in self.checked for v in self.witnesses.get(p, [])]

    def violated(self, prop: str) -> bool:
        return self.counts.get(prop, 0) > 0

    @property
    def ok(self) -> bool:
        """True when no *claimed* property was violated."""
        return not any(self.violated(p) for p in self.claimed if p in self.checked)

    def to_json(self) -> dict[str, Any]:
        return {
            "mechanism": self.mechanism,
            "instances": self.instances,
            "seed": self.seed,
            "deviations_tried": self.deviations_tried,
            "claimed": list(self.claimed),
            "ok": self.ok,
            "mean_revenue": self.mean_revenue,
            "revenue_ci95": [x if math.isfinite(x) else None for x in self.revenue_ci],
            "properties": {
                p: {
                    "claimed": p in self.claimed,
                    "violations": self.counts.get(p, 0),
                    "witnesses": [v.to_json() for v in self.witnesses.get(p, [])],
                }
                for p in self.checked
            },
        }

    def render(self) -> str:
        """A short human-readable summary (rich markup)."""
        lines = [
            f"[bold]audit of {self.mechanism}[/]: {self.instances} instances, seed {self.seed}, "
            f"{self.deviations_tried} deviations tried",
            f"mean revenue {self.mean_revenue:.6g}, 95% CI [{self.revenue_ci[0]:.6g}, "
            f"{self.revenue_ci[1]:.6g}]",
        ]
        for p in self.checked:
            n = self.counts.get(p, 0)
            claimed = p in self.claimed
            if n == 0:
                mark = "[green]holds[/]"
            elif claimed:
                mark = f"[bold red]{n} violation(s): claim broken[/]"
            else:
                mark = f"[yellow]{n} violation(s), expected: not claimed[/]"
            lines.append(f"  {p:<11} ({'claimed' if claimed else 'not claimed'}): {mark}")
            for v in self.witnesses.get(p, [])[:1]:
                lines.append(
                    f"      witness: {v.detail}; participant {v.participant}, deviation "
                    f"{v.deviation}; instance {v.instance}"
                )
        claimed_here = [p for p in self.checked if p in self.claimed]
        broken = [p for p in claimed_here if self.violated(p)]
        expected = [p for p in self.checked if p not in self.claimed and self.violated(p)]
        if broken:
            lines.append(f"[bold red]claimed properties violated: {', '.join(broken)}[/]")
        else:
            verdict = (
                f"[bold green]every claimed property holds[/] ({', '.join(claimed_here)})"
                if claimed_here
                else "[bold]no property is claimed[/]"
            )
            if expected:
                verdict += f"; the violations of {', '.join(expected)} are expected (not claimed)"
            lines.append(verdict)
        return "\n".join(lines)


def _exceeds(observed: float, reference: float, tol: float) -> bool:
    return observed > reference + tol * (1.0 + abs(reference))


def audit(
    spec: MechanismSpec[InstanceT],
    instances: int = 1000,
    seed: int = 0,
    properties: Iterable[str] | None = None,
    tol: float = 1e-9,
    ic_tol: float = 1e-7,
    max_witnesses: int = 5,
    progress: Callable[[int], None] | None = None,
) -> AuditReport:
    """Audit ``spec`` on ``instances`` seeded random instances.

    Parameters
    ----------
    spec
        The mechanism; needs ``random_instance`` (and ``deviations`` to check ``ic``).
    tol, ic_tol
        Relative tolerances: ``tol`` for IR, budget balance and transfers; ``ic_tol`` for a
        misreport's gain (looser, since a deviation's outcome is computed from other numbers).
    properties
        Which of :data:`~specmarket.core.spec.PROPERTIES` to check; default all of them (the report
        still tells claimed from unclaimed ones, and ``ok`` looks at the claimed ones only).
    """
    if spec.random_instance is None:
        raise InvalidInput("mechanism", spec.name, "has no random instance generator to audit with")
    if instances < 1:
        raise InvalidInput("instances", instances, "must be at least 1")
    if seed < 0:
        raise InvalidInput("seed", seed, "must be a whole number ≥ 0")
    checked = tuple(PROPERTIES if properties is None else properties)
    for p in checked:
        if p not in PROPERTIES:
            raise InvalidInput("properties", p, f"unknown property; known: {', '.join(PROPERTIES)}")
    if "ic" in checked and spec.deviations is None:
        checked = tuple(p for p in checked if p != "ic")
    report = AuditReport(spec.name, instances, seed, checked, tuple(sorted(spec.claims)))
    revenues = np.empty(instances)

    def record(
        prop: str,
        inst: InstanceT,
        pid: str | None,
        dev: str | None,
        truthful: float,
        observed: float,
        detail: str,
    ) -> None:
        report.counts[prop] = report.counts.get(prop, 0) + 1
        kept = report.witnesses.setdefault(prop, [])
        if len(kept) < max_witnesses:
            kept.append(
                Violation(prop, inst.model_dump(mode="json"), pid, dev, truthful, observed, detail)
            )

    for t in range(instances):
        rng = np.random.default_rng([seed, t])
        inst = spec.random_instance(rng)
        outcome = spec.clear(inst)
        roles = spec.roles(inst)
        revenue = outcome.revenue
        revenues[t] = revenue
        if "bb" in checked and revenue < -tol * (
            1 + sum(abs(p) for p in outcome.payments.values())
        ):
            record("bb", inst, None, None, 0.0, revenue, f"revenue {revenue:.6g} < 0")
        utilities: dict[str, float] = {}
        for pid, role in roles.items():
            value = spec.true_value(inst, pid, outcome.allocation[pid])
            pay = outcome.payments[pid]
            u = value - pay
            utilities[pid] = u
            if "ir" in checked and _exceeds(0.0, u, tol):
                record("ir", inst, pid, None, 0.0, u, f"truthful utility {u:.6g} < 0")
            if "npt" in checked:
                if role == "buyer" and pay < -tol * (1 + abs(value)):
                    record("npt", inst, pid, None, 0.0, pay, f"buyer receives {-pay:.6g}")
                if role == "seller" and pay > tol * (1 + abs(value)):
                    record("npt", inst, pid, None, 0.0, pay, f"seller pays {pay:.6g}")
        if "ic" in checked and spec.deviations is not None:
            for pid in roles:
                u = utilities[pid]
                for label, dev_inst in spec.deviations(inst, pid, rng):
                    report.deviations_tried += 1
                    dev_out = spec.clear(dev_inst)
                    u_dev = (
                        spec.true_value(inst, pid, dev_out.allocation[pid]) - dev_out.payments[pid]
                    )
                    if _exceeds(u_dev, u, ic_tol):
                        record(
                            "ic",
                            inst,
                            pid,
                            label,
                            u,
                            u_dev,
                            f"misreport raises utility from {u:.6g} to {u_dev:.6g}",
                        )
        if progress is not None and (t % 100 == 99 or t == instances - 1):
            progress(t + 1)

    report.mean_revenue = float(revenues.mean())
    half = 1.96 * float(revenues.std(ddof=1)) / math.sqrt(instances) if instances > 1 else math.inf
    report.revenue_ci = (report.mean_revenue - half, report.mean_revenue + half)
    if "bb-ex-ante" in checked and report.revenue_ci[1] < 0:
        report.counts["bb-ex-ante"] = 1
        report.witnesses["bb-ex-ante"] = [
            Violation(
                "bb-ex-ante",
                {},
                None,
                None,
                0.0,
                report.mean_revenue,
                f"mean revenue {report.mean_revenue:.6g}, 95% CI {report.revenue_ci}",
            )
        ]
    return report
