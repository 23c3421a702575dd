"""Comment samples: genuine niche comments, engagement-pod comments and spam-bot comments.

Pod members are a small recurring set per creator that leaves generic comments ("Nice!",
"🔥🔥") on every post; bots on bought-follower accounts leave spam; real followers mostly
write specific comments that mention the niche, from a large pool of commenters.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from data.synthetic import text
from data.synthetic.creators import CreatorState

GENUINE_GENERIC_SHARE = 0.3  # real followers also write short generic comments (assumption)
ORGANIC_SPAM_RATE = 0.02
BOUGHT_SPAM_RATE = 0.25  # per unit of bought share (assumption)


def comment_sample(rng: np.random.Generator, state: CreatorState, posts: pd.DataFrame,
                   post_truth: pd.DataFrame, posts_per_creator: int, creator_share: float,
                   recent_posts: int, max_per_post: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(comments contract table, truth with each comment's kind)."""
    k = posts_per_creator
    chosen = np.flatnonzero(rng.random(state.n) < creator_share)
    recent = min(recent_posts, k)
    post_rows = (chosen[:, None] * k + np.arange(k - recent, k)[None, :]).reshape(-1)
    creator = np.repeat(chosen, recent)
    counts = np.minimum(posts["comments"].to_numpy(dtype="int64")[post_rows], max_per_post)
    row = np.repeat(post_rows, counts)
    creator = np.repeat(creator, counts)
    n = len(row)

    total = np.maximum(posts["comments"].to_numpy(dtype="int64")[row], 1)
    pod_share = post_truth["pod_comments"].to_numpy()[row] / total
    spam_share = ORGANIC_SPAM_RATE + BOUGHT_SPAM_RATE * state.bought_share[creator]
    u = rng.random(n)
    kind = np.select([u < pod_share, u < pod_share + spam_share], [1, 2], 0)  # 0 genuine

    niche_codes = np.where(rng.random(n) < state.secondary_weight[creator],
                           state.secondary_niche[creator], state.primary_niche[creator])
    genuine = np.where(rng.random(n) < GENUINE_GENERIC_SHARE,
                       text.GENERIC_COMMENTS[rng.integers(0, len(text.GENERIC_COMMENTS), n)],
                       text.genuine_comments(rng, niche_codes))
    pod_text = text.GENERIC_COMMENTS[rng.integers(0, len(text.GENERIC_COMMENTS), n)]
    spam_text = text.SPAM_COMMENTS[rng.integers(0, len(text.SPAM_COMMENTS), n)]
    comment_text = np.select([kind == 1, kind == 2], [pod_text, spam_text], genuine)

    creator_ids = state.creator_id[creator]
    pod_member = rng.integers(0, np.maximum(state.pod_size[creator], 1))
    audience_pool = np.maximum(state.real_followers[creator] * 0.05, 50).astype("int64")
    commenter = np.select(
        [kind == 1, kind == 2],
        [creator_ids + "-pod" + pod_member.astype(str).astype(object),
         "bot" + rng.integers(0, 5_000, n).astype(str).astype(object)],
        creator_ids + "-u" + rng.integers(0, audience_pool).astype(str).astype(object))
    comments = pd.DataFrame({
        "creator_id": pd.array(creator_ids, dtype="str"),
        "post_id": posts["post_id"].array[row],
        "commenter_id": pd.array(commenter, dtype="str"),
        "text": pd.array(comment_text, dtype="str"),
    })
    comments["post_id"] = comments["post_id"].astype("str")
    truth = pd.DataFrame({"post_id": comments["post_id"],
                          "kind": pd.array(np.asarray(["genuine", "pod", "spam"], dtype=object)[
                              kind], dtype="str")})
    return comments, truth
