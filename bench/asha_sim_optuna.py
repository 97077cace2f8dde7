"""Optuna's pruners on the scheduler simulator's synthetic learning curves.

The curve family, its noise and the epoch budget are those of bench/asha_sim_curves.h, ported
line for line (see the definition there); `--check` prints the same numbers as
`bench_asha_sim --check`. One simulated worker: Optuna runs sequentially (n_jobs=1, ask/tell),
one epoch after the other, until `--budget` epochs are spent (the trial in flight is cut there).
The pruner is asked after every epoch but the last (epoch R ends the trial: Optuna's
SuccessiveHalvingPruner has no maximum resource and would otherwise treat epoch 27 = 3^3 as a
rung and prune a fully trained trial).

  asha_sim_optuna.py --check
  asha_sim_optuna.py --methods sh,hyperband,none,sh+random --seeds 10 --budget 2700 \
      --max-epochs 27 --fstar F                                  # F: bench_asha_sim --fstar
  asha_sim_optuna.py --table ours.jsonl optuna.jsonl --fstar F   # side-by-side markdown table

Prints one JSON line per run: {"bench": "sched_1worker", "impl": "optuna", "method", "sampler",
"seed", "budget", "epochs_to_target", "regret", "best_regret", "n_trials", "n_complete",
"seconds"}.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import struct
import sys
import time

MASK = (1 << 64) - 1
START_ERROR = 0.90
BASE_ERROR = 0.10
NOISE_SIGMA = 0.003
BEST_LOG10_LR = (-1.5, -3.0, -3.3)
OFFSET = (0.0, 0.0, 0.004)
RATE = (1.4, 3.0, 3.0)
OPTIMIZERS = ("sgd", "adam", "rmsprop")


def splitmix64(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def params(u: float, w: float, d: float, o: int) -> tuple[float, float, bool]:
    du = u - BEST_LOG10_LR[o]
    dw = w - 9.0
    dd = d - 0.05 * (w - 3.0)
    excess = 0.012 * du * du + 0.001 * dw * dw + 0.03 * dd * dd
    final_error = BASE_ERROR + OFFSET[o] + excess
    rate = (RATE[o] * math.pow(2.0, 0.5 * math.tanh(du)) * (1.0 - 0.3 * d) *
            math.pow(2.0, -0.05 * (w - 6.0)) * math.exp(-excess / 0.05))
    return final_error, rate, o == 0


def curve_at(p: tuple[float, float, bool], t: float) -> float:
    final_error, rate, exponential = p
    decay = math.exp(-rate * t) if exponential else math.pow(1.0 + t, -rate)
    return final_error + (START_ERROR - final_error) * decay


def true_value(c: tuple[float, int, float, int], epoch: int) -> float:
    lr, width, dropout, o = c
    return curve_at(params(math.log10(lr), math.log2(float(width)), dropout, o), float(epoch))


def noise(seed: int, c: tuple[float, int, float, int], epoch: int) -> float:
    lr, width, dropout, o = c
    h = splitmix64(seed & MASK)
    h = splitmix64(h ^ bits(lr))
    h = splitmix64(h ^ (width & MASK))
    h = splitmix64(h ^ bits(dropout))
    h = splitmix64(h ^ o)
    h = splitmix64(h ^ (epoch & MASK))
    u1 = float((h >> 11) + 1) * 2.0**-53
    u2 = float(splitmix64(h) >> 11) * 2.0**-53
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def observe(seed: int, c: tuple[float, int, float, int], epoch: int) -> float:
    return true_value(c, epoch) + NOISE_SIGMA * noise(seed, c, epoch)


def test_config(k: int) -> tuple[float, int, float, int]:
    # The same points as TestConfig() in asha_sim.cc.
    lr = math.pow(10.0, -4.0 + 3.0 * math.fmod((k + 1) * 0.137, 1.0))
    width = 16 + (k * 97) % 1009
    dropout = 0.6 * math.fmod((k + 1) * 0.291, 1.0)
    return (lr, width, dropout, k % 3)


def check() -> None:
    for k in range(12):
        c = test_config(k)
        for epoch in (1, 3, 9, 27):
            print(json.dumps({"bench": "check", "k": k, "epoch": epoch,
                              "true": true_value(c, epoch), "observed": observe(k, c, epoch)}))


def run_one(method: str, seed: int, budget: int, max_epochs: int, eta: int,
            fstar: float) -> dict:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    method, _, sampler_name = method.partition("+")
    sampler_name = sampler_name or "tpe"
    if sampler_name == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed)
    elif sampler_name == "random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    else:
        raise SystemExit(f"unknown sampler {sampler_name!r} (known: tpe, random)")
    if method == "sh":
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=eta,
                                                        min_early_stopping_rate=0)
    elif method == "hyperband":
        pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs,
                                                reduction_factor=eta)
    elif method == "none":
        pruner = optuna.pruners.NopPruner()
    else:
        raise SystemExit(f"unknown method {method!r} (known: sh, hyperband, none)")
    # A fixed study name: HyperbandPruner assigns brackets by a hash of the study name and the
    # trial number, so an auto-generated name would make runs irreproducible.
    study = optuna.create_study(study_name=f"asha_sim_{seed}", direction="minimize",
                                sampler=sampler, pruner=pruner)
    start = time.perf_counter()
    epochs = 0
    n_trials = n_complete = 0
    epochs_to_target = None
    incumbent = None  # (reported final, true final)
    best_true = None
    while epochs < budget:
        trial = study.ask()
        n_trials += 1
        c = (trial.suggest_float("lr", 1e-4, 1e-1, log=True),
             trial.suggest_int("width", 16, 1024, log=True),
             trial.suggest_float("dropout", 0.0, 0.6),
             OPTIMIZERS.index(trial.suggest_categorical("optimizer", list(OPTIMIZERS))))
        for epoch in range(1, max_epochs + 1):
            y = observe(seed, c, epoch)
            epochs += 1
            trial.report(y, epoch)
            if epoch == max_epochs:
                study.tell(trial, y)
                n_complete += 1
                v = true_value(c, max_epochs)
                if epochs_to_target is None and v <= 1.01 * fstar:
                    epochs_to_target = epochs
                best_true = v if best_true is None else min(best_true, v)
                if incumbent is None or y < incumbent[0]:
                    incumbent = (y, v)
                break
            if epochs >= budget:
                break  # the budget ends in the middle of this trial
            if trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
    return {"bench": "sched_1worker", "impl": "optuna", "method": method,
            "sampler": sampler_name, "seed": seed,
            "budget": budget, "epochs_to_target": epochs_to_target,
            "regret": None if incumbent is None else incumbent[1] - fstar,
            "best_regret": None if best_true is None else best_true - fstar,
            "n_trials": n_trials, "n_complete": n_complete,
            "seconds": round(time.perf_counter() - start, 3)}


# ---- side-by-side table ---------------------------------------------------------------------

LABELS = {
    ("hpo", "asha", "tpe"): "hpo asha (promotion) + TPE",
    ("hpo", "asha_stopping", "tpe"): "hpo asha_stopping + TPE",
    ("hpo", "hyperband", "tpe"): "hpo hyperband (promotion) + TPE",
    ("hpo", "hyperband_stopping", "tpe"): "hpo hyperband_stopping + TPE",
    ("hpo", "fifo", "tpe"): "hpo fifo (no early stopping) + TPE",
    ("optuna", "sh", "tpe"): "Optuna SuccessiveHalvingPruner + TPESampler",
    ("optuna", "hyperband", "tpe"): "Optuna HyperbandPruner + TPESampler",
    ("optuna", "none", "tpe"): "Optuna NopPruner + TPESampler",
    ("hpo", "asha", "random"): "hpo asha (promotion) + random",
    ("hpo", "asha_stopping", "random"): "hpo asha_stopping + random",
    ("optuna", "sh", "random"): "Optuna SuccessiveHalvingPruner + RandomSampler",
}


def quantiles(xs: list[float]) -> tuple[float, float, float]:
    """Median and quartiles (inf counts as larger than everything)."""
    xs = sorted(xs)
    def q(p: float) -> float:
        pos = p * (len(xs) - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, len(xs) - 1)
        if math.isinf(xs[lo]) or math.isinf(xs[hi]):
            return math.inf if pos > lo or math.isinf(xs[lo]) else xs[lo]
        return xs[lo] + (pos - lo) * (xs[hi] - xs[lo])
    return q(0.5), q(0.25), q(0.75)


def fmt(x: float, digits: int = 0) -> str:
    if math.isinf(x):
        return "not reached"
    return f"{x:,.{digits}f}"


def table(paths: list[str], fstar: float) -> None:
    runs: dict[tuple[str, str, str], list[dict]] = {}
    for path in paths:
        for line in open(path):
            r = json.loads(line)
            if r.get("bench") == "sched_1worker":
                runs.setdefault((r["impl"], r["method"], r["sampler"]), []).append(r)
    if not runs:
        raise SystemExit("no sched_1worker lines")
    budget = next(iter(runs.values()))[0]["budget"]
    print(f"**Side by side with Optuna: one worker, same curves** (Optuna runs sequentially, "
          "n_jobs=1, and ours simulates one worker, so both spend epochs one after the other and "
          "epochs compare directly; with one worker the promotion variant cannot gain from "
          "asynchrony, so this is the stricter setting for it. The pruner is asked after every "
          "epoch but the last; the random-sampler rows separate the pruner from the sampler. "
          f"Budget {budget:,} epochs per run; target: a trial "
          f"trained to R whose noise-free final error is within 1% of f* = {fstar:.5f}; "
          "median [25th, 75th percentile] over seeds; final regret = noise-free final error of "
          "the trial trained to R with the best reported (noisy) final value, minus f*; "
          "best-trained regret = the smallest noise-free final error among the trials trained "
          "to R, minus f*)\n")
    print("| method | seeds | reached target | epochs to target | final regret (×1e-3) | "
          "best-trained regret (×1e-3) | trials started | trials trained to R | "
          "wall s per run |")
    print("|---|---|---|---|---|---|---|---|---|")
    order = [k for k in LABELS if k in runs] + sorted(k for k in runs if k not in LABELS)
    summary = {}
    for key in order:
        rs = runs[key]
        ett = [math.inf if r["epochs_to_target"] is None else r["epochs_to_target"] for r in rs]
        reg = [math.inf if r["regret"] is None else 1e3 * r["regret"] for r in rs]
        m, lo, hi = quantiles(ett)
        rm, rlo, rhi = quantiles(reg)
        breg = [math.inf if r["best_regret"] is None else 1e3 * r["best_regret"] for r in rs]
        bm, blo, bhi = quantiles(breg)
        summary[key] = (m, rm)
        reached = sum(1 for x in ett if not math.isinf(x))
        print(f"| {LABELS.get(key, ' '.join(key))} | {len(rs)} | {reached}/{len(rs)} | "
              f"{fmt(m)} [{fmt(lo)}, {fmt(hi)}] | {fmt(rm, 2)} [{fmt(rlo, 2)}, {fmt(rhi, 2)}] | "
              f"{fmt(bm, 2)} [{fmt(blo, 2)}, {fmt(bhi, 2)}] | "
              f"{statistics.median(r['n_trials'] for r in rs):,.0f} | "
              f"{statistics.median(r['n_complete'] for r in rs):,.0f} | "
              f"{statistics.median(r['seconds'] for r in rs):.2f} |")
    print()
    ours = summary.get(("hpo", "asha", "tpe"))
    for peer in (("optuna", "sh", "tpe"), ("optuna", "hyperband", "tpe")):
        if ours is None or peer not in summary:
            continue
        m_ours, m_peer = ours[0], summary[peer][0]
        if math.isinf(m_ours):
            verdict = "MISSED (hpo asha did not reach the target in most seeds)"
        elif math.isinf(m_peer):
            verdict = "met (the peer did not reach the target in most seeds)"
        else:
            verdict = (f"{'met' if m_ours < m_peer else 'MISSED'} "
                       f"({m_peer / m_ours:.2f}× the epochs for the peer)")
        print(f"- hpo asha (promotion) + TPE needs fewer epochs to the target than "
              f"{LABELS[peer]} (medians): {verdict}.")
    a, b = ("hpo", "asha_stopping", "random"), ("optuna", "sh", "random")
    if a in summary and b in summary:
        print(f"- The same stopping rule without a model (random sampler; not a target): "
              f"{LABELS[a]} {fmt(summary[a][0])} epochs to the target and regret "
              f"{fmt(summary[a][1], 2)}e-3, {LABELS[b]} {fmt(summary[b][0])} and "
              f"{fmt(summary[b][1], 2)}e-3 (medians).")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--table", nargs="+", metavar="JSONL")
    ap.add_argument("--methods", default="sh,hyperband,none,sh+random",
                    help="pruner[+sampler]: pruner sh, hyperband or none; sampler tpe (default) "
                         "or random")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget", type=int, default=2700)
    ap.add_argument("--max-epochs", type=int, default=27)
    ap.add_argument("--eta", type=int, default=3)
    ap.add_argument("--fstar", type=float)
    a = ap.parse_args()
    if a.check:
        check()
        return
    if a.fstar is None:
        raise SystemExit("--fstar is required (bench_asha_sim --fstar prints it)")
    if a.table:
        table(a.table, a.fstar)
        return
    for method in a.methods.split(","):
        for seed in range(a.seeds):
            print(json.dumps(run_one(method, seed, a.budget, a.max_epochs, a.eta, a.fstar)),
                  flush=True)
            print(f"asha_sim_optuna: {method} seed {seed} done", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
