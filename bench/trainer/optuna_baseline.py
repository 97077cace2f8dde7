#!/usr/bin/env python3
"""The Python peer of the `train` binary: the same study file run by Optuna with PyTorch.

It reads one of our study files (MLP on Fashion-MNIST/MNIST) and runs it the way a competent
Python user would, mirroring trainer/src/trial_trainer.cc step for step:

  * data: the same IDX files, the same train/validation split (data/src/dataset.cc's
    mt19937_64 Fisher-Yates, train_limit, sorted indices) and standardisation, loaded once as
    float32 tensors shared by every trial (no per-sample DataLoader);
  * a trial: seed = study.seed * 1000003 + trial.number; a per-trial torch.Generator seeded with
    it shuffles (randperm) and draws the dropout masks; weights are initialised from the global
    generator seeded with it under a lock (concurrent trials, reproducible weights);
  * model: flatten -> [Linear -> activation (-> Dropout)] x layers -> Linear;
  * optimiser: torch.optim.Adam / SGD(momentum, nesterov) / AdamW / RMSprop with our defaults;
  * epoch: randperm, index_select batches, zero_grad, cross_entropy, backward, step, loss summed
    on the device (no host sync in the loop); evaluation in eval-batch-size slices under no_grad;
  * concurrency: Optuna's n_jobs threads = resources.trials_per_device, and
    torch.set_num_threads(cores // n_jobs) as the trainer divides the cores (threads_per_trial 0);
  * scheduler: fifo -> no pruner; asha / asha_stopping -> SuccessiveHalvingPruner with the same
    min_resource, reduction_factor and min_early_stopping_rate (Optuna has no pause-and-promote).

Trials may be given their configurations from one of our trials.csv files (--enqueue), so both
sides train exactly the same configurations; otherwise the sampler named in the study file
(random or tpe, with the TPE options the study file names) proposes them.

Writes one JSON object (--out): wall times, per-epoch records with their time since --t0 (the
launcher's clock when it started this process), and the trials.
"""

import argparse
import csv
import gzip
import json
import math
import os
import struct
import sys
import threading
import time

T_START = time.time()

import optuna  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import yaml  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)

# ---- Data: data/src/dataset.cc, one for one ------------------------------------------------

MASK64 = (1 << 64) - 1


class MT19937_64:
    """std::mt19937_64 (fully specified by the C++ standard)."""

    def __init__(self, seed):
        self.mt = [0] * 312
        self.mt[0] = seed & MASK64
        for i in range(1, 312):
            prev = self.mt[i - 1]
            self.mt[i] = (6364136223846793005 * (prev ^ (prev >> 62)) + i) & MASK64
        self.index = 312

    def _twist(self):
        mt = self.mt
        upper, lower = 0xFFFFFFFF80000000, 0x7FFFFFFF
        for i in range(312):
            x = (mt[i] & upper) | (mt[(i + 1) % 312] & lower)
            xa = x >> 1
            if x & 1:
                xa ^= 0xB5026F5AA96619E9
            mt[i] = mt[(i + 156) % 312] ^ xa
        self.index = 0

    def __call__(self):
        if self.index >= 312:
            self._twist()
        y = self.mt[self.index]
        self.index += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y & MASK64


def uniform_below(rng, bound):
    limit = MASK64 - MASK64 % bound
    while True:
        x = rng()
        if x < limit:
            return x % bound


def make_split(n, validation_fraction, seed, train_limit):
    n_val = int(math.floor(n * validation_fraction + 0.5))  # llround for positive values
    perm = list(range(n))
    rng = MT19937_64(seed)
    for i in range(n, 1, -1):
        j = uniform_below(rng, i)
        perm[i - 1], perm[j] = perm[j], perm[i - 1]
    val, train = perm[:n_val], perm[n_val:]
    if 0 < train_limit < len(train):
        train = train[:train_limit]
    return sorted(train), sorted(val)


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise SystemExit(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = torch.frombuffer(bytearray(raw[4 + 4 * ndim:]), dtype=torch.uint8)
    return data.reshape(dims)


def find_idx(folder, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(folder, name)
        if os.path.exists(p):
            return p
    raise SystemExit(f"{folder}: no {stem}(.gz)")


STATS = {"fashion_mnist": (0.2860, 0.3530), "mnist": (0.1307, 0.3081)}


def load_data(d):
    mean, std = STATS[d["name"]]
    images = read_idx(find_idx(d["path"], "train-images-idx3-ubyte"))
    labels = read_idx(find_idx(d["path"], "train-labels-idx1-ubyte"))
    n = images.shape[0]
    train, val = make_split(n, d["validation_fraction"], d["split_seed"], d["train_limit"])
    x = images.reshape(n, 1, images.shape[1], images.shape[2])
    ti, vi = torch.tensor(train, dtype=torch.long), torch.tensor(val, dtype=torch.long)

    def standardise(p):
        return p.to(torch.float32).div_(255.0).sub_(mean).div_(std)

    return (standardise(x.index_select(0, ti)), labels.index_select(0, ti).to(torch.long),
            standardise(x.index_select(0, vi)), labels.index_select(0, vi).to(torch.long))


# ---- Study file ------------------------------------------------------------------------------

DEFAULTS = {
    "data": {"name": "fashion_mnist", "path": "/usr/share/datasets/fashion-mnist",
             "validation_fraction": 0.1, "train_limit": 0, "split_seed": 0},
    "model": {"name": "mlp", "hidden_units": 256, "layers": 2, "activation": "relu",
              "dropout": 0.0, "batch_norm": False},
    "training": {"optimizer": "adam", "lr": 0.001, "momentum": 0.9, "nesterov": False,
                 "weight_decay": 0.0, "batch_size": 128, "lr_schedule": "constant",
                 "warmup_epochs": 0.0, "grad_clip": 0.0, "precision": "fp32",
                 "eval_batch_size": 512},
    "resources": {"devices": "cpu", "trials_per_device": 2, "threads_per_trial": 0},
    "scheduler": {"name": "asha", "min_resource": 1, "reduction_factor": 3,
                  "min_early_stopping_rate": 0},
}


def load_study(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    cfg = {k: dict(v) for k, v in DEFAULTS.items()}
    for section in cfg:
        value = doc.get(section)
        if isinstance(value, str):
            value = {"name": value}
        cfg[section].update(value or {})
    cfg["study"] = doc["study"]
    cfg["budget"] = doc["budget"]
    cfg["search_space"] = doc.get("search_space") or {}
    sampler = doc.get("sampler", {"name": "random"})
    cfg["sampler"] = {"name": sampler} if isinstance(sampler, str) else dict(sampler)
    # What this peer mirrors; anything else would silently differ from the trainer.
    fixed = {**cfg["model"], **cfg["training"]}
    for key, want in (("name", "mlp"), ("batch_norm", False), ("lr_schedule", "constant"),
                      ("warmup_epochs", 0.0), ("grad_clip", 0.0)):
        if key in cfg["search_space"] or fixed[key] != want:
            raise SystemExit(f"optuna_baseline: only {key} = {want} is mirrored")
    return cfg


def suggest(trial, space):
    """Our search_space entries, in file order, as Optuna define-by-run suggestions."""
    out = {}
    for name, spec in space.items():
        if not isinstance(spec, dict):
            out[name] = spec
            continue
        cond = spec.get("condition")
        if cond and out.get(cond["parent"]) not in cond["values"]:
            continue
        kind = spec["type"]
        if kind == "float":
            out[name] = trial.suggest_float(name, float(spec["low"]), float(spec["high"]),
                                            log=bool(spec.get("log", False)),
                                            step=spec.get("step"))
        elif kind == "int":
            out[name] = trial.suggest_int(name, int(spec["low"]), int(spec["high"]),
                                          log=bool(spec.get("log", False)),
                                          step=int(spec.get("step", 1)))
        else:
            out[name] = trial.suggest_categorical(name, list(spec["choices"]))
    return out


def read_enqueue(path, space):
    """Configurations from one of our trials.csv files, in trial-number order."""
    rows = sorted(csv.DictReader(open(path)), key=lambda r: int(r["number"]))
    configs = []
    for r in rows:
        params = {}
        for name, spec in space.items():
            if not isinstance(spec, dict) or r.get(name, "") == "":
                continue
            kind = spec["type"]
            if kind == "float":
                params[name] = float(r[name])
            elif kind == "int":
                params[name] = int(r[name])
            else:
                params[name] = next(c for c in spec["choices"] if str(c) == r[name])
        configs.append(params)
    return configs


# ---- Model and training: trainer/src/trial_trainer.cc, models/src/{mlp,dropout}.cc -----------

class Dropout(torch.nn.Module):
    """models/src/dropout.cc: the mask is drawn from the trial's generator."""

    def __init__(self, p, generator):
        super().__init__()
        self.p, self.generator = p, generator

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = 1 - self.p
        # uniform draw < keep, as models/src/dropout.cc (the same masks for the same generator)
        mask = torch.empty_like(x).uniform_(0, 1, generator=self.generator).lt_(keep)
        return x * mask.div_(keep)


ACTIVATIONS = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "gelu": torch.nn.GELU,
               "silu": torch.nn.SiLU}


def make_mlp(hp, features, classes, generator):
    width, layers, dropout = int(hp["hidden_units"]), int(hp["layers"]), float(hp["dropout"])
    body = []
    for i in range(layers):
        body.append(torch.nn.Linear(features if i == 0 else width, width))
        body.append(ACTIVATIONS[hp["activation"]]())
        if dropout > 0:
            body.append(Dropout(dropout, generator))
    body.append(torch.nn.Linear(width if layers > 0 else features, classes))
    return torch.nn.Sequential(torch.nn.Flatten(1), *body)


def make_optimizer(hp, params):
    name, lr, wd = hp["optimizer"], float(hp["lr"]), float(hp["weight_decay"])
    if name == "sgd":
        m = float(hp["momentum"])
        return torch.optim.SGD(params, lr=lr, momentum=m, nesterov=bool(hp["nesterov"]) and m > 0,
                               weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=float(hp["momentum"]), weight_decay=wd)
    raise ValueError(f"unknown optimizer {name}")


class Diverged(Exception):
    pass


def train_epoch(model, opt, generator, train_x, train_y, batch_size, epoch):
    n = train_x.size(0)
    perm = torch.randperm(n, generator=generator)
    model.train()
    loss_sum = torch.zeros(())
    for begin in range(0, n, batch_size):
        idx = perm[begin:begin + batch_size]
        x = train_x.index_select(0, idx)
        y = train_y.index_select(0, idx)
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss_sum += loss.detach() * idx.size(0)  # no host sync inside the loop
    train_loss = loss_sum.item() / n
    if not math.isfinite(train_loss):
        raise Diverged(f"training loss is {train_loss} at epoch {epoch}")
    return train_loss


@torch.no_grad()
def evaluate(model, val_x, val_y, eval_batch_size):
    model.eval()
    nv = val_x.size(0)
    correct = torch.zeros((), dtype=torch.long)
    vloss = torch.zeros(())
    for begin in range(0, nv, eval_batch_size):
        logits = model(val_x[begin:begin + eval_batch_size])
        y = val_y[begin:begin + eval_batch_size]
        vloss += F.cross_entropy(logits, y, reduction="sum")
        correct += logits.argmax(1).eq(y).sum()
    return vloss.item() / nv, correct.item() / nv


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--study", required=True, help="one of our study files")
    ap.add_argument("--seed", type=int, help="override study.seed (sampler and trial seeds)")
    ap.add_argument("--enqueue", help="our trials.csv: train exactly these configurations")
    ap.add_argument("--t0", type=float, default=T_START,
                    help="launcher's time.time() when it started this process")
    ap.add_argument("--out", required=True, help="JSON result file")
    args = ap.parse_args()

    cfg = load_study(args.study)
    seed = int(args.seed if args.seed is not None else cfg["study"].get("seed", 0))
    n_trials, max_epochs = int(cfg["budget"]["trials"]), int(cfg["budget"]["max_epochs"])
    jobs = int(cfg["resources"]["trials_per_device"])
    threads = int(cfg["resources"]["threads_per_trial"]) or max(1, (os.cpu_count() or 1) // jobs)
    torch.set_num_threads(threads)
    metric = cfg["study"].get("metric", "val_accuracy")
    direction = cfg["study"].get("direction", "maximize")

    t_data = time.time()
    train_x, train_y, val_x, val_y = load_data(cfg["data"])
    t_data = time.time() - t_data
    features = train_x[0].numel()
    classes = 10

    sched = cfg["scheduler"]
    if sched["name"] == "fifo":
        pruner = optuna.pruners.NopPruner()
    elif sched["name"] in ("asha", "asha_stopping"):
        pruner = optuna.pruners.SuccessiveHalvingPruner(
            min_resource=int(sched["min_resource"]),
            reduction_factor=int(sched["reduction_factor"]),
            min_early_stopping_rate=int(sched["min_early_stopping_rate"]))
    else:
        raise SystemExit(f"optuna_baseline: scheduler {sched['name']} is not mirrored")
    sampler_seed = int(cfg["sampler"].get("seed", seed))
    if cfg["sampler"]["name"] == "tpe":
        # The TPE options the study file names; the rest are Optuna 5.0's defaults, which are
        # also ours (n_startup_trials 10, n_ei_candidates 24, multivariate, constant_liar).
        options = {k: cfg["sampler"][k] for k in ("n_startup_trials", "n_ei_candidates",
                                                   "multivariate", "constant_liar")
                   if k in cfg["sampler"]}
        sampler = optuna.samplers.TPESampler(seed=sampler_seed, **options)
    elif cfg["sampler"]["name"] == "random":
        sampler = optuna.samplers.RandomSampler(seed=sampler_seed)
    else:
        raise SystemExit(f"optuna_baseline: sampler {cfg['sampler']['name']} is not mirrored")

    study = optuna.create_study(direction=direction, sampler=sampler, pruner=pruner)
    if args.enqueue:
        configs = read_enqueue(args.enqueue, cfg["search_space"])
        if len(configs) != n_trials:
            raise SystemExit(f"{args.enqueue}: {len(configs)} trials, the study has {n_trials}")
        for c in configs:
            study.enqueue_trial(c)

    fixed = {**cfg["model"], **cfg["training"]}
    init_lock = threading.Lock()
    records, rec_lock = [], threading.Lock()

    def objective(trial):
        hp = {**fixed, **suggest(trial, cfg["search_space"])}
        trial_seed = seed * 1000003 + trial.number
        generator = torch.Generator().manual_seed(trial_seed)
        with init_lock:  # weight init draws from the global generator
            torch.manual_seed(trial_seed)
            model = make_mlp(hp, features, classes, generator)
        opt = make_optimizer(hp, model.parameters())
        value = None
        for epoch in range(1, max_epochs + 1):
            t = time.time()
            train_loss = train_epoch(model, opt, generator, train_x, train_y,
                                     int(hp["batch_size"]), epoch)
            val_loss, val_acc = evaluate(model, val_x, val_y, int(hp["eval_batch_size"]))
            now = time.time()
            value = {"val_accuracy": val_acc, "val_loss": val_loss, "train_loss": train_loss}[metric]
            with rec_lock:
                records.append({"trial": trial.number, "epoch": epoch, "val_accuracy": val_acc,
                                "train_loss": train_loss, "seconds": now - t,
                                "t": now - args.t0})
            if epoch < max_epochs:
                trial.report(value, epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned()
        return value

    t_study, cpu_study = time.time(), time.process_time()
    study.optimize(objective, n_trials=n_trials, n_jobs=jobs, catch=(Diverged,))
    t_end, cpu_end = time.time(), time.process_time()
    states = [t.state.name for t in study.trials]
    out = {
        "seed": seed, "jobs": jobs, "threads": threads, "trials": n_trials,
        "max_epochs": max_epochs, "train_samples": train_x.size(0), "val_samples": val_x.size(0),
        "startup_s": t_study - args.t0, "data_s": t_data, "study_s": t_end - t_study,
        "study_cpu_s": cpu_end - cpu_study,
        "total_s": t_end - args.t0,
        "complete": states.count("COMPLETE"), "pruned": states.count("PRUNED"),
        "failed": states.count("FAIL"),
        "best": (study.best_value if states.count("COMPLETE") else None),
        "epochs": records,
        "trial_params": [{"number": t.number, "state": t.state.name, "params": t.params,
                          "value": t.value} for t in study.trials],
        "versions": {"optuna": optuna.__version__, "torch": torch.__version__,
                     "python": sys.version.split()[0]},
    }
    with open(args.out, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
