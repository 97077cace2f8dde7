"""Optuna's side of the latency benchmarks (bench/ask_latency.cc, bench/storage_throughput.cc).

  optuna_latency.py ask --sampler tpe --problem mixed10 --trials 100,1000,10000 --reps 30
  optuna_latency.py ask --sampler gp --problem hartmann6 --trials 100,500 --reps 10
  optuna_latency.py storage --storage sqlite --path /tmp/o.db --trials 10000 [--max-seconds 600]

ask: for each N, a fresh in-memory study is pre-filled with N completed trials at uniformly
random points (study.add_trials(create_trial(...))); then one timed unit is study.ask() plus
one suggest_* per parameter (Optuna's TPE and GP sample lazily, inside suggest_*), followed by
an untimed study.tell(). The first unit is reported apart (first_ms), `--warmup` more are
untimed, the statistics cover the rest (at least 5, at most --reps, stopping after
--max-seconds).

storage: --trials trials with RandomSampler over the 10-parameter mixed space, each ask +
10 suggest_* + tell, in a fresh storage (sqlite:///PATH or in-memory). If --max-seconds runs
out first, it stops and reports the trials it did (n_done < n_trials, "complete": false); the
per-1,000-trial block times show whether the cost per trial grows. --sqlite-wal switches the
SQLite connection to hpo's durability settings (WAL, synchronous=NORMAL).

Output: one JSON line per measurement, fields as in the C++ programs, "impl": "optuna"; ask
lines add "threads" (OMP_NUM_THREADS, or "default"). hpo's samplers run on one thread; on a
loaded 2-core machine torch's default of one thread per core can be slower than one thread, so
run_hpo_core.sh measures Optuna both ways.
"""

import argparse
import os
import random
import time

import optuna

from bench_common import PROBLEMS, emit, log, make_sampler, mixed10, MIXED10_SPACE, \
    random_point, suggest_all, timing_fields


def threads():
    """The thread setting the run had: OMP_NUM_THREADS (torch's intra-op threads and numpy's
    BLAS follow it), or "default" (torch: one per core)."""
    return os.environ.get("OMP_NUM_THREADS", "default")


def run_ask(args):
    space, objective, _ = PROBLEMS[args.problem]
    for n in [int(v) for v in args.trials.split(",")]:
        log(f"optuna_latency: {args.sampler} on {args.problem} with {n} trials")
        study = optuna.create_study(direction="minimize",
                                    sampler=make_sampler(args.sampler, args.seed))
        rng = random.Random(args.seed + 12345)
        start = time.perf_counter()
        trials = []
        for _ in range(n):
            x = random_point(space, rng)
            trials.append(optuna.trial.create_trial(params=x, distributions=space,
                                                    value=objective(x)))
        study.add_trials(trials)
        prefill_s = time.perf_counter() - start

        def unit():
            t0 = time.perf_counter()
            trial = study.ask()
            x = suggest_all(trial, space)
            ms = 1e3 * (time.perf_counter() - t0)
            study.tell(trial, objective(x))
            return ms

        first_ms = unit()
        for _ in range(args.warmup):
            unit()
        ms = []
        loop_start = time.perf_counter()
        while len(ms) < args.reps and (len(ms) < 5 or
                                       time.perf_counter() - loop_start < args.max_seconds):
            ms.append(unit())
        emit(bench="ask_latency", impl="optuna", sampler=args.sampler, problem=args.problem,
             n_trials=n, threads=threads(), first_ms=first_ms, prefill_s=prefill_s,
             **timing_fields(ms))


def use_wal_synchronous_normal():
    """Sets the pragmas hpo's SQLite storage uses (journal_mode=WAL, synchronous=NORMAL: a
    commit survives a process crash, not necessarily a power cut) on every SQLite connection
    SQLAlchemy opens in this process. Optuna's default leaves SQLite's own defaults (rollback
    journal, synchronous=FULL: an fsync per commit)."""
    import sqlalchemy

    @sqlalchemy.event.listens_for(sqlalchemy.engine.Engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def run_storage(args):
    url = None
    if args.storage == "sqlite":
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(args.path + suffix):
                os.remove(args.path + suffix)
        url = f"sqlite:///{os.path.abspath(args.path)}"
        if args.sqlite_wal:
            use_wal_synchronous_normal()
    start = time.perf_counter()
    study = optuna.create_study(storage=url, study_name="bench", direction="minimize",
                                sampler=optuna.samplers.RandomSampler(seed=1))
    blocks = []
    block_start = time.perf_counter()
    done = 0
    complete = True
    for i in range(args.trials):
        trial = study.ask()
        x = suggest_all(trial, MIXED10_SPACE)
        study.tell(trial, mixed10(x))
        done = i + 1
        if done % 1000 == 0:
            now = time.perf_counter()
            blocks.append(round(now - block_start, 3))
            block_start = now
            log(f"optuna_latency: storage {args.storage}: {done} trials, "
                f"{now - start:.1f} s")
        if time.perf_counter() - start > args.max_seconds and done < args.trials:
            complete = False
            break
    total_s = time.perf_counter() - start
    storage = args.storage + ("-wal" if args.storage == "sqlite" and args.sqlite_wal else "")
    emit(bench="storage", impl="optuna", storage=storage, mode="define-by-run",
         n_trials=args.trials, n_done=done, complete=complete, total_s=total_s,
         per_trial_us=1e6 * total_s / done, block_s=blocks)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("ask")
    a.add_argument("--sampler", default="tpe")
    a.add_argument("--problem", default="mixed10", choices=sorted(PROBLEMS))
    a.add_argument("--trials", default="100,1000,10000")
    a.add_argument("--reps", type=int, default=30)
    a.add_argument("--warmup", type=int, default=3)
    a.add_argument("--max-seconds", type=float, default=30)
    a.add_argument("--seed", type=int, default=1)
    s = sub.add_parser("storage")
    s.add_argument("--storage", default="sqlite", choices=["sqlite", "memory"])
    s.add_argument("--path", default="optuna_storage.db")
    s.add_argument("--trials", type=int, default=10000)
    s.add_argument("--max-seconds", type=float, default=600)
    s.add_argument("--sqlite-wal", action="store_true",
                   help="journal_mode=WAL, synchronous=NORMAL (hpo's settings)")
    args = p.parse_args()
    run_ask(args) if args.cmd == "ask" else run_storage(args)


if __name__ == "__main__":
    main()
