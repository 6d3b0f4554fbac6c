using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MLNetBackprop.Benchmarks;

/// <summary>
/// The machine's fp32 FMA peak: a loop of 12 independent Vector512 (or Vector256) fused multiply-adds on
/// registers only, run on every core at once.
/// </summary>
public static class PeakFlops
{
    /// <summary>Floating-point operations done by one call of <see cref="FmaLoop"/>.</summary>
    public static double FlopsPerCall(long iterations) =>
        iterations * 12.0 * 2 * (Vector512.IsHardwareAccelerated ? Vector512<float>.Count : Vector256<float>.Count);

    /// <summary>Register-only FMA loop; returns a value so the work is not removed.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static float FmaLoop(long iterations, float seed)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> m = Vector512.Create(0.999999f), add = Vector512.Create(1e-7f);
            Vector512<float> a0 = Vector512.Create(seed), a1 = a0 + add, a2 = a1 + add, a3 = a2 + add, a4 = a3 + add, a5 = a4 + add;
            Vector512<float> a6 = a5 + add, a7 = a6 + add, a8 = a7 + add, a9 = a8 + add, a10 = a9 + add, a11 = a10 + add;
            for (long i = 0; i < iterations; i++)
            {
                a0 = Vector512.FusedMultiplyAdd(a0, m, add); a1 = Vector512.FusedMultiplyAdd(a1, m, add);
                a2 = Vector512.FusedMultiplyAdd(a2, m, add); a3 = Vector512.FusedMultiplyAdd(a3, m, add);
                a4 = Vector512.FusedMultiplyAdd(a4, m, add); a5 = Vector512.FusedMultiplyAdd(a5, m, add);
                a6 = Vector512.FusedMultiplyAdd(a6, m, add); a7 = Vector512.FusedMultiplyAdd(a7, m, add);
                a8 = Vector512.FusedMultiplyAdd(a8, m, add); a9 = Vector512.FusedMultiplyAdd(a9, m, add);
                a10 = Vector512.FusedMultiplyAdd(a10, m, add); a11 = Vector512.FusedMultiplyAdd(a11, m, add);
            }
            return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
        }
        else
        {
            Vector256<float> m = Vector256.Create(0.999999f), add = Vector256.Create(1e-7f);
            Vector256<float> a0 = Vector256.Create(seed), a1 = a0 + add, a2 = a1 + add, a3 = a2 + add, a4 = a3 + add, a5 = a4 + add;
            Vector256<float> a6 = a5 + add, a7 = a6 + add, a8 = a7 + add, a9 = a8 + add, a10 = a9 + add, a11 = a10 + add;
            for (long i = 0; i < iterations; i++)
            {
                a0 = Vector256.FusedMultiplyAdd(a0, m, add); a1 = Vector256.FusedMultiplyAdd(a1, m, add);
                a2 = Vector256.FusedMultiplyAdd(a2, m, add); a3 = Vector256.FusedMultiplyAdd(a3, m, add);
                a4 = Vector256.FusedMultiplyAdd(a4, m, add); a5 = Vector256.FusedMultiplyAdd(a5, m, add);
                a6 = Vector256.FusedMultiplyAdd(a6, m, add); a7 = Vector256.FusedMultiplyAdd(a7, m, add);
                a8 = Vector256.FusedMultiplyAdd(a8, m, add); a9 = Vector256.FusedMultiplyAdd(a9, m, add);
                a10 = Vector256.FusedMultiplyAdd(a10, m, add); a11 = Vector256.FusedMultiplyAdd(a11, m, add);
            }
            return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
        }
    }

    /// <summary>Runs the loop on <paramref name="threads"/> threads at once; returns the median GFLOP/s of <paramref name="repetitions"/> runs.</summary>
    public static double Measure(int threads, int repetitions = 7, long iterations = 20_000_000)
        => MeasureStats(threads, repetitions, iterations).Median;

    /// <summary>Median and best GFLOP/s of <paramref name="repetitions"/> runs of the loop on <paramref name="threads"/> threads at once.</summary>
    public static (double Median, double Best) MeasureStats(int threads, int repetitions = 7, long iterations = 4_000_000)
    {
        FmaLoop(100_000, 1f); // warm up / tier up
        var results = new double[repetitions];
        for (int r = 0; r < repetitions; r++) results[r] = MeasureOnce(threads, iterations);
        Array.Sort(results);
        return (results[repetitions / 2], results[^1]);
    }

    /// <summary>One short run of the loop on <paramref name="threads"/> threads at once (about <paramref name="iterations"/> · 12 FMAs each); GFLOP/s.</summary>
    public static double MeasureOnce(int threads, long iterations = 1_000_000)
    {
        var workers = new Thread[threads - 1];
        using var start = new Barrier(threads);
        for (int t = 0; t < workers.Length; t++)
        {
            workers[t] = new Thread(() =>
            {
                start.SignalAndWait();
                Sink = FmaLoop(iterations, 1f);
            });
            workers[t].Start();
        }
        start.SignalAndWait();
        long t0 = Stopwatch.GetTimestamp();
        Sink = FmaLoop(iterations, 1f);
        foreach (Thread w in workers)
        {
            w.Join();
        }
        return threads * FlopsPerCall(iterations) / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9;
    }

    /// <summary>Keeps results alive.</summary>
    public static float Sink;
}
