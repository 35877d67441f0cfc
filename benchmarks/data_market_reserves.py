"""Where a large data market's welfare goes: final reserves against the optimum's shadow price.

For one seeded random market (``random_market(B, S, seed)``, asynchronous, patient reserves) run
under a policy, optionally with some of its :class:`~specmarket.mechanisms.psp.market.Policy`
switches changed (``--set descend=true rise_limit=1``), prints the verdict, rounds, messages,
efficiency and CPU seconds, then the diagnosis of docs/psp.md ("Scale"): the share of the
sellers' supply left unsold, the centralised optimum's shadow price ``λ`` against the final
reserves (min / median / max; how many sellers end more than ε above ``λ``, and how many with
more than 1 % of their data unsold), the units the buyers hold short of their optimum quantity,
and the histogram of pool sizes.

A variant runs under its base policy's name: this process replaces that entry of the policy
table (``simulation.POLICIES``) by the variant; nothing is changed on disk.

Run: ``python benchmarks/data_market_reserves.py 2000 200 [--seed 0] [--policy converging]
[--set descend=true]``. Not run by the tests.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from typing import Any

import numpy as np

from specmarket.mechanisms.psp.market import POLICIES, random_market, simulation


def _value(text: str) -> Any:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return int(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("buyers", type=int)
    ap.add_argument("sellers", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--policy", default="converging")
    ap.add_argument("--set", nargs="*", default=[], help="Policy switches, e.g. descend=true")
    ap.add_argument("--max-rounds", type=int, default=3000)
    a = ap.parse_args()
    changes = {k: _value(v) for k, v in (kv.split("=", 1) for kv in a.set)}
    variant = dataclasses.replace(POLICIES[a.policy], **changes)
    simulation.POLICIES = {**simulation.POLICIES, a.policy: variant}
    kept: dict[str, Any] = {}
    finish = simulation._Run.finish

    def keep(run: simulation._Run, *args: Any) -> Any:
        kept["run"] = run
        return finish(run, *args)

    simulation._Run.finish = keep  # type: ignore[method-assign]
    m = random_market(a.buyers, a.sellers, a.seed, policy=a.policy, max_rounds=a.max_rounds)
    t0 = time.process_time()
    r = simulation.simulate(m)
    cpu = time.process_time() - t0
    run = kept["run"]
    supply = np.array([s.supply for s in run.active_s])
    sold = np.array([s.sold for s in run.active_s])
    res = np.array([s.reserve for s in run.active_s])
    lam, eps = r.optimum.price, m.epsilon
    held = {
        b.spec.id: sum(run.sellers[j].alloc.get(b.spec.id, 0.0) for j in b.pool) + b.isp
        for b in run.active_b
    }
    short = sum(max(0.0, q - held[k]) for k, q in r.optimum.quantities.items())
    pools = np.bincount([len(b.pool) for b in run.active_b])
    print(
        f"{a.buyers}x{a.sellers} seed {a.seed}, {a.policy} {changes or ''}: {r.status}, "
        f"{r.rounds} rounds, {r.messages:,} messages, efficiency {r.efficiency:.4f}, "
        f"{cpu:.1f} CPU-s"
    )
    print(
        f"  unsold {1 - sold.sum() / supply.sum():.4f} of {supply.sum():.1f} units; shadow price "
        f"{lam:.3f}; reserves min/median/max {res.min():.3f}/{np.median(res):.3f}/{res.max():.3f};"
        f" {(res > lam + eps).sum()} of {len(res)} sellers above λ + ε, "
        f"{(sold < 0.99 * supply).sum()} with > 1 % unsold; buyers {short:.1f} units short of "
        f"the optimum; pool sizes {pools.tolist()}"
    )


if __name__ == "__main__":
    main()
