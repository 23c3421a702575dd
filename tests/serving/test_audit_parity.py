"""One follower audit, one validator: the creator features, /audit_followers and
`creatorscore audit-followers` give identical answers on the same accounts, and refuse the
same bad values at the same rows and fields."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from creatorscore import app
from data.loader import validate_tables
from data.validation import ContractError, validate_accounts
from serving.payloads import records


@pytest.fixture(scope="module")
def audited(champion):
    """The audience sample of the creator with the largest sample."""
    sample = champion.tables["audience_sample"]
    creator = sample["creator_id"].value_counts().index[0]
    return creator, sample[sample["creator_id"] == creator].reset_index(drop=True)


def test_features_service_and_cli_give_the_same_audit(client, champion, audited, tmp_path):
    creator, accounts = audited
    response = client.post("/audit_followers", json={"accounts": records(
        "audience_sample", accounts, drop=("creator_id",))})
    assert response.status_code == 200, response.text
    served = response.json()

    path, out = tmp_path / "accounts.csv", tmp_path / "audited.csv"
    accounts.drop(columns="creator_id").to_csv(path, index=False)
    result = CliRunner().invoke(app, ["audit-followers", str(path), "--out", str(out)],
                                env={"MLFLOW_TRACKING_URI": champion.tracking_uri})
    assert result.exit_code == 0, result.output
    cli = pd.read_csv(out)

    ds = validate_tables(champion.tables)
    features = champion.bundle.pipeline.transform_creators(ds).loc[creator]

    p_served = np.array([a["fake_probability"] for a in served["accounts"]])
    np.testing.assert_allclose(cli["p_fake"].to_numpy(), p_served, rtol=0, atol=1e-12)
    assert cli["account_class"].tolist() == [a["account_class"] for a in served["accounts"]]
    share = served["fake_share"]
    for key, column in (("estimate", "audience_fake_share"), ("low", "audience_fake_share_low"),
                        ("high", "audience_fake_share_high")):
        assert share[key] == pytest.approx(features[column], abs=1e-12), key
    for name, value in served["class_shares"].items():
        assert value == pytest.approx(features[f"audience_share_{name}"], abs=1e-12), name
    assert f"{100 * share['estimate']:.1f}%" in result.output


def test_service_and_cli_refuse_the_same_values(client, champion, audited, tmp_path):
    _, accounts = audited
    bad = accounts.drop(columns="creator_id").head(6).astype(object)
    bad.loc[1, "followers"] = -3
    bad.loc[4, "has_profile_pic"] = "maybe"
    with pytest.raises(ContractError) as raised:
        validate_accounts(bad)
    expected = {(row - 1, problem.column) for problem in raised.value.problems
                for row in problem.rows}
    assert expected == {(1, "followers"), (4, "has_profile_pic")}

    response = client.post("/audit_followers", json={"accounts": records(
        "audience_sample", bad)})
    assert response.status_code == 422, response.text
    served = {(d["loc"][1], d["loc"][2]) for d in response.json()["detail"]}
    assert served == expected

    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    result = CliRunner().invoke(app, ["audit-followers", str(path), "--out",
                                      str(tmp_path / "out.csv")],
                                env={"MLFLOW_TRACKING_URI": champion.tracking_uri})
    assert result.exit_code == 1
    assert "followers" in result.output and "has_profile_pic" in result.output
    assert not (tmp_path / "out.csv").exists()
