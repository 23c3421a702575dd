"""Training time and peak memory of the whole bundle at production scale.

Default: 50,000 creators and ~100,000 collaborations (target: under 2 minutes on 2 cores).
The world is generated once and cached as Parquet (--cache); training runs in a fresh child
process so its peak resident memory (ru_maxrss) is measured alone: dataset loading and
validation, follower-account classifier, feature pipeline, risk and conversion models, and the
evaluation on the test campaigns; with --chunk-creators the data is read in pieces of creators
as `creatorscore train` reads it (training.training_data). MLflow logging is not included
(it does not grow with data beyond the model size).

    python scripts/benchmark_training.py            # 50,000 creators, ~100,000 collaborations
    python scripts/benchmark_training.py --small    # 5,000 creators, ~10,000 collaborations
    python scripts/benchmark_training.py --follower fast --threads 2
    python scripts/benchmark_training.py --chunk-creators 2500   # as `creatorscore train`
"""
from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

COLLABORATIONS_PER_CAMPAIGN = 15  # the generator hires 4 to 25 creators per campaign


def _ensure_world(cache: Path, creators: int, collaborations: int, seed: int) -> Path:
    directory = cache / f"world_{creators}_{collaborations}_{seed}"
    if (directory / "collaborations.parquet").exists():
        return directory
    from data.synthetic import generate_world, write_world

    campaigns = max(collaborations // COLLABORATIONS_PER_CAMPAIGN, 3)
    started = time.perf_counter()
    print(f"Generating {creators:,} creators and {campaigns:,} campaigns ...", flush=True)
    world = generate_world(creators, campaigns, seed=seed)
    write_world(world, directory, fmt="parquet")
    print(f"  generated and written in {time.perf_counter() - started:.0f} s -> {directory}",
          flush=True)
    return directory


def _child(directory: Path, follower: str, threads: int, chunk_creators: int | None) -> None:
    """Train in this process and print one JSON line of figures."""
    started = time.perf_counter()
    from data.loader import load_dataset
    from data.synthetic.truth import load_truth
    from training.protocol import TrainConfig, train_and_evaluate
    from training.training_data import TrainingData, read_training_data

    classifier = info = None
    if follower == "fast":
        from training.follower_accounts import train_fast_follower_classifier

        classifier, info = train_fast_follower_classifier(seed=0, n_jobs=threads)
    read_started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if chunk_creators is None:  # the whole dataset in memory
            data = TrainingData.of_dataset(load_dataset(directory))
        else:  # `creatorscore train`: read in pieces
            data = stack.enter_context(read_training_data(directory, chunk_creators))
        truth = load_truth(directory)
        loaded = time.perf_counter() - read_started
        train_started = time.perf_counter()
        result = train_and_evaluate(data, TrainConfig(num_threads=threads), truth, classifier,
                                    info)
    total = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(json.dumps({
        "creators": data.n_creators, "collaborations": data.tables.rows("collaborations"),
        "load_seconds": loaded, "train_seconds": time.perf_counter() - train_started,
        "total_seconds": total, "peak_rss_mib": peak_mib, "timings": result.timings,
        "poisson_deviance": result.metrics.get("poisson_deviance"),
        "roi_captured_at_10": result.metrics.get("roi_captured_at_10"),
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creators", type=int, default=50_000)
    parser.add_argument("--collaborations", type=int, default=100_000)
    parser.add_argument("--small", action="store_true", help="5,000 creators, 10,000 collabs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="LightGBM threads (1: OpenMP threads contend on busy 2-core hosts)")
    parser.add_argument("--follower", choices=("default", "fast"), default="default",
                        help="default: the shipped follower classifier (real data when "
                        "available); fast: a small one on generated accounts")
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "creatorscore_benchmark",
                        help="where the generated world is cached (outside the repository)")
    parser.add_argument("--chunk-creators", type=int, default=None,
                        help="read the data in pieces of this many creators, as `creatorscore "
                        "train` does (default: the whole dataset loaded at once)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.follower, args.threads, args.chunk_creators)
        return
    if args.small:
        args.creators, args.collaborations = 5_000, 10_000
    directory = _ensure_world(args.cache, args.creators, args.collaborations, args.seed)
    command = [sys.executable, __file__, "--child", str(directory), "--follower", args.follower,
               "--threads", str(args.threads)]
    if args.chunk_creators is not None:
        command += ["--chunk-creators", str(args.chunk_creators)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        print(completed.stderr[-3000:], file=sys.stderr)
        raise SystemExit(completed.returncode)
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    target = 120.0
    print(f"creators {figures['creators']:,}, collaborations {figures['collaborations']:,}, "
          f"LightGBM threads {args.threads}, follower classifier: {args.follower}, data "
          + ("whole in memory" if args.chunk_creators is None else
             f"read in pieces of {args.chunk_creators:,} creators"))
    print(f"  read + validate      {figures['load_seconds']:8.1f} s")
    for phase, seconds in figures["timings"].items():
        print(f"  {phase:20s} {seconds:8.1f} s")
    print(f"  training total       {figures['train_seconds']:8.1f} s")
    print(f"  end to end           {figures['total_seconds']:8.1f} s   (target < {target:.0f} s "
          f"on 2 cores: {'met' if figures['total_seconds'] < target else 'NOT met'})")
    print(f"  peak resident memory {figures['peak_rss_mib']:8.0f} MiB")
    print(f"  test Poisson deviance {figures['poisson_deviance']:.3f}, ROI captured@10 "
          f"{figures['roi_captured_at_10']:.3f}")


if __name__ == "__main__":
    main()
