#!/usr/bin/env python3
"""Runs the trainer benchmarks side by side and prints markdown tables (bench/trainer/run.sh).

  throughput  the study files throughput_mlp.yaml and throughput_small.yaml (fifo, no pruning),
              ours (`train`) and then Optuna + PyTorch (optuna_baseline.py) given exactly the
              configurations ours sampled (read from ours' trials.csv), alternating, --reps times
  tta         tta.yaml: our ASHA (promotion) + TPE against Optuna's TPE +
              SuccessiveHalvingPruner, one pair per seed: wall time until the study's best
              val_accuracy first reaches --target
  memory      memory.yaml under /usr/bin/time -v with --trials-per-device 8 and 1: peak RSS
              against the per-trial estimate, and two probes (a smaller validation batch; a
              third of the training set, which would expose a per-trial copy of the dataset)

Every figure printed comes from a run of this script; raw results go to OUT/*.json, and
--retable prints the tables again from them without running anything.
"""

import argparse
import csv
import json
import os
import resource
import re
import shlex
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def log(msg):
    print(f"bench/trainer: {msg} ({time.strftime('%H:%M:%S')}, load {loadavg()})",
          file=sys.stderr, flush=True)


def proc_cpu(pid):
    """user + system CPU seconds of a running process (all its threads), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def child_cpu():
    """user + system CPU seconds of the finished children so far."""
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


class Runner:
    def __init__(self, args):
        self.args = args
        self.out = args.out
        os.makedirs(self.out, exist_ok=True)
        self.commands = []  # (what, command line) for the document

    def note(self, what, cmd):
        self.commands.append((what, " ".join(shlex.quote(c) for c in cmd)))

    # ---- ours -----------------------------------------------------------------------------
    def reused(self, tag):
        """With --retable: the saved result of an earlier run in --out, instead of running."""
        path = os.path.join(self.out, f"{tag}.json")
        if not self.args.retable:
            return None
        if not os.path.exists(path):
            sys.exit(f"bench/trainer: --retable: {path} is missing")
        return json.load(open(path))

    def ours(self, tag, study, extra=(), timev=False):
        """Runs `train` with the JSON log; timestamps every line as it arrives."""
        d = os.path.join(self.out, tag)
        cmd = [self.args.train, "--study", study, "--storage", os.path.join(d, "study.db"),
               "--output", d, "--log-format", "json", *extra]
        if timev:
            cmd = ["/usr/bin/time", "-v", "-o", os.path.join(d, "time.txt"), *cmd]
        self.note(f"ours {tag}", cmd)
        if (res := self.reused(tag)) is not None:
            return res
        if os.path.exists(d):
            subprocess.run(["rm", "-rf", d], check=True)
        os.makedirs(d)
        load_before = loadavg()
        cpu0 = child_cpu()
        t0 = time.time()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1)
        events = []
        with open(os.path.join(d, "log.jsonl"), "w") as raw:
            for line in proc.stdout:
                t = time.time() - t0
                raw.write(f"{t:.4f}\t{line}")
                line = line.strip()
                if line.startswith("{"):
                    e = json.loads(line)
                    e["_t"] = t
                    if e.get("event") in ("start", "outputs"):
                        e["_cpu"] = proc_cpu(proc.pid)
                    events.append(e)
        rc = proc.wait()
        total = time.time() - t0
        cpu = child_cpu() - cpu0
        if rc != 0:
            sys.exit(f"bench/trainer: {' '.join(cmd)} exited {rc}")
        start_e = next(e for e in events if e.get("event") == "start")
        end_e = next(e for e in events if e.get("event") == "outputs")
        start, end = start_e["_t"], end_e["_t"]
        study_cpu = (end_e["_cpu"] - start_e["_cpu"]
                     if end_e["_cpu"] is not None and start_e["_cpu"] is not None else None)
        epochs = [{"trial": e["trial"], "epoch": e["epoch"], "val_accuracy": e["val_accuracy"],
                   "t": e["_t"], "seconds": e["seconds"]}
                  for e in events if e.get("event") == "epoch"]
        rows = list(csv.DictReader(open(os.path.join(d, "trials.csv"))))
        states = [r["state"] for r in rows]
        complete_values = [float(r["value"]) for r in rows if r["state"] == "complete"]
        res = {"side": "ours", "tag": tag, "total_s": total, "cpu_s": cpu, "study_cpu_s": study_cpu,
               "startup_s": start,
               "study_s": end - start, "epochs": epochs,
               "complete": states.count("complete"), "pruned": states.count("pruned"),
               "failed": states.count("failed"),
               "best": max(complete_values) if complete_values else None,
               "trials_csv": os.path.join(d, "trials.csv"),
               "load_before": load_before, "load_after": loadavg()}
        if timev:
            text = open(os.path.join(d, "time.txt")).read()
            res["max_rss_kb"] = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)",
                                              text).group(1))
        json.dump(res, open(os.path.join(self.out, f"{tag}.json"), "w"), indent=1)
        return res

    # ---- Optuna ---------------------------------------------------------------------------
    def optuna(self, tag, study, extra=()):
        outfile = os.path.join(self.out, f"{tag}.raw.json")
        t0 = time.time()
        cmd = [self.args.python, os.path.join(HERE, "optuna_baseline.py"), "--study", study,
               "--out", outfile, *extra]
        self.note(f"optuna {tag}", cmd)
        if (res := self.reused(tag)) is not None:
            return res
        load_before = loadavg()
        cpu0 = child_cpu()
        subprocess.run(cmd + ["--t0", repr(t0)], check=True)
        total = time.time() - t0
        cpu = child_cpu() - cpu0
        r = json.load(open(outfile))
        res = {"side": "optuna", "tag": tag, "total_s": total, "cpu_s": cpu,
               "startup_s": r["startup_s"],
               "study_s": r["study_s"], "study_cpu_s": r["study_cpu_s"], "epochs": r["epochs"],
               "complete": r["complete"],
               "pruned": r["pruned"], "failed": r["failed"], "best": r["best"],
               "trial_params": r["trial_params"], "versions": r["versions"],
               "load_before": load_before, "load_after": loadavg()}
        json.dump(res, open(os.path.join(self.out, f"{tag}.json"), "w"), indent=1)
        return res


def study_trials(path):
    import yaml
    doc = yaml.safe_load(open(path))
    return int(doc["budget"]["trials"]), int(doc["budget"]["max_epochs"]), doc


# ---- 1. throughput ---------------------------------------------------------------------------

def throughput(r):
    cases = [("a", "quickstart MLP shape (width 64-512, batch 128/256)", "throughput_mlp.yaml"),
             ("b", "small models (width 16-128, batch 32/64)", "throughput_small.yaml")]
    lines = ["### 1. Throughput: the same study, same configurations, no pruning", "",
             "| case | side | rep | study wall (s) | study CPU (s) | process wall (s) | "
             "trials complete | trials/hour (study wall) | best val_accuracy | "
             "load avg before |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    summary = ["", "| case | ours: median study wall (s) | Optuna: median study wall (s) | "
               "ours trials/hour | Optuna trials/hour | speed-up (wall) | "
               "CPU ratio (Optuna / ours) | aim | met? |",
               "|---|---|---|---|---|---|---|---|---|"]
    match = []
    verdicts = {}
    for key, label, fname in cases:
        study = os.path.join(HERE, fname)
        n_trials, epochs, _ = study_trials(study)
        ours_runs, py_runs = [], []
        for rep in range(1, r.args.reps + 1):
            log(f"throughput {key}: ours rep {rep}")
            o = r.ours(f"tp_{key}_ours_{rep}", study)
            ours_runs.append(o)
            log(f"throughput {key}: optuna rep {rep}")
            p = r.optuna(f"tp_{key}_optuna_{rep}", study, ["--enqueue", ours_runs[0]["trials_csv"]])
            py_runs.append(p)
            ours_params = [
                {k: v for k, v in row.items() if v != "" and k not in (
                    "number", "state", "epochs", "value", "last_value", "fail_reason")}
                for row in csv.DictReader(open(ours_runs[0]["trials_csv"]))]
            py_params = [{k: str(v) for k, v in t["params"].items()} for t in p["trial_params"]]
            same = len(ours_params) == len(py_params) and all(
                set(a) == set(b) and all(
                    (abs(float(a[k]) - float(b[k])) <= 1e-6 * abs(float(a[k])))
                    if k in ("lr", "dropout") else a[k] == b[k] for k in a)
                for a, b in zip(ours_params, py_params))
            if not same:
                sys.exit(f"bench/trainer: Optuna did not train ours' configurations:\n"
                         f"{ours_params}\n{py_params}")
        # Same configurations, seeds, data and loop: the per-epoch accuracies should agree
        # (exactly for SGD; Adam's C++ and Python updates round differently).
        oe = {(e["trial"], e["epoch"]): e["val_accuracy"] for e in ours_runs[0]["epochs"]}
        pe = {(e["trial"], e["epoch"]): e["val_accuracy"] for e in py_runs[0]["epochs"]}
        diffs = [abs(oe[k] - pe[k]) for k in oe if k in pe]
        match.append(f"({key}): {len(diffs)} trial-epochs on both sides, "
                     f"{sum(d == 0 for d in diffs)} with identical val_accuracy, "
                     f"largest difference {max(diffs):.4f}")
        for side, runs in (("ours", ours_runs), ("Optuna+PyTorch", py_runs)):
            for i, x in enumerate(runs, 1):
                cpu = "-" if x["study_cpu_s"] is None else f"{x['study_cpu_s']:.1f}"
                lines.append(
                    f"| ({key}) | {side} | {i} | {x['study_s']:.1f} | {cpu} | "
                    f"{x['total_s']:.1f} | {x['complete']}/{n_trials} | "
                    f"{x['complete'] * 3600 / x['study_s']:.0f} | {x['best']:.4f} | "
                    f"{x['load_before']} |")
        mo = statistics.median(x["study_s"] for x in ours_runs)
        mp = statistics.median(x["study_s"] for x in py_runs)
        co = [x["study_cpu_s"] for x in ours_runs if x["study_cpu_s"] is not None]
        cp = [x["study_cpu_s"] for x in py_runs]
        cpu_ratio = (f"{statistics.median(cp) / statistics.median(co):.2f}x" if co else "-")
        aim = 1.5 if key == "a" else 2.0
        speedup = mp / mo
        verdicts[key] = (speedup, aim)
        summary.append(f"| ({key}) {label}, {n_trials} trials x {epochs} epochs | {mo:.1f} | "
                       f"{mp:.1f} | {n_trials * 3600 / mo:.0f} | {n_trials * 3600 / mp:.0f} | "
                       f"{speedup:.2f}x | {cpu_ratio} | >= {aim}x | "
                       f"{'yes' if speedup >= aim else 'NO'} |")
    summary += ["", "Same work on both sides: " + "; ".join(match) + "."]
    return lines + summary, verdicts


# ---- 2. time to accuracy ---------------------------------------------------------------------

def first_hit(run, target):
    """(seconds since the study started, trial, epoch) of the first epoch at the target."""
    hits = sorted((e["t"], e["trial"], e["epoch"]) for e in run["epochs"]
                  if e["val_accuracy"] >= target)
    if not hits:
        return None
    t = hits[0][0]
    epochs_by_then = sum(1 for e in run["epochs"] if e["t"] <= t)
    return (t - run["startup_s"], hits[0][1], hits[0][2], epochs_by_then)


def best_acc(run):
    return max((e["val_accuracy"] for e in run["epochs"]), default=float("nan"))


def tta(r):
    study = os.path.join(HERE, "tta.yaml")
    n_trials, epochs, doc = study_trials(study)
    target = r.args.target
    seeds = [int(s) for s in r.args.seeds.split(",")]
    lines = [f"### 2. Time to val_accuracy >= {target}", "",
             "| seed | ours: time to target (s) | ours: reached by trial, epoch | "
             "ours: epochs trained until then | ours: study wall (s) / epochs | "
             "ours: best val_acc | Optuna: time to target (s) | Optuna: reached by trial, epoch | "
             "Optuna: epochs trained until then | Optuna: study wall (s) / epochs | "
             "Optuna: best val_acc | Optuna / ours | load avg before (ours / Optuna) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    ours_t, py_t, ours_e, py_e = [], [], [], []
    for i, seed in enumerate(seeds):
        # the seed goes into a copy of the study file (ours has no --seed flag)
        doc["study"]["seed"] = seed
        seeded = os.path.join(r.out, f"tta_seed{seed}.yaml")
        import yaml
        yaml.safe_dump(doc, open(seeded, "w"), sort_keys=False)
        order = ("ours", "optuna") if i % 2 == 0 else ("optuna", "ours")
        runs = {}
        for side in order:
            log(f"tta seed {seed}: {side}")
            runs[side] = (r.ours(f"tta_ours_{seed}", seeded) if side == "ours"
                          else r.optuna(f"tta_optuna_{seed}", seeded))
        o, p = runs["ours"], runs["optuna"]
        ho, hp = first_hit(o, target), first_hit(p, target)
        to, tp = (ho and ho[0]), (hp and hp[0])
        ours_t.append(to)
        py_t.append(tp)
        ours_e.append(ho and ho[3])
        py_e.append(hp and hp[3])
        fmt = lambda v: "not reached" if v is None else f"{v:.1f}"  # noqa: E731
        by = lambda h: "-" if h is None else f"{h[1]}, {h[2]}"  # noqa: E731
        upto = lambda h: "-" if h is None else str(h[3])  # noqa: E731
        ratio = f"{tp / to:.2f}x" if to and tp else "-"
        lines.append(f"| {seed} | {fmt(to)} | {by(ho)} | {upto(ho)} | "
                     f"{o['study_s']:.1f} / {len(o['epochs'])} | {best_acc(o):.4f} | "
                     f"{fmt(tp)} | {by(hp)} | {upto(hp)} | "
                     f"{p['study_s']:.1f} / {len(p['epochs'])} | {best_acc(p):.4f} | {ratio} | "
                     f"{o['load_before']} / {p['load_before']} |")

    def med(ts):
        # a study that never reached the target counts as infinitely slow
        return statistics.median(float("inf") if t is None else t for t in ts)

    mo, mp = med(ours_t), med(py_t)
    speed = mp / mo if mo not in (0, float("inf")) else float("nan")
    lines += ["", f"Median over {len(seeds)} seeds (a study that never reached the target counts "
              f"as infinitely slow): ours {mo:.1f} s, Optuna {mp:.1f} s: "
              f"**{speed:.2f}x** (aim 2x: {'met' if speed >= 2 else 'NOT met'}). "
              f"Epochs trained (all trials) until the target, median: ours {med(ours_e):.0f}, "
              f"Optuna {med(py_e):.0f}."]
    return lines, (speed, 2.0)


# ---- 3. memory -------------------------------------------------------------------------------

def memory(r):
    import yaml
    study = os.path.join(HERE, "memory.yaml")
    _, _, doc = study_trials(study)
    m, t = doc["model"], doc["training"]
    width, layers, batch = int(m["hidden_units"]), int(m["layers"]), int(t["batch_size"])
    feat, classes = 784, 10
    params = (feat * width + width) + (layers - 1) * (width * width + width) + width * classes \
        + classes
    model_opt = params * 4 * (1 + 1 + 2)
    act = batch * width * layers * 4 * 3
    per_trial = model_opt + act
    row_bytes = feat * 4 + 8  # float32 image + int64 label
    n_val = 6000

    def dataset_bytes(train_limit):
        return (train_limit + n_val) * row_bytes

    # The study as written, then two probes: a larger validation batch (eval activations are
    # not in the estimate; 2048 was the default before 512) and a third of the training set (a per-trial copy of the dataset
    # would move peak_8 - peak_1 by 7 x the size difference).
    eval_batch = int(t.get("eval_batch_size", 512))  # trainer/src/schema.cc's default
    variants = [(f"as written (eval_batch_size {eval_batch}, train_limit 30000)", {}),
                ("probe: eval_batch_size 2048", {"training": {"eval_batch_size": 2048}}),
                ("probe: train_limit 10000", {"data": {"train_limit": 10000}})]
    mib = lambda b: b / 2**20  # noqa: E731
    rows, diffs, limits = [], [], []
    for i, (label, change) in enumerate(variants):
        d = json.loads(json.dumps(doc))
        for section, kv in change.items():
            d[section].update(kv)
        path = study if not change else os.path.join(r.out, f"memory_{i}.yaml")
        if change:
            yaml.safe_dump(d, open(path, "w"), sort_keys=False)
        # The study as written three times, alternating 1 and 8 (peak RSS moves by ~+-10 MiB from
        # run to run with the threads' timing): medians. The probes once each.
        reps = 3 if i == 0 else 1
        runs = {1: [], 8: []}
        for rep in range(1, reps + 1):
            for k in (1, 8):
                log(f"memory {label}: {k} concurrent, rep {rep}")
                tag = f"mem{i}_{k}" + (f"_r{rep}" if rep > 1 else "")
                runs[k].append(r.ours(tag, path, ["--trials-per-device", str(k)],
                                      timev=True)["max_rss_kb"] * 1024)
        peaks = {k: statistics.median(v) for k, v in runs.items()}
        if reps > 1:
            rep_note = ("Peak RSS of the study as written, run by run (1 / 8 concurrent, MiB): " +
                        ", ".join(f"{mib(a):.1f} / {mib(b):.1f}"
                                  for a, b in zip(runs[1], runs[8])) + "; medians used.")
        diff = peaks[8] - peaks[1]
        diffs.append(diff)
        limits.append(int(d["data"]["train_limit"]))
        rows.append(f"| {label} | {mib(dataset_bytes(limits[-1])):.1f} | {mib(peaks[1]):.1f} | "
                    f"{mib(peaks[8]):.1f} | {mib(diff):.1f} | {mib(diff / 7):.1f} |")
        if i == 0:
            p1, p8 = peaks[1], peaks[8]
    allowed = p1 + 8 * per_trial * 1.1
    # peak_1 already holds one trial, so 8 x estimate covers 7 extra trials plus one spare; the
    # estimate leaves out the validation activations (two layer outputs alive at once). The
    # stricter bound counts 7 extra trials with those included.
    strict = p1 + 7 * (per_trial + eval_batch * width * 4 * 2) * 1.1
    copy_effect = 7 * (dataset_bytes(limits[0]) - dataset_bytes(limits[2]))
    moved = diffs[0] - diffs[2]
    lines = ["### 3. Memory: 8 concurrent trials against 1", "", rep_note, "",
             f"Model 784-{'-'.join([str(width)] * layers)}-10, Adam, batch {batch}: "
             f"{params:,} parameters. `--trials-per-device 1` trains the 8 trials one after "
             "another (2 intra-op threads), `--trials-per-device 8` all at once (1 thread each).",
             "",
             "| quantity | value |", "|---|---|",
             f"| model + gradients + Adam state (params x 4 B x 4) | {mib(model_opt):.1f} MiB |",
             f"| training activations (batch x width x layers x 4 B x 3) | {mib(act):.1f} MiB |",
             f"| per-trial estimate | {mib(per_trial):.1f} MiB |",
             f"| not in the estimate: validation activations, eval_batch_size {eval_batch} x "
             f"{width} x 4 B per layer output | {mib(eval_batch * width * 4):.1f} MiB |",
             f"| dataset, one copy (train {limits[0]} + val {n_val}) | "
             f"{mib(dataset_bytes(limits[0])):.1f} MiB |",
             f"| peak_1 / peak_8 | {mib(p1):.1f} / {mib(p8):.1f} MiB |",
             f"| peak_8 - peak_1 | {mib(p8 - p1):.1f} MiB ({mib((p8 - p1) / 8):.1f} MiB per "
             f"trial over 8, {mib((p8 - p1) / 7):.1f} MiB per extra trial over 7; "
             f"{(p8 - p1) / per_trial / 7:.2f} x the estimate per extra trial) |",
             f"| bound peak_1 + 8 x estimate x 1.1 (the aim) | {mib(allowed):.1f} MiB |",
             f"| stricter: peak_1 + 7 x (estimate + validation activations {eval_batch} x "
             f"{width} x 4 B x 2) x 1.1 | {mib(strict):.1f} MiB |", "",
             "| study | dataset (MiB) | peak_1 (MiB) | peak_8 (MiB) | peak_8 - peak_1 (MiB) | "
             "per extra trial (MiB, / 7) |", "|---|---|---|---|---|---|", *rows, "",
             f"peak_8 <= peak_1 + 8 x estimate x 1.1: **{'yes' if p8 <= allowed else 'NO'}** "
             f"({mib(p8):.1f} vs {mib(allowed):.1f} MiB); the stricter bound: "
             f"**{'yes' if p8 <= strict else 'NO'}** ({mib(strict):.1f} MiB).",
             f"Dataset shared, not copied per trial: **"
             f"{'yes' if abs(moved) < copy_effect / 4 else 'NO'}**: going from "
             f"{limits[2]} to {limits[0]} training images moved peak_8 - peak_1 by "
             f"{mib(moved):+.1f} MiB; a copy per trial would move it by {mib(copy_effect):.1f} MiB."]
    return lines, (p8 <= allowed)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--parts", default="throughput,tta,memory")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seeds", default="1,2,3,4,5,6,7")
    ap.add_argument("--target", type=float, default=0.88)
    ap.add_argument("--retable", action="store_true",
                    help="print the tables from the results already in --out; run nothing")
    args = ap.parse_args()
    r = Runner(args)
    parts = args.parts.split(",")
    out = []
    env = ([f"tables rebuilt with --retable from the results saved in {args.out}"]
           if args.retable else [f"load average at start: {loadavg()}"])
    t_start = time.time()
    if "throughput" in parts:
        lines, _ = throughput(r)
        out += lines + [""]
    if "tta" in parts:
        lines, _ = tta(r)
        out += lines + [""]
    if "memory" in parts:
        lines, _ = memory(r)
        out += lines + [""]
    if not args.retable:
        env.append(f"load average at end: {loadavg()}; whole run {time.time() - t_start:.0f} s")
    out += ["Commands run (in order):", "", "```"] + [c for _, c in r.commands] + ["```"]
    text = "\n".join(env + [""] + out) + "\n"
    name = "tables-retable.md" if args.retable else "tables.md"
    open(os.path.join(args.out, name), "w").write(text)
    print(text)


if __name__ == "__main__":
    main()
