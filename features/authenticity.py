"""Authenticity signals: follower growth anomalies, comment patterns and account facts.

Bought followers arrive in bursts that engagement does not follow; genuine viral growth is
followed by more engagement. Both show up as a growth step, so the step and the engagement
after it are reported side by side for the risk model (and a human) to weigh.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data.dataset import Dataset
from features.arrays import (
    as_days,
    as_float,
    as_str,
    group_count,
    group_median,
    group_rank,
    group_sum,
    large_strings,
    safe_divide,
    text_bytes,
)
from features.entities import Entities

MAD_TO_SIGMA = 1.4826
# Floor on the robust scale of period growth (0.1 percentage point per snapshot interval):
# perfectly steady series have a MAD near 0, which would make any wobble look anomalous.
GROWTH_SCALE_FLOOR = 0.001
ANOMALY_Z = 3.5  # Iglewicz & Hoaglin's cut-off for the modified z-score
STEP_WINDOW_DAYS = 28.0
TOP_COMMENTERS = 10

# Comments that say nothing about the post: what pods and bots leave (compared after
# lower-casing and stripping punctuation and emoji).
GENERIC_COMMENTS = frozenset({
    "nice", "nice pic", "nice post", "nice one", "nice shot", "nice photo", "love it",
    "love this", "loved it", "i love it", "great", "great post", "great pic", "great content",
    "great shot", "amazing", "awesome", "wow", "so cool", "cool", "beautiful", "gorgeous",
    "so good", "perfect", "love your content", "love your feed", "omg", "yes", "super",
    "top", "bravo", "magnifique", "trop beau", "jadore", "stunning", "fire", "lit", "goals",
    "so pretty", "pretty", "cute", "so cute", "lovely", "incredible", "wonderful",
    "keep it up", "keep going", "follow me", "follow back", "check my page", "check dm",
    "dm me", "dm us", "good job", "great job", "well done", "this is great", "so nice",
    "very nice", "looks great", "looking good", "awesome post", "amazing post", "love",
    "wow amazing", "nice content", "nice video", "great video", "cool post",
})


MIN_STEP_FOR_FOLLOW_THROUGH = 0.05  # relative follower growth of the largest step

def growth_features(ent: Entities) -> dict[str, np.ndarray]:
    n = ent.n
    codes, day, followers = ent.history_entity, ent.history_day, ent.history_followers
    snapshots = group_count(codes, n)
    has_history = (snapshots >= 2).astype("float64")
    out = {"has_follower_history": has_history, "follower_history_snapshots": snapshots}
    names = ("follower_growth_per_30_days", "follower_growth_max_robust_z",
             "follower_growth_anomalies", "largest_step_relative_growth",
             "largest_step_days_before_as_of", "largest_step_engagement_ratio",
             "largest_step_engagement_follow_through")
    for name in names:
        out[name] = np.full(n, np.nan)
    if len(codes) < 2:
        return out

    same = codes[1:] == codes[:-1]
    period_entity = codes[1:][same]
    growth = safe_divide(followers[1:] - followers[:-1], followers[:-1])[same]
    step_day = day[1:][same]
    previous_day = day[:-1][same]

    first = np.r_[True, ~same]
    last = np.r_[~same, True]
    first_followers = np.full(n, np.nan)
    first_followers[codes[first]] = followers[first]
    first_day = np.full(n, np.nan)
    first_day[codes[first]] = day[first]
    last_followers = np.full(n, np.nan)
    last_followers[codes[last]] = followers[last]
    last_day = np.full(n, np.nan)
    last_day[codes[last]] = day[last]
    span = last_day - first_day
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where((first_followers > 0) & (span > 0), last_followers / first_followers,
                         np.nan)
        out["follower_growth_per_30_days"] = ratio ** (30.0 / span) - 1.0

    center = group_median(period_entity, growth, n)
    deviation = np.abs(growth - center[period_entity])
    scale = np.fmax(MAD_TO_SIGMA * group_median(period_entity, deviation, n), GROWTH_SCALE_FLOOR)
    z = (growth - center[period_entity]) / scale[period_entity]
    has_periods = group_count(period_entity, n) > 0
    finite = np.isfinite(z)
    out["follower_growth_anomalies"] = np.where(
        has_periods, group_count(period_entity, n, finite & (z > ANOMALY_Z)), np.nan)

    # The largest step: the period with the highest relative growth.
    key = np.where(np.isfinite(growth), growth, -np.inf)
    rank, size = group_rank(period_entity, key)
    top = rank == size - 1
    top_entity = period_entity[top]
    out["follower_growth_max_robust_z"][top_entity] = np.where(finite[top], z[top], np.nan)
    out["largest_step_relative_growth"][top_entity] = growth[top]
    out["largest_step_days_before_as_of"][top_entity] = (
        ent.reference_day[top_entity] - step_day[top])

    step_at = np.full(n, np.nan)
    step_at[top_entity] = step_day[top]
    step_from = np.full(n, np.nan)
    step_from[top_entity] = previous_day[top]
    post_codes = ent.post_entity
    engagements = ent.likes + ent.comments
    after = ((ent.post_day >= step_at[post_codes])
             & (ent.post_day < step_at[post_codes] + STEP_WINDOW_DAYS))
    before = ((ent.post_day < step_from[post_codes])
              & (ent.post_day >= step_from[post_codes] - STEP_WINDOW_DAYS))
    per_post_after = safe_divide(group_sum(post_codes, np.where(after, engagements, np.nan), n),
                                 group_count(post_codes, n, after))
    per_post_before = safe_divide(group_sum(post_codes, np.where(before, engagements, np.nan), n),
                                  group_count(post_codes, n, before))
    engagement_ratio = safe_divide(per_post_after, per_post_before)
    out["largest_step_engagement_ratio"] = engagement_ratio
    step_growth = out["largest_step_relative_growth"]
    with np.errstate(divide="ignore", invalid="ignore"):
        follow_through = np.log(engagement_ratio) / np.log1p(step_growth)
    # An elasticity over a tiny jump is noise divided by almost nothing: only a real step
    # (MIN_STEP_FOR_FOLLOW_THROUGH) says whether engagement followed it.
    out["largest_step_engagement_follow_through"] = np.where(
        (step_growth >= MIN_STEP_FOR_FOLLOW_THROUGH) & (engagement_ratio > 0), follow_through,
        np.nan)
    return out


def normalise_comment_text(text) -> pa.Array:
    """Lower-cased text with punctuation, symbols and emoji removed, whitespace collapsed."""
    array = large_strings(text)
    small = _normalised_small(array)
    if small is not None:
        return pa.array(small, type=pa.large_string())
    is_ascii = pc.string_is_ascii(array).fill_null(True).to_numpy(zero_copy_only=False)
    if is_ascii.all():
        return _normalise(array, ASCII_NOT_LETTER_DIGIT_SPACE)
    if not is_ascii.any():
        return _normalise(array, NOT_LETTER_DIGIT_SPACE)
    ascii_rows, other_rows = np.flatnonzero(is_ascii), np.flatnonzero(~is_ascii)
    parts = pa.concat_arrays([
        _normalise(array.take(pa.array(ascii_rows)), ASCII_NOT_LETTER_DIGIT_SPACE),
        _normalise(array.take(pa.array(other_rows)), NOT_LETTER_DIGIT_SPACE)])
    back = np.empty(len(array), dtype="int64")
    back[np.concatenate((ascii_rows, other_rows))] = np.arange(len(array))
    return parts.take(pa.array(back))


# RE2 (Arrow's regex engine): \s is ASCII whitespace [\t\n\f\r ], so on ASCII text the
# Unicode class equals the ASCII one, which compiles in microseconds instead of ~2.5 ms.
NOT_LETTER_DIGIT_SPACE = r"[^\p{L}\p{N}\s]+"
ASCII_NOT_LETTER_DIGIT_SPACE = r"[^A-Za-z0-9\t\n\f\r ]+"


# Characters the Unicode class keeps (True) or removes (False), learnt from the regex itself.
_KEPT_CHARACTERS: dict[str, bool] = {}
# Up to this many characters, Unicode text is filtered in Python with _KEPT_CHARACTERS.
SMALL_TEXT_CHARACTERS = 20_000
# Up to this many bytes (one creator's comments: ~1.5 kB for 80), comments are normalised in
# Python (`_normalised_small`); beyond, Arrow's kernels cost less (a batch's ~15 kB: ~1 ms
# more in Python).
PYTHON_TEXT_BYTES = 4_000


def _normalise(array: pa.Array, removed: str) -> pa.Array:
    lowered = pc.utf8_lower(array)
    if removed == NOT_LETTER_DIGIT_SPACE and _byte_length(lowered) <= SMALL_TEXT_CHARACTERS:
        letters = _remove_characters(lowered)
    else:
        letters = pc.replace_substring_regex(lowered, removed, "")
    collapsed = pc.replace_substring_regex(letters, r"\s+", " ")
    return pc.utf8_trim_whitespace(collapsed)


def _byte_length(array: pa.Array) -> int:
    return int(pc.sum(pc.binary_length(array)).as_py() or 0)


def _remove_characters(array: pa.Array) -> pa.Array:
    """Same as removing NOT_LETTER_DIGIT_SPACE with the regex, without compiling it (~2.5 ms
    per call for the Unicode classes): each unseen character is classed once by the regex."""
    texts = array.to_pylist()
    _learn_characters(texts)
    kept = _KEPT_CHARACTERS
    return pa.array([None if text is None else "".join(c for c in text if kept[c])
                     for text in texts], type=pa.large_string())


def _learn_characters(texts: list) -> None:
    """Class every character of `texts` not seen before with the Unicode regex (kept or not)."""
    unseen = {c for text in texts if text for c in text} - _KEPT_CHARACTERS.keys()
    if unseen:
        unseen = sorted(unseen)
        classed = pc.replace_substring_regex(pa.array(unseen, type=pa.large_string()),
                                             NOT_LETTER_DIGIT_SPACE, "")
        _KEPT_CHARACTERS.update(zip(unseen, pc.not_equal(classed, "").to_pylist(), strict=True))


# The small path's regexes in Python: the same ASCII class (Python and RE2 agree on it), and
# RE2's \s spelled out (Python's \s also matches \v and Unicode spaces).
_ASCII_REMOVED = re.compile(ASCII_NOT_LETTER_DIGIT_SPACE)
_WHITESPACE_RUN = re.compile(r"[\t\n\f\r ]+")


def _normalised_small(array: pa.Array) -> list | None:
    """`normalise_comment_text` as a list, computed in Python for texts of at most
    PYTHON_TEXT_BYTES bytes (None beyond): Arrow's regex kernels compile their pattern
    on every call (~0.1 ms each, several per request), more than one creator's comments cost.
    Same text: Arrow lowers it; ASCII text loses what the ASCII class removes, other text the
    characters the Unicode regex removes (`_learn_characters`); whitespace runs become one
    space and the ends are trimmed (only spaces remain by then, so trimming them is
    utf8_trim_whitespace)."""
    if text_bytes(array) > PYTHON_TEXT_BYTES:
        return None
    texts = pc.utf8_lower(array).to_pylist()
    wide = [text for text in texts if text is not None and not text.isascii()]
    if wide:
        _learn_characters(wide)
    kept = _KEPT_CHARACTERS
    out = []
    for text in texts:
        if text is None:
            out.append(None)
            continue
        letters = (_ASCII_REMOVED.sub("", text) if text.isascii()
                   else "".join(c for c in text if kept[c]))
        out.append(_WHITESPACE_RUN.sub(" ", letters).strip(" "))
    return out


def _distinct_texts(text) -> tuple[pa.Array, np.ndarray]:
    """(distinct texts, code of each row into them, -1 for missing). Comments repeat a lot
    (bots, pods, "nice!"), so the string work runs once per distinct text."""
    encoded = pc.dictionary_encode(large_strings(text))
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype("int64")
    return encoded.dictionary, codes


def _generic_and_duplicate_keys(distinct: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct comment text: is it generic (or empty once normalised), and a code equal
    for texts that count as duplicates (the same normalised text; emoji-only comments compared
    on their raw text, lower-cased and trimmed)."""
    small = _normalised_small(distinct)
    if small is not None:  # one creator's comments: Python sets and dicts, no kernel calls
        generic = np.fromiter((text == "" or text in GENERIC_COMMENTS for text in small),
                              dtype=bool, count=len(small))
        empty = [position for position, text in enumerate(small) if text == ""]
        keys = list(small)
        if empty:
            raw = pc.utf8_trim_whitespace(pc.utf8_lower(distinct.take(pa.array(empty))))
            for position, text in zip(empty, raw.to_pylist(), strict=True):
                keys[position] = text
        return generic, _first_seen_codes(keys)
    normalised = normalise_comment_text(distinct)
    is_empty = pc.equal(normalised, "").to_numpy(zero_copy_only=False)
    generic_set = pa.array(sorted(GENERIC_COMMENTS), type=pa.large_string())
    is_generic = pc.is_in(normalised, value_set=generic_set).to_numpy(zero_copy_only=False)
    raw = pc.utf8_trim_whitespace(pc.utf8_lower(distinct))
    # An emoji-only raw text has no letters, so it can never equal a non-empty normalised one.
    key = pc.if_else(pc.equal(normalised, ""), raw, normalised)
    return is_empty | is_generic, pc.dictionary_encode(key).indices.to_numpy(
        zero_copy_only=False)


# Up to this many values, a dict numbers them faster than pd.factorize (~10 us a call).
SMALL_FACTORIZE = 150


def _first_seen_codes(values) -> np.ndarray:
    """An int64 code per value, numbered in order of first appearance (pd.factorize's codes,
    without its fixed cost on a few values)."""
    if len(values) > SMALL_FACTORIZE:
        return pd.factorize(np.asarray(values, dtype=object))[0].astype("int64")
    seen: dict = {}
    return np.fromiter((seen.setdefault(value, len(seen)) for value in values), dtype="int64",
                       count=len(values))


def comment_features(ent: Entities, ds: Dataset) -> dict[str, np.ndarray]:
    n = ent.n
    codes = ent.comment_entity
    count = group_count(codes, n)
    out = {"has_comments": (count > 0).astype("float64"), "comments_analysed": count}
    names = ("comment_generic_share", "comment_duplicate_share", "commenter_top10_share",
             "commenter_herfindahl", "comments_per_commenter")
    for name in names:
        out[name] = np.full(n, np.nan)
    if len(codes) == 0:
        return out
    # The two columns needed, taken by row position (no DataFrame row selection).
    rows = pa.array(ent.comment_row)
    distinct, distinct_code = _distinct_texts(
        large_strings(ds.column("comments", "text")).take(rows))
    generic_or_empty, key_code = _generic_and_duplicate_keys(distinct)
    has_text = distinct_code >= 0
    safe_code = np.where(has_text, distinct_code, 0)
    generic = np.where(has_text, generic_or_empty.astype("float64")[safe_code]
                       if len(distinct) else 0.0, np.nan)
    out["comment_generic_share"] = safe_divide(group_sum(codes, generic, n),
                                               group_count(codes, n, has_text))

    text_code = key_code[safe_code[has_text]].astype("int64")
    pair = codes[has_text].astype("int64") * (len(distinct) + 1) + text_code
    _, inverse, pair_count = np.unique(pair, return_inverse=True, return_counts=True)
    duplicated = (pair_count[inverse] > 1).astype("float64")
    out["comment_duplicate_share"] = safe_divide(group_sum(codes[has_text], duplicated, n),
                                                 group_count(codes[has_text], n))

    commenter = as_str(ds.column("comments", "commenter_id"))[ent.comment_row]
    known = np.fromiter((c is not None for c in commenter), dtype=bool, count=len(commenter))
    if known.any():
        commenter_code = _first_seen_codes(commenter[known])
        entity = codes[known]
        pair = entity * (int(commenter_code.max()) + 1) + commenter_code
        unique_pair, pair_count = np.unique(pair, return_counts=True)
        pair_entity = unique_pair // (int(commenter_code.max()) + 1)
        pair_count = pair_count.astype("float64")
        total = group_sum(pair_entity, pair_count, n)
        rank, _ = group_rank(pair_entity, -pair_count)
        top = group_sum(pair_entity, np.where(rank < TOP_COMMENTERS, pair_count, 0.0), n)
        share = pair_count / total[pair_entity]
        out["commenter_top10_share"] = safe_divide(top, total)
        # Each entity's squares added smallest first: the order of its own commenters'
        # counts, not of the codes the batch's other commenters got (a creator alone and in
        # any batch gets the same bits).
        order = np.lexsort((share, pair_entity))
        out["commenter_herfindahl"] = np.where(
            total > 0, group_sum(pair_entity[order], (share * share)[order], n), np.nan)
        out["comments_per_commenter"] = safe_divide(total, group_count(pair_entity, n))
    return out


def account_features(ent: Entities, ds: Dataset) -> dict[str, np.ndarray]:
    rows = ent.creator_row
    following = as_float(ds.column("creators", "following"))[rows]
    created = as_days(ds.column("creators", "account_created"))[rows]
    posts_count = as_float(ds.column("creators", "posts_count"))[rows]
    return {
        "following_to_followers": safe_divide(following, ent.followers),
        "account_age_days": ent.reference_day - created,
        # The account's post count at the cutoff: posts the table shows after it are removed.
        "posts_count": np.maximum(posts_count - ent.posts_after_cutoff, 0.0),
        "verified": as_float(ds.column("creators", "verified"))[rows],
    }
