"""ScoringBundle: the fitted feature pipeline, follower-account classifier, fake-follower risk
model and conversion model, scored together.

`score(ds, campaign_id=None, collaborations=None, explain=False, top_n=5) -> Scores`:
- without a campaign: one row per creator of `ds` (features from all the creator's data);
- with a campaign and planned `collaborations` (campaign_id, creator_id, compensation, cost;
  outcome columns ignored): those pairs, with features as of the campaign's start date;
- with a campaign and no collaborations: every creator of `ds`, compensation "fixed" and cost
  unknown (so ROI is NaN);
- with collaborations and no campaign: every given pair.

Money: expected_revenue = expected_conversions * revenue per conversion, where revenue per
conversion is the campaign's product_price (average order value), or, when the campaign has
none, the median realised revenue per conversion of the training collaborations. ROI =
expected revenue / cost (NaN when the cost is unknown or 0). Their intervals are the conversion
interval times the same (known) price and divided by the same (known) cost.

Conversion inputs: the collaboration features plus two derived columns, `predicted_fake_share`
(the risk model's fake share as of the campaign start) and `estimated_real_followers` =
followers * (1 - predicted_fake_share), the pre-campaign exposure used as the Poisson offset.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import numpy as np
import pandas as pd

from data.chunked import CHUNK_CREATORS, ChunkedDataset
from data.contract import NICHES
from data.dataset import Dataset
from features.catalogue import EXPOSURE_FEATURE, PREDICTED_FAKE_SHARE, feature_labels
from models import explain as explain_module
from models.compiled import compile_enabled
from models.matrix import FeatureMatrix

# (label, family, unit) of every explained feature, read once from the feature catalogue.
FEATURE_LABELS = feature_labels()
NICHE_SHARE_COLUMNS = tuple(f"niche_share_{n}" for n in NICHES)
TOP_NICHES = 3


@dataclass
class Scores:
    """The scores of rows (one per scored (campaign, creator)): `columns` by name (numbers as
    float64 arrays, text as object arrays with None for missing) and, built from them when
    first read, `table`, the same as a DataFrame (text as pandas' str dtype). The service
    answers from `columns`: a DataFrame of a one-creator request costs more than its models.
    explanations: keyed by (campaign_id or None, creator_id), each a list of dicts (model,
    feature, label, family, value, contribution, direction, text, ...); features: the feature
    frame the rows were scored from (same rows, same order) and planned: the planned
    collaborations scored (None without a campaign), so callers can explain or re-score a
    subset without recomputing; matrix: the features as a FeatureMatrix."""

    columns: dict[str, np.ndarray]
    explanations: dict = field(default_factory=dict)
    features: pd.DataFrame | None = None
    planned: pd.DataFrame | None = None
    # `features` as the float matrix the models read (FeatureMatrix.of(features)), for the
    # answer to read the rows from without converting the frame again.
    matrix: FeatureMatrix | None = None

    @cached_property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame({name: pd.array(values, dtype="str") if name in TEXT_COLUMNS
                             else values for name, values in self.columns.items()})


class Scorer(Protocol):
    """What serving and the command line need of a fitted bundle (ScoringBundle is one)."""

    pipeline: object  # the fitted feature pipeline; its follower_scorer_ audits accounts
    model_version: str
    feature_version: str | None

    def score(self, ds: Dataset, campaign_id: str | None = None,
              collaborations: pd.DataFrame | None = None, explain: bool = False,
              top_n: int = 5, every_creator: bool = False) -> Scores: ...

    def score_features(self, ds: Dataset, X: pd.DataFrame, planned: pd.DataFrame | None,
                       explain: bool = False, top_n: int = 5) -> Scores: ...


def derived_features(followers: np.ndarray, fake_share: np.ndarray) -> dict[str, np.ndarray]:
    """predicted_fake_share and estimated_real_followers = followers * (1 - fake share)."""
    return {PREDICTED_FAKE_SHARE: fake_share,
            EXPOSURE_FEATURE: followers * (1.0 - np.nan_to_num(fake_share, nan=0.0))}


def add_derived_features(X: pd.DataFrame, fake_share: np.ndarray) -> pd.DataFrame:
    """Collaboration features + predicted_fake_share + estimated_real_followers."""
    derived = pd.DataFrame(derived_features(X["followers"].to_numpy(dtype="float64"),
                                            np.asarray(fake_share, dtype="float64")),
                           index=X.index)
    return pd.concat([X, derived], axis=1)


def campaign_plans(ds: Dataset, campaign_id: str | None) -> pd.DataFrame | None:
    """The planned collaborations batch scoring (`creatorscore score --campaign`) uses: the
    campaign's rows of ds.collaborations, or None when there are none (every creator is then
    scored as a campaign without plans)."""
    if campaign_id is None or ds.collaborations is None:
        return None
    planned = ds.collaborations[ds.collaborations["campaign_id"] == campaign_id]
    return planned if len(planned) else None


# The text columns of Scores.table (pandas' str dtype there; object arrays in Scores.columns).
TEXT_COLUMNS = frozenset({"creator_id", "campaign_id", "verdict", "top_niches", "compensation",
                          "model_version", "feature_version"})


def _top_niches(matrix: FeatureMatrix) -> np.ndarray:
    shares = np.column_stack([matrix.column(c) for c in NICHE_SHARE_COLUMNS])
    filled = np.nan_to_num(shares, nan=-1.0)
    order = np.argsort(-filled, axis=1, kind="stable")[:, :TOP_NICHES]
    names = np.asarray(NICHES, dtype=object)
    out = np.empty(len(matrix), dtype=object)
    for i in range(len(matrix)):  # at most TOP_NICHES string joins per row
        parts = [f"{names[j]}:{shares[i, j]:.2f}" for j in order[i] if filled[i, j] > 0]
        out[i] = ";".join(parts) if parts else None
    return out


class ScoringBundle:
    """Everything needed to score: fitted pipeline and models, plus version metadata.

    Parameters
    ----------
    pipeline : fitted features.FeaturePipeline (its follower scorer is the follower classifier).
    follower_classifier : fitted models.follower_account.FollowerAccountClassifier (or None).
    risk_model : fitted models.fake_risk.FakeFollowerRiskModel.
    conversion_model : fitted models.conversion.ConversionModel (trained on
        collaboration features + derived columns, see module docstring).
    revenue_per_conversion : fallback revenue per conversion when a campaign has no price.
    model_version, feature_version : reported in every scored row.
    num_threads : LightGBM prediction threads (1 keeps single-creator latency low).
    """

    def __init__(self, pipeline, follower_classifier, risk_model, conversion_model,
                 revenue_per_conversion: float = float("nan"),
                 model_version: str = "unregistered", feature_version: str | None = None,
                 num_threads: int = 1, metadata: dict | None = None):
        self.pipeline = pipeline
        self.follower_classifier = follower_classifier
        self.risk_model = risk_model
        self.conversion_model = conversion_model
        self.revenue_per_conversion = revenue_per_conversion
        self.model_version = model_version
        self.feature_version = feature_version
        self.num_threads = num_threads
        self.metadata = metadata or {}

    # -- long-lived scoring (service, CLI over a dataset) ----------------------------------
    def accelerate(self, compile_trees: bool | None = None) -> threading.Thread | None:
        """Remember follower-account probabilities per account content, and compile the
        follower classifier (models.compiled) in a background thread when `compile_trees`
        (default: CREATORSCORE_COMPILE_TREES, on): LightGBM predicts until the compiled
        library is built and checked, then the same numbers come faster. Returns the thread."""
        classifier = self.follower_classifier
        if classifier is None or not hasattr(classifier, "accelerate"):
            return None  # the rule-based scorer is arithmetic: nothing to remember or compile
        if classifier.account_cache is None:
            classifier.accelerate()
        if not (compile_enabled() if compile_trees is None else compile_trees) \
                or classifier.is_compiled:
            return None
        thread = threading.Thread(target=classifier.compile, name="compile-follower-trees",
                                  daemon=True)
        thread.start()
        return thread

    # -- matrix-level predictions ------------------------------------------------------------
    def predict_risk(self, X) -> pd.DataFrame:
        return self.risk_model.predict(X, num_threads=self.num_threads)

    def conversion_matrix(self, X, fake_share: np.ndarray) -> FeatureMatrix:
        matrix = FeatureMatrix.of(X)
        return matrix.with_columns(derived_features(matrix.column("followers"), fake_share))

    # -- scoring ---------------------------------------------------------------------------
    def planned_collaborations(self, ds: Dataset, campaign_id: str | None,
                               collaborations: pd.DataFrame | None,
                               every_creator: bool = False) -> pd.DataFrame | None:
        """The (campaign_id, creator_id, compensation, cost) rows `score` scores, or None when
        scoring creators without a campaign (see the module docstring).

        every_creator: with a campaign, a creator of `ds` without a planned row is added as a
        campaign without plans is scored (compensation "fixed", cost unknown)."""
        if campaign_id is None and collaborations is None:
            return None
        if ds.campaigns is None:
            raise ValueError("scoring for a campaign needs the campaigns table")
        if campaign_id is not None and not (ds.campaigns["campaign_id"] == campaign_id).any():
            raise ValueError(f"campaign_id {campaign_id!r} is not in the campaigns table")
        if collaborations is None:
            return pd.DataFrame({
                "campaign_id": pd.Series([campaign_id] * len(ds.creators), dtype="str"),
                "creator_id": ds.creators["creator_id"].to_numpy(),
                "compensation": pd.Series(["fixed"] * len(ds.creators), dtype="str"),
                "cost": np.full(len(ds.creators), np.nan),
            })
        missing = [c for c in ("campaign_id", "creator_id") if c not in collaborations.columns]
        if missing:
            raise ValueError(f"collaborations: missing column(s) {missing}")
        planned = collaborations
        if campaign_id is not None:
            planned = planned[planned["campaign_id"] == campaign_id]
            if planned.empty and not every_creator:
                raise ValueError(f"collaborations has no row for campaign_id {campaign_id!r}")
        planned = planned.copy()
        if "compensation" not in planned.columns:
            planned["compensation"] = "fixed"
        planned["compensation"] = planned["compensation"].fillna("fixed")
        if "cost" not in planned.columns:
            planned["cost"] = np.nan
        planned["cost"] = pd.to_numeric(planned["cost"], errors="coerce").astype("float64")
        # Outcome columns are never inputs.
        planned = planned[["campaign_id", "creator_id", "compensation", "cost"]]
        if every_creator and campaign_id is not None:
            unplanned = ~ds.creators["creator_id"].isin(planned["creator_id"]).to_numpy()
            planned = pd.concat([planned, pd.DataFrame({
                "campaign_id": pd.Series([campaign_id] * int(unplanned.sum()), dtype="str"),
                "creator_id": ds.creators["creator_id"].to_numpy()[unplanned],
                "compensation": pd.Series(["fixed"] * int(unplanned.sum()), dtype="str"),
                "cost": np.full(int(unplanned.sum()), np.nan),
            })], ignore_index=True)
        return planned.reset_index(drop=True)

    def _revenue_per_conversion(self, ds: Dataset, campaign_ids: np.ndarray) -> np.ndarray:
        prices = ds.campaigns.set_index("campaign_id")["product_price"]
        price = prices.reindex(campaign_ids).to_numpy(dtype="float64")
        return np.where(np.isfinite(price) & (price > 0), price, self.revenue_per_conversion)

    def score(self, ds: Dataset, campaign_id: str | None = None,
              collaborations: pd.DataFrame | None = None, explain: bool = False,
              top_n: int = 5, every_creator: bool = False) -> Scores:
        """Score creators (no campaign) or (campaign, creator) pairs; see the module docstring
        (`every_creator`: see `planned_collaborations`)."""
        planned = self.planned_collaborations(ds, campaign_id, collaborations,
                                              every_creator=every_creator)
        return self.score_features(ds, self.features(ds, planned), planned, explain=explain,
                                   top_n=top_n)

    def score_table(self, ds: Dataset, campaign_id: str | None = None,
                    collaborations: pd.DataFrame | None = None,
                    chunk_creators: int = CHUNK_CREATORS) -> pd.DataFrame:
        """`score(...).table` (no explanations), computed `chunk_creators` creators at a time
        (Dataset.creator_chunks): the features' working set is bounded by the chunk, not by
        the dataset, and the rows are those of scoring it whole, in the same order."""
        planned = self.planned_collaborations(ds, campaign_id, collaborations)
        if len(ds.creators) <= chunk_creators:
            return self.score_features(ds, self.features(ds, planned), planned).table
        parts, positions = [], []
        planned_ids = None if planned is None else planned["creator_id"].astype(object)
        if planned_ids is not None:
            # A plan for a creator of no chunk would vanish: refused, as scoring whole does.
            unknown = planned_ids[~planned_ids.isin(set(ds.creators["creator_id"]))]
            if len(unknown):
                raise ValueError(f"collaborations: creator_id {unknown.iloc[0]!r} is not in the "
                                 "creators table; expected a creator of the dataset")
        for chunk in ds.creator_chunks(chunk_creators):
            if planned is None:
                parts.append(self.score_features(chunk, self.features(chunk, None), None).table)
                continue
            at = np.flatnonzero(planned_ids.isin(set(chunk.creators["creator_id"])).to_numpy())
            if len(at):
                rows = planned.iloc[at].reset_index(drop=True)
                parts.append(self.score_features(chunk, self.features(chunk, rows), rows).table)
                positions.append(at)
        table = pd.concat(parts, ignore_index=True)
        if positions:  # back to the planned rows' order
            table = table.iloc[np.argsort(np.concatenate(positions), kind="stable")]
        return table.reset_index(drop=True)

    def score_in_chunks(self, chunked: ChunkedDataset, campaign_id: str | None = None
                        ) -> pd.DataFrame:
        """`score_table` of a dataset read in pieces of creators (ChunkedDataset.chunks: each
        piece validated, then scored, then freed): the same rows in the same order, in memory
        bounded by two pieces (the next is validated meanwhile) and the dataset's id columns.
        The campaign's planned collaborations are those of the whole collaborations table
        (`campaign_plans`), so a piece without plans is skipped rather than scored as a
        campaign without plans."""
        plans_exist = campaign_id is not None and chunked.has_value(
            "collaborations", "campaign_id", campaign_id)
        parts, rows = [], []
        for chunk in chunked.chunks():
            ds = chunk.dataset
            plans = campaign_plans(ds, campaign_id) if plans_exist else None
            if plans_exist and plans is None:
                continue
            parts.append(self.score_table(ds, campaign_id=campaign_id, collaborations=plans,
                                          chunk_creators=max(1, len(ds.creators))))
            if plans is not None:  # its index: positions in the piece's collaborations
                rows.append(chunk.file_rows["collaborations"][plans.index.to_numpy()])
        table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        if rows:  # back to the collaborations file's order
            table = table.iloc[np.argsort(np.concatenate(rows), kind="stable")]
        return table.reset_index(drop=True)

    def features(self, ds: Dataset, planned: pd.DataFrame | None) -> pd.DataFrame:
        """The features `score` scores: creator features (planned None), else collaboration
        features of the `planned` rows (same order)."""
        if planned is None:
            return self.pipeline.transform_creators(ds)
        return self.pipeline.transform_collaborations(ds, planned)

    def score_features(self, ds: Dataset, X: pd.DataFrame, planned: pd.DataFrame | None,
                       explain: bool = False, top_n: int = 5) -> Scores:
        """Scores from features already computed by this bundle's pipeline: creator features
        (planned None) or collaboration features of `planned` (same rows, same order)."""
        n = len(X)
        if planned is None:
            creator_ids = X.index.to_numpy(dtype=object)
            campaign_ids = np.full(n, None, dtype=object)
        else:
            campaign_ids = X.index.get_level_values("campaign_id").to_numpy(dtype=object)
            creator_ids = X.index.get_level_values("creator_id").to_numpy(dtype=object)
        matrix = FeatureMatrix.of(X)
        risk = self.risk_model.predict_arrays(matrix, num_threads=self.num_threads)
        # Built as one dict of arrays and turned into a frame once: inserting columns one by
        # one costs ~1 ms each with pandas 3.
        columns: dict[str, np.ndarray] = {
            "creator_id": creator_ids,
            "campaign_id": campaign_ids,
            "engagement_rate": matrix.column("engagement_rate_median"),
            "engagement_percentile": matrix.column("engagement_rate_median_cohort_percentile"),
            "cohort_size": matrix.column("cohort_size"),
        }
        columns.update(risk)
        columns["verdict"] = np.asarray(risk["verdict"], dtype=object)
        columns["niche_fit"] = (matrix.column("campaign_niche_share") if planned is not None
                                else np.full(n, np.nan))
        columns["top_niches"] = _top_niches(matrix)
        conv = None
        if planned is not None:
            conv = self.conversion_matrix(matrix, risk["fake_share"])
            mean, low, high = self.conversion_model.predict_interval(
                conv, num_threads=self.num_threads)
            value = self._revenue_per_conversion(ds, campaign_ids)
            cost = planned["cost"].to_numpy(dtype="float64")
            columns["compensation"] = planned["compensation"].to_numpy(dtype=object,
                                                                       na_value=None)
            columns["cost"] = cost
            columns["revenue_per_conversion"] = value
            money = {"expected_conversions": (mean, low, high)}
            money["expected_revenue"] = tuple(c * value for c in money["expected_conversions"])
            with np.errstate(divide="ignore", invalid="ignore"):
                money["predicted_roi"] = tuple(np.where(cost > 0, r / cost, np.nan)
                                               for r in money["expected_revenue"])
        else:
            columns["compensation"] = np.full(n, None, dtype=object)
            columns["cost"] = np.full(n, np.nan)
            columns["revenue_per_conversion"] = np.full(n, np.nan)
            money = {name: (np.full(n, np.nan),) * 3 for name in (
                "expected_conversions", "expected_revenue", "predicted_roi")}
        for name, (point, low_bound, high_bound) in money.items():
            columns[name] = point
            columns[f"{name}_low"] = low_bound
            columns[f"{name}_high"] = high_bound
        columns["model_version"] = np.full(n, self.model_version, dtype=object)
        columns["feature_version"] = np.full(n, self.feature_version, dtype=object)
        explanations = (self.explain(matrix, conv, campaign_ids, creator_ids, top_n)
                        if explain else {})
        return Scores(columns=columns, explanations=explanations, features=X, planned=planned,
                      matrix=matrix)

    # -- explanations ----------------------------------------------------------------------
    def explain(self, X, conv: FeatureMatrix | None, campaign_ids, creator_ids,
                top_n: int = 5) -> dict:
        """Per (campaign_id or None, creator_id): top contributions of each model."""
        risk_X = FeatureMatrix.of(X).subset(self.risk_model.feature_names_)
        per_model = []
        if self.risk_model.bought_booster_ is not None:
            per_model.append(explain_module.explain_rows(
                self.risk_model.bought_booster_, risk_X, "bought_followers", "probability",
                top_n, self.num_threads, labels=FEATURE_LABELS))
        if self.risk_model.share_booster_ is not None:
            per_model.append(explain_module.explain_rows(
                self.risk_model.share_booster_, risk_X, "fake_share", "share", top_n,
                self.num_threads, labels=FEATURE_LABELS))
        if conv is not None:
            model = self.conversion_model
            conv_X = conv.frame(model.feature_names_)
            per_model.append(explain_module.explain_rows(
                model.booster_, conv_X, "conversions", "count", top_n, self.num_threads,
                labels=FEATURE_LABELS,
                # The contributions' base holds the pooled rate (or the log-linear part's
                # intercept) and the level correction; at the typical exposure it is a typical
                # creator's conversions (the exposure item below moves it to this creator's).
                contrib=model.contributions(conv_X, num_threads=self.num_threads),
                base_offset=model.log_exposure_reference_))
            per_model.append(self._exposure_items(conv_X))
        result = {}
        for i, (campaign, creator) in enumerate(zip(campaign_ids, creator_ids, strict=True)):
            key = (None if campaign is None or (isinstance(campaign, float) and np.isnan(campaign))
                   else campaign, creator)
            result[key] = [item for items in per_model for item in items[i]]
        return result

    def _exposure_items(self, conv_X: pd.DataFrame) -> list[list[dict]]:
        """The exposure offset as an explanation: multiplier vs the typical training exposure."""
        model = self.conversion_model
        if model.exposure_feature is None:
            return [[] for _ in range(len(conv_X))]
        multiplier = np.exp(model.log_exposure(conv_X) - model.log_exposure_reference_)
        label, family, unit = FEATURE_LABELS.get(model.exposure_feature,
                                                 (model.exposure_feature, "authenticity", ""))
        values = conv_X[model.exposure_feature].to_numpy(dtype="float64")
        items = []
        for value, m in zip(values, multiplier, strict=True):
            shown = "missing" if np.isnan(value) else f"{value:,.0f}"
            items.append([{
                "model": "conversions", "feature": f"{model.exposure_feature} (exposure)",
                "label": f"{label}: exposure", "family": family,
                "value": None if np.isnan(value) else float(value), "contribution": float(m),
                "raw_contribution": float(np.log(m)), "unit": "multiplier",
                "direction": "up" if m >= 1 else "down", "family_contribution": float(m),
                "text": f"{label} = {shown} multiplies expected conversions by {m:.2f} "
                        "relative to a typical creator's exposure",
            }])
        return items
