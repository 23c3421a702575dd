"""FeaturePipeline: contract tables -> all-float64 feature frames (per creator, per collab).

One code path serves batch training and single-creator scoring: both build `Entities` (a creator
as of a date, or a (campaign, creator) pair as of the campaign's start) and compute every
feature with vectorised numpy over all entities at once.
"""
from __future__ import annotations

import collections
import contextlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from data.chunked import ChunkedDataset
from data.contract import NICHES
from data.dataset import Dataset, column_labels
from data.machine import usable_cores
from features.arrays import as_days, as_str, index_of, large_strings
from features.audience import (
    AUDITING_BESIDE_OTHER_WORK,
    AudienceMemo,
    FollowerAudit,
    audience_features,
)
from features.authenticity import account_features, comment_features, growth_features
from features.benchmarks import CohortReference, cohort_codes
from features.campaign import COMPENSATION_CODES, campaign_pair_features, repeat_partnerships
from features.catalogue import (
    COLLABORATION_FEATURE_NAMES,
    CREATOR_FEATURE_NAMES,
    FEATURE_VERSION,
)
from features.engagement import engagement_features
from features.entities import Entities, build_entities
from features.niche import NicheModel, niche_features
from features.text import DocumentFrequencies, count_matrix

# Pieces of a dataset worked on at once, each on a thread of its own (`in_order`): their work
# is mostly Arrow and numpy kernels, which release the GIL. Two, or one on a single core: a
# third thread on two cores was slower (10k creators: the `features` transform pass 1.56 s on
# two threads, 1.81 s on three, 2.38 s on one), and each thread holds a piece in memory.
PIECE_THREADS = min(2, usable_cores())

Item = TypeVar("Item")
Result = TypeVar("Result")


def _as_of_day(as_of) -> float:
    if as_of is None:
        return np.nan
    timestamp = pd.Timestamp(as_of)
    if timestamp.tzinfo is not None:
        timestamp = timestamp.tz_convert("UTC").tz_localize(None)
    return timestamp.value / 86_400e9


# From this many sampled follower accounts, the audience audit (the follower classifier's
# compiled trees, which release the GIL, and the share estimates) runs on a helper thread while
# this thread computes the other features: at an unseen /rank of 1,000 candidates (~63k
# accounts) 570 -> ~420 ms wall for the whole request when the second core is free (same CPU).
# A /score's few hundred accounts are audited in a few ms: not worth a thread.
AUDIT_ASIDE_MIN_ACCOUNTS = 20_000


def _audits_aside(ds: Dataset) -> bool:
    return ds.rows("audience_sample") >= AUDIT_ASIDE_MIN_ACCOUNTS


@dataclass(frozen=True)
class FitInputs:
    """What FeaturePipeline.fit learns from, for consecutive creators (a piece of a dataset):
    the document frequencies of their texts (bio + captions: the niche model's vocabulary;
    the texts themselves are read again for the centroids, see `fit_parts`), the declared
    niches' codes, the engagement metrics and the benchmark cohorts' codes."""

    frequencies: DocumentFrequencies
    declared_niche: np.ndarray
    engagement: dict[str, np.ndarray]
    cohort: np.ndarray

    def merge(self, later: FitInputs) -> FitInputs:
        """These creators' inputs and those of the creators after them."""
        return FitInputs(
            self.frequencies.merge(later.frequencies),
            np.concatenate((self.declared_niche, later.declared_niche)),
            {name: np.concatenate((values, later.engagement[name]))
             for name, values in self.engagement.items()},
            np.concatenate((self.cohort, later.cohort)))


class FeaturePipeline:
    """Fitted state: cohort reference distributions, text/niche model, category mappings.

    Parameters
    ----------
    follower_scorer : FollowerAudit (models.follower_account.FollowerAccountClassifier or
        RuleBasedFollowerScorer): audits sampled follower accounts. Needed when a dataset has
        an audience_sample table; None is an error then.
    """

    def __init__(self, follower_scorer: FollowerAudit | None = None):
        self.follower_scorer = follower_scorer

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, ds: Dataset) -> FeaturePipeline:
        declared, engagement, cohort = self._creator_inputs(ds)
        # (the texts tokenised once for the vocabulary and the centroids)
        return self._fit(NicheModel().fit(_creator_texts(ds), declared), engagement, cohort)

    @staticmethod
    def fit_inputs(ds: Dataset) -> FitInputs:
        """What `fit` learns from, for the creators of `ds` (see `fit_parts`)."""
        declared, engagement, cohort = FeaturePipeline._creator_inputs(ds)
        return FitInputs(DocumentFrequencies.of_texts(_creator_texts(ds)), declared,
                         engagement, cohort)

    @staticmethod
    def niche_members(ds: Dataset) -> tuple[pa.Array, np.ndarray]:
        """(texts, declared niche codes) of the creators of `ds`: what the niche model's
        centroids learn from."""
        return _creator_texts(ds), index_of(ds.column("creators", "niche"), NICHES)

    @staticmethod
    def _creator_inputs(ds: Dataset) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """(declared niche codes, engagement metrics, cohort codes) of the creators of `ds`:
        each creator's from its own rows."""
        n = ds.rows("creators")
        ent = build_entities(ds, np.arange(n), np.full(n, np.nan))
        return (index_of(ds.column("creators", "niche"), NICHES), engagement_features(ent),
                cohort_codes(ent.platform_code, ent.tier_code))

    def fit_parts(self, inputs: FitInputs, pieces: Callable[[], Iterable[Dataset]]
                  ) -> FeaturePipeline:
        """`fit` on a dataset in consecutive pieces, in memory of `PIECE_THREADS` pieces and the
        merged `inputs` (`fit_inputs` of every piece, merged in order: a few numbers per creator
        and the distinct words): `pieces()` gives the pieces again, in the same order, for the
        niche centroids (their texts' counts computed `in_order`, added to the centroids in
        order). The same fitted state as `fit` on the whole."""
        niche_model = NicheModel().fit_vocabulary(inputs.frequencies)
        vectorizer = niche_model.vectorizer_

        def member_counts(piece: Dataset) -> tuple[sp.csr_matrix, np.ndarray]:
            texts, declared = FeaturePipeline.niche_members(piece)
            return vectorizer.counts(texts), declared

        for counts, declared in in_order(member_counts, pieces()):
            niche_model.add_member_counts(counts, declared)
        return self._fit(niche_model.fit_centroids(), inputs.engagement, inputs.cohort)

    def _fit(self, niche_model: NicheModel, engagement: dict[str, np.ndarray],
             cohort: np.ndarray) -> FeaturePipeline:
        self.follower_scorer_ = self.follower_scorer
        self.feature_version_ = FEATURE_VERSION
        self.compensation_codes_ = dict(COMPENSATION_CODES)
        self.niche_codes_ = {niche: code for code, niche in enumerate(NICHES)}
        self.niche_model_ = niche_model
        self.cohort_reference_ = CohortReference().fit(engagement, cohort)
        self.creator_feature_names_ = list(CREATOR_FEATURE_NAMES)
        self.collaboration_feature_names_ = list(COLLABORATION_FEATURE_NAMES)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "cohort_reference_"):
            raise RuntimeError("FeaturePipeline is not fitted: call fit(dataset) first")

    # -- shared core -----------------------------------------------------------------------
    def _content_counts(self, ds: Dataset, ent: Entities) -> sp.csr_matrix:
        """Token counts of bio + captions (posts before the cutoff) per entity; each distinct
        post and bio is tokenised once (collaborations of a creator share its posts)."""
        vectorizer = self.niche_model_.vectorizer_
        unique_posts, post_inverse = np.unique(ent.post_row, return_inverse=True)
        captions = large_strings(ds.column("posts", "caption")).take(pa.array(unique_posts))
        caption_entity, caption_ids = _tokens_per_entity(
            *vectorizer.token_ids(captions), len(unique_posts), ent.post_entity, post_inverse)
        unique_creators, creator_inverse = np.unique(ent.creator_row, return_inverse=True)
        bios = large_strings(ds.column("creators", "bio")).take(pa.array(unique_creators))
        bio_entity, bio_ids = _tokens_per_entity(
            *vectorizer.token_ids(bios), len(unique_creators), np.arange(ent.n),
            creator_inverse)
        return count_matrix(np.concatenate((caption_entity, bio_entity)),
                            np.concatenate((caption_ids, bio_ids)), ent.n,
                            len(vectorizer.vocabulary_))

    def _entity_features(self, ds: Dataset, ent: Entities
                         ) -> tuple[dict[str, np.ndarray], np.ndarray, sp.csr_matrix]:
        # A thread of its own per large request: concurrent requests never queue for one.
        with (ThreadPoolExecutor(max_workers=1, thread_name_prefix="audience-audit")
              if _audits_aside(ds) else contextlib.nullcontext()) as aside:
            audience: Future | None = (None if aside is None else
                                       aside.submit(self._audience_features_aside, ds, ent))
            out = engagement_features(ent)
            out.update(self.cohort_reference_.transform(
                out, cohort_codes(ent.platform_code, ent.tier_code)))
            out.update(growth_features(ent))
            out.update(comment_features(ent, ds))
            out.update(account_features(ent, ds))
            if audience is None:
                out.update(self._audience_features(ds, ent))
            counts = self._content_counts(ds, ent)
            tfidf = self.niche_model_.vectorizer_.tfidf(counts)
            content, known_tokens = self.niche_model_.content_distribution(counts, tfidf)
            declared = index_of(ds.column("creators", "niche"), NICHES)[ent.creator_row]
            niche, distribution = niche_features(content, known_tokens, declared)
            if audience is not None:
                out.update(audience.result())  # (same place in `out` as the inline audit's)
            out.update(niche)
        return out, distribution, tfidf

    def _audience_features_aside(self, ds: Dataset, ent: Entities) -> dict[str, np.ndarray]:
        """`_audience_features` on the helper thread of `_entity_features` (in its context)."""
        beside = AUDITING_BESIDE_OTHER_WORK.set(True)
        try:
            return self._audience_features(ds, ent)
        finally:
            AUDITING_BESIDE_OTHER_WORK.reset(beside)

    def _audience_features(self, ds: Dataset, ent: Entities) -> dict[str, np.ndarray]:
        memo: AudienceMemo | None = self.__dict__.get("_audience_memo")
        if memo is not None and memo.audience is ds.audience_sample:
            return memo.features(ent, self.follower_scorer_)
        return audience_features(ent, ds.audience_sample if ds.rows("audience_sample") else None,
                                 self.follower_scorer_)

    @contextlib.contextmanager
    def remembering_audiences(self, ds: Dataset):
        """Within the block, the audience features of `ds`'s creators are computed once (by
        `transform_creators(ds)`, which should come first) and reused by the transforms of the
        same dataset's collaborations and candidates (features.audience.AudienceMemo: the same
        values, without auditing every account again). A batch job's aid (training); the
        memory is freed after the block."""
        self._audience_memo = AudienceMemo(ds.audience_sample)
        try:
            yield self
        finally:
            del self._audience_memo

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_audience_memo"}

    @staticmethod
    def _frame(values: dict[str, np.ndarray], names: list[str], index: pd.Index) -> pd.DataFrame:
        if len(values) != len(names) or not values.keys() >= set(names):
            # The registry and the code must agree.
            missing = [name for name in names if name not in values]
            extra = [name for name in values if name not in names]
            raise RuntimeError(f"feature columns out of sync: missing {missing}, extra {extra}")
        # One 2-D block: building ~100 single columns costs more than the features themselves
        # when scoring one creator.
        matrix = np.empty((len(index), len(names)))
        for position, name in enumerate(names):
            matrix[:, position] = values[name]
        return pd.DataFrame(matrix, index=index, columns=column_labels(names))

    # -- public transforms -----------------------------------------------------------------
    def transform_creators(self, ds: Dataset, as_of=None) -> pd.DataFrame:
        """One row per creator (index creator_id), from data dated before `as_of` if given.

        Without `as_of`, all posts are used and day counts (account age, days since the last
        post or the largest follower jump) are measured from each creator's latest observation.
        """
        self._check_fitted()
        n = ds.rows("creators")
        ent = build_entities(ds, np.arange(n), np.full(n, _as_of_day(as_of)))
        values, _, _ = self._entity_features(ds, ent)
        index = pd.Index(as_str(ds.column("creators", "creator_id")), name="creator_id")
        return self._frame(values, self.creator_feature_names_, index)

    def transform_collaborations(self, ds: Dataset,
                                 collaborations: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per (campaign_id, creator_id): creator features as of the campaign's start
        date plus campaign-pair features. `collaborations` defaults to ds.collaborations and
        may be planned ones (campaign_id, creator_id, compensation, cost)."""
        self._check_fitted()
        collabs = ds.collaborations if collaborations is None else collaborations
        if collabs is None:
            raise ValueError("no collaborations: the dataset has no collaborations table and "
                             "none were given")
        if ds.campaigns is None:
            raise ValueError("collaboration features need the campaigns table")
        campaigns = ds.campaigns
        campaign_row = pd.Index(campaigns["campaign_id"]).get_indexer(collabs["campaign_id"])
        creator_row = pd.Index(ds.creators["creator_id"]).get_indexer(collabs["creator_id"])
        for column, rows, table in (("campaign_id", campaign_row, "campaigns"),
                                    ("creator_id", creator_row, "creators")):
            unknown = np.flatnonzero(rows < 0)
            if len(unknown):
                values = collabs[column].iloc[unknown[:5]].tolist()
                raise ValueError(f"collaborations.{column}: rows {unknown[:5].tolist()} refer to "
                                 f"unknown {table} ({values})")
        start_day = as_days(campaigns["start_date"])
        cutoff = start_day[campaign_row]
        ent = build_entities(ds, creator_row, cutoff)
        values, distribution, content_tfidf = self._entity_features(ds, ent)

        vectorizer = self.niche_model_.vectorizer_
        brief_tfidf = vectorizer.tfidf(vectorizer.counts(large_strings(campaigns["brief"])))
        history = self._collaboration_history(ds, collabs, start_day)
        repeat = repeat_partnerships(history, collabs["creator_id"].to_numpy(dtype=object),
                                     campaigns["brand"].to_numpy(dtype=object)[campaign_row],
                                     cutoff)
        country = ds.creators["country"].to_numpy(dtype=object, na_value=None)[creator_row]
        values.update(campaign_pair_features(collabs, campaigns, campaign_row, distribution,
                                             content_tfidf, brief_tfidf, country, repeat))
        index = pd.MultiIndex.from_arrays(
            [collabs["campaign_id"].to_numpy(dtype=object),
             collabs["creator_id"].to_numpy(dtype=object)], names=["campaign_id", "creator_id"])
        return self._frame(values, self.collaboration_feature_names_, index)

    @staticmethod
    def _collaboration_history(ds: Dataset, collabs: pd.DataFrame,
                               start_day: np.ndarray) -> pd.DataFrame:
        """All known collaborations with their brand and campaign start day."""
        frames = [f[["campaign_id", "creator_id"]] for f in (ds.collaborations, collabs)
                  if f is not None]
        pairs = pd.concat(frames, ignore_index=True).drop_duplicates()
        campaign_row = pd.Index(ds.campaigns["campaign_id"]).get_indexer(pairs["campaign_id"])
        known = campaign_row >= 0
        return pd.DataFrame({
            "creator_id": pairs["creator_id"].to_numpy(dtype=object)[known],
            "brand": ds.campaigns["brand"].to_numpy(dtype=object)[campaign_row[known]],
            "start_day": start_day[campaign_row[known]],
        })


def _creator_texts(ds: Dataset) -> pa.Array:
    """Per creator: its bio (empty when missing), a space, then its posts' captions in table
    order joined by spaces (none when it has no caption). In Arrow kernels: the Python join
    of a pandas group-by cost ~3 s at 50k creators x 60 posts."""
    creator_ids = ds.column("creators", "creator_id")
    bios = large_strings(ds.column("creators", "bio")).fill_null("")
    captions = large_strings(ds.column("posts", "caption"))
    owner = index_of(ds.column("posts", "creator_id"), creator_ids)
    kept = np.flatnonzero((owner >= 0) & captions.is_valid().to_numpy(zero_copy_only=False))
    order = kept[np.argsort(owner[kept], kind="stable")]
    per_creator = np.bincount(owner[order], minlength=len(creator_ids))
    offsets = np.concatenate(([0], np.cumsum(per_creator)))
    space = pa.scalar(" ", pa.large_string())
    joined = pc.binary_join(pa.LargeListArray.from_arrays(
        pa.array(offsets, type=pa.int64()), captions.take(pa.array(order))), space)
    # A repeated creator_id gets the captions of all its rows, as a group-by by id would.
    first = index_of(creator_ids, creator_ids)
    return pc.binary_join_element_wise(bios, joined.take(pa.array(first)), space)


def _tokens_per_entity(documents: np.ndarray, ids: np.ndarray, n_documents: int,
                       pair_entity: np.ndarray, pair_document: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(entity, word id) for every token of every (entity, document) pair; `documents` sorted."""
    per_document = np.bincount(documents, minlength=n_documents)
    starts = np.cumsum(per_document) - per_document
    per_pair = per_document[pair_document]
    pair_of_token = np.repeat(np.arange(len(pair_document)), per_pair)
    offsets = np.arange(int(per_pair.sum())) - (np.cumsum(per_pair) - per_pair)[pair_of_token]
    return pair_entity[pair_of_token], ids[starts[pair_document][pair_of_token] + offsets]


def build_feature_frames(ds: Dataset, pipeline: FeaturePipeline,
                         chunk_creators: int | None = None) -> dict[str, pd.DataFrame]:
    """{"creators": ..., "collaborations": ... (when the dataset has campaigns and
    collaborations)} from a fitted pipeline; with `chunk_creators`, computed that many
    creators at a time (Dataset.creator_chunks: memory bounded by the chunk, same rows)."""
    with_collaborations = ds.campaigns is not None and ds.collaborations is not None
    pieces = [ds] if chunk_creators is None else ds.creator_chunks(chunk_creators)
    parts: dict[str, list[pd.DataFrame]] = {"creators": [], "collaborations": []}
    for piece in pieces:
        parts["creators"].append(pipeline.transform_creators(piece))
        if with_collaborations and (len(piece.collaborations) or chunk_creators is None):
            parts["collaborations"].append(pipeline.transform_collaborations(piece))
    frames = {"creators": _concat(parts["creators"])}
    if with_collaborations:
        collaborations = (_concat(parts["collaborations"]) if parts["collaborations"]
                          else pipeline.transform_collaborations(ds))
        if len(parts["collaborations"]) > 1:  # back to the collaborations table's order
            collaborations = collaborations.reindex(pd.MultiIndex.from_arrays(
                [ds.collaborations["campaign_id"].to_numpy(dtype=object),
                 ds.collaborations["creator_id"].to_numpy(dtype=object)],
                names=["campaign_id", "creator_id"]))
        frames["collaborations"] = collaborations
    return frames


def in_order(function: Callable[[Item], Result], items: Iterable[Item],
             threads: int | None = None) -> Iterator[Result]:
    """`map(function, items)` with up to `threads` items worked on at once, each on a thread of
    its own, the results in the items' order. Items are taken from `items` (on the caller's
    thread) only as results are taken: at most `threads` items are held ahead of the
    consumer, so pieces read lazily stay `threads` pieces in memory. A function's exception
    is raised when its result is reached, after the items in flight finish. threads: None is
    PIECE_THREADS."""
    threads = PIECE_THREADS if threads is None else threads
    if threads <= 1:
        yield from map(function, items)
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="piece") as pool:
        running: collections.deque[Future] = collections.deque()
        for item in items:
            running.append(pool.submit(function, item))
            if len(running) >= threads:
                yield running.popleft().result()
        while running:
            yield running.popleft().result()


def fit_in_pieces(pipeline: FeaturePipeline, pieces: Callable[[], Iterable[Dataset]],
                  n_pieces: int) -> FeaturePipeline:
    """`pipeline.fit` on the dataset that `pieces()` makes up (consecutive pieces of creators,
    each with the rows about them, campaigns whole), to the last bit: one piece is fitted
    directly; more take two passes (their merged `fit_inputs`, then the niche centroids:
    `FeaturePipeline.fit_parts`), `PIECE_THREADS` pieces at a time (`in_order`: their results
    merged in the pieces' order), in memory of that many pieces and the merged inputs."""
    if n_pieces == 1:
        for piece in pieces():
            return pipeline.fit(piece)
    inputs = None
    for part in in_order(FeaturePipeline.fit_inputs, pieces()):
        inputs = part if inputs is None else inputs.merge(part)
    if inputs is None:
        raise ValueError("no piece to fit the feature pipeline on")
    return pipeline.fit_parts(inputs, pieces)


def transform_in_pieces(pipeline: FeaturePipeline, pieces: Iterable[Dataset],
                        planned: dict[str, pd.DataFrame],
                        helper: ThreadPoolExecutor | None = None) -> dict[str, pd.DataFrame]:
    """{"creators": `transform_creators`, then for each planned table its
    `transform_collaborations`} on the dataset the pieces make up, computed piece by piece
    (a creator's features read its own rows only: the values of the whole dataset's, rows in
    the order of its creators and of each planned table).

    planned: tables of (campaign_id, creator_id, compensation, cost), every creator in some
    piece (else ValueError naming the rows). Within a piece the audits of the creators'
    audiences are reused by the planned tables (`remembering_audiences`). helper: a thread
    that computes the last planned table while this one computes the others (both cores at
    work). Memory: one piece and the output rows."""
    names = list(planned)
    parts: dict[str, list[pd.DataFrame]] = {"creators": [], **{name: [] for name in names}}
    positions: dict[str, list[np.ndarray]] = {name: [] for name in names}
    placed = {name: np.zeros(len(table), dtype=bool) for name, table in planned.items()}
    for piece in pieces:
        creator_ids = pd.Index(as_str(piece.column("creators", "creator_id")))
        subsets = {}
        for name in names:
            table = planned[name]
            rows = np.flatnonzero(creator_ids.get_indexer(
                table["creator_id"].to_numpy(dtype=object)) >= 0)
            # (an empty table gets its empty frame from the first piece)
            if len(rows) or not (len(table) or parts[name]):
                placed[name][rows] = True
                positions[name].append(rows)
                subsets[name] = table.iloc[rows]
        with pipeline.remembering_audiences(piece):
            parts["creators"].append(pipeline.transform_creators(piece))
            aside = names[-1] if helper is not None and len(subsets) > 1 \
                and names[-1] in subsets else None
            jobs: dict[str, Future | pd.DataFrame] = {}
            if aside is not None:
                jobs[aside] = helper.submit(pipeline.transform_collaborations, piece,
                                            subsets[aside])
            for name, subset in subsets.items():
                if name != aside:
                    jobs[name] = pipeline.transform_collaborations(piece, subset)
            for name, job in jobs.items():
                parts[name].append(job.result() if isinstance(job, Future) else job)
    if not parts["creators"]:
        raise ValueError("no piece to compute features on")
    out = {"creators": _concat(parts["creators"])}
    for name in names:
        missing = np.flatnonzero(~placed[name])
        if len(missing):
            values = planned[name]["creator_id"].iloc[missing[:5]].tolist()
            raise ValueError(f"{name}.creator_id: rows {missing[:5].tolist()} refer to unknown "
                             f"creators ({values})")
        frame = _concat(parts[name])
        # Back to the table's order (within a piece its rows are in order already).
        out[name] = frame if len(parts[name]) == 1 else \
            frame.iloc[np.argsort(np.concatenate(positions[name]))]
    return out


def fit_and_build_in_chunks(chunked: ChunkedDataset, pipeline: FeaturePipeline
                            ) -> dict[str, pd.DataFrame]:
    """`pipeline` fitted on a dataset read in pieces of creators, then its feature frames:
    the values of `pipeline.fit(ds)` and `build_feature_frames(ds, pipeline)` on the whole
    dataset, in memory bounded by the dataset's id columns, the pieces at work
    (PIECE_THREADS, `in_order`) and the one validated ahead (ChunkedDataset.chunks), the fit's
    merged inputs (a few numbers per creator and the texts' distinct words: `fit_in_pieces`)
    and the output rows. Three passes over the pieces (one when the dataset is one piece),
    each piece validated once (the later passes read them back:
    ChunkedDataset.replayable_chunks): the niche model's vocabulary needs every text before
    its centroids, and the features need the fit. Raises ContractError (every problem) before
    any feature."""
    parts: dict[str, list[pd.DataFrame]] = {"creators": [], "collaborations": []}
    rows = []
    with chunked.replayable_chunks() as pieces:
        fit_in_pieces(pipeline, lambda: (chunk.dataset for chunk in pieces), chunked.n_chunks)

        def piece_frames(chunk) -> tuple[dict[str, pd.DataFrame], dict[str, np.ndarray]]:
            return build_feature_frames(chunk.dataset, pipeline), chunk.file_rows

        for frames, file_rows in in_order(piece_frames, pieces):
            parts["creators"].append(frames["creators"])
            if "collaborations" in frames:
                parts["collaborations"].append(frames["collaborations"])
                rows.append(file_rows["collaborations"])
    out = {"creators": _concat(parts["creators"])}
    if parts["collaborations"]:  # back to the collaborations file's order
        order = np.argsort(np.concatenate(rows), kind="stable")
        out["collaborations"] = _concat(parts["collaborations"]).iloc[order]
    return out


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return frames[0] if len(frames) == 1 else pd.concat(frames)


__all__ = ["PIECE_THREADS", "FeaturePipeline", "FitInputs", "build_feature_frames",
           "fit_and_build_in_chunks", "fit_in_pieces", "in_order", "transform_in_pieces"]
