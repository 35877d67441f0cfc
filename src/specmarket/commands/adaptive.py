"""``specmarket gittins FILE.json``: Gittins indices of every state of a Markov reward chain
(seed 004 eq. (3), reward units; Sonin's state elimination in
:mod:`specmarket.mechanisms.adaptive.gittins`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from specmarket.errors import SpecmarketError


def register(app: typer.Typer) -> None:
    """Add the ``gittins`` command to the ``specmarket`` app."""

    @app.command("gittins")
    def gittins_cmd(
        file: Annotated[
            Path,
            typer.Argument(help='JSON {"transition": [[...]], "reward": [...], "discount": 0.9}.'),
        ],
    ) -> None:
        """Print the Gittins index of every state as {"index": [...]}.

        Example: specmarket gittins examples/gittins.json
        """
        from specmarket import io
        from specmarket.cli import fail
        from specmarket.mechanisms.adaptive.gittins import gittins_from_json

        try:
            result = gittins_from_json(io.read_json(file))
        except SpecmarketError as exc:
            fail(exc)
        print(io.dumps(result))
