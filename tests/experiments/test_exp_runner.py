"""The runner: identical numbers whatever the workers, atomic per-batch storage, resume."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from specmarket.errors import InvalidInput, SpecmarketError
from specmarket.experiments import (
    Adapter,
    Generator,
    RunError,
    execute_run,
    load_results,
    load_scenario,
    register_generator,
    run_scenario,
)
from specmarket.experiments.generators import SingleItemParams
from specmarket.experiments.results import ResultStore

from .conftest import small


def test_rows_are_tidy_and_reproducible_from_their_seed(tmp_path: Path) -> None:
    sc = load_scenario(small())
    res = run_scenario(sc, tmp_path / "r")
    df = res.table
    assert len(df) == sc.n_runs * 2 and res.ran == sc.n_runs and res.skipped == 0
    assert list(df.columns[:5]) == ["run", "point", "rep", "seed", "mechanism"]
    assert {"buyers", "value_high", "efficiency", "revenue", "trades"} <= set(df.columns)
    assert (
        df.groupby("run")["mechanism"].apply(list) == pd.Series([["mcafee", "vcg"]] * sc.n_runs)
    ).all()
    # a row's numbers come back from its seed alone
    row = df.iloc[13]
    rng = np.random.default_rng(int(row["seed"]))
    params = sc.point_params[int(row["point"])]
    market = sc.gen.draw(params, rng)
    from specmarket.mechanisms import get

    again = sc.gen.run(get(row["mechanism"]), params, market, rng)
    assert again["efficiency"] == row["efficiency"] and again["revenue"] == row["revenue"]
    assert (tmp_path / "r" / "results.parquet").exists()


def test_two_workers_give_identical_numbers(tmp_path: Path) -> None:
    sc = load_scenario(small())
    a = run_scenario(sc, tmp_path / "a", workers=1).table
    b = run_scenario(sc, tmp_path / "b", workers=2).table
    pd.testing.assert_frame_equal(a, b)


def test_more_repetitions_keep_the_earlier_runs(tmp_path: Path) -> None:
    a = run_scenario(load_scenario(small(repetitions=3)), tmp_path / "a").table
    b = run_scenario(load_scenario(small(repetitions=5)), tmp_path / "b").table
    merged = b[b["rep"] < 3].drop(columns="run").reset_index(drop=True)
    pd.testing.assert_frame_equal(a.drop(columns="run"), merged)


def test_resume_after_a_kill_loses_nothing(tmp_path: Path) -> None:
    sc = load_scenario(small())
    full = run_scenario(sc, tmp_path / "full").table
    out = tmp_path / "killed"
    run_scenario(sc, out)
    store = ResultStore(out)
    chunks = store.chunks()
    assert len(chunks) >= 2
    lost = json.loads(chunks[-1].read_text())["runs"]
    chunks[-1].unlink()  # the batch in flight when the sweep was killed
    (out / "runs" / ".chunk-half-written.json.tmp").write_text('{"runs": [0')  # a torn temp file
    seen: list[tuple[int, int]] = []
    again = run_scenario(sc, out, progress=lambda k, n: seen.append((k, n)))
    assert again.ran == len(lost) and again.skipped == sc.n_runs - len(lost)
    assert seen[-1] == (sc.n_runs, sc.n_runs)
    pd.testing.assert_frame_equal(again.table, full)
    assert run_scenario(sc, out).ran == 0


def test_refuses_to_mix_scenarios_unless_fresh(tmp_path: Path) -> None:
    run_scenario(load_scenario(small()), tmp_path / "r")
    other = load_scenario(small(seed=8))
    with pytest.raises(InvalidInput, match="different scenario"):
        run_scenario(other, tmp_path / "r")
    res = run_scenario(other, tmp_path / "r", fresh=True)
    assert res.ran == other.n_runs
    assert load_results(tmp_path / "r").scenario.seed == 8


def test_a_failing_run_names_run_seed_and_mechanism_and_keeps_finished_runs(tmp_path: Path) -> None:
    register_generator(FAILING)
    sc = load_scenario(
        {
            "name": "f",
            "mechanisms": ["vickrey"],
            "generator": "test-failing",
            "sweep": {"bidders": [1, 2, 3]},
            "repetitions": 2,
        }
    )
    with pytest.raises(
        RunError,
        match=r"run 4 \(point \{'bidders': 3\}, repetition 0, seed \d+\), "
        r"vickrey: ZeroDivisionError: boom",
    ):
        run_scenario(sc, tmp_path / "f")
    assert ResultStore(tmp_path / "f").done_runs() == {0, 1, 2, 3}
    assert execute_run(sc, 0)[0]["welfare"] == 1.0


def _failing_metrics(values: np.ndarray, _p: object, out: object) -> dict[str, float]:
    if values.size == 3:
        raise ZeroDivisionError("boom")
    return {"welfare": 1.0}


FAILING = Generator(
    name="test-failing",
    title="fails for 3 bidders",
    params=SingleItemParams,
    draw=lambda p, rng: rng.uniform(size=p.bidders),
    adapters={
        "vickrey": Adapter(
            lambda v, _p: {"bidders": [{"id": f"b{i}", "bid": float(x)} for i, x in enumerate(v)]},
            _failing_metrics,
        )
    },
    metrics={"welfare": "welfare"},
)


def test_many_tiny_runs_are_batched(tmp_path: Path) -> None:
    """Many trivial runs complete, batched (the per-run overhead is measured by
    benchmarks/bench_runner.py, not here: tests never fail on time)."""
    sc = load_scenario(
        {
            "name": "o",
            "mechanisms": ["vickrey"],
            "generator": "single-item",
            "params": {"bidders": 2},
            "repetitions": 400,
        }
    )
    res = run_scenario(sc, tmp_path / "o")
    assert res.ran == sc.n_runs == 400 and len(res.table) == 400
    assert len(list((tmp_path / "o").rglob("*.parquet"))) < 400  # runs were stored in batches


def test_ray_without_the_extra_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    sc = load_scenario(small(repetitions=1))
    with pytest.raises(SpecmarketError, match=r"specmarket\[ray\]"):
        run_scenario(sc, tmp_path / "r", ray_address="127.0.0.1:1")


def test_workers_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(SpecmarketError, match="workers"):
        run_scenario(load_scenario(small()), tmp_path / "r", workers=0)


KILL_SCENARIO = """
name = "kill"
mechanisms = ["mcafee", "vcg"]
generator = "double-auction"
repetitions = 100
seed = 4

[sweep]
buyers = [30, 60]
"""


@pytest.mark.slow
def test_sigkill_mid_sweep_then_resume_loses_nothing(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    f = tmp_path / "kill.toml"
    f.write_text(KILL_SCENARIO)
    out = tmp_path / "res"
    code = (
        "from specmarket.experiments import load_scenario, run_scenario; "
        f"run_scenario(load_scenario({str(f)!r}), {str(out)!r}, workers=2)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((out / "runs").glob("chunk-*.json"))) >= 3:
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its workers (our own process group)
    proc.wait()
    if (out / "results.parquet").exists():
        pytest.skip("the sweep finished before it could be killed (machine too fast)")
    store = ResultStore(out)
    stored = store.done_runs()
    sc = load_scenario(f)
    assert 0 < len(stored) < sc.n_runs
    resumed = run_scenario(sc, out)
    assert resumed.ran == sc.n_runs - len(stored)
    full = run_scenario(sc, tmp_path / "full", workers=2).table
    pd.testing.assert_frame_equal(resumed.table, full)


def test_random_instance_streams_do_not_depend_on_the_other_mechanisms(tmp_path: Path) -> None:
    base = {"name": "any", "generator": "random-instance", "repetitions": 5}
    both = run_scenario(
        load_scenario({**base, "mechanisms": ["vickrey", "mcafee"]}), tmp_path / "a"
    )
    one = run_scenario(load_scenario({**base, "mechanisms": ["mcafee"]}), tmp_path / "b")
    a = both.table[both.table.mechanism == "mcafee"].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, one.table)


# --------------------------------------------------------------------------- map_tasks


def _square_with_seed(task: tuple[int, int]) -> tuple[int, float]:
    i, seed = task
    return i * i, float(np.random.default_rng([seed, i]).random())


def _fail_on_three(i: int) -> int:
    if i == 3:
        raise ValueError("three")
    return i


def test_map_tasks_keeps_task_order_and_numbers_whatever_the_workers() -> None:
    from specmarket.experiments.runner import map_tasks

    tasks = [(i, 7) for i in range(9)]
    one = map_tasks(_square_with_seed, tasks, workers=1)
    two = map_tasks(_square_with_seed, tasks, workers=2, cost=lambda t: float(t[0] % 4))
    assert one == two == [_square_with_seed(t) for t in tasks]
    assert map_tasks(_square_with_seed, [], workers=2) == []


def test_map_tasks_errors() -> None:
    from specmarket.experiments.runner import map_tasks

    with pytest.raises(SpecmarketError, match="workers"):
        map_tasks(_fail_on_three, [1], workers=0)
    with pytest.raises(ValueError, match="three"):
        map_tasks(_fail_on_three, list(range(6)), workers=2)


def _pid_and_square(task: tuple[int, int]) -> tuple[int, int, float]:
    i, seed = task
    return os.getpid(), i * i, float(np.random.default_rng([seed, i]).random())


def test_map_tasks_in_chunks_gives_the_numbers_of_one_worker() -> None:
    """Many tiny tasks go out in chunks (their time is known after the first ones): every result
    is still that of its own task, in task order, with or without a cost."""
    from specmarket.experiments.runner import map_tasks

    tasks = [(i, 11) for i in range(600)]
    one = map_tasks(_square_with_seed, tasks, workers=1)
    assert map_tasks(_square_with_seed, tasks, workers=2) == one
    assert map_tasks(_square_with_seed, tasks, workers=2, cost=lambda t: float(t[0] % 7)) == one
    seen: list[tuple[int, int]] = []
    map_tasks(_square_with_seed, tasks, workers=2, progress=lambda d, n: seen.append((d, n)))
    assert seen[0] == (0, 600) and seen[-1] == (600, 600)
    assert all(a[0] < b[0] for a, b in itertools.pairwise(seen))


def test_task_pool_block_shares_its_workers_between_calls() -> None:
    """Inside a task_pool block the calls reuse the same two worker processes (started once,
    after this process computed one task), and the block ends them."""
    from specmarket.experiments.runner import map_tasks, task_pool

    tasks = [(i, 5) for i in range(40)]
    with task_pool(2) as pool:
        assert pool is not None and not pool.started
        first = map_tasks(_pid_and_square, tasks, workers=2, cost=lambda t: float(t[0]))
        started = pool.pids()
        second = map_tasks(_pid_and_square, tasks, workers=2)
        assert pool.pids() == started and len(started) == 2
    assert not pool.started and pool.pids() == []
    expected = [_square_with_seed(t) for t in tasks]
    assert [r[1:] for r in first] == [r[1:] for r in second] == expected
    parent = os.getpid()
    assert first[0][0] == parent  # the cheapest task (cost 0) warmed this process up
    assert {r[0] for r in first[1:]} | {r[0] for r in second} <= set(started)


def test_task_pool_block_with_a_failing_task() -> None:
    from specmarket.experiments.runner import map_tasks, task_pool

    with pytest.raises(ValueError, match="three"), task_pool(2) as pool:
        map_tasks(_fail_on_three, list(range(8)), workers=2)
    assert pool is not None and not pool.started
    with task_pool(1) as none:
        assert none is None
        assert map_tasks(_fail_on_three, [1, 2], workers=1) == [1, 2]


def _started_at(task: tuple[int, int]) -> tuple[float, int, float]:
    import time

    return (time.time(), *_square_with_seed(task))


def test_map_tasks_soon_runs_while_the_caller_works_and_gives_the_same_numbers() -> None:
    """In a started pool the tasks are sent at once: the call returns before they finish, the
    workers compute them while this process does something else, and the results (task order,
    numbers) are those of map_tasks. Errors come out of the collecting call."""
    import time

    from specmarket.experiments.runner import map_tasks, map_tasks_soon, task_pool

    tasks = [(i, 3) for i in range(40)]
    expected = [_square_with_seed(t) for t in tasks]
    with task_pool(2) as pool:
        assert pool is not None
        map_tasks(_pid_and_square, tasks[:4], workers=2)  # starts the workers
        collect = map_tasks_soon(_started_at, tasks, workers=2)
        time.sleep(1.0)  # the caller's own work
        asked = time.time()
        got = collect()
        assert [r[1:] for r in got] == expected
        assert min(r[0] for r in got) < asked  # the workers began before the results were asked
        failing = map_tasks_soon(_fail_on_three, list(range(8)), workers=2)
        with pytest.raises(ValueError, match="three"):
            failing()
    # no started pool (or one worker): computed when asked for, in this process
    lazy = map_tasks_soon(_pid_and_square, tasks, workers=1)
    assert [r[1:] for r in lazy()] == expected and {r[0] for r in lazy()} == {os.getpid()}
    with task_pool(2) as fresh:
        assert [r[1:] for r in map_tasks_soon(_pid_and_square, tasks, workers=2)()] == expected
        assert fresh is not None and fresh.started


def test_map_tasks_soon_starts_the_workers_after_one_task_here() -> None:
    """Before the pool's workers exist, map_tasks_soon computes the cheapest task in this
    process, forks the workers before it returns, and the workers compute the rest while the
    caller goes on; the numbers are map_tasks'."""
    import time

    from specmarket.experiments.runner import map_tasks_soon, task_pool

    tasks = [(i, 5) for i in range(30)]
    expected = [_square_with_seed(t) for t in tasks]
    with task_pool(2) as pool:
        assert pool is not None and not pool.started
        collect = map_tasks_soon(_pid_and_square, tasks, workers=2, cost=lambda t: float(t[0]))
        assert pool.started  # forked before the call returned
        time.sleep(0.3)
        got = collect()
        assert [r[1:] for r in got] == expected
        here = [t for t, r in zip(tasks, got, strict=True) if r[0] == os.getpid()]
        assert here == [tasks[0]]  # the cheapest task, and only it, ran in this process
        assert {r[0] for r in got} - {os.getpid()} <= set(pool.pids())

def _figure(title: str) -> object:
    from specmarket.reproductions._figures import new_figure

    fig, (ax,) = new_figure()
    ax.plot([0, 1, 2], [1.0, 3.0, 2.0], marker="o", label="welfare")
    ax.set_title(title)
    ax.set_xlabel("buyers")
    ax.legend()
    return fig


def test_figures_written_by_the_pool_are_the_figures_written_inline(tmp_path: Path) -> None:
    """Under a task_pool block save() renders in a worker; the block's end waits for the files,
    and the PNG is byte for byte the one this process writes itself."""
    from specmarket.experiments.runner import task_pool
    from specmarket.reproductions._figures import save

    inline = save(_figure("t"), tmp_path / "inline", pd.DataFrame({"x": [1]}))  # type: ignore[arg-type]
    with task_pool(2):
        pooled = save(_figure("t"), tmp_path / "pooled", pd.DataFrame({"x": [1]}))  # type: ignore[arg-type]
    assert pooled.read_bytes() == inline.read_bytes()
    assert (tmp_path / "pooled.svg").stat().st_size > 0
    assert (tmp_path / "pooled.csv").read_text() == (tmp_path / "inline.csv").read_text()


def test_background_work_errors_surface_when_the_block_ends(tmp_path: Path) -> None:
    from specmarket.experiments.runner import task_pool
    from specmarket.reproductions._figures import save

    missing = tmp_path / "no" / "such" / "dir" / "fig"
    with pytest.raises(FileNotFoundError), task_pool(2):
        save(_figure("t"), missing)  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["adaptive", "baselines", "district", "lazar-semret"])
def test_reproductions_give_identical_tables_with_one_and_two_workers(
    tmp_path: Path, name: str
) -> None:
    from specmarket.reproductions import ReproContext, get

    rep = get(name)
    results = [
        rep.run(ReproContext(out_dir=tmp_path / f"j{j}", quick=True, seed=3, workers=j))
        for j in (1, 2)
    ]
    one, two = results
    assert one.tables.keys() == two.tables.keys()
    for caption, path in one.tables.items():
        other = two.tables[caption]
        if path.suffix == ".csv":
            assert path.read_bytes() == other.read_bytes(), caption
        else:
            pd.testing.assert_frame_equal(pd.read_parquet(path), pd.read_parquet(other))
    strip = lambda text: text.split("Run time")[0]  # noqa: E731 - the adaptive summary's timing
    assert strip(one.summary) == strip(two.summary)
