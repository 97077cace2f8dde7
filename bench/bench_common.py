"""Shared pieces of the Optuna peers: the search spaces and objectives of bench/bench_common.h,
one for one, and the JSON-lines output that bench/compare_*.py merge into tables.

A space is a dict name -> optuna distribution (in declaration order, as in the C++ SearchSpace).
Objectives take a dict name -> external value and are minimised.
"""

import json
import math
import statistics
import sys
import warnings

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
optuna.logging.set_verbosity(optuna.logging.WARNING)


def emit(**fields):
    """Prints one JSON line on stdout (non-finite numbers as null) and flushes."""
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
             for k, v in fields.items()}
    print(json.dumps(clean), flush=True)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def quantile(values, q):
    """Linear interpolation, as numpy's default and bench_common.h's Quantile."""
    v = sorted(values)
    pos = q * (len(v) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (pos - lo) * (v[hi] - v[lo])


def timing_fields(ms):
    return dict(reps=len(ms), median_ms=quantile(ms, 0.5), p10_ms=quantile(ms, 0.1),
                p90_ms=quantile(ms, 0.9), mean_ms=statistics.fmean(ms))


# ---- Spaces and objectives -----------------------------------------------------------------

def box(dims, low, high):
    return {f"x{i}": FloatDistribution(low, high) for i in range(dims)}


def vec(x, dims):
    return [float(x[f"x{i}"]) for i in range(dims)]


def branin(x):
    x1, x2 = float(x["x0"]), float(x["x1"])
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    u = x2 - b * x1 * x1 + c * x1 - 6
    return u * u + 10 * (1 - t) * math.cos(x1) + 10


_H_ALPHA = [1.0, 1.2, 3.0, 3.2]
_H_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14]]
_H_P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]


def hartmann6(x):
    v = vec(x, 6)
    f = 0.0
    for i in range(4):
        s = 0.0
        for j in range(6):
            s += _H_A[i][j] * (v[j] - 1e-4 * _H_P[i][j]) * (v[j] - 1e-4 * _H_P[i][j])
        f -= _H_ALPHA[i] * math.exp(-s)
    return f


def rosenbrock4(x):
    v = vec(x, 4)
    return sum(100 * (v[i + 1] - v[i] * v[i]) ** 2 + (1 - v[i]) ** 2 for i in range(3))


def ackley5(x):
    v = vec(x, 5)
    sq = sum(xi * xi for xi in v)
    cs = sum(math.cos(2 * math.pi * xi) for xi in v)
    return -20 * math.exp(-0.2 * math.sqrt(sq / 5)) - math.exp(cs / 5) + 20 + math.e


def styblinski_tang8(x):
    return 0.5 * sum(xi ** 4 - 16 * xi * xi + 5 * xi for xi in vec(x, 8))


_C1 = {"a": 3.0, "b": 1.5, "c": 0.0, "d": 2.0, "e": 4.0}
_C2 = {"x": 1.0, "y": 0.0, "z": 2.5}


def mixed6(x):
    k1, k2, k3 = float(x["k1"]), float(x["k2"]), float(x["k3"])
    l = math.log10(float(x["lr"])) + 2
    return ((k1 - 3) ** 2 + 0.5 * (k2 + 6) ** 2 + ((k3 - 24) / 4) ** 2 + _C1[x["c1"]] +
            _C2[x["c2"]] + l * l)


MIXED6_SPACE = {
    "k1": IntDistribution(-10, 10),
    "k2": IntDistribution(-10, 10),
    "k3": IntDistribution(0, 40, step=4),
    "c1": CategoricalDistribution(["a", "b", "c", "d", "e"]),
    "c2": CategoricalDistribution(["x", "y", "z"]),
    "lr": FloatDistribution(1e-5, 1.0, log=True),
}

MIXED10_SPACE = {
    "lr": FloatDistribution(1e-5, 1e-1, log=True),
    "wd": FloatDistribution(1e-6, 1e-2, log=True),
    "dropout": FloatDistribution(0.0, 0.5),
    "momentum": FloatDistribution(0.5, 0.99),
    "layers": IntDistribution(1, 8),
    "units": IntDistribution(16, 1024, step=16),
    "epochs": IntDistribution(1, 100),
    "optimizer": CategoricalDistribution(["adam", "sgd", "rmsprop", "adagrad"]),
    "activation": CategoricalDistribution(["relu", "tanh", "gelu"]),
    "norm": CategoricalDistribution(["none", "batch", "layer"]),
}

_OPT = {"adam": 0.0, "sgd": 0.3, "rmsprop": 0.2, "adagrad": 0.5}
_ACT = {"relu": 0.1, "tanh": 0.3, "gelu": 0.0}
_NORM = {"none": 0.4, "batch": 0.0, "layer": 0.1}


def mixed10(x):
    return ((math.log10(x["lr"]) + 3) ** 2 + 0.25 * (math.log10(x["wd"]) + 4) ** 2 +
            (x["dropout"] - 0.2) ** 2 + (x["momentum"] - 0.9) ** 2 + (x["layers"] - 4) ** 2 / 16 +
            ((x["units"] - 256) / 512) ** 2 + ((x["epochs"] - 50) / 50) ** 2 +
            _OPT[x["optimizer"]] + _ACT[x["activation"]] + _NORM[x["norm"]])


# name -> (space, objective, known minimum)
PROBLEMS = {
    "branin": ({"x0": FloatDistribution(-5, 10), "x1": FloatDistribution(0, 15)}, branin,
               0.397887357729739),
    "hartmann6": (box(6, 0, 1), hartmann6, -3.32236801141551),
    "rosenbrock4": (box(4, -5, 10), rosenbrock4, 0.0),
    "ackley5": (box(5, -32.768, 32.768), ackley5, 0.0),
    "styblinski_tang8": (box(8, -5, 5), styblinski_tang8, -39.16616570377142 * 8),
    "mixed6": (MIXED6_SPACE, mixed6, 0.0),
    "mixed10": (MIXED10_SPACE, mixed10, 0.0),
}
QUALITY_PROBLEMS = ["branin", "hartmann6", "rosenbrock4", "ackley5", "styblinski_tang8", "mixed6"]


def make_sampler(name, seed):
    """Optuna samplers by the names the tables use; every option at Optuna's default except
    tpe_univariate (multivariate=False: the mode hpo's "tpe" and Optuna 4 default to)."""
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "tpe_univariate":
        return optuna.samplers.TPESampler(seed=seed, multivariate=False)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise SystemExit(f"unknown sampler {name!r} (known: tpe, tpe_univariate, gp, random)")


def suggest_all(trial, space):
    """Define-by-run: one suggest_* call per parameter, in declaration order."""
    x = {}
    for name, d in space.items():
        if isinstance(d, FloatDistribution):
            x[name] = trial.suggest_float(name, d.low, d.high, log=d.log, step=d.step)
        elif isinstance(d, IntDistribution):
            x[name] = trial.suggest_int(name, d.low, d.high, log=d.log, step=d.step)
        else:
            x[name] = trial.suggest_categorical(name, d.choices)
    return x


def random_point(space, rng):
    """A uniformly random point (external values), for pre-filling studies."""
    x = {}
    for name, d in space.items():
        if isinstance(d, FloatDistribution):
            if d.log:
                x[name] = math.exp(rng.uniform(math.log(d.low), math.log(d.high)))
            else:
                x[name] = rng.uniform(d.low, d.high)
        elif isinstance(d, IntDistribution):
            x[name] = d.low + d.step * rng.randrange((d.high - d.low) // d.step + 1)
        else:
            x[name] = d.choices[rng.randrange(len(d.choices))]
    return x


def test_point(space, k):
    """bench_common.h's TestPoint: parameter j at fraction ((k+1)*0.137 + j*0.291) mod 1."""
    x = {}
    for j, (name, d) in enumerate(space.items()):
        frac = math.fmod((k + 1) * 0.137 + j * 0.291, 1.0)
        if isinstance(d, FloatDistribution):
            if d.log:
                x[name] = math.exp(math.log(d.low) + frac * (math.log(d.high) - math.log(d.low)))
            else:
                x[name] = d.low + frac * (d.high - d.low)
        elif isinstance(d, IntDistribution):
            n = (d.high - d.low) // d.step + 1
            x[name] = d.low + d.step * int(frac * n)
        else:
            x[name] = d.choices[int(frac * len(d.choices))]
    return x
