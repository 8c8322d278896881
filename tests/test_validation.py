"""The shared field checks: one message shape, the config's own error type, quoted values."""

from __future__ import annotations

import math

import pytest

from segkit.validation import FieldChecker, bad_field, is_int, is_number, quote


class DemoError(ValueError):
    pass


check = FieldChecker("demo field", DemoError)


def test_message_names_subject_field_value_and_expectation() -> None:
    err = bad_field("size", 3, "an integer >= 16", subject="template field")
    assert type(err) is ValueError
    assert str(err) == "template field 'size': invalid value 3; an integer >= 16"
    err = FieldChecker("remote setting", DemoError, lead="expected ").bad("port", "x", "a port")
    assert isinstance(err, DemoError)
    assert str(err) == "remote setting 'port': invalid value 'x'; expected a port"


def test_long_values_are_cut() -> None:
    assert quote("abc") == "'abc'"
    text = quote("x" * 10_000)
    assert len(text) == 200 and text.endswith("...")
    assert len(str(check.bad("f", list(range(10_000)), "short"))) < 300


def test_strict_integers_and_numbers() -> None:
    assert is_int(3) and not is_int(True) and not is_int(3.0)
    assert is_number(3) and is_number(2.5) and not is_number(False) and not is_number("1")
    assert check.check_int("n", 5, minimum=1, maximum=8) == 5
    for bad in (True, 2.0, "3", 0, 9):
        with pytest.raises(DemoError, match="'n'.*an integer from 1 to 8"):
            check.check_int("n", bad, minimum=1, maximum=8)
    with pytest.raises(DemoError, match="an integer >= 1$"):
        check.check_int("n", 0, minimum=1)
    with pytest.raises(DemoError, match="a port$"):
        check.check_int("n", 0, minimum=1, expected="a port")


def test_numbers_with_bounds() -> None:
    assert check.check_float("lr", 1, minimum=0, maximum=10) == 1.0
    assert isinstance(check.check_float("lr", 1), float)
    with pytest.raises(DemoError, match="a number > 0 and <= 10"):
        check.check_float("lr", 0, minimum=0, maximum=10, exclusive_minimum=True)
    with pytest.raises(DemoError, match="a number from 0 to 1"):
        check.check_float("p", 1.5, minimum=0, maximum=1)
    for bad in (math.nan, True, "0.5", None):
        with pytest.raises(DemoError, match="'p'"):
            check.check_float("p", bad, minimum=0, maximum=1)
    with pytest.raises(DemoError, match="a number > 0$"):
        check.check_float("t", -1, minimum=0, exclusive_minimum=True)


def test_choices_and_bools() -> None:
    assert check.check_choice("opt", "adam", ("adam", "sgd")) == "adam"
    with pytest.raises(DemoError, match="'opt': invalid value 'Adam'; one of adam, sgd"):
        check.check_choice("opt", "Adam", ("adam", "sgd"))
    with pytest.raises(DemoError, match="'opt'"):
        check.check_choice("opt", ["adam"], ("adam", "sgd"))
    assert check.check_bool("flip", False) is False
    with pytest.raises(DemoError, match="'flip'.*true or false"):
        check.check_bool("flip", 1)
