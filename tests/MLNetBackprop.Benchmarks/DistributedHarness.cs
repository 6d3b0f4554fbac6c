using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using MLNetBackprop.Benchmarks.SideBySide;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Distributed;
using MLNetBackprop.Core.Optimizers;
using MLNetBackprop.Distributed;

namespace MLNetBackprop.Benchmarks;

/// <summary>
/// Issue #19's benchmark. `distributed [--epochs 30] [--repeat 3] [--out f.md]` runs each workload as one process with one thread
/// (<see cref="SingleProcess"/>: today's trainer) and as `mpiexec -n 2` ranks with one thread each, each rank on its
/// half of the bundled MNIST rows, with the sums through shared memory (pairs of these two runs alternate, --repeat
/// times) and once round the ring in MPI messages, and compares the median epoch; then, for comparison, the two processes
/// without a gradient sum (each trains its shard alone), two whole one-rank runs at once, and the sum alone over each
/// path. It also prints the communication model that projects 8 and 64 machines. `distributed-rank &lt;W2|lbfgs&gt; --epochs E [--mpi|--alone|--copies]` is one
/// process's run (one JSON line from rank 0).
/// </summary>
internal static class DistributedHarness
{
    private sealed record RankRecord(string Workload, int Ranks, double[] EpochSeconds, double SumSeconds, long Sums, int Epochs, int Parameters,
        int StepsPerEpoch, double FinalLoss, string WeightsHash);

    public static int Run(string[] args)
    {
        int epochs = IntArg(args, "--epochs", 30), repeat = Math.Max(1, IntArg(args, "--repeat", 3));
        string? outPath = StringArg(args, "--out");
        string self = typeof(DistributedHarness).Assembly.Location;
        string cpu = Cpu();
        var sb = new StringBuilder();
        sb.AppendLine(FormattableString.Invariant($"Distributed benchmark, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {cpu}; MPICH {MpichVersion()}, every rank on this machine"));
        sb.AppendLine();
        sb.AppendLine("| workload | ranks × threads | epoch s (median) | speedup | allreduce ms per sum | sums per epoch | final training loss | weights (SHA-256, first 12) |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---|");
        var records = new List<RankRecord>();
        var pairs = new StringBuilder();
        foreach (string w in new[] { "W2", "lbfgs" })
        {
            // The host's load drifts over minutes: the one-rank and the two-rank runs alternate, and the row shows the pair
            // whose ratio is the median of the pairs' ratios (all of them are listed under the table).
            var runs = Enumerable.Range(0, repeat).Select(_ => (One: Launch(self, w, epochs, 1, "--mpi"), Two: Launch(self, w, epochs, 2, "--mpi"))).ToArray();
            var ratios = runs.Select(p => Median(p.One.EpochSeconds) / Median(p.Two.EpochSeconds)).ToArray();
            var (one, two) = runs.OrderBy(p => Median(p.One.EpochSeconds) / Median(p.Two.EpochSeconds)).ElementAt(repeat / 2);
            pairs.AppendLine(FormattableString.Invariant(
                $"{w}, {repeat} alternating pairs of 1 rank and 2 ranks over shared memory: {string.Join(", ", runs.Select(p => $"{Median(p.One.EpochSeconds):F3} / {Median(p.Two.EpochSeconds):F3} s = {Median(p.One.EpochSeconds) / Median(p.Two.EpochSeconds):F2}×"))}; the table shows the median pair."));
            var ring = Launch(self, w, epochs, 2, "--mpi", sharedMemory: false);
            var alone = Launch(self, w, epochs, 2, "--alone");
            var copies = Launch(self, w, epochs, 2, "--copies");
            foreach (var r in new[] { one, two, ring, alone, copies })
            {
                if (r == one || r == two) records.Add(r);
                // The copies row's figure is the pair's throughput: two whole epochs in the time of one of its epochs.
                double speedup = (r == copies ? 2 : 1) * Median(one.EpochSeconds) / Median(r.EpochSeconds);
                string how = r == alone ? "2 × 1, shards alone, no sum, each repeating the whole update"
                    : r == copies ? "2 × 1, two whole 1-rank runs at once (throughput of the pair)"
                    : r == ring ? "2 × 1, sums round the ring in MPI messages (MLNETBACKPROP_MPI_SHARED_MEMORY=0)"
                    : r.Ranks == 2 ? "2 × 1, sums through shared memory (the default on one machine)" : $"{r.Ranks} × 1";
                sb.AppendLine(FormattableString.Invariant(
                    $"| {(w == "W2" ? "W2: 784-256-128-10 ReLU, Adam, batch 128" : "784-256-128-10 ReLU, full-batch L-BFGS")} | {how} | {Median(r.EpochSeconds):F3} | {speedup:F2}× | {(r.Sums > 0 ? 1000 * r.SumSeconds / r.Sums : 0):F3} | {(double)r.Sums / r.Epochs:F0} | {r.FinalLoss:G6} | {r.WeightsHash[..12]} |"));
            }
        }
        sb.AppendLine();
        sb.Append(pairs);
        sb.AppendLine();
        // The sum alone, no training between calls: what each path costs when no rank waits for a slower one's compute.
        var (sharedSum, sharedText) = SumAlone(self, true);
        var (_, ringText) = SumAlone(self, false);
        sb.AppendLine(FormattableString.Invariant($"The sum of W2's gradient alone between 2 ranks, no training between calls: shared memory {sharedText}; the ring over MPI messages {ringText}."));
        sb.AppendLine();
        sb.Append(Projection(records.First(r => r.Workload == "W2" && r.Ranks == 1), records.First(r => r.Workload == "W2" && r.Ranks == 2), sharedSum));
        Console.WriteLine(sb);
        if (outPath is not null) File.WriteAllText(outPath, sb.ToString());
        return 0;
    }

    /// <summary>
    /// The communication model. A one-rank step is the forward and backward pass over the batch (CostAndGradient, timed
    /// here at batches 64 and 128), the optimizer's update U (timed here in turn with the pass, as in training), and a rest
    /// R₀ that every rank repeats whatever its share (the penalty and finite passes, copies, the batch's gather). On one
    /// machine the sum is split and each rank runs U / 2. Between machines the ranks sum the whole gradient round the ring
    /// (see MpiAllreduce.PrepareSplit), so every rank runs all of U, and each sends and receives 2(N − 1)/N of the
    /// gradient's bytes in 2(N − 1) messages. Strong scaling (a global batch of 128): the pass over 128 / N rows + R₀ + U +
    /// the allreduce; weak scaling (128 rows per rank): the pass over 128 rows + R₀ + U + the allreduce.
    /// </summary>
    private static string Projection(RankRecord one, RankRecord two, double sharedSumSeconds)
    {
        double bytes = 4.0 * (one.Parameters + 3);
        double stepOne = Median(one.EpochSeconds) / one.StepsPerEpoch;
        var (pass64, pass128, update) = PassSeconds();
        double rest = Math.Max(0, stepOne - pass128 - update);
        double stepTwo = Median(two.EpochSeconds) / two.StepsPerEpoch;
        double comm = two.Sums > 0 ? two.SumSeconds / two.Sums : 0;
        double model = pass64 + rest + update / 2 + sharedSumSeconds;
        const double latency = 20e-6; // one message over TCP between machines, a typical figure; shared memory measured above
        var sb = new StringBuilder();
        sb.AppendLine(FormattableString.Invariant(
            $"Communication model (W2): {one.Parameters:N0} parameters, {bytes / 1e6:F2} MB per gradient sum. One rank's step {1000 * stepOne:F2} ms: the forward and backward pass over 128 rows {1000 * pass128:F2} ms (over 64 rows {1000 * pass64:F2} ms), the Adam update U = {1000 * update:F2} ms, and R₀ = {1000 * rest:F2} ms that every rank repeats whatever its share (the penalty and finite passes, copies, the batch's gather)."));
        sb.AppendLine();
        sb.AppendLine(FormattableString.Invariant(
            $"The model on this machine, 2 ranks with the split sum: {1000 * pass64:F2} + {1000 * rest:F2} + U/2 {1000 * update / 2:F2} + the sum alone {1000 * sharedSumSeconds:F2} = {1000 * model:F2} ms a step; measured {1000 * stepTwo:F2} ms, of which {1000 * comm:F2} ms in the step's communication, waiting for the slower rank included."));
        sb.AppendLine();
        sb.AppendLine("| machines N | bytes sent per rank and step | allreduce at 10 Gb/s | at 25 Gb/s | step, global batch 128 (10 / 25 Gb/s) | speedup | step, 128 rows per rank (10 / 25 Gb/s) | throughput × |");
        sb.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (int n in new[] { 2, 8, 64 })
        {
            double sent = 2.0 * (n - 1) / n * bytes;
            double t10 = sent / (10e9 / 8) + 2 * (n - 1) * latency, t25 = sent / (25e9 / 8) + 2 * (n - 1) * latency;
            double fixedPart = rest + update;
            double strong10 = pass128 / n + fixedPart + t10, strong25 = pass128 / n + fixedPart + t25;
            double weak10 = pass128 + fixedPart + t10, weak25 = pass128 + fixedPart + t25;
            sb.AppendLine(FormattableString.Invariant(
                $"| {n} | {sent / 1e6:F2} MB | {1000 * t10:F2} ms | {1000 * t25:F2} ms | {1000 * strong10:F2} / {1000 * strong25:F2} ms | {stepOne / strong10:F1}× / {stepOne / strong25:F1}× | {1000 * weak10:F2} / {1000 * weak25:F2} ms | {n * stepOne / weak10:F1}× / {n * stepOne / weak25:F1}× |"));
        }
        return sb.ToString();
    }

    /// <summary>
    /// CostAndGradient of W2 at batches 64 and 128 on one thread (the median of 15 × 100 calls, after a warm-up of both),
    /// and the Adam update over all the parameters timed in turn with the pass at 128 (the pair's time less the pass's):
    /// alone in a loop the update finds θ, g, m and v in cache, which a training step does not.
    /// </summary>
    private static (double Pass64, double Pass128, double Update) PassSeconds()
    {
        var (all, net) = StepProfile.W2();
        var g = new float[net.ParameterCount];
        var reg = new Regularization(L2: 1e-4);
        var sizes = new[] { 64, 128 }.Select(b => (all.Subset(Enumerable.Range(0, b).ToArray()), new NetworkWorkspace<float>(net, b))).ToArray();
        double Once((TrainingData<float> Rows, NetworkWorkspace<float> Ws) s) => StepProfile.Time(() => Backpropagation.CostAndGradient(net, s.Rows, LossFunction.CrossEntropy, reg, g, s.Ws, 1));
        var rule = new AdamRule<float>(net.ParameterCount, 0.9, 0.999, 1e-8);
        var theta = net.Parameters.ToArray();
        double Pair() => StepProfile.Time(() =>
        {
            Backpropagation.CostAndGradient(net, sizes[1].Item1, LossFunction.CrossEntropy, reg, g, sizes[1].Item2, 1);
            rule.Step(theta, g, 1e-9, 1); // a step too small to matter, on a copy: the pass's weights stay as they are
        });
        foreach (var size in sizes) Once(size); // both warm before either is timed
        Pair();
        double pass64 = Once(sizes[0]), pass128 = Once(sizes[1]);
        return (pass64, pass128, Math.Max(0, Pair() - pass128));
    }

    /// <summary>One run: one process without MPI when <paramref name="ranks"/> is 1, else <paramref name="ranks"/> processes under mpiexec in
    /// <paramref name="mode"/> (--mpi, --alone or --copies, see <see cref="RunRank"/>).</summary>
    private static RankRecord Launch(string self, string workload, int epochs, int ranks, string mode, bool sharedMemory = true)
    {
        var psi = ranks == 1
            ? new ProcessStartInfo("dotnet", [self, "distributed-rank", workload, "--epochs", epochs.ToString(CultureInfo.InvariantCulture)])
            : new ProcessStartInfo("mpiexec", ["-n", ranks.ToString(CultureInfo.InvariantCulture), "dotnet", self, "distributed-rank", workload,
                "--epochs", epochs.ToString(CultureInfo.InvariantCulture), mode]);
        psi.Environment["MLNETBACKPROP_MPI_SHARED_MEMORY"] = sharedMemory ? "1" : "0";
        psi.RedirectStandardOutput = true;
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{psi.FileName} {string.Join(' ', psi.ArgumentList)} exited with {p.ExitCode}:\n{output}");
        string line = output.Split('\n').Last(l => l.StartsWith('{'));
        return JsonSerializer.Deserialize<RankRecord>(line)!;
    }

    /// <summary>`mpiexec -n 2 … distributed-sum` over one path: the median in seconds, and rank 0's line from "median" on.</summary>
    private static (double Median, string Text) SumAlone(string self, bool sharedMemory)
    {
        var psi = new ProcessStartInfo("mpiexec", ["-n", "2", "dotnet", self, "distributed-sum"]) { RedirectStandardOutput = true };
        psi.Environment["MLNETBACKPROP_MPI_SHARED_MEMORY"] = sharedMemory ? "1" : "0";
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"distributed-sum exited with {p.ExitCode}:\n{output}");
        string line = output.Split('\n').First(l => l.Contains("median", StringComparison.Ordinal));
        string text = line[line.IndexOf("median", StringComparison.Ordinal)..].Trim();
        double ms = double.Parse(text.Split(' ')[1], CultureInfo.InvariantCulture);
        return (ms / 1000, text);
    }

    /// <summary>
    /// `mpiexec -n N … distributed-sum [--length n] [--reps r]`: the gradient sum alone, with no training between calls, so
    /// no rank waits for a slower one's compute. Rank 0 prints the median and the 90th percentile of r calls after a warm-up.
    /// </summary>
    public static int RunSum(string[] args)
    {
        int length = IntArg(args, "--length", 235_149), reps = IntArg(args, "--reps", 400);
        using var mpi = MpiAllreduce.Initialize(TimeSpan.FromSeconds(120));
        var values = new float[length];
        var times = new double[reps];
        for (int i = -50; i < reps; i++)
        {
            for (int k = 0; k < 16; k++) values[k] = mpi.Rank + k;
            long t = Stopwatch.GetTimestamp();
            mpi.Sum<float>(values);
            if (i >= 0) times[i] = Stopwatch.GetElapsedTime(t).TotalSeconds;
        }
        Array.Sort(times);
        if (mpi.Rank == 0)
            Console.WriteLine(FormattableString.Invariant(
                $"{mpi.Size} ranks, {(mpi.UsesSharedMemory ? "shared memory" : "ring")}, {length:N0} floats ({4.0 * length / 1e6:F2} MB): median {1000 * times[reps / 2]:F3} ms, p90 {1000 * times[reps * 9 / 10]:F3} ms, min {1000 * times[0]:F3} ms"));
        return 0;
    }

    public static int RunRank(string[] args)
    {
        string workload = args[1];
        int epochs = IntArg(args, "--epochs", 30);
        using MpiAllreduce? mpi = args.Contains("--mpi") ? MpiAllreduce.Initialize(TimeSpan.FromSeconds(120)) : null;
        var timed = new TimedAllreduce(mpi is null ? SingleProcess.Instance : mpi);
        // --alone: started by mpiexec but without MPI, each process trains its shard on its own with its share of the batch
        // and no gradient sum; the epoch time is the compute of a distributed step with every core busy, but with the whole
        // update on each process (the split sum runs half of it on each rank), so it is no longer a ceiling.
        // --copies: started by mpiexec but without MPI, each process runs the whole one-rank job; against the one-rank row, the
        // epoch time shows what keeping both cores busy costs each of them (shared caches, memory bandwidth, the host).
        bool alone = args.Contains("--alone"), copies = args.Contains("--copies");
        int rank = alone || copies ? int.Parse(Environment.GetEnvironmentVariable("PMI_RANK") ?? "0", CultureInfo.InvariantCulture) : timed.Rank;
        int size = copies ? 1 : alone ? int.Parse(Environment.GetEnvironmentVariable("PMI_SIZE") ?? "1", CultureInfo.InvariantCulture) : timed.Size;
        var (all, net) = StepProfile.W2();
        var shard = size == 1 ? all : all.Subset(Enumerable.Range(0, all.Count).Where(i => i % size == rank).ToArray());
        bool lbfgs = workload == "lbfgs";
        var times = new List<double>();
        var clock = Stopwatch.StartNew();
        double last = 0;
        var options = new TrainingOptions
        {
            Loss = LossFunction.CrossEntropy,
            Optimizer = lbfgs ? OptimizerKind.Lbfgs : OptimizerKind.Adam,
            LearningRate = lbfgs ? null : 1e-3,
            L2Regularization = 1e-4,
            BatchSize = lbfgs ? null : alone ? 128 / size : 128,
            MaxEpochs = epochs,
            Tolerance = 0,
            Shuffle = true,
            Seed = 1,
            NumberOfThreads = 1,
            EpochCompleted = _ =>
            {
                double now = clock.Elapsed.TotalSeconds;
                times.Add(now - last);
                last = now;
            },
        };
        clock.Restart();
        var result = NetworkTrainer.TrainDistributed(net, shard, options, timed);
        // The first epoch carries the start-up pass (J at the initial weights), and the first several run code the tiered JIT
        // has not yet optimized (seen: 70 to 100 ms an epoch for six epochs, then 47 ms): the first third is left out of the median.
        var record = new RankRecord(workload, size, times.Skip(Math.Max(1, times.Count / 3)).ToArray(), timed.Seconds, timed.Count, times.Count, net.ParameterCount,
            (int)Math.Ceiling(all.Count / 128.0), result.History.Epochs[^1].TrainingLoss,
            Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(result.Network.Parameters))));
        if (rank == 0) Console.WriteLine(JsonSerializer.Serialize(record));
        return 0;
    }

    /// <summary>Counts the gradient sums and the time spent in them (waiting for the other rank included).</summary>
    private sealed class TimedAllreduce(IGradientAllreduce inner) : IShardedAllreduce
    {
        /// <summary>Seconds in a step's communication: the gradient's sum (or its reduce-scatter, the 4-value sum of the
        /// step's loss and flags, and the gather of the new weights); not the 3-value means of the epoch's end.</summary>
        public double Seconds;

        /// <summary>Gradient sums (or reduce-scatters): one per step, or per L-BFGS evaluation.</summary>
        public long Count;

        public int Rank => inner.Rank;

        public int Size => inner.Size;

        public void Sum<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T>
        {
            long t = Stopwatch.GetTimestamp();
            inner.Sum(values);
            if (values.Length > 3) Seconds += Stopwatch.GetElapsedTime(t).TotalSeconds;
            if (values.Length > 16) Count++;
        }

        public void ReduceScatter<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T>
        {
            long t = Stopwatch.GetTimestamp();
            ((IShardedAllreduce)inner).ReduceScatter(values);
            Seconds += Stopwatch.GetElapsedTime(t).TotalSeconds;
            Count++;
        }

        public bool PrepareSplit<T>(int length) where T : unmanaged, IFloatingPointIeee754<T> => ((IShardedAllreduce)inner).PrepareSplit<T>(length);

        public void AllgatherChunks<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T>
        {
            long t = Stopwatch.GetTimestamp();
            ((IShardedAllreduce)inner).AllgatherChunks(values);
            Seconds += Stopwatch.GetElapsedTime(t).TotalSeconds;
        }

        public void Allgather(ReadOnlySpan<long> mine, Span<long> all) => inner.Allgather(mine, all);
    }

    private static string MpichVersion()
    {
        try
        {
            var psi = new ProcessStartInfo("mpichversion") { RedirectStandardOutput = true };
            using var p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return output.Split('\n').FirstOrDefault(l => l.StartsWith("MPICH Version:", StringComparison.Ordinal))?["MPICH Version:".Length..].Trim() ?? "(version unknown)";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "(version unknown)";
        }
    }

    private static string Cpu()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return (line?.Split(':', 2)[1].Trim() ?? "unknown CPU") + $"; AVX-512: {System.Runtime.Intrinsics.X86.Avx512F.IsSupported}";
        }
        catch (IOException)
        {
            return "unknown CPU";
        }
    }

    private static double Median(double[] v)
    {
        var s = v.Order().ToArray();
        return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static int IntArg(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static string? StringArg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
