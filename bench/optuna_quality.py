"""Optuna's side of bench/quality.cc: the best value each sampler finds in --trials trials, per
problem and seed (in-memory study, one trial at a time: ask, one suggest_* per parameter, tell).

  optuna_quality.py --samplers tpe,tpe_univariate --problems branin,hartmann6 --seeds 10
  optuna_quality.py --check     # objective values at the test points of quality --check

Prints one JSON line per run: {"bench": "quality", "impl": "optuna", "sampler", "problem",
"seed", "n_trials", "best", "seconds"}.
"""

import argparse
import time

import optuna

from bench_common import PROBLEMS, QUALITY_PROBLEMS, emit, log, make_sampler, suggest_all, \
    test_point


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samplers", default="tpe")
    p.add_argument("--problems", default=",".join(QUALITY_PROBLEMS))
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--seed-offset", type=int, default=0)
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--check", action="store_true")
    args = p.parse_args()
    if args.check:
        for name in QUALITY_PROBLEMS + ["mixed10"]:
            space, objective, _ = PROBLEMS[name]
            for k in range(5):
                emit(bench="check", problem=name, k=k, f=objective(test_point(space, k)))
        return
    for name in args.problems.split(","):
        space, objective, _ = PROBLEMS[name]
        for sampler in args.samplers.split(","):
            log(f"optuna_quality: {sampler} on {name}")
            for seed in range(args.seed_offset, args.seed_offset + args.seeds):
                start = time.perf_counter()
                study = optuna.create_study(direction="minimize",
                                            sampler=make_sampler(sampler, seed))
                for _ in range(args.trials):
                    trial = study.ask()
                    x = suggest_all(trial, space)
                    study.tell(trial, objective(x))
                emit(bench="quality", impl="optuna", sampler=sampler, problem=name, seed=seed,
                     n_trials=args.trials, best=study.best_value,
                     seconds=time.perf_counter() - start)


if __name__ == "__main__":
    main()
