"""The contract every registered mechanism keeps, checked over the whole registry.

In the spirit of scikit-learn's ``check_estimator``: each test is parametrized over
:func:`specmarket.mechanisms.registry`, so a new mechanism is covered by its registry row alone.
For every mechanism

* its example file (``examples/<spec.example>``) parses and clears;
* the outcome names exactly the instance's participants (``allocation`` and ``payments`` keys are
  ``spec.roles(instance)``'s keys), each with the role ``buyer`` or ``seller``;
* the same seed gives the identical random instance and the identical outcome (compared as JSON),
  also across processes with different string-hash seeds (no dependence on set or dict order);
* a 50-instance audit of the properties it claims finds no violation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from specmarket.audit import audit
from specmarket.core.spec import MechanismSpec
from specmarket.io import read_json
from specmarket.mechanisms import get, registry

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NAMES = list(registry())


def _spec(name: str) -> MechanismSpec:
    return get(name)


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, allow_nan=True)


def _declared_participants(instance: Any) -> dict[str, str]:
    """Participants as the instance's JSON declares them, read without the mechanism's help: the
    ``id`` of every object in a top-level list; those listed under ``sellers`` are sellers, all
    others (``buyers``, ``bidders``, ``users``, ``bids``) buyers."""
    found: dict[str, str] = {}
    for key, value in instance.model_dump(mode="json").items():
        if not isinstance(value, list):
            continue
        for item in value:
            if isinstance(item, dict) and "id" in item:
                found[str(item["id"])] = "seller" if key == "sellers" else "buyer"
    return found


#: Participants a mechanism adds beyond those its instance lists: the data market's ISP, which
#: sells at ``isp_price`` to any buyer the sellers leave short (reserved id ``isp``).
IMPLICIT_PARTICIPANTS: dict[str, dict[str, str]] = {"data-market": {"isp": "seller"}}


def _check_participants(spec: MechanismSpec, instance: Any) -> None:
    outcome = spec.clear(instance)
    roles = dict(spec.roles(instance))
    assert roles, f"{spec.name}: an instance without participants"
    assert set(roles.values()) <= {"buyer", "seller"}, roles
    declared = _declared_participants(instance) | IMPLICIT_PARTICIPANTS.get(spec.name, {})
    assert roles == declared, (
        f"{spec.name}: roles() disagrees with the participants the instance lists"
    )
    assert set(outcome.allocation) == set(roles), (
        f"{spec.name}: allocation keys differ from the participants by "
        f"{set(outcome.allocation) ^ set(roles)}"
    )
    assert set(outcome.payments) == set(roles), (
        f"{spec.name}: payment keys differ from the participants by "
        f"{set(outcome.payments) ^ set(roles)}"
    )
    js = outcome.to_json()
    assert js["mechanism"] == spec.name
    # the JSON's welfare and revenue are the outcome's, under the same names
    assert js["welfare"] == outcome.welfare and js["revenue"] == outcome.revenue
    json.dumps(js)  # JSON-serialisable


def test_the_registry_is_not_empty() -> None:
    assert len(NAMES) >= 10


@pytest.mark.parametrize("name", NAMES)
def test_spec_is_complete(name: str) -> None:
    spec = _spec(name)
    assert spec.name == name
    assert spec.example is not None, f"{name} has no example file"
    assert spec.random_instance is not None, f"{name} has no random instance generator"
    assert (EXAMPLES / spec.example).is_file(), f"examples/{spec.example} is missing"


@pytest.mark.parametrize("name", NAMES)
def test_example_clears_and_names_its_participants(name: str) -> None:
    spec = _spec(name)
    assert spec.example is not None
    instance = spec.parse(read_json(EXAMPLES / spec.example))
    _check_participants(spec, instance)
    # the CLI's one-step path agrees with the two-step one
    assert _canonical(spec.clear_json(read_json(EXAMPLES / spec.example))) == _canonical(
        spec.clear(instance).to_json()
    )


@pytest.mark.parametrize("name", NAMES)
def test_random_instances_name_their_participants(name: str) -> None:
    spec = _spec(name)
    assert spec.random_instance is not None
    for t in range(5):
        _check_participants(spec, spec.random_instance(np.random.default_rng([2026, t])))


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_instance_and_outcome(name: str) -> None:
    spec = _spec(name)
    assert spec.random_instance is not None
    for t in range(3):
        a = spec.random_instance(np.random.default_rng([11, t]))
        b = spec.random_instance(np.random.default_rng([11, t]))
        assert _canonical(a.model_dump(mode="json")) == _canonical(b.model_dump(mode="json"))
        assert _canonical(spec.clear(a).to_json()) == _canonical(spec.clear(b).to_json())
        # and the instance survives a JSON round trip unchanged
        again = spec.parse(json.loads(json.dumps(a.model_dump(mode="json"))))
        assert _canonical(spec.clear(again).to_json()) == _canonical(spec.clear(a).to_json())


_SEEDED_RUN = """
import json
import numpy as np
from specmarket.mechanisms import get
out = {}
for name in json.loads(%r):
    spec = get(name)
    rows = []
    for t in range(3):
        inst = spec.random_instance(np.random.default_rng([11, t]))
        rows.append([inst.model_dump(mode="json"), spec.clear(inst).to_json()])
    out[name] = rows
print(json.dumps(out, sort_keys=True, allow_nan=True))
"""


@pytest.mark.slow
def test_same_seed_same_outcomes_across_processes() -> None:
    code = _SEEDED_RUN % json.dumps(NAMES)
    runs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        res = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
        )
        assert res.returncode == 0, res.stderr
        runs.append(res.stdout)
    assert runs[0] == runs[1]
    here = json.loads(runs[0])
    for name in NAMES:  # and the same as in this process
        spec = _spec(name)
        assert spec.random_instance is not None
        inst = spec.random_instance(np.random.default_rng([11, 0]))
        assert _canonical(here[name][0][1]) == _canonical(spec.clear(inst).to_json()), name


@pytest.mark.parametrize("name", NAMES)
def test_claimed_properties_hold_on_50_instances(name: str) -> None:
    spec = _spec(name)
    report = audit(spec, instances=50, seed=12, properties=sorted(spec.claims))
    assert report.ok, report.render()
    assert report.counts == {}, report.render()
