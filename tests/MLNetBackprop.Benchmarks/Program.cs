using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;
using MLNetBackprop.Benchmarks;

// `gemm-quick [repetitions]`: fast Stopwatch table (medians) of GFLOP/s and % of measured FMA peak.
// `peak`: just the peak. Anything else goes to BenchmarkDotNet (e.g. `--filter *Gemm*`).
if (args.Length > 0 && args[0] == "gemm-quick")
{
    int reps = args.Length > 1 && int.TryParse(args[1], out int r) ? r : 21;
    QuickHarness.Run(reps);
    return;
}
if (args.Length > 0 && args[0] == "peak")
{
    for (int t = 1; t <= Environment.ProcessorCount; t++)
    {
        Console.WriteLine($"fp32 FMA peak on {t} thread(s): {PeakFlops.Measure(t, 15):F1} GFLOP/s (median of 15)");
    }
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(GemmBenchmarks).Assembly).Run(
    args,
    DefaultConfig.Instance.WithArtifactsPath(Path.Combine(AppContext.BaseDirectory, "BenchmarkDotNet.Artifacts")));
