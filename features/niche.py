"""Niche inference over the 14-niche taxonomy, from bio, captions and hashtags.

Two views of a creator's content are averaged:
- a seed lexicon (a few dozen words per niche, hashtags included since `#` is a separator):
  share of the creator's niche-vocabulary tokens falling in each niche; works on any text and
  needs no training;
- per-niche centroids of TF-IDF vectors of training creators whose niche is declared:
  squared cosine similarity to each centroid, normalised; learns the vocabulary actually used.
When a creator declares its niche, the distribution is half the declared niche and half the
content (so secondary niches still show). Without any known token the content view is NaN and
the distribution falls back to the declared niche alone (or NaN).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from data.contract import NICHES
from features.arrays import large_strings
from features.text import DocumentFrequencies, TextVectorizer, tokenize

DECLARED_NICHE_WEIGHT = 0.5
MIN_CREATORS_PER_CENTROID = 3

SEED_LEXICON: dict[str, tuple[str, ...]] = {
    "beauty": ("beauty", "makeup", "skincare", "lipstick", "mascara", "foundation", "serum",
               "glow", "cosmetics", "nails", "hair", "haircare", "skin", "beautytips",
               "makeuptutorial", "moisturizer", "eyeshadow", "contour", "perfume", "spf"),
    "fashion": ("fashion", "outfit", "ootd", "style", "dress", "streetwear", "wardrobe",
                "sneakers", "denim", "jacket", "runway", "vintage", "accessories", "shoes",
                "handbag", "fashionista", "lookbook", "trend", "clothing", "styling"),
    "fitness": ("fitness", "workout", "gym", "training", "hiit", "cardio", "strength",
                "muscle", "protein", "squat", "yoga", "pilates", "fitfam", "gains",
                "exercise", "bodybuilding", "crossfit", "fitnessmotivation", "abs", "reps"),
    "food": ("food", "recipe", "recipes", "cooking", "baking", "foodie", "dinner", "lunch",
             "breakfast", "vegan", "delicious", "chef", "kitchen", "dessert", "pasta",
             "restaurant", "yummy", "homemade", "cake", "brunch"),
    "travel": ("travel", "trip", "wanderlust", "vacation", "beach", "adventure", "explore",
               "hotel", "flight", "roadtrip", "backpacking", "travelgram", "destination",
               "island", "mountains", "passport", "tourism", "journey", "itinerary", "hiking"),
    "home": ("home", "interior", "decor", "homedecor", "interiordesign", "diy", "renovation",
             "furniture", "garden", "gardening", "cozy", "apartment", "livingroom", "bedroom",
             "organization", "cleaning", "plants", "design", "makeover", "kitchendesign"),
    "parenting": ("parenting", "mom", "dad", "baby", "kids", "toddler", "family", "momlife",
                  "dadlife", "pregnancy", "newborn", "motherhood", "children", "parent",
                  "breastfeeding", "school", "nursery", "mum", "fatherhood", "playtime"),
    "tech": ("tech", "technology", "gadget", "gadgets", "smartphone", "iphone", "android",
             "laptop", "unboxing", "review", "software", "coding", "ai", "apps", "setup",
             "headphones", "camera", "pc", "developer", "innovation"),
    "gaming": ("gaming", "gamer", "games", "game", "videogames", "esports", "twitch",
               "playstation", "xbox", "nintendo", "fortnite", "minecraft", "streamer",
               "gameplay", "console", "rpg", "fps", "speedrun", "controller", "gamingsetup"),
    "pets": ("pets", "pet", "dog", "dogs", "cat", "cats", "puppy", "kitten", "dogsofinstagram",
             "catsofinstagram", "petlover", "vet", "doglife", "adopt", "rescue", "paws",
             "petcare", "catlife", "pup", "furbaby"),
    "sports": ("sports", "football", "soccer", "basketball", "tennis", "running", "marathon",
               "cycling", "athlete", "match", "goal", "team", "league", "swimming", "golf",
               "rugby", "champion", "training", "race", "olympics"),
    "finance": ("finance", "money", "investing", "invest", "stocks", "crypto", "budget",
                "savings", "wealth", "personalfinance", "financialfreedom", "trading",
                "bitcoin", "retirement", "etf", "income", "debt", "passiveincome", "economy",
                "tax"),
    "lifestyle": ("lifestyle", "life", "dailylife", "vlog", "routine", "morning", "selfcare",
                  "wellness", "motivation", "inspiration", "happy", "weekend", "mindset",
                  "goodvibes", "love", "instadaily", "dayinmylife", "moments", "coffee",
                  "blessed"),
    "sustainability": ("sustainability", "sustainable", "ecofriendly", "zerowaste", "eco",
                       "recycling", "recycle", "climate", "green", "plasticfree", "upcycling",
                       "organic", "environment", "slowfashion", "secondhand", "compost",
                       "renewable", "ethical", "planet", "thrift"),
}
LEXICON_WORDS = tuple(sorted({w for words in SEED_LEXICON.values() for w in words}))


class NicheModel:
    """Text vectorizer + lexicon matrix + niche centroids, fitted on training creators."""

    def fit(self, creator_texts, declared_niche_code: np.ndarray) -> NicheModel:
        # Tokenised once for the vocabulary and the counts (tokenising is most of the fit).
        documents, tokens = tokenize(creator_texts)
        n_texts = len(large_strings(creator_texts))
        self.fit_vocabulary(DocumentFrequencies.of_tokens(documents, tokens, n_texts))
        self.add_member_counts(self.vectorizer_.counts_of_tokens(documents, tokens, n_texts),
                               declared_niche_code)
        return self.fit_centroids()

    # A fit in parts (a dataset read in pieces), in memory of one part: `fit_vocabulary` from
    # every part's document frequencies, merged; `add_members` of every part, in order; then
    # `fit_centroids`. The same fitted state as `fit` on the whole, to the last bit.
    def fit_vocabulary(self, frequencies: DocumentFrequencies) -> NicheModel:
        self.vectorizer_ = TextVectorizer(extra_vocabulary=LEXICON_WORDS).fit_frequencies(
            frequencies)
        vocabulary = {w: i for i, w in enumerate(self.vectorizer_.vocabulary_)}
        rows, cols = [], []
        for niche_code, niche in enumerate(NICHES):
            for word in SEED_LEXICON[niche]:
                rows.append(vocabulary[word])
                cols.append(niche_code)
        # A word listed under two niches counts for both (e.g. "training": fitness, sports).
        self.lexicon_matrix_ = sp.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(vocabulary), len(NICHES)))
        self._centroid_sums = np.zeros((len(NICHES), len(vocabulary)))
        self._members = np.zeros(len(NICHES), dtype="int64")
        return self

    def add_members(self, creator_texts, declared_niche_code: np.ndarray) -> NicheModel:
        """Add creators (after those added before) to the centroids of their declared niche."""
        return self.add_member_counts(self.vectorizer_.counts(creator_texts),
                                      declared_niche_code)

    def add_member_counts(self, counts: sp.csr_matrix, declared_niche_code: np.ndarray
                          ) -> NicheModel:
        """`add_members` from the texts' counts (`vectorizer_.counts`: computed apart, e.g. on
        another thread; added here in order)."""
        tfidf = self.vectorizer_.tfidf(counts)
        declared = np.asarray(declared_niche_code)
        niche = declared[np.repeat(np.arange(tfidf.shape[0]), np.diff(tfidf.indptr))]
        member = niche >= 0
        # np.add.at adds the entries one at a time, in row order: each centroid sum is the same
        # left fold over its creators whether they come in one part or many.
        np.add.at(self._centroid_sums, (niche[member], tfidf.indices[member]),
                  tfidf.data[member])
        self._members += np.bincount(declared[declared >= 0], minlength=len(NICHES))
        return self

    def fit_centroids(self) -> NicheModel:
        centroids = np.zeros((len(NICHES), self._centroid_sums.shape[1]))
        has_centroid = np.zeros(len(NICHES), dtype=bool)
        for niche_code in range(len(NICHES)):
            members = self._members[niche_code]
            if members >= MIN_CREATORS_PER_CENTROID:
                centroid = self._centroid_sums[niche_code] / members
                norm = np.linalg.norm(centroid)
                if norm > 0:
                    centroids[niche_code] = centroid / norm
                    has_centroid[niche_code] = True
        self.centroids_ = sp.csr_matrix(centroids)
        self.has_centroid_ = has_centroid
        del self._centroid_sums, self._members
        return self

    def content_distribution(self, counts: sp.csr_matrix, tfidf: sp.csr_matrix | None = None
                             ) -> tuple[np.ndarray, np.ndarray]:
        """(n x 14 niche distribution from content, number of known tokens per row).

        `counts` in canonical form (features.text.count_matrix); `tfidf` its TF-IDF when
        already computed. Sparse products: each row's values from its own entries, in order.
        """
        lexicon, centroids_t = self._dense_parameters()
        known_tokens = np.asarray(counts.sum(axis=1)).ravel()
        hits = np.asarray(counts @ lexicon)
        hit_total = hits.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            lexicon_view = np.where(hit_total > 0, hits / hit_total, np.nan)
        views = [lexicon_view]
        if self.has_centroid_.any():
            if tfidf is None:
                tfidf = self.vectorizer_.tfidf(counts)
            similarity = np.asarray(tfidf @ centroids_t)
            weight = np.clip(similarity, 0.0, None) ** 2
            total = weight.sum(axis=1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                views.append(np.where(total > 0, weight / total, np.nan))
        stacked = np.stack(views)
        available = ~np.isnan(stacked[:, :, 0])
        summed = np.nansum(stacked, axis=0)
        count = available.sum(axis=0)[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            distribution = np.where(count > 0, summed / count, np.nan)
        return distribution, known_tokens

    def _dense_parameters(self) -> tuple[np.ndarray, np.ndarray]:
        """(vocabulary x niche lexicon matrix, vocabulary x niche centroids) as dense arrays:
        a CSR matrix times a dense one is scipy's product row by row (each row's entries
        added in order: the same bits whatever rows come with it)."""
        cache = self.__dict__.get("_dense_cache")
        if cache is None:
            cache = (self.lexicon_matrix_.toarray(), self.centroids_.toarray().T.copy())
            self._dense_cache = cache
        return cache

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_dense_cache"}


def niche_distribution(content: np.ndarray, declared_code: np.ndarray) -> np.ndarray:
    """Blend the content distribution with the declared niche (one-hot) where there is one."""
    n = len(declared_code)
    declared = np.zeros((n, len(NICHES)))
    has_declared = declared_code >= 0
    declared[np.flatnonzero(has_declared), declared_code[has_declared]] = 1.0
    has_content = ~np.isnan(content[:, 0])
    blended = np.where(has_content[:, None],
                       DECLARED_NICHE_WEIGHT * declared + (1 - DECLARED_NICHE_WEIGHT) * content,
                       declared)
    out = np.where(has_declared[:, None], blended, content)
    out[~has_declared & ~has_content] = np.nan
    return out


def niche_features(content: np.ndarray, known_tokens: np.ndarray,
                   declared_code: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    distribution = niche_distribution(content, declared_code)
    out = {f"niche_share_{niche}": distribution[:, i] for i, niche in enumerate(NICHES)}
    has = ~np.isnan(distribution[:, 0])
    safe = np.where(has[:, None], distribution, 0.0)
    out["niche_top_share"] = np.where(has, safe.max(axis=1), np.nan)
    out["niche_concentration"] = np.where(has, (safe * safe).sum(axis=1), np.nan)
    out["niche_known_tokens"] = known_tokens.astype("float64")
    has_content = ~np.isnan(content[:, 0])
    content_top = np.argmax(np.where(has_content[:, None], content, -1.0), axis=1)
    out["niche_declared_agrees_with_content"] = np.where(
        has_content & (declared_code >= 0), (content_top == declared_code).astype("float64"),
        np.nan)
    return out, distribution
