"""Campaign-pair features of a collaboration: fit with the campaign and the deal's terms."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from data.contract import COMPENSATIONS, NICHES
from features.arrays import as_days, as_float, as_str
from features.text import row_sums

NICHE_INDEX = pd.Index(NICHES)
COMPENSATION_CODES = {name: code for code, name in enumerate(COMPENSATIONS)}


def country_match(creator_country: np.ndarray, target_countries: np.ndarray) -> np.ndarray:
    """1 when the creator's country is among the `;`-separated targets, 0 if not, NaN if unknown."""
    targets = pa.array(target_countries, type=pa.large_string(), from_pandas=True)
    lists = pc.split_pattern(pc.utf8_upper(targets), ";")
    codes = pc.utf8_trim_whitespace(pc.list_flatten(lists)).to_numpy(zero_copy_only=False)
    rows = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype("int64")
    country = (pd.Series(creator_country, dtype="str").str.strip().str.upper()
               .to_numpy(dtype=object, na_value=""))
    hit = (codes == country[rows]) & (codes != "")
    n = len(creator_country)
    matched = np.bincount(rows[hit], minlength=n) > 0
    has_targets = np.bincount(rows[codes != ""], minlength=n) > 0
    known = has_targets & (country != "")
    return np.where(known, matched.astype("float64"), np.nan)


def repeat_partnerships(history: pd.DataFrame, creator_ids: np.ndarray, brands: np.ndarray,
                        start_days: np.ndarray) -> np.ndarray:
    """Earlier collaborations of the same creator with the same brand, started strictly before.

    `history` has columns creator_id, brand, start_day (all known collaborations).
    """
    if len(history) == 0:
        return np.zeros(len(creator_ids))
    keys = pd.MultiIndex.from_arrays([history["creator_id"].astype(object),
                                      history["brand"].astype(object)])
    unique_keys = keys.unique()
    history_key = unique_keys.get_indexer(keys)
    target_key = unique_keys.get_indexer(pd.MultiIndex.from_arrays(
        [np.asarray(creator_ids, dtype=object), np.asarray(brands, dtype=object)]))
    # Composite sort key: pair index, then start day (days since epoch stay far below 1e6).
    history_start = history["start_day"].to_numpy(dtype="float64")
    composite = np.sort(history_key * 1e6 + np.nan_to_num(history_start, nan=1e6 - 1))
    target = target_key * 1e6 + start_days
    counts = (np.searchsorted(composite, target, side="left")
              - np.searchsorted(composite, target_key * 1e6, side="left"))
    return np.where((target_key >= 0) & ~np.isnan(start_days), counts, 0).astype("float64")


def campaign_pair_features(collaborations: pd.DataFrame, campaigns: pd.DataFrame,
                           campaign_row: np.ndarray, distribution: np.ndarray,
                           content_tfidf: sp.csr_matrix,
                           brief_tfidf: sp.csr_matrix,
                           creator_country: np.ndarray, repeat: np.ndarray
                           ) -> dict[str, np.ndarray]:
    n = len(collaborations)
    niche_code = NICHE_INDEX.get_indexer(campaigns["niche"])[campaign_row]
    has_niche = niche_code >= 0
    has_distribution = ~np.isnan(distribution[:, 0])
    share = np.full(n, np.nan)
    rows = np.flatnonzero(has_niche & has_distribution)
    share[rows] = distribution[rows, niche_code[rows]]
    top = np.argmax(np.where(has_distribution[:, None], distribution, -1.0), axis=1)
    is_top = np.where(has_niche & has_distribution, (top == niche_code).astype("float64"),
                      np.nan)

    # Each pair's similarity from its own rows' entries (see features.text.count_matrix).
    brief_rows = brief_tfidf[campaign_row]
    products = content_tfidf.multiply(brief_rows).tocsr()
    similarity = row_sums(products.indptr, products.data)
    has_brief = np.diff(brief_rows.indptr) > 0
    has_content = np.diff(content_tfidf.indptr) > 0
    similarity = np.where(has_brief & has_content, similarity, np.nan)

    targets = as_str(campaigns["target_countries"])[campaign_row]
    price = as_float(campaigns["product_price"])[campaign_row]
    compensation = collaborations["compensation"].map(COMPENSATION_CODES)
    return {
        "campaign_niche_code": np.where(has_niche, niche_code, np.nan).astype("float64"),
        "campaign_niche_share": share,
        "campaign_niche_is_top": is_top,
        "brief_similarity": similarity,
        "country_match": country_match(creator_country, targets),
        "log_product_price": np.log1p(price),
        "compensation_code": compensation.to_numpy(dtype="float64", na_value=np.nan),
        "log_cost": np.log1p(as_float(collaborations["cost"])),
        "repeat_partnerships": repeat,
        "campaign_duration_days": (as_days(campaigns["end_date"])
                                   - as_days(campaigns["start_date"]))[campaign_row],
    }
