"""Merges the JSON lines of bench/ask_latency.cc, bench/storage_throughput.cc and
bench/optuna_latency.py into markdown tables, and checks the targets.

  compare_latency.py results/latency_hpo.jsonl results/latency_optuna.jsonl [...]

Targets (from the benchmark brief): TPE ask >= 50x faster than Optuna at 1,000 trials, and ours
grows <= 3x from 1,000 to 10,000 trials; GP-BO ask >= 20x faster than Optuna; ask+tell on
SQLite >= 20x faster than Optuna on SQLite, and our SQLite within 3x of our in-memory storage
(with the bound that the SQLite floor rows, two bare one-row transactions per trial, put on it).
"""

import json
import sys


def load(paths):
    rows = []
    for path in paths:
        with open(path) as f:
            rows += [json.loads(l) for l in f if l.startswith("{")]
    return rows


def fmt_ms(v):
    return f"{v:.3g}" if v < 10 else f"{v:.0f}"


def ask_table(rows, sampler, problem, label, target_n, target_x):
    """Rows per trial count: hpo, then each Optuna thread setting. Speed-ups are ratios of
    medians; the target is judged against the fastest Optuna setting."""
    ours = {r["n_trials"]: r for r in rows if r["bench"] == "ask_latency" and r["impl"] == "hpo"
            and r["sampler"] == sampler and r["problem"] == problem}
    peers = {}  # n -> {threads: row}
    for r in rows:
        if (r["bench"] == "ask_latency" and r["impl"] == "optuna" and r["sampler"] == sampler
                and r["problem"] == problem):
            peers.setdefault(r["n_trials"], {})[str(r.get("threads", "default"))] = r
    if not ours:
        return [], [], {}
    lines = [f"**{label}** (problem `{problem}`; ms per ask: median [p10, p90] over `reps` timed "
             "asks; `first`: the first ask after the pre-fill; hpo runs on one thread, Optuna "
             "with torch/BLAS threads as given)", "",
             "| completed trials | implementation | median [p10, p90] ms | first ms | reps | "
             "Optuna median / hpo median |", "|---|---|---|---|---|---|"]
    for n in sorted(ours):
        o = ours[n]
        lines.append(f"| {n:,} | hpo | {fmt_ms(o['median_ms'])} [{fmt_ms(o['p10_ms'])}, "
                     f"{fmt_ms(o['p90_ms'])}] | {fmt_ms(o['first_ms'])} | {o['reps']} | |")
        for t, p in sorted(peers.get(n, {}).items()):
            name = "Optuna" + (" (1 thread)" if t == "1" else
                               " (default threads)" if t == "default" else f" ({t} threads)")
            lines.append(f"| {n:,} | {name} | {fmt_ms(p['median_ms'])} [{fmt_ms(p['p10_ms'])}, "
                         f"{fmt_ms(p['p90_ms'])}] | {fmt_ms(p['first_ms'])} | {p['reps']} | "
                         f"{p['median_ms'] / o['median_ms']:.0f}× |")
    lines.append("")
    verdicts = []
    for n in target_n:
        if n in ours and peers.get(n):
            best_t, best = min(peers[n].items(), key=lambda kv: kv[1]["median_ms"])
            x = best["median_ms"] / ours[n]["median_ms"]
            others = ", ".join(f"{p['median_ms'] / ours[n]['median_ms']:.0f}× vs threads={t}"
                               for t, p in sorted(peers[n].items()) if t != best_t)
            verdicts.append(f"{label}: {x:.0f}× faster than the fastest Optuna setting "
                            f"(threads={best_t}) at {n:,} trials (target ≥{target_x}×): "
                            f"{'met' if x >= target_x else 'MISSED'}"
                            + (f" ({others})." if others else "."))
    return lines, verdicts, ours


def storage_table(rows):
    st = [r for r in rows if r["bench"] == "storage"]
    if not st:
        return [], []
    lines = ["**Ask+tell throughput** (random sampler, 10-parameter mixed space, fresh storage; "
             "per-trial = total wall time / trials done)", "",
             "| implementation | storage | mode | trials done | total s | µs per trial | "
             "10,000 trials (s) |", "|---|---|---|---|---|---|---|"]
    for r in st:
        done = r.get("n_done", r["n_trials"])
        extrapolated = done < 10000
        est = r["per_trial_us"] * 10000 / 1e6
        note = f"{est:,.1f}" + (" (extrapolated ×" + f"{10000 / done:g})" if extrapolated else "")
        if r.get("block_s"):
            note += "; s per 1,000: " + ", ".join(f"{b:g}" for b in r["block_s"])
        lines.append(f"| {'hpo' if r['impl'] == 'hpo' else 'Optuna'} | {r['storage']} | "
                     f"{r['mode']} | {done:,} | {r['total_s']:.2f} | {r['per_trial_us']:,.0f} | "
                     f"{note} |")
    lines.append("")
    verdicts = []

    def get(impl, storage, mode):
        for r in st:
            if r["impl"] == impl and r["storage"] == storage and r["mode"] == mode:
                return r
        return None

    optuna_sqlite = get("optuna", "sqlite", "define-by-run")
    optuna_wal = get("optuna", "sqlite-wal", "define-by-run")
    for mode in ("declarative", "define-by-run"):
        ours_sql, ours_mem = get("hpo", "sqlite", mode), get("hpo", "memory", mode)
        if ours_sql and optuna_sqlite:
            x = optuna_sqlite["per_trial_us"] / ours_sql["per_trial_us"]
            verdicts.append(f"SQLite ask+tell, hpo {mode} vs Optuna (default SQLite settings): "
                            f"{x:.0f}× faster (target ≥20×): {'met' if x >= 20 else 'MISSED'}.")
        if ours_sql and optuna_wal:
            x = optuna_wal["per_trial_us"] / ours_sql["per_trial_us"]
            verdicts.append(f"SQLite ask+tell, hpo {mode} vs Optuna with hpo's SQLite settings "
                            f"(WAL, synchronous=NORMAL): {x:.0f}× faster (target ≥20×): "
                            f"{'met' if x >= 20 else 'MISSED'}.")
        if ours_sql and ours_mem:
            x = ours_sql["per_trial_us"] / ours_mem["per_trial_us"]
            verdicts.append(f"hpo {mode}: SQLite {x:.1f}× the in-memory time per trial "
                            f"(target ≤3×): {'met' if x <= 3 else 'MISSED'}.")
            for floor in ("sqlite-floor", "sqlite-floor-exclusive"):
                f = get("hpo", floor, "floor")
                if f:
                    bound = (ours_mem["per_trial_us"] + f["per_trial_us"]) / ours_mem["per_trial_us"]
                    verdicts.append(
                        f"hpo {mode}: {floor} (two bare one-row transactions per trial) "
                        f"{f['per_trial_us']:.0f} µs, so any SQLite storage with one transaction "
                        f"per state change is at least {bound:.1f}× the in-memory time here; "
                        f"ours is {ours_sql['per_trial_us'] / f['per_trial_us']:.1f}× the floor.")
    return lines, verdicts


def main():
    rows = load(sys.argv[1:])
    out, verdicts = [], []
    tpe = ask_table(rows, "tpe", "mixed10", "TPE ask latency", [1000], 50)
    if tpe[0]:
        out += tpe[0]
        verdicts += tpe[1]
        ours = tpe[2]
        if 1000 in ours and 10000 in ours:
            g = ours[10000]["median_ms"] / ours[1000]["median_ms"]
            verdicts.append(f"hpo TPE ask from 1,000 to 10,000 trials: ×{g:.2f} (target ≤3×): "
                            f"{'met' if g <= 3 else 'MISSED'}.")
    gp = ask_table(rows, "gp", "hartmann6", "GP-BO ask latency", [100, 500], 20)
    if gp[0]:
        out += gp[0]
        verdicts += gp[1]
    st = storage_table(rows)
    out += st[0]
    verdicts += st[1]
    if verdicts:
        out += ["Targets:", ""] + [f"- {v}" for v in verdicts] + [""]
    print("\n".join(out))


if __name__ == "__main__":
    main()
