"""tui/settings.py: what persists between sessions, saved atomically, never a crash on a bad file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui.settings import DAMAGED_NAME, AppSettings, SettingsStore, parse


def test_missing_file_gives_the_defaults_without_a_notice(tmp_path: Path) -> None:
    loaded = SettingsStore(tmp_path).load()
    assert loaded.settings == AppSettings()
    assert loaded.notice is None


def test_settings_round_trip(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path)
    settings = (AppSettings(cell="gru", ngram_order=4, theme="nord")
                .with_field("gru", "hidden", "512").with_field("lstm", "epochs", "7")
                .with_model("gru", "gru-1234abcd-20261201-101010"))
    store.save(settings)
    assert SettingsStore(tmp_path).load().settings == settings
    assert json.loads((tmp_path / "settings.json").read_text())["version"] == 1


def test_the_default_folder_is_the_data_folder(private_home: Path) -> None:
    SettingsStore().save(AppSettings(theme="gruvbox"))
    assert (private_home / "settings.json").is_file()


def test_save_is_atomic_no_temporary_file_is_left(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "data")
    store.save(AppSettings())
    store.save(AppSettings(cell="rnn"))
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["settings.json"]


@pytest.mark.parametrize("content", [
    b"{not json", b"\xff\xfe\x00garbage", b"[1, 2]", b'{"version": 1, "cell": "transformer"}',
    b'{"version": 1, "ngram_order": "3"}', b'{"version": 1, "fields": {"lstm": {"hidden": 5}}}',
    b'{"cell": "lstm"}', b'{"version": true}', b"[" * 100_000, b"",
])
def test_a_damaged_file_gives_the_defaults_and_a_notice_and_is_kept(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "settings.json").write_bytes(content)
    loaded = SettingsStore(tmp_path).load()
    assert loaded.settings == AppSettings()
    assert loaded.notice and "defaults" in loaded.notice and DAMAGED_NAME in loaded.notice
    assert (tmp_path / DAMAGED_NAME).read_bytes() == content  # what the user had is not destroyed


def test_a_huge_file_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_bytes(b" " * 1_000_000)
    loaded = SettingsStore(tmp_path).load()
    assert loaded.settings == AppSettings() and "bytes" in loaded.notice


def test_an_unreadable_settings_path_gives_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "settings.json").mkdir()  # a folder where the file should be
    loaded = SettingsStore(tmp_path).load()
    assert loaded.settings == AppSettings() and loaded.notice


def test_keys_and_cells_from_a_newer_version_are_ignored() -> None:
    settings = parse({"version": 2, "cell": "gru", "future": 1, "fields": {"transformer": {"x": "1"}},
                      "models": {"mamba": "m"}})
    assert settings == AppSettings(cell="gru")


def test_reset_forgets_everything_but_keeps_a_copy(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path)
    store.save(AppSettings(cell="rnn", theme="nord"))
    assert store.reset() == AppSettings()
    assert store.load() == type(store.load())(AppSettings(), None)
    assert json.loads((tmp_path / "settings.reset.json").read_text())["theme"] == "nord"
    assert store.reset() == AppSettings()  # nothing to reset: still fine


def test_with_model_none_forgets_the_choice() -> None:
    settings = AppSettings().with_model("lstm", "a").with_model("gru", "b").with_model("lstm", None)
    assert settings.models == {"gru": "b"}
