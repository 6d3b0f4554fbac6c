using System.Diagnostics;
using System.Runtime.InteropServices;
using MLNetBackprop.Benchmarks.SideBySide;
using MLNetBackprop.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetBackprop.Benchmarks.Torch;

/// <summary>
/// TorchSharp's side of one side-by-side run: the same layers, the same initial weights (copied into the
/// Linear layers, whose weight is [out, in] like ours), L2 on the weights only added to the gradient, two threads.
/// </summary>
public static class TorchRunner
{
    /// <summary>
    /// Makes the build-output copy of libLibTorchSharp.so loadable on this Debian image (see BENCHMARKS.md);
    /// must run before the first torch call.
    /// </summary>
    public static void PrepareNative()
    {
        string glue = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        if (File.Exists(glue)) ElfWeakVersion.MarkWeak(glue, "GLIBCXX_3.4.32");
    }

    /// <summary>Runs <paramref name="workload"/>; W2 saves its trained parameters in our layout, W4 loads them.</summary>
    public static RunRecord Run(string workload, int round, string? paramsFile, Mnist data)
    {
        PrepareNative();
        torch.set_num_threads(OursRunner.Threads);
        torch.manual_seed(round);
        var w = SideBySide.Workload.ById(workload);
        var record = new RunRecord { Library = "torch", Workload = workload.ToUpperInvariant(), Round = round, Threads = torch.get_num_threads() };

        var (model, linears) = Build(w);
        var testX = torch.tensor(data.TestX, [data.TestCount, Mnist.Features]);
        var testY = torch.tensor(data.TestLabels.Select(l => (long)l).ToArray(), [data.TestCount]);
        if (record.Workload == "W4" && paramsFile is not null && File.Exists(paramsFile))
        {
            Load(linears, w, File.ReadAllBytes(paramsFile));
            record.Note = "scores the network trained by this round's W2 run";
        }
        else
        {
            // The same untimed first training as ours (TorchSharp's managed layer also tiers up), on its own copy.
            var (warmModel, warmLinears) = Build(w);
            Train(w, warmModel, warmLinears, data, new RunRecord { Library = record.Library, Workload = record.Workload });
            torch.manual_seed(round);
            Train(w, model, linears, data, record);
            if (record.Workload == "W2" && paramsFile is not null) File.WriteAllBytes(paramsFile, Save(linears));
            if (record.Workload == "W4") record.Note = "trained W2 itself (no saved W2 parameters)";
        }

        model.eval();
        using (torch.no_grad())
        using (var scope = torch.NewDisposeScope())
        {
            var predicted = model.forward(testX).argmax(1);
            record.TestAccuracy = predicted.eq(testY).sum().item<long>() / (double)data.TestCount;
        }
        if (record.Workload == "W4") Score(model, testX, data.TestCount, record);
        record.PeakRssMiB = ProcStats.PeakRssMiB();
        return record;
    }

    private static (Sequential Model, Linear[] Linears) Build(SideBySide.Workload w)
    {
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        var linears = new Linear[w.Sizes.Length - 1];
        var init = w.InitialWeights(OursRunner.InitSeed);
        for (int l = 0; l < linears.Length; l++)
        {
            int nIn = w.Sizes[l], nOut = w.Sizes[l + 1];
            var lin = nn.Linear(nIn, nOut);
            using (torch.no_grad())
            {
                lin.weight!.copy_(torch.tensor(init[l], [nOut, nIn]));
                lin.bias!.zero_();
            }
            linears[l] = lin;
            layers.Add(($"fc{l}", lin));
            Activation act = l == linears.Length - 1 ? w.Output : w.Hidden;
            switch (act)
            {
                case Activation.Sigmoid: layers.Add(($"act{l}", nn.Sigmoid())); break;
                case Activation.Relu: layers.Add(($"act{l}", nn.ReLU())); break;
                case Activation.Softmax: break; // folded into cross_entropy (log-softmax + NLL) on the logits
                default: throw new NotSupportedException($"{act} is not used by the workloads.");
            }
        }
        return (nn.Sequential(layers), linears);
    }

    private static void Train(SideBySide.Workload w, Sequential model, Linear[] linears, Mnist data, RunRecord record)
    {
        int m = data.TrainCount;
        // The mini-batches of our trainer, in the same order: the same permutation of 0..m−1, reshuffled in place each
        // epoch by a Random seeded with the round (NetworkTrainer's shuffle with Seed = round). With the same initial
        // weights, the two libraries then differ only in their arithmetic.
        var order = Enumerable.Range(0, m).ToArray();
        var shuffle = new Random(record.Round);
        var x = torch.tensor(data.TrainX, [m, Mnist.Features]);
        var labels = torch.tensor(data.TrainLabels.Select(l => (long)l).ToArray(), [m]);
        var oneHot = torch.tensor(TrainingData<float>.OneHot(data.TrainLabels, Mnist.Classes), [m, Mnist.Classes]);
        var weights = linears.Select(l => l.weight!).ToArray();
        optim.Optimizer opt = w.Optimizer switch
        {
            Core.Optimizers.OptimizerKind.Sgd => optim.SGD(model.parameters(), w.LearningRate, momentum: w.Momentum),
            Core.Optimizers.OptimizerKind.Adam => optim.Adam(model.parameters(), w.LearningRate),
            Core.Optimizers.OptimizerKind.GradientDescent => optim.SGD(model.parameters(), w.LearningRate),
            _ => throw new NotSupportedException(w.Optimizer.ToString()),
        };
        model.train();
        var seconds = new double[w.Epochs];
        double lastLoss = double.NaN;
        var before = ProcStats.CpuSnapshot.Take();
        for (int epoch = 0; epoch < w.Epochs; epoch++)
        {
            long t0 = Stopwatch.GetTimestamp();
            using var epochScope = torch.NewDisposeScope();
            if (w.BatchSize is not { } batch)
            {
                // Full-batch gradient descent on the textbook J = ½ Σ‖a − y‖² / m + (λ/2) Σ W², written out by hand.
                opt.zero_grad();
                var a = model.forward(x);
                var j = (a - oneHot).pow(2).sum() * (0.5 / m);
                foreach (var wt in weights) j += wt.pow(2).sum() * (0.5 * w.L2);
                j.backward();
                opt.step();
                if (epoch == w.Epochs - 1) lastLoss = j.item<float>();
            }
            else
            {
                shuffle.Shuffle(order);
                var perm = torch.tensor(order.Select(i => (long)i).ToArray());
                for (int start = 0; start < m; start += batch)
                {
                    using var batchScope = torch.NewDisposeScope();
                    var idx = perm.narrow(0, start, Math.Min(batch, m - start));
                    var xb = x.index_select(0, idx);
                    var yb = labels.index_select(0, idx);
                    opt.zero_grad();
                    var loss = nn.functional.cross_entropy(model.forward(xb), yb);
                    loss.backward();
                    using (torch.no_grad())
                    {
                        // L2 on the weights only, added to the gradient (what weight_decay does, minus the biases).
                        foreach (var wt in weights) wt.grad!.add_(wt, alpha: w.L2);
                    }
                    opt.step();
                    if (epoch == w.Epochs - 1 && start + batch >= m) lastLoss = loss.item<float>();
                }
            }
            seconds[epoch] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        (record.ForeignCpuPercent, record.StealPercent) = ProcStats.CpuSnapshot.Take().Since(before);
        record.EpochSeconds = seconds;
        record.FinalLoss = lastLoss;
        record.Summarize(w.ParameterCount, m);
    }

    /// <summary>model.forward under no_grad: the test rows as one batch, then one row (a narrow view) at a time.</summary>
    private static void Score(Sequential model, Tensor testX, int n, RunRecord record)
    {
        var before = ProcStats.CpuSnapshot.Take();
        using (torch.no_grad())
        {
            double batchSeconds = OursRunner.TimeMedian(21, () =>
            {
                using var scope = torch.NewDisposeScope();
                model.forward(testX);
            });
            record.BatchRowsPerSecond = n / batchSeconds;
            (record.SingleRowMedianMicros, record.SingleRowLoopRowsPerSecond) = OursRunner.OneRowMedianMicros(n, i =>
            {
                using var scope = torch.NewDisposeScope();
                model.forward(testX.narrow(0, i, 1));
            });
            // The one-row target is for 784-128-10: W1's shape with its initial weights.
            var (w1, _) = Build(SideBySide.Workload.W1);
            w1.eval();
            (record.W1ShapeSingleRowMedianMicros, _) = OursRunner.OneRowMedianMicros(n, i =>
            {
                using var scope = torch.NewDisposeScope();
                w1.forward(testX.narrow(0, i, 1));
            });
        }
        (record.ForeignCpuPercent, record.StealPercent) = ProcStats.CpuSnapshot.Take().Since(before);
    }

    /// <summary>Parameters in our layout: W⁰ b⁰ W¹ b¹ … (float32).</summary>
    private static byte[] Save(Linear[] linears)
    {
        var all = new List<float>();
        foreach (var lin in linears)
        {
            all.AddRange(lin.weight!.detach().contiguous().data<float>().ToArray());
            all.AddRange(lin.bias!.detach().contiguous().data<float>().ToArray());
        }
        return MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(all)).ToArray();
    }

    private static void Load(Linear[] linears, SideBySide.Workload w, byte[] bytes)
    {
        var p = MemoryMarshal.Cast<byte, float>(bytes);
        if (p.Length != w.ParameterCount)
            throw new InvalidDataException($"The saved parameters hold {p.Length} floats, expected {w.ParameterCount}.");
        int offset = 0;
        using var noGrad = torch.no_grad();
        for (int l = 0; l < linears.Length; l++)
        {
            int nIn = w.Sizes[l], nOut = w.Sizes[l + 1];
            linears[l].weight!.copy_(torch.tensor(p.Slice(offset, nOut * nIn).ToArray(), [nOut, nIn]));
            offset += nOut * nIn;
            linears[l].bias!.copy_(torch.tensor(p.Slice(offset, nOut).ToArray(), [nOut]));
            offset += nOut;
        }
    }
}
