"""``specmarket agent`` (commands/agent.py): bad input is one line and exit 2; a seller and a
buyer agent trade in a live market of a real server; a small population closes at its checked
ε-equilibrium."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import typer
from tests.service.server import Server
from typer.testing import CliRunner

from specmarket.commands import build
from specmarket.mechanisms.psp.market import DataBuyer
from specmarket.mechanisms.psp.market.snapshot import LiveBuyer

TOKEN = "agent-cli-" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root: Path = tmp_path_factory.mktemp("agentcli")
    srv = Server(f"sqlite:///{root / 'a.db'}", TOKEN, cwd=root)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _app() -> typer.Typer:
    app = build(["specmarket.commands.agent"])

    @app.callback()
    def _group() -> None:  # a group, as in `specmarket`, not a lone command
        pass

    return app


def test_bad_input_is_one_line_and_exit_2() -> None:
    runner = CliRunner()
    r = runner.invoke(_app(), ["agent", "broker", "m", "--token", "t"])
    assert r.exit_code == 2 and "broker" in r.output and "Traceback" not in r.output
    r = runner.invoke(_app(), ["agent", "seller", "m", "--token", "t"])
    assert r.exit_code == 2 and "--supply" in r.output
    r = runner.invoke(_app(), ["agent", "buyer", "m", "--token", "t", "--value", "-1",
                               "--demand", "3"])
    assert r.exit_code == 2 and "Traceback" not in r.output
    r = runner.invoke(_app(), ["agent", "seller", "m", "--token", "t", "--supply", "1",
                               "--url", "http://127.0.0.1:9"])
    assert r.exit_code == 2 and "--url" in r.output
    r = runner.invoke(_app(), ["agent", "population", "--buyers", "2"],
                      env={"SPECMARKET_TOKEN": ""})
    assert r.exit_code == 2 and "--token" in r.output and "Traceback" not in r.output
    r = runner.invoke(_app(), ["agent", "population", "--buyers", "0", "--token", "t"])
    assert r.exit_code == 2 and "--buyers" in r.output


@pytest.mark.slow
def test_a_seller_and_a_buyer_agent_trade(server: Server) -> None:
    op = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server.url, headers=op) as c:
        market = c.post("/v1/markets", json={"mechanism": "data-market",
                                             "fields": {"epsilon": 0.1}}).json()["id"]
        tok = {pid: c.post(f"/v1/markets/{market}/participants",
                           json={"id": pid, "role": role}).json()["token"]
               for pid, role in (("s1", "seller"), ("b1", "buyer"))}
    runner = CliRunner()
    base = ["--url", server.url, "--poll", "0", "--quiet", "2"]
    r = runner.invoke(_app(), ["agent", "seller", market, "--token", tok["s1"], "--supply", "5",
                               *base])
    assert r.exit_code == 0, r.output
    r = runner.invoke(_app(), ["agent", "buyer", market, "--token", tok["b1"], "--value", "4",
                               "--demand", "3", *base])
    assert r.exit_code == 0, r.output
    quote = httpx.get(f"{server.url}/v1/markets/{market}/quotes",
                      headers={"Authorization": f"Bearer {tok['b1']}"}).json()
    # alone in the market, the buyer gets what the library's buyer asks on that book
    me = LiveBuyer(DataBuyer(id="b1", value=4.0, demand=3.0), 0.1, 10.0)
    (bid,) = me.move({"s1": (5.0, 0.1, {})})
    assert quote["allocation"] == pytest.approx(bid["quantity"]) and bid["quantity"] > 0


@pytest.mark.slow
def test_population_opens_runs_and_reports_the_offline_figure(server: Server) -> None:
    runner = CliRunner()
    r = runner.invoke(_app(), ["agent", "population", "--buyers", "6", "--sellers", "2",
                               "--seed", "1", "--token", TOKEN, "--url", server.url])
    assert r.exit_code == 0, r.output
    assert "closed by equilibrium, verdict converged" in r.output
    assert "efficiency live" in r.output and "offline" in r.output
