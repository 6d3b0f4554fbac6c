using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MLNetBackprop.Benchmarks.SideBySide;

/// <summary>What one child process (one library, one workload) measured; printed as one JSON line.</summary>
public sealed class RunRecord
{
    /// <summary>"ours" or "torch".</summary>
    public string Library { get; set; } = "";

    /// <summary>W1..W4.</summary>
    public string Workload { get; set; } = "";

    /// <summary>Round number given by the parent (also the shuffling seed).</summary>
    public int Round { get; set; }

    /// <summary>Compute threads used.</summary>
    public int Threads { get; set; }

    /// <summary>Seconds of every epoch (W3: every full-batch iteration), the first included.</summary>
    public double[]? EpochSeconds { get; set; }

    /// <summary>Median of epochs 2..N.</summary>
    public double? MedianEpochSeconds { get; set; }

    /// <summary>6 × parameters × examples per epoch / median epoch time, in GFLOP/s.</summary>
    public double? Gflops { get; set; }

    /// <summary>Training loss after the last epoch as the library reports or computes it.</summary>
    public double? FinalLoss { get; set; }

    /// <summary>Accuracy on the 2,000 test rows.</summary>
    public double? TestAccuracy { get; set; }

    /// <summary>VmHWM (peak resident set) in MiB at the end of training / of the in-memory scoring.</summary>
    public double PeakRssMiB { get; set; }

    /// <summary>Share of the machine's CPU time (all cores) used by other processes while training/scoring, in %.</summary>
    public double ForeignCpuPercent { get; set; }

    /// <summary>Share of the machine's CPU time stolen by the hypervisor while training/scoring, in %.</summary>
    public double StealPercent { get; set; }

    /// <summary>W4: rows/s scoring the 2,000 test rows as one batch (median of repetitions).</summary>
    public double? BatchRowsPerSecond { get; set; }

    /// <summary>W4, ours only: rows/s of the training-side batch forward (NeuralNetwork.Predict, one GEMM per layer over the batch).</summary>
    public double? BatchGemmRowsPerSecond { get; set; }

    /// <summary>W4: median µs to score one row.</summary>
    public double? SingleRowMedianMicros { get; set; }

    /// <summary>W4: median µs to score one row with a 784-128-10 sigmoid/softmax net (W1's shape, initial weights).</summary>
    public double? W1ShapeSingleRowMedianMicros { get; set; }

    /// <summary>W4: rows/s of the one-row-at-a-time loop over the test rows (its second pass).</summary>
    public double? SingleRowLoopRowsPerSecond { get; set; }

    /// <summary>W4, ours only: rows/s through ML.NET's Transform + a cursor over Score (median of repetitions).</summary>
    public double? MlNetTransformRowsPerSecond { get; set; }

    /// <summary>W4, ours only: rows/s through a PredictionEngine, one row at a time over the test rows.</summary>
    public double? MlNetEngineRowsPerSecond { get; set; }

    /// <summary>W4, ours only: median µs per PredictionEngine.Predict call.</summary>
    public double? MlNetEngineMedianMicros { get; set; }

    /// <summary>W4, ours only: test accuracy of the network trained briefly through the ML.NET adapter.</summary>
    public double? MlNetAdapterAccuracy { get; set; }

    /// <summary>W4, ours only: VmHWM in MiB after the ML.NET part.</summary>
    public double? PeakRssMiBWithMlNet { get; set; }

    /// <summary>Anything worth knowing about the run.</summary>
    public string? Note { get; set; }

    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>One line of JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Parses <see cref="ToJson"/>.</summary>
    public static RunRecord FromJson(string line) => JsonSerializer.Deserialize<RunRecord>(line, Json)
        ?? throw new InvalidDataException("Empty result line.");

    /// <summary>Fills <see cref="MedianEpochSeconds"/> and <see cref="Gflops"/> from <see cref="EpochSeconds"/>.</summary>
    public void Summarize(int parameters, int examplesPerEpoch)
    {
        if (EpochSeconds is not { Length: > 0 } e) return;
        double median = Stats.Median(e.Length > 1 ? e[1..] : e);
        MedianEpochSeconds = median;
        Gflops = 6.0 * parameters * examplesPerEpoch / median / 1e9;
    }
}

/// <summary>Medians.</summary>
public static class Stats
{
    /// <summary>The median (mean of the middle two for an even count).</summary>
    public static double Median(IEnumerable<double> values)
    {
        double[] s = values.ToArray();
        if (s.Length == 0) return double.NaN;
        Array.Sort(s);
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }
}

/// <summary>Linux /proc readings: peak RSS, load, and who used the CPUs during a timed region.</summary>
public static class ProcStats
{
    /// <summary>VmHWM of this process in MiB (NaN when /proc is not there).</summary>
    public static double PeakRssMiB()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return double.NaN;
    }

    /// <summary>The three load averages from /proc/loadavg, or "n/a".</summary>
    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
    }

    /// <summary>A reading of the machine's and this process's CPU tick counters.</summary>
    public readonly record struct CpuSnapshot(long MachineBusy, long MachineSteal, long Self, long Timestamp)
    {
        /// <summary>Reads the counters now.</summary>
        public static CpuSnapshot Take()
        {
            long busy = 0, steal = 0, self = 0;
            try
            {
                // cpu  user nice system idle iowait irq softirq steal guest guest_nice  (USER_HZ ticks)
                string cpu = File.ReadLines("/proc/stat").First();
                long[] f = cpu.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
                busy = f[0] + f[1] + f[2] + f[5] + f[6];
                steal = f.Length > 7 ? f[7] : 0;
                // /proc/self/stat: fields after the ")" — utime is the 14th field, stime the 15th.
                string stat = File.ReadAllText("/proc/self/stat");
                string[] after = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                self = long.Parse(after[11], CultureInfo.InvariantCulture) + long.Parse(after[12], CultureInfo.InvariantCulture);
            }
            catch (IOException) { }
            return new CpuSnapshot(busy, steal, self, Stopwatch.GetTimestamp());
        }

        /// <summary>Other processes' CPU use and hypervisor steal since <paramref name="start"/>, as % of all cores' time.</summary>
        public (double ForeignPercent, double StealPercent) Since(CpuSnapshot start)
        {
            const double TicksPerSecond = 100; // USER_HZ on Linux
            double capacity = Environment.ProcessorCount * Stopwatch.GetElapsedTime(start.Timestamp, Timestamp).TotalSeconds * TicksPerSecond;
            if (capacity <= 0) return (0, 0);
            double foreign = Math.Max(0, (MachineBusy - start.MachineBusy) - (Self - start.Self));
            return (100 * foreign / capacity, 100 * (MachineSteal - start.MachineSteal) / capacity);
        }
    }
}
