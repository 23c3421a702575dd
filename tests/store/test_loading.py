"""Loading the champion safely and moving it atomically (issue 14, findings 1, 2 and 4).

A champion is loaded from a temporary copy after its checksum (recorded at registration) is
verified: a damaged, truncated or missing file is one RegistryError naming the version, and
loading never writes into the store. Promotion is compare-and-set under the store's lock, and
the champion history is written before the alias so a killed promotion leaves nothing
inconsistent."""
from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import pytest

from store import registry
from store.locking import store_lock
from tests.store.test_registry import _register_versions


@pytest.fixture()
def store(mlflow_store):
    return mlflow_store


def _bundle_path(version: str) -> Path:
    client = mlflow.MlflowClient()
    source = client.get_model_version(registry.MODEL_NAME, version).source
    location = client.get_logged_model(source.split("/")[-1]).artifact_location
    return next(Path(urlparse(location).path).rglob(registry.BUNDLE_FILE))


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file() and not p.name.startswith("mlflow.db")}


def test_registration_records_the_checksum_and_loading_writes_nothing(store, tmp_path):
    (v1,) = _register_versions(store, 1)
    registry.promote(v1)
    assert len(registry.get_alias(registry.CHAMPION).tags[registry.CHECKSUM_TAG]) == 64
    before = _tree(tmp_path)
    bundle, info = registry.load_champion()
    assert info.version == v1 and hasattr(bundle, "score")
    # The old load wrote registered_model_meta into the artifact folder: a read-only store
    # could not be scored from.
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("damage", ["truncate", "garbage", "delete"])
def test_a_damaged_champion_is_one_clear_error(store, damage):
    (v1,) = _register_versions(store, 1)
    registry.promote(v1)
    path = _bundle_path(v1)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:1000])
    elif damage == "garbage":
        path.write_bytes(b"not a pickle at all")
    else:
        path.unlink()
    with pytest.raises(registry.RegistryError) as caught:
        registry.load_champion()
    message = str(caught.value)
    assert f"model creatorscore/{v1}" in message and "\n" not in message
    if damage != "delete":
        assert "damaged" in message and "checksum" in message


def test_a_damaged_file_without_a_recorded_checksum_is_still_a_clear_error(store):
    (v1,) = _register_versions(store, 1)
    mlflow.MlflowClient().delete_model_version_tag(registry.MODEL_NAME, v1,
                                                   registry.CHECKSUM_TAG)
    registry.promote(v1)
    _bundle_path(v1).write_bytes(b"\x80\x05garbage")
    with pytest.raises(registry.RegistryError, match=r"creatorscore/1 cannot be loaded"):
        registry.load_champion()


def test_compare_and_set_promotion_refuses_a_moved_champion(store):
    v1, v2, v3 = _register_versions(store, 3)
    registry.promote(v1)
    registry.promote(v2, if_champion=v1)
    with pytest.raises(registry.ChampionChanged) as caught:
        registry.promote(v3, if_champion=v1)  # compared against v1, but v2 is champion now
    assert caught.value.current.version == v2
    assert registry.get_alias(registry.CHAMPION).version == v2
    assert [h["version"] for h in registry.champion_history()] == [v1, v2]


def test_a_promotion_killed_between_history_and_alias_is_reconciled(store):
    v1, v2, v3 = _register_versions(store, 3)
    registry.promote(v1)
    registry.promote(v2)
    # Killed after the history was written, before the alias moved: v3 is on the history but
    # v2 is still the champion.
    client = mlflow.MlflowClient()
    registry._write_history(client, [*registry.champion_history(),
                                     {"version": v3, "at": "now", "reason": "killed"}])
    old, restored = registry.rollback()
    assert (old.version, restored.version) == (v2, v1)  # not "back" to v3
    registry.promote(v3)
    assert [h["version"] for h in registry.champion_history()] == [v1, v3]


def _hold_lock(uri: str, seconds: float, started) -> None:
    with store_lock(uri):
        started.set()
        time.sleep(seconds)


def test_the_store_lock_excludes_other_processes_and_is_reentrant(store):
    context = multiprocessing.get_context("fork")
    started = context.Event()
    holder = context.Process(target=_hold_lock, args=(store, 1.5, started))
    holder.start()
    try:
        assert started.wait(30)
        begun = time.monotonic()
        with store_lock(store), store_lock(store):  # re-entrant in one process
            waited = time.monotonic() - begun
        assert waited > 0.5, "the lock was taken while another process held it"
    finally:
        holder.join(30)
    # A holder killed with SIGKILL releases the lock (the kernel drops its flock).
    started = context.Event()
    holder = context.Process(target=_hold_lock, args=(store, 60, started))
    holder.start()
    assert started.wait(30)
    os.kill(holder.pid, 9)
    holder.join(30)
    with store_lock(store, timeout=5):
        pass


def test_a_copied_store_uses_its_own_artifacts(store, tmp_path):
    """MLflow records absolute artifact locations: a copied repository used to read and write
    the original's mlruns/artifacts."""
    from store import tracking

    (v1,) = _register_versions(store, 1)
    registry.promote(v1)
    copy = tmp_path / "copied_repo" / "mlruns"
    copy.mkdir(parents=True)
    shutil.copy(tmp_path / "mlflow.db", copy / "mlflow.db")
    shutil.copytree(tmp_path / "artifacts", copy / "artifacts")
    shutil.rmtree(tmp_path / "artifacts")  # the original is gone: only the copy can answer
    uri = f"sqlite:///{copy / 'mlflow.db'}"
    bundle, info = registry.load_champion(uri)
    assert info.version == v1 and hasattr(bundle, "score")
    experiment = mlflow.MlflowClient(tracking_uri=uri).get_experiment_by_name(
        tracking.EXPERIMENT_NAME)
    assert experiment.artifact_location == (copy / "artifacts").as_uri()
