using System.Diagnostics;
using System.Numerics;
using MLNetBackprop.Core.Kernels;

namespace MLNetBackprop.Benchmarks;

/// <summary>
/// Fast side-by-side table (Stopwatch): for each shape, GFLOP/s with 1 and 2 threads as the median and
/// the best of many short batches (1- and 2-thread batches interleaved, so both see the same machine
/// load), and as a percentage of the measured FMA peak. The machine is shared: the median is the
/// honest figure, the best shows what the kernel does when it has the cores to itself.
/// </summary>
public static class QuickHarness
{
    private const double BatchSeconds = 0.01;

    /// <summary>Runs the table; <paramref name="repetitions"/> timed batches per cell.</summary>
    public static void Run(int repetitions = 21, bool includeDouble = true)
    {
        int cores = Environment.ProcessorCount;
        Console.WriteLine($"cores: {cores}, float kernel: {Gemm.BestIsa<float>()}, {repetitions} batches of ~{BatchSeconds * 1000:F0} ms per cell");
        var (peak1Median, peak1) = PeakFlops.MeasureStats(1, repetitions);
        var (peak2Median, peak2) = PeakFlops.MeasureStats(Math.Min(2, cores), repetitions);
        Console.WriteLine($"fp32 FMA peak (register-only loop): 1 thread median {peak1Median:F1} / best {peak1:F1} GFLOP/s; "
            + $"2 threads median {peak2Median:F1} / best {peak2:F1} GFLOP/s.");
        Console.WriteLine("Each GEMM batch is followed by a short peak-loop run on as many threads; '%pk' is the median of the");
        Console.WriteLine("per-pair ratios GEMM / peak (both under the same machine load), '%best' is the median GEMM over the best peak.");
        Console.WriteLine();
        Table<float>("float", GemmShape.Training, repetitions, peak1, peak2, 1);
        if (includeDouble)
        {
            Console.WriteLine();
            Table<double>("double (%: of fp32 peak / 2)", GemmShape.Training.Take(5).ToArray(), repetitions, peak1 / 2, peak2 / 2, 2);
        }
    }

    private static void Table<T>(string title, GemmShape[] shapes, int repetitions, double peak1, double peak2, double peakDivisor)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Console.WriteLine($"{title,-52} | {"1 thread: median",16} {"best",6} {"%pk",5} {"%best",5} | {"2 threads: median",17} {"best",6} {"%pk",5} {"%best",5}");
        Console.WriteLine(new string('-', 52) + "-+-" + new string('-', 36) + "-+-" + new string('-', 37));
        foreach (GemmShape shape in shapes)
        {
            var r = Measure<T>(shape, repetitions, peakDivisor);
            Console.WriteLine($"{shape.Name + " " + shape.Id,-52} | {Median(r.One),16:F1} {r.One.Max(),6:F1} {100 * Median(r.OneRatio),4:F0}% {100 * Median(r.One) / peak1,4:F0}% | "
                + $"{Median(r.Two),17:F1} {r.Two.Max(),6:F1} {100 * Median(r.TwoRatio),4:F0}% {100 * Median(r.Two) / peak2,4:F0}%");
        }
    }

    private static double Median(double[] values)
    {
        double[] sorted = (double[])values.Clone();
        Array.Sort(sorted);
        return sorted[sorted.Length / 2];
    }

    /// <summary>
    /// GFLOP/s of <paramref name="repetitions"/> interleaved batches with 1 and with 2 threads, and each
    /// batch's ratio to a peak-loop run on as many threads right after it.
    /// </summary>
    public static (double[] One, double[] Two, double[] OneRatio, double[] TwoRatio) Measure<T>(GemmShape s, int repetitions, double peakDivisor = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(42);
        T[] a = Enumerable.Range(0, s.M * s.K).Select(_ => T.CreateTruncating(rng.NextDouble() - 0.5)).ToArray();
        T[] b = Enumerable.Range(0, s.K * s.N).Select(_ => T.CreateTruncating(rng.NextDouble() - 0.5)).ToArray();
        T[] c = new T[s.M * s.N];
        int lda = s.TransA ? s.M : s.K, ldb = s.TransB ? s.K : s.N;
        void Call(int threads) => Gemm.Multiply(s.TransA, s.TransB, s.M, s.N, s.K, T.One, a, lda, b, ldb, T.Zero, c, s.N, threads);

        // Warm up (tiering) and size a batch.
        long t0 = Stopwatch.GetTimestamp();
        int calls = 0;
        while (Stopwatch.GetElapsedTime(t0).TotalMilliseconds < 60 || calls < 10)
        {
            Call(1 + calls % 2);
            calls++;
        }
        double perCall = Stopwatch.GetElapsedTime(t0).TotalSeconds / calls;
        int batch = Math.Max(1, (int)(BatchSeconds / perCall));
        int twoThreads = Math.Min(2, Environment.ProcessorCount);

        var one = new double[repetitions];
        var two = new double[repetitions];
        var oneRatio = new double[repetitions];
        var twoRatio = new double[repetitions];
        for (int r = 0; r < repetitions; r++)
        {
            one[r] = Time(1);
            oneRatio[r] = one[r] / (PeakFlops.MeasureOnce(1) / peakDivisor);
            two[r] = Time(2);
            twoRatio[r] = two[r] / (PeakFlops.MeasureOnce(twoThreads) / peakDivisor);
        }
        return (one, two, oneRatio, twoRatio);

        double Time(int threads)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < batch; i++)
            {
                Call(threads);
            }
            return s.Flops * batch / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9;
        }
    }
}
