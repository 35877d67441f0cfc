"""``specmarket serve`` as a subprocess driven by the ``specmarket market …`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from specmarket.cli import app as cli_app
from specmarket.mechanisms import get

from .conftest import OPERATOR
from .server import Server

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_market_commands_against_a_served_database(db_url: str, tmp_path: Path) -> None:
    server = Server(db_url, OPERATOR, cwd=tmp_path)
    server.start()
    runner = CliRunner()
    base = ["--url", server.url, "--token", OPERATOR]
    try:
        up = runner.invoke(cli_app, ["market", "upload", "mcafee", str(EXAMPLES / "mcafee.json"),
                                     *base])
        assert up.exit_code == 0, up.output
        uploaded = json.loads(up.stdout)
        market = uploaded["id"]
        extra = runner.invoke(cli_app, ["market", "add", market, "b9", "buyer", *base])
        assert extra.exit_code == 0 and json.loads(extra.stdout)["token"]
        token = json.loads(extra.stdout)["token"]
        rep = runner.invoke(cli_app, ["market", "report", market, '{"bid": -1}',
                                      "--url", server.url, "--token", token])
        assert rep.exit_code == 2 and "bid" in rep.stderr and "Traceback" not in rep.output
        inst = runner.invoke(cli_app, ["market", "instance", market, *base])
        assert inst.exit_code == 0
        instance_file = tmp_path / "round.json"
        instance_file.write_text(inst.stdout)
        closed = runner.invoke(cli_app, ["market", "close", market, *base])
        assert closed.exit_code == 0, closed.output
        cleared = runner.invoke(cli_app, ["clear", "mcafee", str(instance_file)])
        assert json.loads(closed.stdout) == json.loads(cleared.stdout)
        example = json.loads((EXAMPLES / "mcafee.json").read_text())
        assert json.loads(closed.stdout) == get("mcafee").clear_json(example)
        mine = runner.invoke(cli_app, ["market", "outcome", market, "--url", server.url,
                                       "--token", uploaded["tokens"]["b1"]])
        assert json.loads(mine.stdout)["payment"] == 6.0
        log = runner.invoke(cli_app, ["market", "log", market, *base])
        assert [e["action"] for e in json.loads(log.stdout)["entries"]][-1] == "close"
        bad = runner.invoke(cli_app, ["market", "close", market, "--url", server.url,
                                      "--token", "nope"])
        assert bad.exit_code == 2 and "401" in bad.stderr
    finally:
        server.stop()
