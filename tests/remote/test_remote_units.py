"""Configs, cost arithmetic, parameter parsing and failing-cell reports (no SSH needed)."""

from __future__ import annotations

import json

import pytest

from segkit.remote.config import RemoteConfig, RemoteConfigError, SSHTarget
from segkit.remote.cost import cost_summary, format_cost, hourly_price, run_cost
from segkit.remote.notebook import notebook_parameters, parse_parameter
from segkit.remote.report import find_cell_error, format_cell_error, parse_papermill_log


def test_remote_config_json_round_trip():
    cfg = RemoteConfig(python="conda run -n seg python", env={"A": "1"}, retries=2)
    assert RemoteConfig.from_json(cfg.to_json()) == cfg


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("python", ""),
        ("env", {"BAD-NAME": "1"}),
        ("env", {"OK": 1}),
        ("kernel", "py 3"),
        ("retries", 0),
        ("boot_timeout", -1),
        ("workdir", ""),
    ],
)
def test_remote_config_validation_names_the_field(field, value):
    with pytest.raises(RemoteConfigError, match=f"'{field}"):
        RemoteConfig(**{field: value})


def test_remote_config_rejects_unknown_fields():
    with pytest.raises(RemoteConfigError, match="unknown field.*pyhton"):
        RemoteConfig.from_dict({"pyhton": "python3"})


def test_ssh_target_parse_and_validation():
    t = SSHTarget.parse("alice@gpu.example.org", port=2222)
    assert (t.user, t.host, t.port) == ("alice", "gpu.example.org", 2222)
    assert SSHTarget.parse("10.0.0.5").user == "root"
    assert SSHTarget.from_dict(t.to_dict()) == t
    with pytest.raises(RemoteConfigError, match="'port'"):
        SSHTarget(host="h", port=70000)
    with pytest.raises(RemoteConfigError, match="'host'"):
        SSHTarget(host="")


def test_cost_arithmetic():
    assert hourly_price("gpu-h100x1-80gb") == pytest.approx(3.39)
    assert hourly_price("no-such-size") is None
    assert run_cost(3.6, 1800) == pytest.approx(1.8)
    assert run_cost(None, 10) is None
    assert format_cost(0.0566) == "$0.057"
    assert format_cost(12.5) == "$12.50"
    assert format_cost(None) == "unknown"
    assert "30.0 min at $3.39/h = $1.70" in cost_summary(3.39, 1800)
    with pytest.raises(ValueError, match="seconds"):
        run_cost(1.0, -1)


def test_parse_parameter_like_papermill():
    assert parse_parameter("3") == 3 and isinstance(parse_parameter("3"), int)
    assert parse_parameter("0.5") == 0.5
    assert parse_parameter("True") is True and parse_parameter("false") is False
    assert parse_parameter("None") is None
    assert parse_parameter("data/prepared") == "data/prepared"


def _notebook(tmp_path, cells):
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    return path


def test_notebook_parameters_reads_the_tagged_cell(tmp_path):
    params = {
        "cell_type": "code",
        "metadata": {"tags": ["parameters"]},
        "source": ["epochs = 2  # number of epochs\n", "lr: float = 1e-3\n", "if x == 1:\n"],
        "outputs": [],
    }
    assert notebook_parameters(_notebook(tmp_path, [params])) == ("epochs", "lr")
    assert notebook_parameters(_notebook(tmp_path, [])) == ()


def test_find_cell_error_skips_papermill_banner(tmp_path):
    banner = {
        "cell_type": "code",
        "metadata": {"tags": ["papermill-error-cell-tag"]},
        "source": "",
        "outputs": [{"output_type": "error", "ename": "X", "evalue": "banner", "traceback": []}],
    }
    ok = {"cell_type": "code", "metadata": {}, "source": "a = 1", "outputs": []}
    bad = {
        "cell_type": "code",
        "execution_count": 7,
        "metadata": {},
        "source": ["model = build()\n", "model.fit(x)"],
        "outputs": [
            {
                "output_type": "error",
                "ename": "ValueError",
                "evalue": "shapes differ",
                "traceback": ["\x1b[0;31mValueError\x1b[0m: shapes differ"],
            }
        ],
    }
    err = find_cell_error(_notebook(tmp_path, [banner, ok, bad]))
    assert err is not None
    assert (err.index, err.execution_count, err.ename) == (1, 7, "ValueError")
    assert err.traceback == ("ValueError: shapes differ",)
    text = format_cell_error(err)
    assert "cell 2 of the notebook / In [7]" in text and "    model.fit(x)" in text
    assert text.endswith("ValueError: shapes differ")
    assert find_cell_error(_notebook(tmp_path, [ok])) is None


def test_parse_papermill_log():
    log = (
        "Executing Cell 3---\n"
        "Traceback (most recent call last):\n"
        '  File "papermill/execute.py", line 251, in raise_for_execution_errors\n'
        "papermill.exceptions.PapermillExecutionError: \n"
        "---------------------------------------------------------------------------\n"
        'Exception encountered at "In [3]":\n'
        "---------------------------------------------------------------------------\n"
        "ZeroDivisionError                         Traceback (most recent call last)\n"
        "ZeroDivisionError: division by zero\n"
    )
    err = parse_papermill_log(log)
    assert err is not None
    assert (err.execution_count, err.ename) == (3, "ZeroDivisionError")
    assert err.evalue == "division by zero"
    assert parse_papermill_log("all good") is None


def test_teardown_survives_ctrl_c():
    from segkit.remote.runner import _destroy

    class Stubborn:
        calls = 0

        def destroy(self, log):
            self.calls += 1
            if self.calls == 1:
                raise KeyboardInterrupt

    lines: list[str] = []
    p = Stubborn()
    _destroy(p, lines.append, raise_errors=True)
    assert p.calls == 2
    assert any("destroying the machine first" in line for line in lines)
