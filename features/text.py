"""Text representation of creators' content and campaign briefs.

Tokenising runs in Arrow compute kernels (no Python loop over words): lower-case, split on
whitespace, trim punctuation, `#`, `@` and common emoji from both ends of each token (so
`#FitLife!` and `fitlife` are the same token; a regex split would be 4x slower; texts without
non-ASCII characters take the equivalent, faster ASCII kernels), then tokens are
looked up in the fitted vocabulary. Counts are sparse matrices; TF-IDF
uses the smoothed idf of scikit-learn, log((1 + n) / (1 + df)) + 1, and l2-normalised rows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from features.arrays import large_strings, text_bytes

STOP_WORDS = frozenset("""
a about above after again all also am an and any are as at be because been before being
below between both but by can did do does doing down during each few for from further had has
have having he her here hers herself him himself his how i if in into is it its itself just
me more most my myself no nor not now of off on once only or other our ours ourselves out over
own same she should so some such than that the their theirs them themselves then there these
they this those through to too under until up very was we were what when where which while who
whom why will with you your yours yourself yourselves get got go going one new today day time
le la les de des du un une et en pour avec sur dans est pas que qui ce cette mon ma mes
""".split())
MIN_TOKEN_LENGTH = 2
TRIMMED_CHARACTERS = (
    "#@.,;:!?\"'`()[]{}<>*/\\|_-+=~^%&$€£…«»“”‘’•·"
    "❤♥♡✨⭐🔥💪🙌👏😍🥰😂🤣😊🙏💯👌👍🎉🌟💖💕💙💚💛💜🖤🤍"
)


# Mixed ASCII / Unicode text up to this many bytes is tokenised by the Unicode kernels whole.
SMALL_MIXED_BYTES = 20_000


def tokenize(texts) -> tuple[np.ndarray, pa.Array]:
    """(document index, token) for every token of every text; missing texts have no tokens.

    Empty tokens (punctuation-only words, trailing separators; the ASCII and Unicode kernels
    do not agree on how many) can appear: they never match a vocabulary word."""
    array = large_strings(texts)
    unicode_rows = _rows_needing_unicode(array)
    if len(unicode_rows) == 0:
        return _tokenize_ascii(array)
    if len(unicode_rows) == len(array) or text_bytes(array) <= SMALL_MIXED_BYTES:
        # A little mixed text (one creator's): the Unicode kernels on every row cost less than
        # splitting the rows, two tokenisations and putting the tokens back in order.
        return _tokenize_unicode(array)
    ascii_rows = np.setdiff1d(np.arange(len(array)), unicode_rows)
    ascii_documents, ascii_tokens = _tokenize_ascii(array.take(pa.array(ascii_rows)))
    unicode_documents, unicode_tokens = _tokenize_unicode(array.take(pa.array(unicode_rows)))
    documents = np.concatenate((ascii_rows[ascii_documents], unicode_rows[unicode_documents]))
    tokens = pa.concat_arrays([ascii_tokens, unicode_tokens])
    # Back to document order: the vocabulary breaks frequency ties by first appearance.
    order = np.argsort(documents, kind="stable")
    return documents[order], tokens.take(pa.array(order))


def _tokenize_unicode(array: pa.Array) -> tuple[np.ndarray, pa.Array]:
    lists = pc.utf8_split_whitespace(pc.utf8_lower(array))
    return _trimmed_tokens(lists)


def _tokenize_ascii(array: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Same tokens as `_tokenize_unicode` for texts of ASCII characters other than 0x1c-0x1f
    (the only ASCII characters Unicode calls whitespace and ASCII does not); the ASCII
    kernels are 2-10x faster."""
    lists = pc.ascii_split_whitespace(pc.ascii_lower(array))
    return _trimmed_tokens(lists)


def _trimmed_tokens(lists: pa.Array) -> tuple[np.ndarray, pa.Array]:
    tokens = pc.utf8_trim(pc.list_flatten(lists), characters=TRIMMED_CHARACTERS)
    documents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    return documents.astype("int64"), tokens


def _rows_needing_unicode(array: pa.Array) -> np.ndarray:
    """Rows holding a non-ASCII byte or one of the separators 0x1c-0x1f, from the raw bytes."""
    buffers = array.buffers()
    if len(array) == 0 or buffers[2] is None:
        return np.zeros(0, dtype="int64")
    offsets = np.frombuffer(buffers[1], dtype="int64")[array.offset:array.offset + len(array) + 1]
    raw = np.frombuffer(buffers[2], dtype="uint8")[offsets[0]:offsets[-1]]
    special = (raw >= 0x80) | ((raw - np.uint8(0x1C)) < 4)
    positions = np.flatnonzero(special) + offsets[0]
    if len(positions) == 0:
        return np.zeros(0, dtype="int64")
    rows = np.searchsorted(offsets, positions, side="right") - 1
    return np.unique(rows)


class TextVectorizer:
    """Vocabulary and idf fitted on training documents; counts and TF-IDF for new ones."""

    def __init__(self, min_df: int = 2, max_features: int = 30_000,
                 extra_vocabulary: tuple[str, ...] = ()):
        self.min_df = min_df
        self.max_features = max_features
        self.extra_vocabulary = extra_vocabulary

    def fit(self, texts) -> TextVectorizer:
        return self.fit_tokens(*tokenize(texts), len(large_strings(texts)))

    def fit_tokens(self, documents: np.ndarray, tokens: pa.Array, n_documents: int
                   ) -> TextVectorizer:
        """`fit` from the texts' `tokenize` output (tokenising is most of the cost: a caller
        that also needs the texts' counts, `counts_of_tokens`, tokenises once)."""
        return self.fit_frequencies(DocumentFrequencies.of_tokens(documents, tokens,
                                                                  n_documents))

    def fit_frequencies(self, frequencies: DocumentFrequencies) -> TextVectorizer:
        """`fit` from the document frequencies of the texts (those of parts of a corpus,
        merged, fit what the whole corpus fits)."""
        document_frequency = frequencies.counts
        frequent = np.flatnonzero(document_frequency >= self.min_df)
        # Ties keep the order of first appearance.
        frequent = frequent[np.argsort(-document_frequency[frequent], kind="stable")]
        frequent = frequent[: self.max_features]
        vocabulary = frequencies.words.take(pa.array(frequent, type=pa.int64())).to_pylist()
        frequency = list(document_frequency[frequent])
        known = set(vocabulary)
        for word in self.extra_vocabulary:
            if word not in known:
                known.add(word)
                vocabulary.append(word)
                frequency.append(0)
        self.vocabulary_ = np.asarray(vocabulary, dtype=object)
        self.vocabulary_array_ = pa.array(list(self.vocabulary_), type=pa.large_string())
        n_documents = frequencies.n_documents
        self.idf_ = (np.log((1.0 + n_documents) / (1.0 + np.asarray(frequency, dtype="float64")))
                     + 1.0)
        self.n_documents_ = n_documents
        return self

    @staticmethod
    def _usable(tokens: pa.Array) -> np.ndarray:
        long_enough = pc.greater_equal(pc.utf8_length(tokens), MIN_TOKEN_LENGTH)
        stop = pc.is_in(tokens, value_set=pa.array(sorted(STOP_WORDS), type=pa.large_string()))
        numeric = pc.utf8_is_numeric(tokens)
        usable = pc.and_(long_enough, pc.invert(pc.or_(stop, numeric)))
        return usable.to_numpy(zero_copy_only=False)

    def token_ids(self, texts) -> tuple[np.ndarray, np.ndarray]:
        """(document index, vocabulary id) of every known token, in document order."""
        return self.ids_of_tokens(*tokenize(texts))

    def ids_of_tokens(self, documents: np.ndarray, tokens: pa.Array
                      ) -> tuple[np.ndarray, np.ndarray]:
        """`token_ids` from the texts' `tokenize` output."""
        ids = pc.index_in(tokens, value_set=self.vocabulary_array_)
        known = pc.is_valid(ids).to_numpy(zero_copy_only=False)
        ids = ids.fill_null(0).to_numpy(zero_copy_only=False).astype("int64")
        return documents[known], ids[known]

    def counts(self, texts) -> sp.csr_matrix:
        """Token counts (documents x vocabulary); unknown words are ignored."""
        return self.counts_of_tokens(*tokenize(texts), len(large_strings(texts)))

    def counts_of_tokens(self, documents: np.ndarray, tokens: pa.Array, n_documents: int
                         ) -> sp.csr_matrix:
        """`counts` from the texts' `tokenize` output."""
        documents, ids = self.ids_of_tokens(documents, tokens)
        return count_matrix(documents, ids, n_documents, len(self.vocabulary_))

    def tfidf(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """l2-normalised TF-IDF rows from a counts matrix in canonical form (`count_matrix`).

        Computed on the matrix's entries, row by row: a row's values depend on that row alone
        (its entries in column order), never on the rows computed with it, so a creator scored
        alone and in any batch or piece gets the same bits (training on a dataset read in
        pieces equals training on it whole)."""
        weighted = counts.data * self.idf_[counts.indices]
        norms = np.sqrt(row_sums(counts.indptr, weighted * weighted))
        scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        per_entry = np.repeat(scale, np.diff(counts.indptr))
        return sp.csr_matrix((weighted * per_entry, counts.indices, counts.indptr),
                             shape=counts.shape)


@dataclass(frozen=True)
class DocumentFrequencies:
    """In how many documents each usable word occurs, over `n_documents` documents: what a
    vocabulary is fitted from. `words` (Arrow text, distinct) in order of first appearance,
    `counts` aligned. Integers: the frequencies of consecutive parts of a corpus, merged in
    order, are exactly those of the whole (words in the same order), in memory of the
    distinct words, not of the texts."""

    words: pa.Array
    counts: np.ndarray
    n_documents: int

    @classmethod
    def of_tokens(cls, documents: np.ndarray, tokens: pa.Array, n_documents: int
                  ) -> DocumentFrequencies:
        """Of texts' `tokenize` output."""
        keep = TextVectorizer._usable(tokens)
        documents, tokens = documents[keep], tokens.filter(pa.array(keep))
        encoded = pc.dictionary_encode(tokens)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype("int64")
        words = encoded.dictionary.cast(pa.large_string())
        return cls(words, _document_frequency(documents, codes, len(words), n_documents),
                   n_documents)

    @classmethod
    def of_texts(cls, texts) -> DocumentFrequencies:
        return cls.of_tokens(*tokenize(texts), len(large_strings(texts)))

    def merge(self, later: DocumentFrequencies) -> DocumentFrequencies:
        """These and those of the documents after these (`later`)."""
        at = pc.index_in(later.words, value_set=self.words)
        known = at.is_valid().to_numpy(zero_copy_only=False)
        at = at.fill_null(0).to_numpy(zero_copy_only=False).astype("int64")
        counts = np.concatenate((self.counts, later.counts[~known]))
        counts[at[known]] += later.counts[known]
        words = pa.concat_arrays([self.words, later.words.filter(pa.array(~known))])
        return DocumentFrequencies(words, counts, self.n_documents + later.n_documents)


def _document_frequency(documents: np.ndarray, codes: np.ndarray, n_codes: int,
                        n_documents: int) -> np.ndarray:
    """Number of documents each code occurs in. The distinct (document, code) pairs are the
    entries of a documents x codes sparse matrix (building it sums duplicates, sorting each
    document's few codes: ~5x faster than one sort of every pair)."""
    pairs = sp.csr_matrix((np.ones(len(codes), dtype="int32"), (documents, codes)),
                          shape=(n_documents, n_codes))
    pairs.sum_duplicates()
    return np.bincount(pairs.indices, minlength=n_codes)


def count_matrix(rows: np.ndarray, ids: np.ndarray, n_rows: int, n_words: int) -> sp.csr_matrix:
    """rows x vocabulary counts of (row, word id) occurrences, in canonical form (each row's
    word ids sorted, once each). The text features read each row's entries in that order
    (`TextVectorizer.tfidf`, sparse products), so a row's values depend on its own words only:
    a dense matrix's products (BLAS) would add in an order that changes with the number of
    rows, by a last bit that a tree model can turn into another split."""
    matrix = sp.csr_matrix((np.ones(len(ids)), (rows, ids)), shape=(n_rows, n_words))
    matrix.sum_duplicates()
    return matrix


def row_sums(indptr: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per row of a CSR matrix, the sum of `values` (one per entry) over its entries, in
    entry order: each row's sum from its own entries alone (np.add.reduceat on its
    segment); 0 for a row without entries."""
    out = np.zeros(len(indptr) - 1)
    filled = np.flatnonzero(np.diff(indptr))
    if len(filled):
        out[filled] = np.add.reduceat(values, indptr[filled])
    return out
