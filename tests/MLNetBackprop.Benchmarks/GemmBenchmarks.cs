using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using MLNetBackprop.Core.Kernels;

namespace MLNetBackprop.Benchmarks;

/// <summary>Float GEMM over the training shapes; the GFLOP/s column is 2·m·n·k / median time.</summary>
[MemoryDiagnoser]
[Config(typeof(GflopsConfig))]
public class GemmBenchmarks
{
    private float[] _a = [], _b = [], _c = [];

    /// <summary>The product being measured.</summary>
    [ParamsSource(nameof(AllShapes))]
    public GemmShape Shape { get; set; } = GemmShape.Training[0];

    /// <summary>Threads allowed.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>The shapes.</summary>
    public static IEnumerable<GemmShape> AllShapes => GemmShape.Training;

    /// <summary>Random operands.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        _a = Enumerable.Range(0, Shape.M * Shape.K).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        _b = Enumerable.Range(0, Shape.K * Shape.N).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        _c = new float[Shape.M * Shape.N];
    }

    /// <summary>One product.</summary>
    [Benchmark]
    public void Multiply()
    {
        GemmShape s = Shape;
        Gemm.Multiply(s.TransA, s.TransB, s.M, s.N, s.K, 1f, _a, s.TransA ? s.M : s.K, _b, s.TransB ? s.K : s.N, 0f, _c, s.N, Threads);
    }

    private sealed class GflopsConfig : ManualConfig
    {
        public GflopsConfig() => AddColumn(new GflopsColumn());
    }

    private sealed class GflopsColumn : IColumn
    {
        public string Id => "GFLOPs";
        public string ColumnName => "GFLOP/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "2*m*n*k / median time";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var report = summary[benchmarkCase];
            if (report?.ResultStatistics is null || benchmarkCase.Parameters["Shape"] is not GemmShape shape)
            {
                return "-";
            }
            return (shape.Flops / report.ResultStatistics.Median).ToString("F1"); // flop per ns = GFLOP/s
        }

        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    }
}

/// <summary>The fp32 peak (register-only FMA loop on every core), to quote GEMM as a fraction of it.</summary>
public class PeakBenchmarks
{
    private const long Iterations = 10_000_000;

    /// <summary>The loop on every core at once; GFLOP/s = FlopsPerCall·cores / time.</summary>
    [Benchmark]
    public float AllCores()
    {
        int threads = Environment.ProcessorCount;
        float sum = 0;
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ => PeakFlops.Sink = PeakFlops.FmaLoop(Iterations, 1f));
        return sum + PeakFlops.Sink;
    }

    /// <summary>The loop on one core.</summary>
    [Benchmark]
    public float OneCore() => PeakFlops.FmaLoop(Iterations, 1f);
}
