"""The UserError family: one line and exit 2 for what the user can fix; bugs keep their traceback."""

from __future__ import annotations

import pytest

from imc import errors
from imc.cli import main


def _patch_train(monkeypatch, exc):
    import imc.cli.train as train_cmd

    def boom(args):
        raise exc

    monkeypatch.setattr(train_cmd, "main", boom)


def test_user_error_is_one_line_exit_2(monkeypatch, capsys):
    monkeypatch.delenv("IMC_DEBUG", raising=False)
    _patch_train(monkeypatch, errors.ConfigValueError("epochs: must be an integer >= 1, got 0"))
    assert main(["train"]) == 2
    err = capsys.readouterr().err
    assert err == "imc train: error: epochs: must be an integer >= 1, got 0\n"


@pytest.mark.parametrize("exc", [ValueError("a bug"), KeyError("a bug"), TypeError("a bug")])
def test_other_exceptions_are_bugs_and_keep_their_traceback(monkeypatch, exc):
    _patch_train(monkeypatch, exc)
    with pytest.raises(type(exc), match="a bug"):
        main(["train"])


def test_imc_debug_shows_the_traceback_of_a_user_error(monkeypatch, capsys):
    monkeypatch.setenv("IMC_DEBUG", "1")
    _patch_train(monkeypatch, errors.InputFileError("config file not found: x.toml"))
    assert main(["train"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.rstrip().endswith("imc train: error: config file not found: x.toml")


@pytest.mark.parametrize(
    "cls, builtin",
    [
        (errors.ConfigKeyError, KeyError),
        (errors.ConfigValueError, ValueError),
        (errors.InputFileError, FileNotFoundError),
        (errors.RunFolderError, ValueError),
        (errors.UnknownNameError, KeyError),
        (errors.ComputeUnavailable, RuntimeError),
        (errors.SpecTypeError, TypeError),
        (errors.UsageError, ValueError),
    ],
)
def test_members_are_user_errors_and_keep_their_builtin_base(cls, builtin):
    exc = cls("what went wrong")
    assert isinstance(exc, errors.UserError) and isinstance(exc, builtin)
    assert str(exc) == "what went wrong"  # no KeyError quoting


def test_library_raises_user_errors_for_user_input(tmp_path):
    from imc.config import apply_overrides, default_config, load_config
    from imc.registry import get_registry

    with pytest.raises(errors.UnknownNameError, match="did you mean 'memristor'"):
        get_registry().get("memristr")
    with pytest.raises(errors.InputFileError):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(errors.ConfigKeyError):
        apply_overrides(default_config(), {"rule.kk": 1})
    with pytest.raises(errors.SpecError):
        get_registry().spec("memristor", write_noise_us=-1.0)
