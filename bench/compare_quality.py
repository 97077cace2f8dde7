"""Merges the JSON lines of bench/quality.cc and bench/optuna_quality.py into markdown tables.

  compare_quality.py results/quality_hpo.jsonl results/quality_optuna.jsonl [...]

Table 1: our TPE against Optuna's TPESampler (defaults, which in Optuna 5 means multivariate;
and univariate, the mode our "tpe" uses, when present). Table 2: our GP-BO against our TPE (and
Optuna's GPSampler when present). Each cell: the median over seeds of the best value found in
the run's trials, with the 25th-75th percentiles in brackets (minimisation: lower is better).
A "vs X" cell says whether the table's first sampler has the better (lower) median than X, and
in brackets the share of (its seed, X's seed) pairs where its best is lower, ties counting half
(seeds of two samplers are not paired).
"""

import collections
import json
import sys

from bench_common import PROBLEMS, QUALITY_PROBLEMS, quantile

LABELS = {
    ("hpo", "tpe"): "hpo TPE",
    ("hpo", "gp"): "hpo GP",
    ("optuna", "tpe"): "Optuna TPE (default)",
    ("optuna", "tpe_univariate"): "Optuna TPE (univariate)",
    ("optuna", "gp"): "Optuna GP",
}


def fmt(v):
    if v == 0:
        return "0"
    return f"{v:.1f}" if abs(v) >= 100 else f"{v:.6g}"


def cell(values):
    return (f"{fmt(quantile(values, 0.5))} [{fmt(quantile(values, 0.25))}, "
            f"{fmt(quantile(values, 0.75))}]")


def p_better(ours, peer):
    wins = sum((a < b) + 0.5 * (a == b) for a in ours for b in peer)
    return wins / (len(ours) * len(peer))


def verdict(ours, peer, eps=1e-9):
    a, b = quantile(ours, 0.5), quantile(peer, 0.5)
    if abs(a - b) <= eps * max(1.0, abs(a), abs(b)):
        return "tie"
    return "ours" if a < b else "peer"


def table(runs, problems, ours_key, peers, title):
    present = [k for k in peers if any((p, k) in runs for p in problems)]
    if not any((p, ours_key) in runs for p in problems) or not present:
        return []
    head = ["problem (min)", "seeds", LABELS[ours_key]] + [LABELS[k] for k in present]
    head += [f"vs {LABELS[k]}" for k in present]
    lines = [f"**{title}**", "", "| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    score = collections.Counter()
    for p in problems:
        ours = runs.get((p, ours_key))
        if not ours:
            continue
        seeds = [str(len(ours))] + [str(len(runs[(p, k)])) for k in present if (p, k) in runs]
        row = [f"{p} ({fmt(PROBLEMS[p][2])})", "/".join(seeds), cell(ours)]
        row += [cell(runs[(p, k)]) if (p, k) in runs else "—" for k in present]
        for k in present:
            if (p, k) in runs:
                v = verdict(ours, runs[(p, k)])
                score[(k, v)] += 1
                word = {"ours": "**better**", "peer": "worse", "tie": "tie"}[v]
                row.append(f"{word} ({p_better(ours, runs[(p, k)]):.2f})")
            else:
                row.append("—")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    for k in present:
        lines.append(f"{LABELS[ours_key]} vs {LABELS[k]} (medians): {score[(k, 'ours')]} better, "
                     f"{score[(k, 'peer')]} worse, {score[(k, 'tie')]} tied.")
    lines.append("")
    return lines


def main():
    runs = collections.defaultdict(list)
    seconds = collections.defaultdict(list)
    for path in sys.argv[1:]:
        with open(path) as f:
            for line in f:
                if not line.startswith("{"):
                    continue
                r = json.loads(line)
                if r.get("bench") != "quality":
                    continue
                key = (r["problem"], (r["impl"], r["sampler"]))
                runs[key].append(r["best"])
                seconds[(r["impl"], r["sampler"])].append(r["seconds"])
    n_trials = sorted({json.loads(l)["n_trials"] for p in sys.argv[1:] for l in open(p)
                       if l.startswith("{") and '"quality"' in l})
    out = [f"Best value after {', '.join(map(str, n_trials))} trials: median over seeds "
           "[25th, 75th percentile]; lower is better. \"vs X\": is the first sampler's median "
           "better than X's, and (in brackets) the share of seed pairs in which its best is "
           "lower.", ""]
    out += table(runs, QUALITY_PROBLEMS, ("hpo", "tpe"),
                 [("optuna", "tpe"), ("optuna", "tpe_univariate")], "TPE: hpo vs Optuna")
    out += table(runs, QUALITY_PROBLEMS, ("hpo", "gp"), [("hpo", "tpe"), ("optuna", "gp")],
                 "GP-BO: hpo GP vs hpo TPE (and Optuna GP where run)")
    out.append("Median seconds per run (whole study, objective included): " + ", ".join(
        f"{LABELS[k]} {quantile(v, 0.5):.2f} s" for k, v in sorted(seconds.items())
        if k in LABELS) + ".")
    print("\n".join(out))


if __name__ == "__main__":
    main()
