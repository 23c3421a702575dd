"""Latency and throughput of a running creatorscore service on localhost.

    creatorscore serve --port 3000 &            # or: --start to start one here
    python scripts/benchmark_service.py --url http://127.0.0.1:3000

Scenarios (targets from the serving spec):
  1. POST /score, one creator with 30 posts, explanations on, concurrency 1:
     p50 <= 10 ms, p99 <= 50 ms;
  2. POST /rank, 1,000 candidates, top 10 explained: p50 <= 300 ms;
  3. POST /score, 100 creators per request (no explanations), `--concurrency` clients:
     >= 2,000 creators/s.
Each is compared with the bare model time on the same rows, in this process: LightGBM
`predict` of every model of the champion on the rows' precomputed features, plus
`predict(pred_contrib=True)` on the rows the service explains (all for scenario 1, the top 10
for scenario 2, none for scenario 3). The ratio is what the service adds on top: parsing,
validation, features, JSON.

The request bodies come from a synthetic world (data.synthetic.generate_world); planned
collaboration costs for /rank are a fixed fee per 1,000 followers. Request loops are bounded
(--requests) and only localhost URLs are accepted.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
TARGETS = {"score_1": (10.0, 50.0), "rank_1000": 300.0, "batch_100": 2_000.0}


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def _bodies(n_creators: int, seed: int) -> dict:
    import pandas as pd

    from data.synthetic import generate_world
    from serving.payloads import campaign_record, creator_records

    world = generate_world(n_creators=n_creators, n_campaigns=4, seed=seed,
                           posts_per_creator=30)
    tables = world.tables
    ids = tables["creators"]["creator_id"].tolist()
    campaign_id = tables["campaigns"]["campaign_id"].iloc[0]
    creators = creator_records(tables, ids)
    followers = tables["creators"].set_index("creator_id")["followers"].astype("float64")
    compensations = np.asarray(["fixed", "gifting", "affiliate", "hybrid"])
    plans = [{"creator_id": cid, "compensation": str(compensations[i % 4]),
              "cost": round(50.0 + 10.0 * float(followers[cid]) / 1_000, 2)}
             for i, cid in enumerate(ids[:1_000])]
    return {
        "tables": tables, "ids": ids, "campaign_id": campaign_id,
        "score_1": {"creators": creators[:1], "explain": True},
        "rank_1000": {"campaign": campaign_record(tables, campaign_id),
                      "creators": creators[:1_000], "collaborations": plans,
                      "budget": float(pd.Series([p["cost"] for p in plans]).sum() / 10),
                      "top_k": 10},
        "batch_100": [{"creators": creators[i:i + 100], "explain": False}
                      for i in range(0, min(len(creators), 1_000), 100)],
    }


def _timed_posts(client, path: str, bodies: list[bytes], n: int) -> list[float]:
    latencies = []
    for i in range(n):
        started = time.perf_counter()
        response = client.post(path, content=bodies[i % len(bodies)])
        latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code}: {response.text[:300]}")
    return latencies


def _throughput(url: str, headers: dict, bodies: list[bytes], per_request: int,
                concurrency: int, n: int) -> tuple[float, list[float]]:
    import httpx

    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(n))

    def worker() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                local = _timed_posts(client, "/score", [bodies[i % len(bodies)]], 1)
                with lock:
                    latencies.extend(local)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return n * per_request / elapsed, latencies


def bare_model_seconds(bundle, tables, creator_ids, campaign_id=None, plans=None,
                       repeats: int = 5, explained_rows: int | None = None) -> float:
    """Median time of predict of every model on the rows' features, + pred_contrib on the
    first `explained_rows` rows (all by default; 0 for none), as the service explains."""
    from data.loader import validate_tables
    from models.matrix import as_float_frame

    ds = validate_tables(tables)
    keep = set(creator_ids)
    subset = {name: frame[frame["creator_id"].isin(keep)] if "creator_id" in frame
              and name != "campaigns" else frame for name, frame in ds.tables.items()}
    ds = validate_tables(subset)
    if plans is None:
        X = bundle.pipeline.transform_creators(ds)
        conv = None
    else:
        import pandas as pd

        planned = pd.DataFrame(plans).assign(campaign_id=campaign_id)
        from models.bundle import add_derived_features

        X = bundle.pipeline.transform_collaborations(ds, planned)
        fake_share = np.asarray(bundle.predict_risk(X)["fake_share"], dtype="float64")
        conv = add_derived_features(X, fake_share)
    risk_X = as_float_frame(X, bundle.risk_model.feature_names_)
    boosters = [(b, risk_X) for b in (bundle.risk_model.bought_booster_,
                                      bundle.risk_model.share_booster_) if b is not None]
    if conv is not None:
        boosters.append((bundle.conversion_model.booster_,
                         as_float_frame(conv, bundle.conversion_model.feature_names_)))
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for booster, frame in boosters:
            booster.predict(frame, num_threads=1)
            explained = frame if explained_rows is None else frame.iloc[:explained_rows]
            if len(explained):
                booster.predict(explained, pred_contrib=True, num_threads=1)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--start", action="store_true",
                        help="start a server on a free localhost port (champion of "
                             "MLFLOW_TRACKING_URI) and stop it afterwards")
    parser.add_argument("--api-key", default=os.environ.get("CREATORSCORE_API_KEY"))
    parser.add_argument("--requests", type=int, default=300,
                        help="requests of scenario 1 (scenario 2 uses a tenth, at least 5)")
    parser.add_argument("--batch-requests", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-bare", action="store_true",
                        help="do not load the champion here for the bare model time")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 100_000 or not 1 <= args.batch_requests <= 10_000:
        parser.error("request counts must be bounded: 1..100000 and 1..10000")

    import httpx

    server = None
    if args.start:
        import bentoml

        from serving.service import CreatorScore

        port = _free_port()
        server = bentoml.serve(CreatorScore, host="127.0.0.1", port=port)
        args.url = f"http://127.0.0.1:{port}"
    if urlparse(args.url).hostname not in LOCAL_HOSTS:
        parser.error(f"{args.url}: only localhost servers are benchmarked")
    headers = {"content-type": "application/json"}
    if args.api_key:
        headers["X-API-Key"] = args.api_key
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{args.url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{args.url} is not ready")
            time.sleep(0.5)
        print("building request bodies (synthetic world, 1,100 creators x 30 posts)...")
        data = _bodies(1_100, args.seed)
        results: dict = {}
        with httpx.Client(base_url=args.url, headers=headers, timeout=120) as client:
            one = [json.dumps(data["score_1"]).encode()]
            _timed_posts(client, "/score", one, 20)  # warm-up
            latencies = _timed_posts(client, "/score", one, args.requests)
            results["score_1"] = latencies
            rank = [json.dumps(data["rank_1000"]).encode()]
            _timed_posts(client, "/rank", rank, 2)
            results["rank_1000"] = _timed_posts(client, "/rank", rank,
                                                max(5, args.requests // 10))
        batches = [json.dumps(b).encode() for b in data["batch_100"]]
        rate, batch_latencies = _throughput(args.url, headers, batches, 100,
                                            args.concurrency, args.batch_requests)

        bare = {}
        if not args.skip_bare:
            from store.registry import load_champion

            bundle, _ = load_champion()
            ids = data["ids"]
            plans = data["rank_1000"]["collaborations"]
            bare["score_1"] = bare_model_seconds(bundle, data["tables"], ids[:1])
            bare["rank_1000"] = bare_model_seconds(bundle, data["tables"], ids[:1_000],
                                                   data["campaign_id"], plans, repeats=3,
                                                   explained_rows=10)
            bare["batch_100"] = bare_model_seconds(bundle, data["tables"], ids[:100],
                                                   explained_rows=0)

        def ratio(name: str, seconds: float) -> str:
            return f" ({seconds / bare[name]:.0f}x the bare model time " \
                   f"{1000 * bare[name]:.2f} ms)" if name in bare else ""

        p50, p99 = (1000 * _percentile(results["score_1"], q) for q in (50, 99))
        print(f"/score 1 creator, 30 posts, explained, concurrency 1, {args.requests} requests: "
              f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
              f"{len(results['score_1']) / sum(results['score_1']):.0f} req/s"
              f"{ratio('score_1', p50 / 1000)}; target p50 <= {TARGETS['score_1'][0]:.0f} ms, "
              f"p99 <= {TARGETS['score_1'][1]:.0f} ms")
        r50, r99 = (1000 * _percentile(results["rank_1000"], q) for q in (50, 99))
        print(f"/rank 1,000 candidates, top 10 explained: p50 {r50:.0f} ms, p99 {r99:.0f} ms"
              f"{ratio('rank_1000', r50 / 1000)}; target p50 <= {TARGETS['rank_1000']:.0f} ms")
        b50 = 1000 * _percentile(batch_latencies, 50)
        print(f"/score 100 creators per request, concurrency {args.concurrency}: "
              f"{rate:,.0f} creators/s (request p50 {b50:.0f} ms)"
              f"{ratio('batch_100', b50 / 1000)}; target >= {TARGETS['batch_100']:,.0f}/s")
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
