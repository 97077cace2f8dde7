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
    print("| ours | " + " | ".join(PROBLEMS) + " | no worse, per block of "
          f"{args.block} seeds |")
    print("|---" * (len(PROBLEMS) + 2) + "|")
    row = ["Optuna TPE (default)"]
    for prob in PROBLEMS:
        row.append(f"{statistics.median(v for (q, _), v in opt.items() if q == prob):.4g}")
    print("| " + " | ".join(row) + " | |")
    for spec in args.ours:
        name, path = spec.split("=", 1)
        ours = load([path], "hpo")
        cells, seeds_all = [], None
        for prob in PROBLEMS:
            seeds = sorted(s for (q, s) in ours if q == prob and (prob, s) in opt)
            seeds_all = seeds
            a = [ours[(prob, s)] for s in seeds]
            b = [opt[(prob, s)] for s in seeds]
            pv = mannwhitneyu(a, b, alternative="less").pvalue
            cells.append(f"{statistics.median(a):.4g} (p {pv:.2f})")
        blocks = []
        for lo in range(seeds_all[0], seeds_all[-1] + 1 - args.block + 1, args.block):
            wins = 0
            for prob in PROBLEMS:
                a = [ours[(prob, s)] for s in range(lo, lo + args.block)]
                b = [opt[(prob, s)] for s in range(lo, lo + args.block)]
                wins += statistics.median(a) <= statistics.median(b)
            blocks.append(str(wins))
        print(f"| {name} ({len(seeds_all)} seeds) | " + " | ".join(cells) +
              f" | {', '.join(blocks)} |")


if __name__ == "__main__":
    main()
