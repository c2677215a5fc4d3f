"""The plugin registry: in-test plugins, a fake dist-info on sys.path, errors that name names."""

import textwrap

import pytest
from imc_memristor.device import MemristorDevice

import imc
from imc.registry import PluginLoadWarning, Registry, make_plugin_manager
from imc.spec import DeviceSpec

SPEC = DeviceSpec(name="toy", g_min_us=0.0, g_max_us=10.0, step_us=0.5, write_noise_us=0.1)


def plugin_providing(name):
    class Plugin:
        @imc.hookimpl
        def imc_backends(self):
            return [imc.BackendInfo(name=name, factory=MemristorDevice, presets={"toy": SPEC}, default_preset="toy")]

    return Plugin()


def test_in_test_plugin_builds_devices_by_name():
    registry = Registry(make_plugin_manager(autoload=False, plugins=[plugin_providing("toy")]))
    assert list(registry.backends()) == ["toy"]
    dev = registry.create("toy", (3, 4), step_us=0.25)
    assert dev.shape == (3, 4) and dev.spec.step_us == 0.25


def test_duplicate_name_is_reported_naming_both_and_neither_is_used():
    registry = Registry(make_plugin_manager(autoload=False, plugins=[plugin_providing("x"), plugin_providing("x")]))
    with pytest.warns(PluginLoadWarning, match="backend name 'x' is claimed by .* and .*; neither is used"):
        assert "x" not in registry.backends()
    with pytest.raises(KeyError, match="'x' is installed but is not used"):
        registry.get("x")


def test_unknown_name_lists_installed_and_closest():
    registry = Registry(make_plugin_manager(autoload=False, plugins=[plugin_providing("memristor")]))
    with pytest.raises(KeyError, match="unknown backend 'memristr'.*did you mean 'memristor'.*known: memristor"):
        registry.get("memristr")


def test_backend_info_validates_its_fields():
    with pytest.raises(ValueError, match="default_preset 'nope'"):
        imc.BackendInfo(name="a", factory=MemristorDevice, presets={"toy": SPEC}, default_preset="nope")
    with pytest.raises(TypeError, match="must be a DeviceSpec"):
        imc.BackendInfo(name="a", factory=MemristorDevice, presets={"toy": 3}, default_preset="toy")


def test_misspelled_hook_fails_loudly():
    class Typo:
        @imc.hookimpl
        def imc_backend(self):  # missing the s
            return []

    with pytest.raises(Exception, match="imc_backend"):
        make_plugin_manager(autoload=False, plugins=[Typo()])


@pytest.fixture
def fake_distributions(tmp_path, monkeypatch):
    """Two distributions on sys.path: one good plugin, one that fails to import, one duplicate."""

    def dist(name, entry_points):
        info = tmp_path / f"{name.replace('-', '_')}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text("[imc]\n" + entry_points)

    dist("fake-good", "fakegood = fake_good_plugin\n")
    dist("fake-broken", "fakebroken = fake_broken_plugin\n")
    (tmp_path / "fake_good_plugin.py").write_text(
        textwrap.dedent(
            """
            import imc
            from imc_memristor import PRESETS
            from imc_memristor.device import MemristorDevice

            @imc.hookimpl
            def imc_backends():
                return [imc.BackendInfo(name="fakegood", factory=MemristorDevice,
                                        presets={"paper": PRESETS["eapu-paper"]}, default_preset="paper")]
            """
        )
    )
    (tmp_path / "fake_broken_plugin.py").write_text("raise ImportError('needs libfoo')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("IMC_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    return tmp_path


def test_entry_points_load_and_broken_plugin_is_a_warning(fake_distributions):
    with pytest.warns(PluginLoadWarning, match="'fakebroken' from distribution fake-broken 0.1 failed to import: ImportError: needs libfoo"):
        pm = make_plugin_manager()
    backends = Registry(pm).backends()
    assert "fakegood" in backends and "memristor" in backends
    assert backends["fakegood"].distribution == "fake-good" and backends["fakegood"].version == "0.1"
    assert backends["memristor"].distribution == "imc"


def test_duplicate_across_distributions_names_both(fake_distributions):
    (fake_distributions / "fake_dup-0.1.dist-info").mkdir()
    (fake_distributions / "fake_dup-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-dup\nVersion: 0.1\n")
    (fake_distributions / "fake_dup-0.1.dist-info" / "entry_points.txt").write_text("[imc]\nfakedup = fake_good_plugin_dup\n")
    (fake_distributions / "fake_good_plugin_dup.py").write_text(
        "from fake_good_plugin import imc_backends\n"
    )
    with pytest.warns(PluginLoadWarning):
        registry = Registry(make_plugin_manager())
    with pytest.warns(PluginLoadWarning, match="'fakegood' is claimed by fake-(good|dup) 0.1 and fake-(good|dup) 0.1"):
        assert "fakegood" not in registry.backends()


def test_disabled_autoload_and_blocked_plugins(fake_distributions, monkeypatch):
    monkeypatch.setenv("IMC_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert Registry(make_plugin_manager()).backends() == {}
    monkeypatch.delenv("IMC_DISABLE_PLUGIN_AUTOLOAD")
    monkeypatch.setenv("IMC_DISABLED_PLUGINS", "fakebroken, fakegood")
    backends = Registry(make_plugin_manager()).backends()  # no warning: the broken one is blocked
    assert "fakegood" not in backends and "memristor" in backends


def test_default_registry_has_memristor_presets():
    info = imc.get_registry().get("memristor").info
    assert {"eapu-paper", "rram-realistic"} <= set(info.presets)
    assert info.default_preset == "eapu-paper"
