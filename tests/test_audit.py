"""The property auditor must be able to fail, and must not cry wolf on truthful baselines."""

from __future__ import annotations

import pytest

from specmarket import get_mechanism
from specmarket.audit import audit
from specmarket.errors import InvalidInput


def test_finds_ic_violations_in_first_price() -> None:
    report = audit(get_mechanism("first-price"), instances=300, seed=7)
    assert report.violated("ic")
    witness = report.witnesses["ic"][0]
    assert witness.observed > witness.truthful
    assert witness.deviation.startswith("bid=")
    assert not report.violated("ir") and not report.violated("bb") and not report.violated("npt")
    assert report.ok  # ic is not claimed by the foil


def test_finds_ic_violations_in_pay_as_bid() -> None:
    report = audit(get_mechanism("pay-as-bid"), instances=300, seed=7)
    assert report.violated("ic")
    sellers = [v for v in report.witnesses["ic"] if v.participant.startswith("s")]
    buyers = [v for v in report.witnesses["ic"] if v.participant.startswith("b")]
    assert buyers or sellers
    assert not report.violated("ir")


def test_a_claimed_property_that_fails_makes_the_report_not_ok() -> None:
    from dataclasses import replace

    liar = replace(get_mechanism("first-price"), claims=frozenset({"ic"}))
    assert not audit(liar, instances=200, seed=1).ok


def test_audit_is_deterministic() -> None:
    a = audit(get_mechanism("first-price"), instances=100, seed=3).to_json()
    b = audit(get_mechanism("first-price"), instances=100, seed=3).to_json()
    assert a == b


def test_bad_arguments() -> None:
    with pytest.raises(InvalidInput, match="instances"):
        audit(get_mechanism("vickrey"), instances=0)
    with pytest.raises(InvalidInput, match="properties"):
        audit(get_mechanism("vickrey"), instances=5, properties=["honesty"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vickrey", "vcg", "mcafee"])
def test_truthful_baselines_pass_10000_instances(name: str) -> None:
    report = audit(get_mechanism(name), instances=10_000, seed=2026)
    assert report.counts == {}, report.render()
    assert report.deviations_tried > 100_000
    assert report.ok


def test_render_says_which_violations_are_expected() -> None:
    """A foil's IC violations are reported as expected, and the verdict names what is claimed,
    instead of a bare "OK" under a list of violations."""
    from specmarket.audit import audit
    from specmarket.mechanisms import get

    report = audit(get("first-price"), instances=20, seed=0)
    text = report.render()
    assert report.ok and report.violated("ic") and "ic" not in report.claimed
    assert "expected: not claimed" in text
    assert text.splitlines()[-1].startswith("[bold green]every claimed property holds[/]")
    assert "the violations of ic are expected" in text.splitlines()[-1]
    assert "\nOK" not in text
