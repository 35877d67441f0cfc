"""MkDocs hook: render the ``specmarket`` command line into ``docs/cli.md`` at build time.

The page holds the marker ``<!-- cli-reference -->``; this hook replaces it with one section per
command of the typer app (walked through its click-style command tree): the usage line, the help
text and a table of arguments and options with their types and defaults. The reference therefore
can never drift from the code: it *is* the code's ``--help``.

Recent typer releases carry their own copy of click, so the tree is walked by duck typing (a group
has ``list_commands``; an option has ``param_type_name == "option"``) rather than by ``isinstance``
against the ``click`` package — which is also why mkdocs-click does not apply.
"""

from __future__ import annotations

from typing import Any

MARKER = "<!-- cli-reference -->"


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """Replace :data:`MARKER` on the page that holds it with the generated reference."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render())


def render() -> str:
    """Markdown of every command of ``specmarket``, depth first, in the app's order."""
    import typer

    from specmarket.cli import app

    root = typer.main.get_command(app)
    ctx = root.context_class(root, info_name="specmarket")
    parts: list[str] = []
    _walk(root, ctx, parts, level=1)
    return "\n".join(parts)


def _walk(cmd: Any, ctx: Any, parts: list[str], level: int) -> None:
    path = ctx.command_path
    if ctx.parent is not None:
        parts.append(f"{'#' * level} `{path}`\n")
    help_text = (cmd.help or "").strip()
    if help_text:
        parts.append(_unwrap(help_text) + "\n")
    pieces = " ".join(cmd.collect_usage_pieces(ctx))
    parts.append(f"```text\n{path} {pieces}\n```\n")
    rows = [_row(p, ctx) for p in cmd.get_params(ctx)]
    rows = [r for r in rows if r is not None]
    if rows:
        parts.append("| argument / option | description |")
        parts.append("|---|---|")
        parts.extend(rows)
        parts.append("")
    if hasattr(cmd, "list_commands"):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            _walk(sub, sub.context_class(sub, info_name=name, parent=ctx), parts, level + 1)


def _row(param: Any, ctx: Any) -> str | None:
    """One table row from the parameter's own ``--help`` record (names and metavar, then the help
    with its default and range, as ``--help`` prints them)."""
    if getattr(param, "hidden", False) or param.name == "help":
        return None
    record = param.get_help_record(ctx)
    if record is None:  # a plain click argument has no help record
        record = ((param.name or "").upper(), "[required]" if param.required else "")
    names, text = record
    return f"| `{names}` | {_cell(text)} |"


def _unwrap(text: str) -> str:
    """Docstring paragraphs as Markdown paragraphs (click keeps the source line breaks)."""
    paras = [" ".join(line.strip() for line in p.splitlines()) for p in text.split("\n\n")]
    return "\n\n".join(paras)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
