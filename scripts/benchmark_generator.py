"""Time the synthetic generator and print its main calibration figures.

Run: /work/venv/bin/python scripts/benchmark_generator.py [n_creators] [n_campaigns]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data.synthetic import generate_world  # noqa: E402


def main(n_creators: int = 10_000, n_campaigns: int = 500, posts_per_creator: int = 50) -> None:
    started = time.perf_counter()
    world = generate_world(n_creators, n_campaigns, seed=0, posts_per_creator=posts_per_creator)
    elapsed = time.perf_counter() - started
    sizes = ", ".join(f"{name} {len(frame):,}" for name, frame in world.tables.items())
    print(f"{n_creators:,} creators x {posts_per_creator} posts, {n_campaigns} campaigns: "
          f"{elapsed:.1f} s ({sizes})")
    truth = world.truth["creator_truth"]
    posts = world.tables["posts"].merge(truth[["creator_id", "platform", "tier", "followers"]],
                                        on="creator_id")
    posts["er"] = (posts["likes"] + posts["comments"]).astype(float) / posts["followers"]
    medians = (posts.groupby(["platform", "tier", "creator_id"])["er"].median()
               .groupby(["platform", "tier"]).median().unstack())
    print("median engagement rate (engagements / followers) by platform x tier:")
    print(medians.round(4).to_string())
    share = truth["fake_follower_share"]
    print(f"fake share: mean {share.mean():.3f}, median {share.median():.3f}, "
          f"above 50% {(share > 0.5).mean():.3f}")
    collab = world.tables["collaborations"]
    print(f"collaborations {len(collab):,}: conversions mean {collab['conversions'].mean():.2f}, "
          f"revenue / cost {collab['revenue'].sum() / collab['cost'].sum():.3f}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
