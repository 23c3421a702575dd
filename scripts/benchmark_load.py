"""Behaviour of a running creatorscore service under concurrent load: throughput, latency,
refusals (503) and the memory of its processes before, at peak and after.

    creatorscore serve --port 3000 &
    python scripts/benchmark_load.py --url http://127.0.0.1:3000 --data DATASET_DIR \\
        --pid $(pgrep -f 'creatorscore serve')

For one-creator and fifty-creator /score bodies (explanations on) and 1, 4 and 16 concurrent
clients, each client sends --requests requests back to back; the figures are requests/s,
p50/p99 latency of the answered ones and the count of each status. Memory is the resident
set (RSS) summed over the service's process tree (psutil), sampled every 50 ms. The machine
is shared and small: read the figures as orders of magnitude, compared within one run.
Only localhost URLs are accepted; the loops are bounded.
"""
from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def _rss_mib(root: psutil.Process) -> float:
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total / 2**20


class MemorySampler(threading.Thread):
    def __init__(self, root: psutil.Process) -> None:
        super().__init__(daemon=True)
        self.root, self.peak, self.running = root, 0.0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, _rss_mib(self.root))
            time.sleep(0.05)


def _records(data_dir: Path) -> list[dict]:
    from data.loader import load_dataset
    from serving.payloads import creator_records

    tables = load_dataset(data_dir).tables
    return creator_records(tables, tables["creators"]["creator_id"].astype(str).tolist())


def _body(records: list[dict], n_creators: int) -> bytes:
    return json.dumps({"creators": records[:n_creators], "explain": True}).encode()


def _renamed(row: dict, creator_id: str, suffix: str) -> dict:
    row = {**row, "creator_id": creator_id}
    if "post_id" in row:  # posts and their comments
        row["post_id"] = f"{row['post_id']}{suffix}"
    return row


def _largest_body(records: list[dict], max_bytes: int, max_creators: int) -> bytes:
    """The dataset's creators, repeated under new ids, up to just under `max_bytes` and at
    most `max_creators`: the largest request the service accepts (the memory budget's worst
    case)."""
    per_creator = len(_body(records, len(records))) / len(records)
    n = min(max_creators, int(0.97 * max_bytes / per_creator))
    creators = []
    for i in range(n):
        record = records[i % len(records)]
        creator_id = f"{record['profile']['creator_id']}-{i}"
        copy = {table: [_renamed(row, creator_id, f"-{i}") for row in rows]
                for table, rows in record.items() if isinstance(rows, list)}
        creators.append({**record, **copy,
                         "profile": {**record["profile"], "creator_id": creator_id}})
    body = json.dumps({"creators": creators, "explain": False}).encode()
    while len(body) > max_bytes:  # drop the measured excess (and 1%) in one step
        keep = int(len(creators) * (max_bytes / len(body)) * 0.99)
        creators = creators[:keep]
        body = json.dumps({"creators": creators, "explain": False}).encode()
    return body


def run_load(url: str, body: bytes, clients: int, requests: int) -> dict:
    latencies: list[float] = []
    statuses: collections.Counter = collections.Counter()
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(timeout=300) as session:
            for _ in range(requests):
                started = time.perf_counter()
                try:
                    status = session.post(f"{url}/score", content=body, headers={
                        "content-type": "application/json"}).status_code
                except httpx.HTTPError as error:
                    status = type(error).__name__
                elapsed = time.perf_counter() - started
                with lock:
                    statuses[status] += 1
                    if status == 200:
                        latencies.append(elapsed)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(lambda _: client(), range(clients)))
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "ok_per_s": len(latencies) / wall,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        if latencies else float("nan"),
        "statuses": dict(statuses),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--data", type=Path, required=True, help="dataset for the bodies")
    parser.add_argument("--pid", type=int, required=True, help="the service's main process")
    parser.add_argument("--requests", type=int, default=20, help="per client")
    parser.add_argument("--largest", type=int, default=4,
                        help="concurrent requests of the largest accepted body")
    parser.add_argument("--max-body-bytes", type=int, default=32 * 2**20,
                        help="the service's CREATORSCORE_MAX_BODY_BYTES")
    parser.add_argument("--max-creators", type=int, default=2_000,
                        help="the service's CREATORSCORE_MAX_CREATORS")
    parser.add_argument("--settle", type=float, default=5.0,
                        help="seconds after the load before the 'after' memory reading")
    args = parser.parse_args(argv)
    if urlparse(args.url).hostname not in LOCAL_HOSTS:
        parser.error("only a localhost service is benchmarked")
    root = psutil.Process(args.pid)
    records = _records(args.data)
    bodies = {1: _body(records, 1), 50: _body(records, 50)}
    httpx.post(f"{args.url}/score", content=bodies[1],
               headers={"content-type": "application/json"}, timeout=300)  # warm-up
    idle = _rss_mib(root)
    print(f"idle RSS {idle:.0f} MiB (process tree)", flush=True)
    print("creators  clients   ok req/s   p50 ms   p99 ms  peak RSS MiB  statuses")
    for n_creators, body in bodies.items() if args.requests else ():
        for clients in (1, 4, 16):
            sampler = MemorySampler(root)
            sampler.start()
            result = run_load(args.url, body, clients, args.requests)
            sampler.running = False
            sampler.join()
            print(f"{n_creators:8d} {clients:8d} {result['ok_per_s']:10.1f} "
                  f"{result['p50_ms']:8.0f} {result['p99_ms']:8.0f} {sampler.peak:13.0f}  "
                  f"{result['statuses']}", flush=True)
    if args.largest:
        body = _largest_body(records, args.max_body_bytes, args.max_creators)
        sampler = MemorySampler(root)
        sampler.start()
        result = run_load(args.url, body, args.largest, 1)
        sampler.running = False
        sampler.join()
        print(f"{args.largest} x {len(body) / 2**20:.1f} MiB bodies at once: peak RSS "
              f"{sampler.peak:.0f} MiB, p50 {result['p50_ms']:.0f} ms, {result['statuses']}")
    time.sleep(args.settle)
    print(f"after load RSS {_rss_mib(root):.0f} MiB (idle was {idle:.0f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
