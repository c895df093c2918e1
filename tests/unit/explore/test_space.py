"""The [explore] table is validated like every other table: a mistake names the key, harness exits 2."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import ConfigError
from harness.scenario.explore import INVARIANTS, ExploreSpace, Range
from harness.scenario.model import load_scenario, parse_scenario

BASE = """
version = 1
name = "space"
duration_s = 10
[load]
mode = "closed"
users = 5
"""


def scenario_with(explore: str, base: str = BASE) -> dict[str, object]:
    return tomllib.loads(base + "\n[explore]\n" + explore)


def test_a_full_table_reads_into_a_space() -> None:
    table = 'kinds = ["outage", "brownout"]\nmax_faults = 2\nusers = [1, 20]\nduration_s = [5, 30]\np = [0.1, 0.5]\n'
    s = parse_scenario(scenario_with(table + "examples = 50\nmax_time_s = 60"))
    space = s.explore
    assert space is not None
    assert space.kinds == ("outage", "brownout")
    assert space.users == Range(1, 20)
    assert space.duration_s == Range(5, 30)
    assert space.p == Range(0.1, 0.5)
    assert (space.max_faults, space.examples, space.max_time_s) == (2, 50, 60.0)
    assert space.invariants == tuple(INVARIANTS)
    assert parse_scenario(tomllib.loads(BASE)).explore is None


@pytest.mark.parametrize(
    ("table", "field", "words"),
    [
        ('kinds = ["outage", "earthquake"]', "explore.kinds", "unknown kind"),
        ("kinds = []", "explore.kinds", "at least one"),
        ('kinds = ["outage"]\nmax_faults = 11', "explore.max_faults", "10"),
        ('kinds = ["outage"]\nusers = [20, 1]', "explore.users", "low ≤ high"),
        ('kinds = ["outage"]\nusers = [1.5, 3]', "explore.users", "integers"),
        ('kinds = ["outage"]\nrate = [1, 3]', "explore.rate", "closed-loop"),
        ('kinds = ["outage"]\np = [0, 2]', "explore.p", "[0.001, 1]"),
        ('kinds = ["outage"]\nexamples = 0', "explore.examples", "[1, 100000]"),
        ('kinds = ["outage"]\nexamples = 1000000', "explore.examples", "got 1000000"),
        ('kinds = ["outage"]\nmax_time_s = 0', "explore.max_time_s", "> 0"),
        ('kinds = ["outage"]\ninvariants = ["no_bugs"]', "explore.invariants", "unknown invariant"),
        ('kinds = ["quota_squeeze"]', "explore.kinds", "[provider.quotas]"),
        ('kinds = ["outage"]\nmax_fautls = 2', "explore.max_fautls", 'did you mean "max_faults"'),
        ('kinds = ["outage"]\nfault_ss = [1, 2]', "explore.fault_ss", 'did you mean "fault_s"'),
    ],
)
def test_mistakes_name_the_key(table: str, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_scenario(scenario_with(table))
    assert info.value.field == field, str(info.value)
    assert words in str(info.value)


def test_an_open_loop_space_varies_the_rate_not_users() -> None:
    base = BASE.replace('mode = "closed"\nusers = 5', 'mode = "open"\nrate = 2.0')
    space = parse_scenario(scenario_with('kinds = ["reset"]\nrate = [0.5, 8]', base)).explore
    assert space is not None
    assert space.rate == Range(0.5, 8)
    assert space.users is None
    with pytest.raises(ConfigError, match=r"explore\.users"):
        parse_scenario(scenario_with('kinds = ["reset"]\nusers = [1, 8]', base))


def test_the_cli_exits_2_with_one_line_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BASE + '\n[explore]\nkinds = ["outage"]\nusers = [0, 5]\n', encoding="utf-8")
    assert main(["explore", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "explore.users" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_the_cli_refuses_a_scenario_without_a_space_and_unbounded_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "plain.toml"
    plain.write_text(BASE, encoding="utf-8")
    assert main(["explore", str(plain), "--out", str(tmp_path / "out")]) == 2
    assert "no [explore] table" in capsys.readouterr().err
    spaced = tmp_path / "spaced.toml"
    spaced.write_text(BASE + '\n[explore]\nkinds = ["outage"]\n', encoding="utf-8")
    for args, field in ((["--examples", "0"], "--examples"), (["--examples", "100001"], "--examples"),
                        (["--max-time", "inf"], "--max-time"), (["--max-time", "0"], "--max-time"),
                        (["--seed", "-1"], "--seed")):  # fmt: skip
        assert main(["explore", str(spaced), *args, "--out", str(tmp_path / "out")]) == 2
        assert field in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_every_shipped_space_is_valid() -> None:
    shipped = sorted((Path(__file__).resolve().parents[3] / "scenarios" / "explore").glob("*.toml"))
    assert len(shipped) >= 3
    for path in shipped:
        space = load_scenario(path).explore
        assert isinstance(space, ExploreSpace), path
