using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;
using MLNetBackprop.Benchmarks;
using MLNetBackprop.Benchmarks.Panel;
using MLNetBackprop.Benchmarks.SideBySide;

// `gemm-quick [repetitions]`: fast Stopwatch table (medians) of GFLOP/s and % of measured FMA peak.
// `peak`: just the peak.
// `side-by-side [--rounds R] [--workloads W1,W2,W3,W4] [--wait-idle s] [--retry-contended N] [--with-dense]
//   [--with-pytorch]`: this library vs TorchSharp (issue #8), one child process per run; TorchSharp only when built
//   with -p:WithTorch=true; --with-dense adds this library with zero skipping off; --with-pytorch adds PyTorch 1.13
//   on OpenBLAS when a Python with torch is installed (Debian 12: python3-torch, libopenblas0-pthread).
// `run-one <ours|ours-dense|torch|pytorch> <W1|W2|W3|W4> [--round r] [--params file]`: one run, one JSON line (used
//   by side-by-side).
// `predict-quick`: in-memory scoring speed (one row, batch; zero-skipping on and off) for the W1 and W2 networks.
// `predict-phases`: where one 784-128-10 row's scoring time goes, phase by phase, and whether a two-core split pays here.
// `panel [--datasets a,b,c] [--folds 5] [--seed 0] [--out path.md] [--with-mnist]`: issue #14's panel, our default MLP
//   against ML.NET's SDCA, L-BFGS, FastTree and LightGBM at their defaults on 20 bundled tabular datasets (5-fold CV).
// `streaming [--rows 20000000] [--subset 2000000] [--features 50] [--dir d] [--budget-mib 1024] [--epochs 3] [--out f.md] [--subset-only] [--cold]`:
//   issue #18's benchmark: a synthetic .idv on disk, the streamed path against the in-memory one (rows/s, MB/s, peak RSS).
// `step-profile`: the parts of one W2 step timed apart (what does not shrink with the batch).
// `distributed [--epochs 30] [--repeat 3] [--out f.md]`: issue #19's benchmark, 1 process × 1 thread against `mpiexec -n 2` × 1 thread
//   (W2 with Adam, and full-batch L-BFGS), and the communication model projecting 8 and 64 machines (needs mpich).
// `alloc-check`: bytes allocated per training step and per trainer epoch (W1, W2; dense and sparse rows).
// Anything else goes to BenchmarkDotNet (e.g. `--filter *Gemm*`, `--filter *TrainingStep*`).
if (args.Length > 0 && args[0] == "gemm-quick")
{
    int reps = args.Length > 1 && int.TryParse(args[1], out int r) ? r : 21;
    QuickHarness.Run(reps);
    return 0;
}
if (args.Length > 0 && args[0] == "peak")
{
    for (int t = 1; t <= Environment.ProcessorCount; t++)
    {
        Console.WriteLine($"fp32 FMA peak on {t} thread(s): {PeakFlops.Measure(t, 15):F1} GFLOP/s (median of 15)");
    }
    return 0;
}
if (args.Length > 0 && args[0] == "side-by-side")
{
    return SideBySideHarness.Run(args);
}
if (args.Length > 0 && args[0] == "run-one")
{
    return SideBySideHarness.RunOne(args);
}
if (args.Length > 0 && args[0] == "predict-quick")
{
    PredictHarness.Run();
    return 0;
}
if (args.Length > 0 && args[0] == "predict-phases")
{
    PredictPhases.Run();
    return 0;
}
if (args.Length > 0 && args[0] == "panel")
{
    return PanelRunner.Run(args);
}
if (args.Length > 0 && args[0] == "step-profile")
{
    StepProfile.Run();
    return 0;
}
if (args.Length > 0 && args[0] == "distributed")
{
    return DistributedHarness.Run(args);
}
if (args.Length > 0 && args[0] == "distributed-sum")
{
    return DistributedHarness.RunSum(args);
}
if (args.Length > 0 && args[0] == "distributed-rank")
{
    return DistributedHarness.RunRank(args);
}
if (args.Length > 0 && args[0] == "streaming")
{
    return StreamingHarness.Run(args);
}
if (args.Length > 0 && args[0] == "streaming-read")
{
    return StreamingHarness.ReadSpeed(args);
}
if (args.Length > 0 && args[0] == "streaming-run-one")
{
    return StreamingHarness.RunOne(args);
}
if (args.Length > 0 && args[0] == "alloc-check")
{
    TrainingStep.AllocationCheck();
    return 0;
}
BenchmarkSwitcher.FromAssembly(typeof(GemmBenchmarks).Assembly).Run(
    args,
    DefaultConfig.Instance.WithArtifactsPath(Path.Combine(AppContext.BaseDirectory, "BenchmarkDotNet.Artifacts")));
return 0;
