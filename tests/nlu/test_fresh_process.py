"""Running training code in a fresh interpreter: results, errors and crashes come back."""

from __future__ import annotations

import os

import pytest

from nlu import fresh_process
from nlu.fresh_process import FreshProcessError


def test_returns_the_function_result():
    assert fresh_process.call(divmod, 7, 2) == (3, 1)


def test_runs_in_another_process():
    assert fresh_process.call(os.getpid) != os.getpid()


def test_raises_the_functions_exception_here():
    with pytest.raises(ValueError, match="invalid literal"):
        fresh_process.call(int, "seven")


def test_a_crash_is_reported_with_its_exit_code():
    with pytest.raises(FreshProcessError, match="exit code 3"):
        fresh_process.call(os._exit, 3)


def test_sees_the_callers_import_path(tmp_path, monkeypatch):
    (tmp_path / "made_here.py").write_text("def answer():\n    return 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import made_here

    assert fresh_process.call(made_here.answer) == 42
