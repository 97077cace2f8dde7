#!/usr/bin/env python3
"""Groups `perf report --no-children --sort dso,symbol --stdio -g none` lines (stdin) into the costs
of the trainer's epoch loop and prints a markdown table (bench/trainer/profile.sh)."""
import collections
import re
import sys

CATEGORIES = [  # first match wins
    ("matrix multiplies (MKL sgemm)", r"mkl_blas|sgemm"),
    ("dropout masks: serial draws on the trial's mt19937 generator (uniform_; bernoulli_ before)",
     r"bernoulli|random64|CPUGeneratorImpl"),
    ("elementwise kernels (Adam update, ReLU, dropout scaling, loss sum)",
     r"VectorizedLoop2d|vml_kernel|vectorized_outer_sum|map_reduce|reduce_kernel|binary_kernel"),
    ("batch gather (index_select copies)", r"memmove|memcpy|index_select"),
    ("log_softmax / cross-entropy", r"log_softmax|nll_loss"),
    ("malloc / free", r"malloc|_int_free|cfree|tcache|unlink_chunk|memalign"),
    ("dataset loading (zlib inflate of the .gz files)", r"libz|inflate|crc32"),
    ("dispatcher, autograd and tensor bookkeeping",
     r"c10::|at::|torch::|Dispatch|OperatorEntry|TensorImpl|intrusive_ptr|_Sp_counted|tls_get"),
]


def main():
    total = collections.Counter()
    for line in sys.stdin:
        m = re.match(r"\s+([\d.]+)%\s+(\S+)\s+(\[.\])\s+(.*)", line)
        if not m:
            continue
        pct, dso, kind, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4).strip()
        if dso.startswith("libz"):
            sym = "libz " + sym
        if kind == "[k]":
            key = "kernel (page faults, scheduling, syscalls)"
        else:
            key = next((c for c, rx in CATEGORIES if re.search(rx, sym)), "other")
        total[key] += pct
    print("| where | share of samples |")
    print("|---|---|")
    for k, v in sorted(total.items(), key=lambda x: -x[1]):
        print(f"| {k} | {v:.1f}% |")


if __name__ == "__main__":
    main()
