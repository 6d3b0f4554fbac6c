#!/usr/bin/env python3
"""One side-by-side run with PyTorch, the issue's fastest peer (Debian 12's python3-torch 1.13 on OpenBLAS).

Started by the benchmark harness (`run-one pytorch <W1..W4>`) with a JSON spec that holds the workload, the initial
weights and the per-epoch mini-batch order our trainer uses (raw little-endian files), so that the two libraries
train the same network from the same weights on the same batches. Prints one JSON line in the harness's RunRecord
shape. Not part of the library or of CI: it runs only when a Python with torch is installed.
"""
import gzip
import json
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def read_mnist(path):
    with gzip.open(path, "rt") as f:
        next(f)
        rows = np.loadtxt(f, delimiter=",", dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(rows[:, 1:])), torch.from_numpy(rows[:, 0].astype(np.int64))


class CpuSnapshot:
    """Machine busy/steal ticks and this process's ticks, as the harness's ProcStats."""

    def __init__(self):
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        self.busy = v[0] + v[1] + v[2] + v[5] + v[6]
        self.steal = v[7] if len(v) > 7 else 0
        with open("/proc/self/stat") as f:
            after = f.read().rsplit(")", 1)[1].split()
        self.own = int(after[11]) + int(after[12])
        self.t = time.perf_counter()

    def since(self, start, cores):
        capacity = cores * (self.t - start.t) * 100
        if capacity <= 0:
            return 0.0, 0.0
        foreign = max(0, (self.busy - start.busy) - (self.own - start.own))
        return 100 * foreign / capacity, 100 * (self.steal - start.steal) / capacity


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def build(sizes, hidden, output, params):
    """Linear layers with our initial weights (W⁰ b⁰ W¹ b¹ … in our row-major [out, in] layout, as torch's)."""
    layers, linears, offset = [], [], 0
    for l in range(len(sizes) - 1):
        n_in, n_out = sizes[l], sizes[l + 1]
        lin = torch.nn.Linear(n_in, n_out)
        with torch.no_grad():
            lin.weight.copy_(params[offset:offset + n_out * n_in].view(n_out, n_in))
            offset += n_out * n_in
            lin.bias.copy_(params[offset:offset + n_out])
            offset += n_out
        layers.append(lin)
        linears.append(lin)
        act = output if l == len(sizes) - 2 else hidden
        if act == "Sigmoid":
            layers.append(torch.nn.Sigmoid())
        elif act == "Relu":
            layers.append(torch.nn.ReLU())
        elif act != "Softmax":  # softmax is folded into cross_entropy on the logits
            raise ValueError(act)
    return torch.nn.Sequential(*layers), linears


def train(spec, model, linears, x, labels, one_hot, orders):
    m = x.shape[0]
    weights = [lin.weight for lin in linears]
    if spec["Optimizer"] == "Adam":
        opt = torch.optim.Adam(model.parameters(), lr=spec["LearningRate"])
    else:
        opt = torch.optim.SGD(model.parameters(), lr=spec["LearningRate"], momentum=spec["Momentum"])
    model.train()
    seconds, last_loss = [], float("nan")
    for epoch in range(spec["Epochs"]):
        t0 = time.perf_counter()
        batch = spec["BatchSize"]
        if batch is None:
            # Full-batch gradient descent on J = ½ Σ‖a − y‖² / m + (λ/2) Σ W², written out.
            opt.zero_grad()
            a = model(x)
            j = (a - one_hot).pow(2).sum() * (0.5 / m)
            for w in weights:
                j = j + w.pow(2).sum() * (0.5 * spec["L2"])
            j.backward()
            opt.step()
            last_loss = float(j)
        else:
            order = orders[epoch]
            for start in range(0, m, batch):
                idx = order[start:start + batch]
                opt.zero_grad()
                loss = F.cross_entropy(model(x[idx]), labels[idx])
                loss.backward()
                with torch.no_grad():
                    for w in weights:  # L2 on the weights only, added to the gradient
                        w.grad.add_(w, alpha=spec["L2"])
                opt.step()
                last_loss = float(loss)
        seconds.append(time.perf_counter() - t0)
    return seconds, last_loss


def time_median(repetitions, action):
    """Median seconds of repetitions after a warm-up of at least 50 calls and 1.5 s (as the harness does for .NET)."""
    t0 = time.perf_counter()
    n = 0
    while n < 50 or time.perf_counter() - t0 < 1.5:
        action()
        n += 1
    s = []
    for _ in range(repetitions):
        t = time.perf_counter()
        action()
        s.append(time.perf_counter() - t)
    return statistics.median(s)


def one_row_median_micros(rows, score_row):
    """1.5 s warm-up, then three passes; the median over passes of each pass's median µs, and the last pass's rows/s."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 1.5:
        for i in range(rows):
            score_row(i)
    medians, loop_seconds = [], 0.0
    for _ in range(3):
        micros = []
        loop0 = time.perf_counter()
        for i in range(rows):
            t = time.perf_counter_ns()
            score_row(i)
            micros.append((time.perf_counter_ns() - t) / 1000)
        loop_seconds = time.perf_counter() - loop0
        medians.append(statistics.median(micros))
    return statistics.median(medians), rows / loop_seconds


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    torch.set_num_threads(spec["Threads"])
    torch.manual_seed(spec["Round"])
    x, labels = read_mnist(spec["TrainFile"])
    test_x, test_labels = read_mnist(spec["TestFile"])
    one_hot = F.one_hot(labels, 10).to(torch.float32)
    params = torch.from_numpy(np.fromfile(spec["InitFile"], dtype="<f4"))
    model, linears = build(spec["Sizes"], spec["Hidden"], spec["Output"], params)
    record = {"Library": "pytorch", "Workload": spec["Workload"], "Round": spec["Round"], "Threads": torch.get_num_threads()}
    if spec["Workload"] == "W4" and spec.get("ParamsFile"):
        model, _ = build(spec["Sizes"], spec["Hidden"], spec["Output"], torch.from_numpy(np.fromfile(spec["ParamsFile"], dtype="<f4")))
        record["Note"] = "scores the network trained by this round's W2 run"
    else:
        m = x.shape[0]
        orders = None
        if spec["BatchSize"] is not None:
            orders = torch.from_numpy(np.fromfile(spec["OrderFile"], dtype="<i4").astype(np.int64)).view(spec["Epochs"], m)
        # The same untimed first training as the other libraries, on its own copy.
        warm_model, warm_linears = build(spec["Sizes"], spec["Hidden"], spec["Output"], params)
        train(spec, warm_model, warm_linears, x, labels, one_hot, orders)
        before = CpuSnapshot()
        seconds, last_loss = train(spec, model, linears, x, labels, one_hot, orders)
        record["ForeignCpuPercent"], record["StealPercent"] = CpuSnapshot().since(before, spec["Cores"])
        record["EpochSeconds"] = seconds
        record["FinalLoss"] = last_loss
    model.eval()
    with torch.no_grad():
        record["TestAccuracy"] = float((model(test_x).argmax(1) == test_labels).float().mean())
        if spec["Workload"] == "W4":
            n = test_x.shape[0]
            before = CpuSnapshot()
            record["BatchRowsPerSecond"] = n / time_median(21, lambda: model(test_x))
            record["SingleRowMedianMicros"], record["SingleRowLoopRowsPerSecond"] = one_row_median_micros(n, lambda i: model(test_x[i:i + 1]))
            w1, _ = build(spec["W1Sizes"], spec["W1Hidden"], spec["W1Output"], torch.from_numpy(np.fromfile(spec["W1InitFile"], dtype="<f4")))
            w1.eval()
            record["W1ShapeSingleRowMedianMicros"], _ = one_row_median_micros(n, lambda i: w1(test_x[i:i + 1]))
            record["ForeignCpuPercent"], record["StealPercent"] = CpuSnapshot().since(before, spec["Cores"])
    record["PeakRssMiB"] = peak_rss_mib()
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
