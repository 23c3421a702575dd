"""The shortlist's numbers (serving.shortlist): candidates beyond the explained top_k carry
what /score answers for them with the same campaign and plans."""
from __future__ import annotations

import math

from pydantic import TypeAdapter

from serving.config import ServingConfig
from serving.engine import ScoringEngine
from serving.schemas import CreatorRecords
from serving.shortlist import rank_shortlist
from tests.serving.helpers import campaign_with_plans, rank_body


def test_candidates_beyond_the_explained_top_k_get_their_score_answer(champion):
    tables = champion.tables
    body = rank_body(tables, campaign_with_plans(tables, min_plans=4), budget=1_000.0)
    engine = ScoringEngine(bundle=champion.bundle, version=champion.version,
                           config=ServingConfig(max_top_k=2))
    shortlist = rank_shortlist(engine, body, budget=1_000.0, objective="conversions")
    explained = {item["creator_id"] for item in shortlist.answer["top"]}
    rest = [c for c in body["creators"] if c["profile"]["creator_id"] not in explained]
    assert len(explained) == 2 and len(rest) >= 2
    fresh = ScoringEngine(bundle=champion.bundle, version=champion.version)
    expected = fresh.score_payload(
        TypeAdapter(list[CreatorRecords]).validate_python(rest), body["campaign"],
        [p for p in body["collaborations"]
         if p["creator_id"] in {c["profile"]["creator_id"] for c in rest}], explain=False)
    for item in expected["creators"]:
        # The same models on the same rows; a batch of another size may differ in the last
        # bits of a sum (LightGBM), nothing more.
        got, wanted = _leaves(shortlist.scores[item["creator_id"]]), _leaves(item)
        assert got.keys() == wanted.keys()
        for path, value in wanted.items():
            if isinstance(value, float):
                assert math.isclose(got[path], value, rel_tol=1e-12, abs_tol=1e-12), path
            else:
                assert got[path] == value, path


def _leaves(value, path: str = "") -> dict:
    """Every leaf of a JSON answer by its path."""
    if isinstance(value, dict):
        return {k: v for key in sorted(value) for k, v in _leaves(value[key],
                                                                   f"{path}/{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value)
                for k, v in _leaves(item, f"{path}/{i}").items()}
    return {path: value}
