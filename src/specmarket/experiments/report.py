"""Self-contained HTML reports: one page, figures embedded as base64 PNG, no external assets.

* :func:`sweep_report` — a results folder/table: the scenario, one summary table per metric
  (mean and 95% CI per mechanism and sweep point) and the figures.
* :func:`reproductions_report` — the outcome of ``specmarket reproduce`` / ``specmarket demo``:
  one section per reproduction with its summary, parameters, figures and tables, and the failures.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from specmarket import io
from specmarket.experiments.figures import plot_all, summary_wide
from specmarket.experiments.results import Results
from specmarket.reproductions import ReproResult

MAX_TABLE_ROWS = 60

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #4c72b0;padding-bottom:.2em}h2{margin-top:2em;color:#2c4f8a}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#eef2f8}
td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #ddd;margin:.4em 0}
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.85em}
.fail{border-left:5px solid #c0392b;background:#fdecea;padding:.5em 1em}
.ok{color:#27ae60}.bad{color:#c0392b}figure{margin:1em 0}figcaption{font-size:.9em;color:#555}
nav ul{columns:2}
"""


@dataclass
class Failure:
    """A reproduction that raised: its name, title and the error text (with traceback)."""

    name: str
    title: str
    error: str


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def img(path: str | Path, caption: str) -> str:
    """An ``<img>`` with the PNG embedded as base64 (SVG beside it is linked by name only)."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def table(df: pd.DataFrame, max_rows: int = MAX_TABLE_ROWS, index: bool = True) -> str:
    """A DataFrame as an HTML table (at most ``max_rows`` rows, the cut is said)."""
    note = ""
    if len(df) > max_rows:
        note = f"<p><em>first {max_rows} of {len(df)} rows</em></p>"
        df = df.head(max_rows)
    return df.to_html(index=index, border=0, float_format=lambda x: f"{x:.6g}", na_rep="–") + note


def markdown_lite(text: str) -> str:
    """Plain text / simple Markdown → HTML: paragraphs, ``-`` lists, ``**bold**``, `code`."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        if lines and all(ln.lstrip().startswith(("- ", "* ")) for ln in lines):
            items = "".join(f"<li>{_inline(ln.lstrip()[2:])}</li>" for ln in lines)
            out.append(f"<ul>{items}</ul>")
        elif block.strip():
            out.append(f"<p>{_inline(' '.join(lines))}</p>")
    return "\n".join(out)


def _inline(text: str) -> str:
    t = esc(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", t)


def page(title: str, body: Sequence[str], record: dict[str, Any] | None = None) -> str:
    """A whole HTML document; its footer carries the provenance ``record`` (version, commit,
    command, seed; :mod:`specmarket.provenance`), made here when not given."""
    from specmarket.provenance import footer, provenance

    record = record if record is not None else provenance()
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1>{''.join(body)}"
        f'<hr><p class="provenance"><small>{esc(footer(record))}</small></p>'
        f"</body></html>\n"
    )


def sweep_sections(res: Results, fig_dir: Path, level: int = 2) -> list[str]:
    """HTML of one sweep: scenario, summary tables per metric, figures."""
    sc = res.scenario
    h = f"h{level}"
    body = []
    if sc.description:
        body.append(markdown_lite(sc.description))
    runs = res.table["run"].nunique() if not res.table.empty else 0
    body.append(
        f"<p>{len(sc.mechanisms)} mechanism(s) ({esc(', '.join(sc.mechanisms))}) on "
        f"generator <code>{esc(sc.generator)}</code>; {len(sc.points)} grid point(s) × "
        f"{sc.repetitions} repetition(s) = {sc.n_runs} runs ({runs} stored); master seed "
        f"{sc.seed}.</p>"
    )
    body.append(
        f"<details><summary>scenario</summary><pre>"
        f"{esc(json.dumps(sc.to_dict(), indent=2))}</pre></details>"
    )
    if not res.table.empty:
        figs = plot_all(res, fig_dir)
        for metric in sc.metric_names:
            if metric not in res.table.columns:
                continue
            body.append(f"<{h}>{esc(sc.label(metric))}</{h}>")
            body.append("<p>mean [95% confidence interval] per mechanism</p>")
            body.append(table(summary_wide(res, metric)))
            for caption, png in figs.items():
                if caption.startswith(sc.label(metric)):
                    body.append(img(png, caption))
    else:
        body.append("<p><em>no runs stored yet</em></p>")
    return body


def sweep_report(res: Results, out_dir: str | Path) -> Path:
    """Write ``DIR/index.html`` (and the figures as PNG+SVG under ``DIR/figures``) for a sweep."""
    from specmarket.provenance import provenance

    out = Path(out_dir)
    body = sweep_sections(res, out / "figures")
    title = res.scenario.title or res.scenario.name
    record = provenance(res.scenario.seed)
    io.write_atomic(out / "provenance.json", json.dumps(record, indent=2))
    return io.write_atomic(out / "index.html", page(f"specmarket: {title}", body, record))


def repro_section(r: ReproResult, base: Path | None = None) -> str:
    """HTML of one reproduction's result."""
    parts = [
        f'<h2 id="{esc(r.name)}">{esc(r.title)} <small>(<code>{esc(r.name)}</code>)'
        f' <span class="ok">✓</span></small></h2>'
    ]
    if r.summary:
        parts.append(markdown_lite(r.summary))
    if r.parameters:
        params = pd.DataFrame(
            {
                "parameter": list(r.parameters),
                "value": [json.dumps(v, default=str) for v in r.parameters.values()],
            }
        )
        parts.append(
            "<details><summary>parameters</summary>" + table(params, index=False) + "</details>"
        )
    for caption, path in r.figures.items():
        p = Path(path)
        if p.suffix.lower() == ".png" and p.exists():
            parts.append(img(p, caption))
        elif p.with_suffix(".png").exists():
            parts.append(img(p.with_suffix(".png"), caption))
        else:
            parts.append(f"<p>figure {esc(caption)}: <code>{esc(p)}</code> (not a PNG)</p>")
    for caption, path in r.tables.items():
        p = Path(path)
        parts.append(f"<h3>{esc(caption)}</h3>")
        try:
            df = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)
            parts.append(table(df, index=False))
        except (OSError, ValueError) as exc:
            parts.append(f"<p>cannot read <code>{esc(p)}</code>: {esc(exc)}</p>")
        shown = p.relative_to(base) if base is not None and p.is_relative_to(base) else p
        parts.append(f"<p><small>file: <code>{esc(shown)}</code></small></p>")
    return "\n".join(parts)


def failure_section(f: Failure) -> str:
    return (
        f'<h2 id="{esc(f.name)}">{esc(f.title)} <small>(<code>{esc(f.name)}</code>) '
        f'<span class="bad">✗ failed</span></small></h2>'
        f'<div class="fail"><p>This reproduction raised an error; the others are unaffected.</p>'
        f"<pre>{esc(f.error)}</pre></div>"
    )


def reproductions_report(
    items: Sequence[ReproResult | Failure],
    out_dir: str | Path,
    title: str = "specmarket: reproductions",
) -> Path:
    """Write ``DIR/index.html`` with one section per reproduction (failures included)."""
    out = Path(out_dir)
    ok = [i for i in items if isinstance(i, ReproResult)]
    bad = [i for i in items if isinstance(i, Failure)]
    toc = "".join(
        f'<li><a href="#{esc(i.name)}">{esc(i.title)}</a> '
        + (
            '<span class="ok">✓</span>'
            if isinstance(i, ReproResult)
            else '<span class="bad">✗</span>'
        )
        + "</li>"
        for i in items
    )
    head = [
        f"<p>{len(ok)} reproduction(s) ran, {len(bad)} failed.</p>",
        f"<nav><ul>{toc}</ul></nav>",
    ]
    body = [
        repro_section(i, out) if isinstance(i, ReproResult) else failure_section(i) for i in items
    ]
    from specmarket.provenance import provenance

    seeds = sorted({int(s) for i in ok if isinstance(s := i.parameters.get("seed"), int)})
    record = provenance(seeds[0] if len(seeds) == 1 else None)
    if len(seeds) > 1:
        record["seeds"] = {i.name: i.parameters.get("seed") for i in ok}
    io.write_atomic(out / "provenance.json", json.dumps(record, indent=2))
    return io.write_atomic(out / "index.html", page(title, head + body, record))
