"""Reproduction ``cat``: seed 000's claims about the CAT team auction, checked on random instances.

1. **Comparison** (seed 000 §B): CAT with sharing, CAT without sharing, and VCG selling the ``n``
   bands as identical units to SUs that bid ``m_i`` per band for up to ``N_i`` bands (the seed's
   "famous VCG mechanism": an SU may receive fewer bands than it needs and then gets eq. (4)'s
   reduced welfare). Welfare (eq. (4)), revenue, bands left idle (unsold) and bands only partly used
   (held by SUs that got fewer than they need), against the eq. (4) optimum over all allocations.
2. **Theorem 2**: does the winning team maximise welfare among legal teams (and overall)?
3. **Theorem 1** audit: does any unilateral misreport of demand or WTP (including the seed's own
   scaled misreports) raise an SU's true utility? For CAT with and without sharing, for the
   WTP fix "VCG over legal teams" and for the full fix "VCG over eq. (4) valuations".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from specmarket.core import Outcome
from specmarket.mechanisms import cat
from specmarket.mechanisms.cat_teams import top_two_fast
from specmarket.reproductions import ReproContext, Reproduction, ReproResult

TOL = 1e-9


def vcg_identical_units(instance: cat.Instance) -> dict[str, Any]:
    """VCG for ``n`` identical units, each SU bidding ``m_i`` for each of up to ``N_i`` units.

    Uses :mod:`specmarket.mechanisms.vcg` (``allocate``, ``clarke_payments``) when present, else an
    equivalent local computation. Welfare is *realised* per eq. (4): an SU with ``q < N_i`` bands
    gets ``q·(q/N_i)·m_i``. Returns allocation, payments, welfare, revenue, idle and partly-used
    bands.
    """
    n = instance.bands
    values = [np.full(u.demand, float(u.wtp)) for u in instance.users]
    try:
        from specmarket.mechanisms.vcg import allocate, clarke_payments

        x = np.asarray(allocate(values, n))
        pay = np.asarray(clarke_payments(values, x, n), dtype=float)
    except ImportError:  # pragma: no cover - the VCG module is part of the package
        x, pay = _local_vcg(values, n)
    welfare = math.fsum(
        cat.welfare_eq4(int(q), u.demand, u.wtp) for q, u in zip(x, instance.users, strict=True)
    )
    partial = int(sum(int(q) for q, u in zip(x, instance.users, strict=True) if 0 < q < u.demand))
    return {
        "allocation": [int(q) for q in x],
        "payments": pay.tolist(),
        "welfare": welfare,
        "revenue": float(pay.sum()),
        "idle": n - int(np.sum(x)),
        "partial": partial,
    }


def _local_vcg(values: list[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Fallback k-unit VCG with non-increasing marginal values (ties: bidder order)."""
    owner = np.concatenate([np.full(len(v), i) for i, v in enumerate(values)])
    flat = np.concatenate(values)
    order = np.lexsort((np.arange(flat.size), -flat))
    x = np.bincount(owner[order[:k]], minlength=len(values))
    pay = np.zeros(len(values))
    for i, xi in enumerate(x):
        if xi:
            others = np.sort(np.concatenate([v for j, v in enumerate(values) if j != i]))[::-1]
            padded = np.concatenate([others, np.zeros(max(0, k - others.size))])
            pay[i] = float(padded[k - xi : k].sum())
    return x, pay


def eq4_optimum(demand: Sequence[int], wtp: Sequence[float], n: int) -> tuple[float, list[int]]:
    """Maximum eq. (4) welfare over *all* allocations of at most ``n`` bands (any SU may get any
    number), by a multiple-choice knapsack DP over bands, ``O(K·n²)``; ties give the later SU
    fewer bands. Returns the welfare and the bands per SU."""
    k_total = len(demand)
    best = np.full(n + 1, -math.inf)
    best[0] = 0.0
    choice = np.zeros((k_total, n + 1), dtype=int)
    q_idx = np.arange(n + 1)[:, None]
    src = np.arange(n + 1)[None, :] - q_idx  # src[q, c] = c − q
    valid = src >= 0
    for i in range(k_total):
        v = np.array([cat.welfare_eq4(q, demand[i], wtp[i]) for q in range(n + 1)])
        cand = np.where(valid, best[np.clip(src, 0, n)] + v[:, None], -math.inf)
        q_best = np.argmax(cand, axis=0)  # first maximum: the fewest bands for SU i
        choice[i] = q_best
        best = cand[q_best, np.arange(n + 1)]
    c = int(np.argmax(best))
    w = float(best[c])
    alloc = [0] * k_total
    for i in range(k_total - 1, -1, -1):
        q = int(choice[i, c])
        alloc[i] = q
        c -= q
    return w, alloc


def clear_vcg_eq4(instance: cat.Instance) -> Outcome:
    """The full fix of Theorem 1: VCG over eq. (4) valuations (Clarke pivot), any bundle size.

    A report ``(N_i, m_i)`` now determines the SU's whole valuation (eq. (4)) and the allocation
    maximises reported eq. (4) welfare over all allocations, so truthful reporting of demand *and*
    WTP is dominant (Vickrey–Clarke–Groves); the price is that SUs may get partial allocations.
    """
    ids = [u.id for u in instance.users]
    demand = [u.demand for u in instance.users]
    wtp = [float(u.wtp) for u in instance.users]
    n = instance.bands
    w_star, alloc = eq4_optimum(demand, wtp, n)
    pay: dict[str, float] = {}
    values: dict[str, float] = {}
    for i, pid in enumerate(ids):
        own = cat.welfare_eq4(alloc[i], demand[i], wtp[i])
        values[pid] = own
        if alloc[i] == 0:
            pay[pid] = 0.0
            continue
        w_minus, _ = eq4_optimum(demand[:i] + demand[i + 1 :], wtp[:i] + wtp[i + 1 :], n)
        pay[pid] = w_minus - (w_star - own)
    return Outcome("vcg-eq4", dict(zip(ids, alloc, strict=True)), pay, values)


def _kind(label: str, truth: cat.User) -> str:
    if label.startswith("seed:"):
        d = int(label.split("demand=")[1].split(",")[0])
        return "seed: fewer bands" if d < truth.demand else "seed: more bands"
    key, val = label.split("=")
    x = float(val)
    if key == "demand":
        return "demand: fewer" if x < truth.demand else "demand: more"
    return "wtp: lower" if x < truth.wtp else "wtp: higher"


def audit_theorem1(
    mechanism: Callable[[cat.Instance], Outcome],
    instances: Sequence[cat.Instance],
    rng: np.random.Generator,
) -> tuple[dict[str, list[float]], list[dict[str, Any]]]:
    """For each deviation kind, the list of utility gains ``u(misreport) − u(truth)`` over all
    (instance, SU, misreport); plus the first counterexamples (gain > 1e-9)."""
    gains: dict[str, list[float]] = {}
    examples: list[dict[str, Any]] = []
    for inst in instances:
        truth_out = mechanism(inst)
        for user in inst.users:
            u_true = (
                cat.true_value(inst, user.id, truth_out.allocation[user.id])
                - (truth_out.payments[user.id])
            )
            for label, dev in cat.deviations(inst, user.id, rng):
                out = mechanism(dev)
                u = cat.true_value(inst, user.id, out.allocation[user.id]) - out.payments[user.id]
                gain = u - u_true
                gains.setdefault(_kind(label, user), []).append(gain)
                if gain > TOL * (1 + abs(u_true)) and len(examples) < 20:
                    examples.append(
                        {
                            "instance": inst.model_dump_json(),
                            "su": user.id,
                            "misreport": label,
                            "utility_truthful": u_true,
                            "utility_misreport": u,
                            "gain": gain,
                            "gain_over_theta_N": gain / (inst.increment * user.demand),
                        }
                    )
    return gains, examples


#: Comparison regimes: name → (min SUs, max SUs, max demand) for ``n = 10`` bands.
REGIMES = {"dense": (8, 8, 6), "sparse": (3, 8, 8)}


def comparison_instance(
    rng: np.random.Generator, n: int, k_min: int, k_max: int, d_max: int
) -> cat.Instance:
    """``k_min..k_max`` SUs, demands uniform on ``1..d_max``, WTP uniform on [0, 5] (0.05 grid),
    θ = 0.1. The "sparse" regime has few SUs with large demands, so that legal teams are scarce."""
    k = int(rng.integers(k_min, k_max + 1))
    users = tuple(
        cat.User(
            id=f"u{i}", demand=int(rng.integers(1, d_max + 1)), wtp=float(rng.integers(0, 101)) / 20
        )
        for i in range(k)
    )
    return cat.Instance(bands=n, increment=0.1, sharing=True, users=users)


def run(ctx: ReproContext) -> ReproResult:
    """Run the comparison, the Theorem 2 check and the Theorem 1 audit; write CSVs and figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    out_dir = ctx.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(ctx.seed)
    n_comp = 40 if ctx.quick else 1000
    n_audit = 4 if ctx.quick else 150
    n_bands = 10

    rows = []
    for regime, (k_min, k_max, d_max), t in (
        (r, p, t) for r, p in REGIMES.items() for t in range(n_comp)
    ):
        inst = comparison_instance(rng, n_bands, k_min, k_max, d_max)
        demand = [u.demand for u in inst.users]
        wtp = [float(u.wtp) for u in inst.users]
        teams = top_two_fast(demand, wtp, n_bands, True)
        best_legal = teams[0].welfare if teams[0] else 0.0
        opt, _ = eq4_optimum(demand, wtp, n_bands)
        share = cat.clear(inst)
        plain = cat.clear(inst.model_copy(update={"sharing": False}))
        vcg = vcg_identical_units(inst)
        for name, w, r, idle, part in (
            ("CAT sharing", share.welfare, share.revenue, share.details["idle_bands"], 0),
            ("CAT no sharing", plain.welfare, plain.revenue, plain.details["idle_bands"], 0),
            ("VCG identical units", vcg["welfare"], vcg["revenue"], vcg["idle"], vcg["partial"]),
        ):
            rows.append(
                {
                    "regime": regime,
                    "instance": t,
                    "mechanism": name,
                    "welfare": w,
                    "revenue": r,
                    "idle_bands": idle,
                    "partly_used_bands": part,
                    "best_legal_team_welfare": best_legal,
                    "eq4_optimum": opt,
                    "max_legal": w >= best_legal - TOL * (1 + best_legal),
                }
            )
    comp = pd.DataFrame(rows)
    comp_path = out_dir / "cat_comparison.csv"
    comp.to_csv(comp_path, index=False)
    summary = (
        comp.groupby(["regime", "mechanism"], sort=False)
        .agg(
            welfare=("welfare", "mean"),
            revenue=("revenue", "mean"),
            idle_bands=("idle_bands", "mean"),
            partly_used_bands=("partly_used_bands", "mean"),
            share_max_legal_welfare=("max_legal", "mean"),
            eq4_optimum=("eq4_optimum", "mean"),
        )
        .reset_index()
    )
    summary_path = out_dir / "cat_comparison_summary.csv"
    summary.to_csv(summary_path, index=False)
    first = comp[comp.mechanism == "CAT sharing"]
    below = (first.best_legal_team_welfare < first.eq4_optimum - 1e-9).groupby(first.regime).mean()

    audit_instances = [cat.random_instance(rng) for _ in range(n_audit)]
    mechs: dict[str, Callable[[cat.Instance], Outcome]] = {
        "CAT sharing": lambda i: cat.clear(i.model_copy(update={"sharing": True})),
        "CAT no sharing": lambda i: cat.clear(i.model_copy(update={"sharing": False})),
        "fix: VCG over legal teams": cat.clear_vcg_teams,
        "fix: VCG over eq. (4)": clear_vcg_eq4,
    }
    arows = []
    all_examples = []
    for mname, mech in mechs.items():
        gains, examples = audit_theorem1(mech, audit_instances, np.random.default_rng(ctx.seed + 1))
        for ex in examples:
            ex["mechanism"] = mname
        all_examples += examples
        for kind, g in sorted(gains.items()):
            arr = np.asarray(g)
            arows.append(
                {
                    "mechanism": mname,
                    "deviation": kind,
                    "checked": arr.size,
                    "violations": int((arr > 1e-7).sum()),
                    "rate": float((arr > 1e-7).mean()),
                    "max_gain": float(arr.max()),
                }
            )
    audit = pd.DataFrame(arows)
    audit_path = out_dir / "cat_theorem1_audit.csv"
    audit.to_csv(audit_path, index=False)
    ex_path = out_dir / "cat_theorem1_counterexamples.csv"
    pd.DataFrame(all_examples).to_csv(ex_path, index=False)

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, col, title in zip(
        axes,
        ("welfare", "revenue", "idle_bands"),
        ("mean welfare (eq. 4)", "mean revenue", "mean idle bands"),
        strict=True,
    ):
        table = summary.pivot(index="regime", columns="mechanism", values=col)
        table.plot.bar(ax=ax, legend=ax is axes[0], rot=0)
        ax.set_title(title)
    opt = summary.groupby("regime", sort=False).eq4_optimum.first()
    axes[0].plot(
        range(len(opt)),
        opt.reindex(sorted(opt.index)).to_numpy(),
        "k_",
        ms=30,
        label="eq. 4 optimum",
    )
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig_cmp = out_dir / "cat_comparison.png"
    fig.savefig(fig_cmp, dpi=120)
    fig.savefig(fig_cmp.with_suffix(".svg"))
    plt.close(fig)

    pivot = audit.pivot(index="deviation", columns="mechanism", values="rate").fillna(0.0)
    fig, ax = plt.subplots(figsize=(9, 3.8))
    pivot.plot.bar(ax=ax)
    ax.set_ylabel("share of misreports that pay")
    ax.set_title("Theorem 1 audit: profitable unilateral misreports")
    ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig_aud = out_dir / "cat_theorem1_audit.png"
    fig.savefig(fig_aud, dpi=120)
    fig.savefig(fig_aud.with_suffix(".svg"))
    plt.close(fig)

    def s(m: str, c: str, regime: str) -> float:
        row = summary[(summary.mechanism == m) & (summary.regime == regime)]
        return float(row[c].iloc[0])

    def viol(m: str) -> str:
        sub = audit[audit.mechanism == m]
        dem = int(sub[~sub.deviation.str.startswith("wtp")].violations.sum())
        wtp = int(sub[sub.deviation.str.startswith("wtp")].violations.sum())
        return f"{dem + wtp} ({dem} demand, {wtp} WTP)"

    parts = []
    for rg in REGIMES:
        cs, cn, vg = "CAT sharing", "CAT no sharing", "VCG identical units"
        parts.append(
            f"**{rg}** ({n_comp} instances, {n_bands} bands, {REGIMES[rg][0]}–{REGIMES[rg][1]} "
            f"SUs, demands 1–{REGIMES[rg][2]}): mean welfare CAT with sharing "
            f"{s(cs, 'welfare', rg):.2f}, without sharing {s(cn, 'welfare', rg):.2f}, VCG for "
            f"identical units {s(vg, 'welfare', rg):.2f} (eq. (4) optimum "
            f"{s(cs, 'eq4_optimum', rg):.2f}); revenue {s(cs, 'revenue', rg):.2f} / "
            f"{s(cn, 'revenue', rg):.2f} / {s(vg, 'revenue', rg):.2f}; idle bands "
            f"{s(cs, 'idle_bands', rg):.2f} / {s(cn, 'idle_bands', rg):.2f} / "
            f"{s(vg, 'idle_bands', rg):.2f} (VCG leaves {s(vg, 'partly_used_bands', rg):.2f} "
            f"bands partly used). Theorem 2 among legal teams: the CAT winner is the best legal "
            f"team in {100 * s(cs, 'share_max_legal_welfare', rg):.0f}% of instances with "
            f"sharing, {100 * s(cn, 'share_max_legal_welfare', rg):.0f}% without; the best legal "
            f"team is below the eq. (4) optimum over all allocations in "
            f"{100 * float(below[rg]):.0f}%."
        )
    text = (
        "\n\n".join(parts) + "\n\n"
        f"Theorem 1 audit on {n_audit} instances: profitable misreports found — CAT with sharing "
        f"{viol('CAT sharing')}, without sharing {viol('CAT no sharing')}, VCG over legal teams "
        f"{viol('fix: VCG over legal teams')}, VCG over eq. (4) "
        f"{viol('fix: VCG over eq. (4)')}. Theorem 1 does not hold for CAT as reconstructed; "
        "see docs/cat.md."
    )
    return ReproResult(
        name="cat",
        title=REPRODUCTION.title,
        tables={
            "per-instance comparison": comp_path,
            "comparison summary": summary_path,
            "Theorem 1 audit": audit_path,
            "Theorem 1 counterexamples": ex_path,
        },
        figures={"welfare, revenue, idle bands": fig_cmp, "Theorem 1 audit": fig_aud},
        summary=text,
        parameters={
            "instances": n_comp,
            "audit_instances": n_audit,
            "bands": n_bands,
            "regimes": REGIMES,
            "seed": ctx.seed,
            "quick": ctx.quick,
        },
    )


REPRODUCTION = Reproduction(
    name="cat",
    title="CAT team auction (seed 000): welfare vs VCG and no sharing; Theorems 1 and 2",
    run=run,
)
