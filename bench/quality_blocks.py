"""Compares our quality runs with Optuna's over many seeds: per problem the medians, a one-sided
Mann-Whitney p that ours is lower, and the number of problems where our median is no worse in
each block of 30 seeds (the table of docs/BENCHMARKS.md, "TPE defaults").

  quality_blocks.py --optuna optuna.jsonl [more.jsonl ...] --ours name=ours.jsonl [...]

Inputs are the JSON lines of bench_quality (ours) and optuna_quality.py (Optuna's TPE), any
number of files each; runs are matched by (problem, seed).
"""
import argparse
import json
import statistics

from scipy.stats import mannwhitneyu

PROBLEMS = ["branin", "hartmann6", "rosenbrock4", "ackley5", "styblinski_tang8", "mixed6"]


def load(paths, impl):
    out = {}
    for path in paths:
        for line in open(path):
            try:
                j = json.loads(line)
            except ValueError:
                continue
            if j.get("impl") == impl and j.get("sampler") == "tpe":
                out[(j["problem"], j["seed"])] = j["best"]
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--optuna", nargs="+", required=True)
    p.add_argument("--ours", nargs="+", required=True, help="name=file.jsonl")
    p.add_argument("--block", type=int, default=30)
    args = p.parse_args()
    opt = load(args.optuna, "optuna")
    runs = {}
    for spec in args.ours:
        name, path = spec.split("=", 1)
        runs[name] = load([path], "hpo")
    # One seed set for every cell: the seeds every problem has in every input.
    common = None
    for data in [opt, *runs.values()]:
        for prob in PROBLEMS:
            seeds = {s for (q, s) in data if q == prob}
            common = seeds if common is None else common & seeds
    common = sorted(common)
    if not common:
        raise SystemExit("quality_blocks: no seed is in every input for every problem")
    print(f"| ours ({len(common)} seeds) | " + " | ".join(PROBLEMS) +
          f" | no worse, per block of {args.block} seeds |")
    print("|---" * (len(PROBLEMS) + 2) + "|")
    print("| Optuna TPE (default) | " +
          " | ".join(f"{statistics.median(opt[(p_, s)] for s in common):.4g}" for p_ in PROBLEMS) +
          " | |")
    blocks = [common[i:i + args.block] for i in range(0, len(common), args.block)
              if len(common[i:i + args.block]) == args.block]
    for name, ours in runs.items():
        cells = []
        for prob in PROBLEMS:
            a = [ours[(prob, s)] for s in common]
            b = [opt[(prob, s)] for s in common]
            pv = mannwhitneyu(a, b, alternative="less").pvalue
            cells.append(f"{statistics.median(a):.4g} (p {pv:.2f})")
        wins = [sum(statistics.median(ours[(prob, s)] for s in blk) <=
                    statistics.median(opt[(prob, s)] for s in blk) for prob in PROBLEMS)
                for blk in blocks]
        print(f"| {name} | " + " | ".join(cells) + f" | {', '.join(map(str, wins))} |")

if __name__ == "__main__":
    main()
