using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using MLNetBackprop.Benchmarks.SideBySide;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Kernels;

namespace MLNetBackprop.Benchmarks;

/// <summary>
/// `predict-phases`: where the time of one 784-128-10 sigmoid row goes (the issue's ≤ 2 µs single-row target), phase by
/// phase, and whether splitting the first layer's columns over two cores would pay on this machine. Each variant is
/// a prefix of the predictor's work on the 2,000 MNIST test rows (W1's shape and initial weights, as in the side-by-side
/// harness); the variants are timed in turn, round after round, so a noisy neighbour hits them all alike.
/// </summary>
public static class PredictPhases
{
    private const int Hidden = 128, Classes = 10, Padded = 16;

    /// <summary>Runs the table.</summary>
    public static void Run(int rounds = 9)
    {
        var data = Mnist.Load();
        int d = Mnist.Features, n = data.TestCount;
        var net = Workload.W1.CreateNetwork(OursRunner.InitSeed);
        var predictor = net.CreatePredictor();

        // The predictor's layout: Wᵀ row-major (n_in × n_out), the output layer padded to 16 columns.
        var w1 = Transposed(net.Weights(0), d, Hidden, Hidden);
        var w2 = Transposed(net.Weights(1), Hidden, Classes, Padded);
        var b1 = net.Biases(0).ToArray();
        var indices = new int[d + GemmSparseRow<float>.CompressSlack];
        var values = new float[d + GemmSparseRow<float>.CompressSlack];
        var z1 = new float[Hidden];
        var a1 = new float[Hidden];
        var z2 = new float[Padded];
        var output = new float[Classes];
        var rowIndices = new int[n][];
        var rowValues = new float[n][];
        for (int i = 0; i < n; i++)
        {
            int c = GemmSparseRow<float>.Compress(Row(data, i), indices, values);
            rowIndices[i] = indices[..c];
            rowValues[i] = values[..c];
        }

        int Compress(int i) => GemmSparseRow<float>.Compress(Row(data, i), indices, values);
        void FirstLayer(int c) => GemmSparseRow<float>.Multiply(d, Hidden, indices.AsSpan(0, c), values.AsSpan(0, c), w1, Hidden, z1);
        void Hidden1()
        {
            TensorPrimitives.Add(z1, b1, z1);
            TensorPrimitives.Sigmoid(z1, a1);
        }
        void Second() => Gemm.Multiply(false, false, 1, Padded, Hidden, 1f, a1, Hidden, w2, Padded, 0f, z2, Padded);

        var split = new SplitFirstLayer(d, w1, z1);
        var variants = new List<(string Name, Action<int> Score)>
        {
            ("find the non-zeros (Compress)", i => Compress(i)),
            ("+ first layer (GemmSparseRow, 128 columns)", i => FirstLayer(Compress(i))),
            ("+ bias and sigmoid", i => { FirstLayer(Compress(i)); Hidden1(); }),
            ("+ second layer (128 → 16 padded)", i => { FirstLayer(Compress(i)); Hidden1(); Second(); }),
            ("NetworkPredictor.Predict (all of it, + softmax)", i => predictor.Predict(Row(data, i), output)),
            ("first layer alone, rows compressed beforehand", i => GemmSparseRow<float>.Multiply(d, Hidden, rowIndices[i], rowValues[i], w1, Hidden, z1)),
            ("  the same, columns split over 2 threads", i => split.Run(rowIndices[i], rowValues[i])),
            ("  pool handoff with empty parts", i => GemmThreadPool.Run(Empty.Instance, 2, 2)),
            ("  half the columns on the caller only", i => GemmSparseRow<float>.Multiply(d, 64, rowIndices[i], rowValues[i], w1, Hidden, z1)),
        };
        var medians = RoundRobin(n, variants, rounds);
        double nnz = rowIndices.Average(r => r.Length);
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"784-128-10 sigmoid, W1's initial weights; {nnz:F1} non-zero pixels per test row on average ({nnz * Hidden * 4 / 1024:F0} KiB of first-layer weights read per row)"));
        Console.WriteLine(string.Create(inv, $"{rounds} rounds; each round times every variant over 3 passes of the {n:N0} test rows; median over all passes of the per-pass median µs/row"));
        Console.WriteLine();
        Console.WriteLine("| variant | median µs/row | fastest pass |");
        Console.WriteLine("|---|---:|---:|");
        for (int v = 0; v < variants.Count; v++)
            Console.WriteLine(string.Create(inv, $"| {variants[v].Name} | {medians[v].Median:F2} | {medians[v].Min:F2} |"));
        Console.WriteLine();
        var trips = CrossCoreRoundTrips();
        Console.WriteLine(string.Create(inv, $"Cross-core round trip (one flag written by each of two spinning threads in turn): median {Stats.Median(trips):F0} ns, range {trips.Min():F0}–{trips.Max():F0} ns over {trips.Length} runs of 100,000"));
    }

    private static ReadOnlySpan<float> Row(Mnist data, int i) => data.TestX.AsSpan(i * Mnist.Features, Mnist.Features);

    private static float[] Transposed(ReadOnlySpan<float> w, int nIn, int nOut, int stride)
    {
        var t = new float[nIn * stride];
        for (int o = 0; o < nOut; o++)
            for (int i = 0; i < nIn; i++)
                t[i * stride + o] = w[o * nIn + i];
        return t;
    }

    /// <summary>The first layer as two column halves, run through the GEMM pool (caller + one spinning worker).</summary>
    private sealed class SplitFirstLayer(int inputs, float[] weights, float[] z) : IGemmParallelJob
    {
        private int[] _indices = [];
        private float[] _values = [];

        public void Run(int[] indices, float[] values)
        {
            _indices = indices;
            _values = values;
            GemmThreadPool.Run(this, 2, 2);
        }

        public void Execute(int part)
        {
            const int half = Hidden / 2;
            GemmSparseRow<float>.Multiply(inputs, half, _indices, _values, weights.AsSpan(part * half), Hidden, z.AsSpan(part * half, half));
        }
    }

    private sealed class Empty : IGemmParallelJob
    {
        public static readonly Empty Instance = new();
        public void Execute(int part) { }
    }

    private static List<(double Median, double Min)> RoundRobin(int rows, List<(string Name, Action<int> Score)> variants, int rounds)
    {
        foreach (var v in variants) OursRunner.OneRowMedianMicros(rows, v.Score); // 1.5 s of warm-up each
        var passes = variants.Select(_ => new List<double>()).ToList();
        var micros = new double[rows];
        for (int r = 0; r < rounds; r++)
        {
            for (int v = 0; v < variants.Count; v++)
            {
                for (int pass = 0; pass < 3; pass++)
                    passes[v].Add(OursRunner.TimedPassMedianMicros(rows, variants[v].Score, micros));
            }
        }
        return passes.Select(p => (Stats.Median(p), p.Min())).ToList();
    }

    private static long s_flag;

    /// <summary>ns per round trip of a counter passed between the caller and a spinning thread (7 runs).</summary>
    private static double[] CrossCoreRoundTrips()
    {
        if (Environment.ProcessorCount < 2) return [double.NaN];
        const int trips = 100_000;
        Volatile.Write(ref s_flag, 0);
        var echo = new Thread(() =>
        {
            // Answers every odd value with the next even one.
            for (long expect = 1; expect < 7L * 2 * trips; expect += 2)
            {
                while (Volatile.Read(ref s_flag) != expect) Thread.SpinWait(1);
                Volatile.Write(ref s_flag, expect + 1);
            }
        }) { IsBackground = true };
        echo.Start();
        var result = new double[7];
        long value = 0;
        for (int run = 0; run < result.Length; run++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < trips; i++)
            {
                Volatile.Write(ref s_flag, ++value);
                ++value;
                while (Volatile.Read(ref s_flag) != value) Thread.SpinWait(1);
            }
            result[run] = Stopwatch.GetElapsedTime(t0).TotalNanoseconds / trips;
        }
        echo.Join();
        return result;
    }
}
