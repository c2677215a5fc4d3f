"""Training configs: TOML loading, strict keys with paths and hints, overrides, round trips."""

import pytest

from imc.config import (
    ConfigKeyError,
    ConfigValueError,
    DenoiseTask,
    DigitsTask,
    TrainConfig,
    apply_overrides,
    default_config,
    from_dict,
    load_config,
    parse_override,
    to_dict,
    to_toml,
)

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


def write(tmp_path, text, name="cfg.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_default_config_is_digits_mlp_memristor_eapu():
    cfg = default_config()
    assert isinstance(cfg, TrainConfig)
    assert isinstance(cfg.task, DigitsTask)
    assert (cfg.model.name, cfg.backend.name, cfg.rule.name) == ("mlp", "memristor", "eapu")


def test_dict_and_toml_round_trip():
    cfg = default_config()
    assert from_dict(to_dict(cfg)) == cfg
    assert from_dict(tomllib.loads(to_toml(cfg, resolved=False))) == cfg
    resolved = tomllib.loads(to_toml(cfg))
    assert resolved["backend"]["preset"] == "eapu-paper"  # the default preset is filled in
    assert from_dict(resolved).backend.overrides == {}


def test_load_full_file_with_task_union_and_overrides(tmp_path):
    path = write(
        tmp_path,
        """
name = "dn"
epochs = 2
[task]
name = "denoise"
noise_sigma = 0.2
image_dir = "imgs"
[model]
name = "dncnn"
[backend]
name = "memristor"
preset = "rram-realistic"
[backend.overrides]
write_noise_us = 0.5
[rule]
name = "eapu"
k = 1.5
""",
    )
    cfg = load_config(path)
    assert isinstance(cfg.task, DenoiseTask) and cfg.task.noise_sigma == 0.2
    assert cfg.task.image_dir == str((tmp_path / "imgs").resolve())  # relative to the file
    assert cfg.backend.overrides == {"write_noise_us": 0.5}
    assert cfg.rule.params == {"k": 1.5}


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("epocs = 3", "'epocs'; did you mean 'epochs'"),
        ("[task]\nname = 'digits'\ntest_fractoin = 0.3", "'task.test_fractoin'; did you mean 'task.test_fraction'"),
        ("[backend.overrides]\nwrite_nose_us = 1.0", "did you mean 'backend.overrides.write_noise_us'"),
        ("[bakend]\nname = 'memristor'", "did you mean 'backend'"),
    ],
)
def test_unknown_keys_name_path_and_closest(tmp_path, text, fragment):
    with pytest.raises(ConfigKeyError) as info:
        load_config(write(tmp_path, text))
    assert fragment in str(info.value)
    assert str(tmp_path / "cfg.toml") in str(info.value)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("epochs = 0", "epochs: must be an integer >= 1"),
        ("epochs = 'many'", "epochs: must be an integer"),
        ("batch_size = 2.5", "batch_size: must be an integer"),
        ("[backend]\nr_wg_per_us = -0.1", "backend.r_wg_per_us: must lie in [0.0, 3.40282e+38] (weight per uS"),
        ("[backend.overrides]\nwrite_noise_us = -2.0", "write_noise_us must be >= 0"),
        ("[task]\nname = 'denoise'\nnoise_sigma = 3.0", "task.noise_sigma: must lie in (0.0, 1.0]"),
        ("[task]\nname = 'denosie'", "did you mean 'denoise'"),
        ("[backend]\nname = 'memristr'", "did you mean 'memristor'"),
        ("[backend]\npreset = 'rram'", "unknown preset 'rram'"),
        ("compute = 'tpu'", "compute"),
    ],
)
def test_bad_values_name_path_and_units(tmp_path, text, fragment):
    with pytest.raises(ConfigValueError) as info:
        load_config(write(tmp_path, text))
    assert fragment in str(info.value)


def test_malformed_toml_reports_line(tmp_path):
    with pytest.raises(ConfigValueError, match=r"malformed TOML.*line 3"):
        load_config(write(tmp_path, "epochs = 3\nseed = 1\nbatch_size = = 4\n"))


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_apply_overrides_sets_nested_and_component_keys():
    cfg = apply_overrides(
        default_config(),
        {"epochs": 5, "rule.k": 0.5, "backend.overrides.write_noise_us": 2.4, "optimizer.lr": 0.05},
    )
    assert cfg.epochs == 5 and cfg.rule.params["k"] == 0.5 and cfg.optimizer.params["lr"] == 0.05
    assert cfg.backend.overrides == {"write_noise_us": 2.4}
    assert default_config().epochs != 5  # frozen: the original is untouched


@pytest.mark.parametrize(
    "name, overrides, expected",
    [
        ("digits-mlp-eapu", {"rule.name": "original"}, "digits-mlp-original"),
        ("digits-mlp-eapu", {"task.name": "denoise", "model.name": "cnn"}, "denoise-cnn-eapu"),
        ("my-run-eapu", {"rule.name": "original"}, "my-run-original"),
        ("my-run", {"rule.name": "original"}, "my-run-original"),
        ("my-run", {"model.name": "cnn"}, "my-run"),
        ("digits-mlp-eapu", {"rule.name": "original", "name": "kept"}, "kept"),
        ("", {"rule.name": "original"}, ""),
    ],
)
def test_run_name_follows_switched_components(name, overrides, expected):
    cfg = apply_overrides(apply_overrides(default_config(), {"name": name}), overrides)
    assert cfg.name == expected
    assert apply_overrides(default_config(), {"rule.name": "original"}).run_name == "digits-mlp-original"


def test_apply_overrides_switches_task_type():
    cfg = apply_overrides(default_config(), {"task.noise_sigma": 0.05, "task.name": "denoise"})
    assert isinstance(cfg.task, DenoiseTask) and cfg.task.noise_sigma == 0.05


@pytest.mark.parametrize(
    "key, fragment",
    [
        ("epoch", "did you mean 'epochs'"),
        ("backend.overrides.write_nosie_us", "did you mean 'backend.overrides.write_noise_us'"),
        ("task.patches", "unknown config key 'task.patches'"),
        ("optimiser.lr", "did you mean 'optimizer'"),
        ("rule..k", "malformed config key"),
    ],
)
def test_apply_overrides_unknown_key(key, fragment):
    with pytest.raises(KeyError) as info:
        apply_overrides(default_config(), {key: 1.0})
    assert fragment in str(info.value)


def test_apply_overrides_bad_value_is_value_error():
    with pytest.raises(ValueError, match="batch_size: must be an integer >= 1"):
        apply_overrides(default_config(), {"batch_size": -1})


def test_parse_override_reads_toml_values():
    assert parse_override("rule.k=1.5") == ("rule.k", 1.5)
    assert parse_override("epochs = 4") == ("epochs", 4)
    assert parse_override("rule.name=original") == ("rule.name", "original")
    assert parse_override("model.hidden=[32, 16]") == ("model.hidden", [32, 16])
    with pytest.raises(ValueError, match="key=value"):
        parse_override("epochs")


def test_component_parameters_checked_against_their_signature():
    with pytest.raises(ConfigKeyError, match="'rule.kk'; did you mean 'rule.k'"):
        apply_overrides(default_config(), {"rule.kk": 1.0})
    with pytest.raises(ConfigKeyError, match="did you mean 'optimizer.momentum'"):
        apply_overrides(default_config(), {"optimizer.momentun": 0.5})
    with pytest.raises(ConfigValueError, match="optimizer 'sgd': lr must be > 0"):
        apply_overrides(default_config(), {"optimizer.lr": -1.0})
    with pytest.raises(ConfigValueError, match="rule.name: unknown rule 'eapv'; did you mean 'eapu'"):
        apply_overrides(default_config(), {"rule.name": "eapv"})


def test_switching_rule_keeps_only_parameters_it_accepts():
    cfg = apply_overrides(default_config(), {"rule.name": "original"})
    assert cfg.rule.name == "original" and cfg.rule.params == {}
    cfg = apply_overrides(cfg, {"rule.name": "eapu", "rule.k": 0.5})
    assert cfg.rule.params == {"k": 0.5}


EXAMPLES = sorted((__import__("pathlib").Path(__file__).parents[1] / "examples" / "configs").glob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_configs_load(path):
    cfg = load_config(path)
    assert cfg.task.name in path.read_text()
    assert from_dict(to_dict(cfg)) == cfg


def test_every_task_has_an_example_config():
    from imc.config import TASKS

    tasks = {load_config(p).task.name for p in EXAMPLES}
    assert tasks == set(TASKS)
