"""features.text: document frequencies of parts of a corpus add up to the whole's; the niche
model fitted in parts is the model fitted whole."""
import numpy as np
import pytest

from data.contract import NICHES
from features.niche import NicheModel
from features.text import DocumentFrequencies, TextVectorizer

CORPUS = [
    "Gym day #fitness #gym with protein",
    "Pasta recipe, homemade pasta!",
    None,
    "gym again: squat and cardio",
    "Café crème et croissant #food",
    "new camera unboxing #tech review",
    "",
    "recipe: vegan cake #food #baking",
    "cardio cardio cardio",
    "unboxing another gadget #tech",
    "croissant again",
    "review of a laptop",
]


def parts(values: list, cuts: list[int]) -> list[list]:
    edges = [0, *cuts, len(values)]
    return [values[a:b] for a, b in zip(edges, edges[1:], strict=False)]


@pytest.mark.parametrize("cuts", [[1], [3, 4], [2, 5, 9], list(range(1, len(CORPUS)))])
def test_merged_part_frequencies_are_the_whole_corpus_frequencies(cuts):
    whole = DocumentFrequencies.of_texts(CORPUS)
    pieces = [DocumentFrequencies.of_texts(part) for part in parts(CORPUS, cuts)]
    merged = pieces[0]
    for piece in pieces[1:]:
        merged = merged.merge(piece)
    assert merged.words.to_pylist() == whole.words.to_pylist()  # first appearance order
    np.testing.assert_array_equal(merged.counts, whole.counts)
    assert merged.n_documents == whole.n_documents == len(CORPUS)
    assert dict(zip(whole.words.to_pylist(), whole.counts.tolist(), strict=True))["cardio"] == 2


def test_vectorizer_fitted_from_frequencies_is_the_vectorizer_fitted_on_texts():
    fitted = TextVectorizer(min_df=1).fit(CORPUS)
    merged = DocumentFrequencies.of_texts(CORPUS[:5]).merge(
        DocumentFrequencies.of_texts(CORPUS[5:]))
    again = TextVectorizer(min_df=1).fit_frequencies(merged)
    assert again.vocabulary_.tolist() == fitted.vocabulary_.tolist()
    np.testing.assert_array_equal(again.idf_, fitted.idf_)


@pytest.mark.parametrize("cuts", [[4], [1, 2, 3, 7], list(range(1, len(CORPUS)))])
def test_niche_model_fitted_in_parts_is_the_model_fitted_whole(cuts):
    texts = CORPUS * 3
    declared = np.array([NICHES.index(n) if n else -1 for n in
                         ["fitness", "food", None, "fitness", "food", "tech", None, "food",
                          "fitness", "tech", "food", "tech"] * 3])
    whole = NicheModel().fit(texts, declared)
    cuts = [cut * 3 for cut in cuts]
    frequencies = [DocumentFrequencies.of_texts(part) for part in parts(texts, cuts)]
    merged = frequencies[0]
    for piece in frequencies[1:]:
        merged = merged.merge(piece)
    in_parts = NicheModel().fit_vocabulary(merged)
    for part_texts, part_declared in zip(parts(texts, cuts), parts(list(declared), cuts),
                                         strict=True):
        in_parts.add_members(part_texts, np.array(part_declared))
    in_parts.fit_centroids()
    assert whole.has_centroid_.sum() == 3
    np.testing.assert_array_equal(in_parts.has_centroid_, whole.has_centroid_)
    np.testing.assert_array_equal(in_parts.centroids_.toarray(), whole.centroids_.toarray())
    assert in_parts.vectorizer_.vocabulary_.tolist() == whole.vectorizer_.vocabulary_.tolist()
