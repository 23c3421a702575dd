import mlflow
import pytest

from store import registry, tracking
from store.pyfunc import example_input, log_model
from tests.training.small_world import small_dataset, small_train_result


@pytest.fixture()
def store(mlflow_store):
    return mlflow_store


def _register_versions(uri, n):
    bundle = small_train_result().bundle
    example = example_input(small_dataset())
    experiment = tracking.ensure_experiment(uri)
    versions = []
    for _ in range(n):
        with mlflow.start_run(experiment_id=experiment) as run:
            info = log_model(bundle, example)
        versions.append(registry.register(info.model_uri, run.info.run_id).version)
    return versions


def test_tracking_uri_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.resolve_tracking_uri().endswith("mlruns/mlflow.db")
    assert tracking.resolve_tracking_uri().startswith("sqlite:///")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////x/y.db")
    assert tracking.resolve_tracking_uri() == "sqlite:////x/y.db"
    assert tracking.artifact_root_for("sqlite:////x/y.db") == "file:///x/artifacts"
    with pytest.raises(ValueError, match="file store"):
        tracking.artifact_root_for("./mlruns")


def test_no_champion_is_a_clear_error(store):
    with pytest.raises(registry.RegistryError, match="creatorscore train"):
        registry.load_champion()
    with pytest.raises(registry.RegistryError):
        registry.rollback()


def test_promote_rollback_and_aliases(store):
    v1, v2, v3 = _register_versions(store, 3)
    assert registry.get_alias(registry.CHAMPION) is None  # registering moves no alias
    registry.promote(v1, reason="first")
    registry.promote(v2, reason="better")
    registry.set_challenger(v3)
    assert registry.get_alias(registry.CHAMPION).version == v2
    assert registry.get_alias(registry.CHALLENGER).version == v3

    bundle, info = registry.load_champion()
    assert info.version == v2 and bundle.model_version == f"creatorscore/{v2}"
    assert hasattr(bundle, "score")
    pyfunc = mlflow.pyfunc.load_model(f"models:/creatorscore@{registry.CHAMPION}")
    predicted = pyfunc.predict(example_input(small_dataset()))
    assert len(predicted) == 2 and predicted["fake_follower_risk"].notna().all()
    assert [p.name for p in pyfunc.metadata.get_params_schema().params] == ["campaign_id"]

    old, restored = registry.rollback()
    assert (old.version, restored.version) == (v2, v1)
    assert registry.get_alias(registry.CHAMPION).version == v1
    history = registry.champion_history()
    assert [h["version"] for h in history] == [v1]
    assert "restored_at" in history[-1]
    client = mlflow.MlflowClient()
    assert "rolled_back_at" in client.get_model_version("creatorscore", v2).tags
    with pytest.raises(registry.RegistryError, match="no previous champion"):
        registry.rollback()
    with pytest.raises(registry.RegistryError, match="no version"):
        registry.promote("99")
    assert registry.get_alias(registry.CHAMPION).version == v1  # failures change nothing


def test_a_copied_checkout_is_told_whose_store_it_uses(tmp_path):
    copy = tmp_path / "copy"
    (copy / "serving").mkdir(parents=True)
    (copy / "pyproject.toml").write_text('[project]\nname = "creatorscore"\n')
    assert tracking.other_checkout(copy / "serving") == copy
    assert tracking.other_checkout(tracking.REPO_ROOT / "serving") is None
    (tmp_path / "elsewhere").mkdir()
    assert tracking.other_checkout(tmp_path / "elsewhere") is None
