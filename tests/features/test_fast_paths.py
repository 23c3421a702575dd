"""The fast paths (ASCII kernels, small-input lookups, dense text matrices, shared sorts) give
the same values as the general ones they stand in for."""
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import features.arrays as arrays
import features.authenticity as authenticity
import features.text as text
from features import FeaturePipeline
from features.arrays import GroupSortedValues, group_median, index_of
from features.authenticity import NOT_LETTER_DIGIT_SPACE, normalise_comment_text
from models.follower_account import RuleBasedFollowerScorer, ascii_digit_count

TEXTS = ["Hello World #FitLife!", None, "Café au lait ❤️ #Paris", "", "a\x1cb  C",
         "ÉTÉ\u00a0chaud", "İstanbul ßig ǅ", "Wow\t\tAMAZING...", "love\x0bthis 🔥",
         "x  y z"] + [f"a{chr(c)}b {chr(c)}" for c in range(128)]


def test_tokenize_ascii_path_matches_unicode_kernels():
    array = pa.array(TEXTS, type=pa.large_string())
    for sample in (array, array.slice(2, 5), array.slice(0, 1)):
        # Only the number of empty tokens may differ; they never match the vocabulary.
        got = [(d, t) for d, t in zip(*_as_lists(text.tokenize(sample)), strict=True) if t]
        expected = [(d, t) for d, t in zip(*_as_lists(text._tokenize_unicode(sample)),
                                           strict=True) if t]
        assert got == expected and len(got) > 0


def _as_lists(documents_tokens):
    documents, tokens = documents_tokens
    return documents.tolist(), tokens.to_pylist()


def test_comment_normalisation_matches_the_unicode_regex():
    array = pa.array(TEXTS + [chr(c) + "x" for c in range(0x80, 0x3000, 3)],
                     type=pa.large_string())
    lowered = pc.replace_substring_regex(pc.utf8_lower(array), NOT_LETTER_DIGIT_SPACE, "")
    expected = pc.utf8_trim_whitespace(pc.replace_substring_regex(lowered, r"\s+", " "))
    assert normalise_comment_text(array).to_pylist() == expected.to_pylist()
    assert normalise_comment_text(array.slice(0, 1)).to_pylist() == ["hello world fitlife"]


def test_comment_normalisation_small_and_kernel_paths_agree(monkeypatch):
    # One creator's comments are normalised in Python, a batch's with Arrow's kernels.
    # Distinct texts (as comment_features gives them: no missing one).
    array = pa.array([t for t in TEXTS if t is not None]
                     + [chr(c) + "x " + chr(c + 1) for c in range(0x80, 0x3000, 5)]
                     + ["Nice!!", "nice", "🔥🔥", " 🔥🔥 ", "KELVIN \u212a", "love it ❤️"],
                     type=pa.large_string())
    monkeypatch.setattr(authenticity, "PYTHON_TEXT_BYTES", 10 ** 9)
    small_text = normalise_comment_text(array).to_pylist()
    small_generic, small_keys = authenticity._generic_and_duplicate_keys(array)
    monkeypatch.setattr(authenticity, "PYTHON_TEXT_BYTES", 0)
    assert normalise_comment_text(array).to_pylist() == small_text
    generic, keys = authenticity._generic_and_duplicate_keys(array)
    assert generic.tolist() == small_generic.tolist() and generic.any()
    # Equal keys in one path are equal keys in the other (codes may be numbered differently).
    assert pd.factorize(keys)[0].tolist() == pd.factorize(small_keys)[0].tolist()
    assert len(set(keys.tolist())) < len(keys)


def test_small_mixed_text_tokenised_whole_by_the_unicode_kernels(monkeypatch):
    array = pa.array(TEXTS, type=pa.large_string())
    vectorizer = text.TextVectorizer(min_df=1).fit(array)
    small = [a.tolist() for a in vectorizer.token_ids(array)]
    monkeypatch.setattr(text, "SMALL_MIXED_BYTES", 0)
    assert [a.tolist() for a in vectorizer.token_ids(array)] == small and len(small[0]) > 0


def test_digit_count_matches_pandas_regex_count():
    names = pd.Series(["ab12", None, "é9x٣", "", "0000", "user_2024"], dtype="str")
    expected = names.str.count(r"\d").to_numpy(dtype="float64", na_value=np.nan)
    np.testing.assert_array_equal(ascii_digit_count(names), expected)
    np.testing.assert_array_equal(ascii_digit_count(names.iloc[2:]), expected[2:])


def test_index_of_small_and_arrow_paths_agree(monkeypatch):
    values = pd.Series(["a", None, "c", "zz", "b"], dtype="str")
    universe = ["b", "a", "a", "c"]
    small = index_of(values, universe)
    monkeypatch.setattr(arrays, "SMALL_LOOKUP", 0)
    assert small.tolist() == index_of(values, universe).tolist() == [1, -1, 3, -1, 0]


def test_medians_of_subsets_from_one_sort():
    rng = np.random.default_rng(0)
    codes = np.sort(rng.integers(0, 50, 2_000))
    values = np.where(rng.random(2_000) < 0.1, np.nan, rng.normal(size=2_000))
    subset = rng.random(2_000) < 0.4
    sorted_values = GroupSortedValues(codes, values, 60)
    np.testing.assert_array_equal(sorted_values.median(), group_median(codes, values, 60))
    np.testing.assert_array_equal(sorted_values.median(subset),
                                  group_median(codes, np.where(subset, values, np.nan), 60))


@pytest.mark.parametrize("piece", [1, 7])
def test_a_rows_text_features_do_not_depend_on_the_rows_beside_it(piece):
    """The text features (TF-IDF, niche similarities, brief similarity) and the commenters'
    concentration add each row's own terms in a fixed order: the same bits for a creator (or
    collaboration) computed alone, in a piece or in the whole dataset. A last-bit difference
    can move a tree model's split, so a model trained on pieces would differ."""
    from tests.features.test_pipeline import _campaign_world
    ds = _campaign_world()
    pipeline = FeaturePipeline(follower_scorer=RuleBasedFollowerScorer()).fit(ds)
    creators = pipeline.transform_creators(ds)
    collaborations = pipeline.transform_collaborations(ds)
    pieces = list(ds.creator_chunks(piece))
    pd.testing.assert_frame_equal(
        pd.concat([pipeline.transform_creators(p) for p in pieces]), creators, check_exact=True)
    in_pieces = pd.concat([pipeline.transform_collaborations(p) for p in pieces
                           if len(p.collaborations)]).reindex(collaborations.index)
    pd.testing.assert_frame_equal(in_pieces, collaborations, check_exact=True)
    assert (creators.filter(like="niche_share").notna().any(axis=1)).all()
    assert collaborations["brief_similarity"].gt(0).any()


def test_tfidf_rows_are_l2_normalised_and_row_sums_skip_empty_rows():
    vectorizer = text.TextVectorizer().fit(
        pa.array(["alpha beta beta", "gamma alpha", "gamma beta"]))
    counts = vectorizer.counts(pa.array(["beta beta alpha", "", "gamma"]))
    tfidf = vectorizer.tfidf(counts)
    norms = np.sqrt(np.asarray(tfidf.multiply(tfidf).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(text.row_sums(counts.indptr, counts.data), [3.0, 0.0, 1.0])


@pytest.mark.parametrize("n_groups", [1, 7, 5_000, 40_000])
def test_group_order_radix_path_is_the_order_of_the_int64_keys(n_groups):
    """Group codes that fit int16 are ordered by a stable radix sort of the rows in value
    order; it must be the order of the unique keys group * n + rank, ties of values (and NaN)
    included, since group ranks (posting gaps, growth steps) read the order."""
    rng = np.random.default_rng(n_groups)
    n = 20_000
    codes = rng.integers(0, n_groups, n)
    values = rng.integers(0, 50, n).astype("float64")  # many ties
    values[rng.random(n) < 0.05] = np.nan
    by_value = np.argsort(values, kind="stable")
    rank = np.empty(n, dtype="int64")
    rank[by_value] = np.arange(n)
    expected = np.argsort(codes * n + rank)
    assert np.array_equal(arrays.group_order(codes, values), expected)
    assert np.array_equal(arrays.group_order(codes[:0], values[:0]), expected[:0])
    # Ties in row order: a group's order is that of its own rows, whatever rows are beside.
    assert np.array_equal(expected, np.lexsort((np.arange(n), values, codes)))
    first = codes == codes[0]
    alone = arrays.group_order(np.zeros(first.sum(), dtype=np.int64), values[first])
    assert np.array_equal(np.flatnonzero(first)[alone], expected[codes[expected] == codes[0]])
