using System.Numerics;
using MLNetBackprop.Core.Kernels;
using Xunit;

namespace MLNetBackprop.Core.Tests.Kernels;

public class GemmTests
{
    // (m, n, k): single rows/columns, k = 1, sizes around vector widths (8, 16, 32, 64) and the 6-row tile,
    // k crossing the k-slice size (Gemm.KcMax = 400), and the library's training shapes.
    public static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (1, 17, 33), (17, 1, 5), (5, 7, 1), (1, 1, 300), (7, 65, 401), (5, 33, 801), (1, 20, 450),
        (15, 16, 17), (16, 31, 33), (33, 15, 16), (6, 64, 256), (7, 65, 257), (12, 128, 64),
        (31, 33, 15), (13, 8, 9), (2, 100, 3), (64, 10, 128), (64, 128, 10), (1, 784, 128), (1, 10, 128),
        (100, 130, 300), (130, 10, 600), (37, 200, 513),
    ];

    public static TheoryData<bool, bool> Transposes => new() { { false, false }, { false, true }, { true, false }, { true, true } };

    [Theory]
    [MemberData(nameof(Transposes))]
    public void Float_MatchesReference_AllShapes(bool transA, bool transB)
    {
        int seed = 1;
        foreach (var (m, n, k) in Shapes)
        {
            Check<float>(GemmIsa.Auto, transA, transB, m, n, k, 1f, 0f, pad: 0, threads: 1, seed++);
            Check<float>(GemmIsa.Auto, transA, transB, m, n, k, -0.5f, 1f, pad: 3, threads: 2, seed++);
            Check<float>(GemmIsa.Auto, transA, transB, m, n, k, 2f, 0.25f, pad: 1, threads: 1, seed++);
        }
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void Double_MatchesReference_AllShapes(bool transA, bool transB)
    {
        int seed = 1000;
        foreach (var (m, n, k) in Shapes)
        {
            Check<double>(GemmIsa.Auto, transA, transB, m, n, k, 1.0, 0.0, pad: 2, threads: 1, seed++);
            Check<double>(GemmIsa.Auto, transA, transB, m, n, k, 0.75, -1.5, pad: 0, threads: 2, seed++);
        }
    }

    public static TheoryData<int> Isas => new() { (int)GemmIsa.Vector512, (int)GemmIsa.Vector256, (int)GemmIsa.Vector128, (int)GemmIsa.Scalar };

    [Theory]
    [MemberData(nameof(Isas))]
    public void EveryKernelFamily_MatchesReference(int isaId)
    {
        // A family this machine lacks is skipped, except the 512-bit one: .NET emulates Vector512 on narrower
        // vectors (fused multiply-adds included), so its kernels run here too, slowly.
        var isa = (GemmIsa)isaId;
        if (!Gemm.IsSupported<float>(isa) && isa != GemmIsa.Vector512)
        {
            return; // not on this machine (128-bit without FMA hardware, say)
        }
        int seed = 5000 + (int)isa * 100;
        foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 17, 33), (13, 31, 5), (40, 70, 300), (6, 16, 1), (3, 2, 9) })
        {
            foreach (var (ta, tb) in new[] { (false, false), (false, true), (true, false), (true, true) })
            {
                Check<float>(isa, ta, tb, m, n, k, 1f, 0f, pad: 1, threads: 2, seed++);
                Check<double>(isa, ta, tb, m, n, k, -1.0, 0.5, pad: 0, threads: 1, seed++);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void EveryKernelFamily_GivesTheScalarBits(int isaId)
    {
        // Every family does the same operations per element (one FMA chain per k slice, then
        // alpha·acc + beta·c), so all of them, including the scalar fallback, agree bitwise.
        var isa = (GemmIsa)isaId;
        if (!Gemm.IsSupported<float>(isa) && isa != GemmIsa.Vector512)
        {
            return;
        }
        var rng = new Random(900 + isaId);
        foreach (var (m, n, k) in new[] { (1, 40, 600), (1, 37, 19), (9, 70, 600), (13, 33, 257), (50, 100, 40) })
        {
            foreach (var (ta, tb) in new[] { (false, false), (false, true), (true, false), (true, true) })
            {
                SameBits<float>(GemmIsa.Scalar, isa, ta, tb, m, n, k, 0.75f, 1.25f, rng);
                SameBits<float>(GemmIsa.Scalar, isa, ta, tb, m, n, k, 1f, 0f, rng);
                SameBits<double>(GemmIsa.Scalar, isa, ta, tb, m, n, k, -2.0, 0.5, rng);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void RowComputedAlone_IsBitwiseTheRowOfTheBatch(bool transA, bool transB)
    {
        var rng = new Random(transA ? 21 : 22);
        int m = 37, n = 75, k = 700;
        int lda = transA ? m : k, ldb = transB ? k : n;
        float[] a = Random<float>(rng, m * k), b = Random<float>(rng, n * k), c0 = Random<float>(rng, m * n);
        float[] batch = (float[])c0.Clone();
        Gemm.Multiply(transA, transB, m, n, k, 1.5f, a, lda, b, ldb, 0.5f, batch, n, 2);
        foreach (int i in new[] { 0, 5, 36 })
        {
            float[] row = c0.AsSpan(i * n, n).ToArray();
            ReadOnlySpan<float> aRow = transA ? a.AsSpan(i) : a.AsSpan(i * lda, k);
            Gemm.Multiply(transA, transB, 1, n, k, 1.5f, aRow, lda, b, ldb, 0.5f, row, n);
            Assert.True(batch.AsSpan(i * n, n).SequenceEqual(row), $"row {i} alone differs from the batch");
        }
    }

    private static void SameBits<T>(GemmIsa expectedIsa, GemmIsa isa, bool transA, bool transB, int m, int n, int k, T alpha, T beta, Random rng)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int lda = (transA ? m : k) + 1, ldb = (transB ? k : n) + 2, ldc = n + 3;
        T[] a = Random<T>(rng, (transA ? k : m) * lda), b = Random<T>(rng, (transB ? n : k) * ldb), c0 = Random<T>(rng, m * ldc);
        T[] expected = (T[])c0.Clone(), actual = (T[])c0.Clone();
        Gemm.MultiplyWith(expectedIsa, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, expected, ldc, 1);
        Gemm.MultiplyWith(isa, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, actual, ldc, 2, emulate512: true);
        Assert.True(expected.AsSpan().SequenceEqual(actual),
            $"{typeof(T).Name} {isa} tA={transA} tB={transB} {m}x{n}x{k}: not the {expectedIsa} bits");
    }

    [Fact]
    public void BetaZero_OverwritesNaN_AndBetaOne_Accumulates()
    {
        var rng = new Random(7);
        int m = 9, n = 35, k = 20;
        float[] a = Random<float>(rng, m * k), b = Random<float>(rng, k * n);
        float[] c = Enumerable.Repeat(float.NaN, m * n).ToArray();
        Gemm.Multiply(false, false, m, n, k, 1f, a, k, b, n, 0f, c, n);
        Assert.All(c, v => Assert.True(float.IsFinite(v)));

        float[] once = (float[])c.Clone();
        Gemm.Multiply(false, false, m, n, k, 1f, a, k, b, n, 1f, c, n);
        for (int i = 0; i < c.Length; i++)
        {
            Assert.Equal(2 * once[i], c[i], 1e-4f);
        }
    }

    [Fact]
    public void KZeroOrAlphaZero_ScalesC()
    {
        double[] c = [1, 2, double.NaN, 4];
        Gemm.Multiply(false, false, 2, 2, 0, 1.0, ReadOnlySpan<double>.Empty, 0, ReadOnlySpan<double>.Empty, 2, 0.0, c, 2);
        Assert.Equal([0.0, 0, 0, 0], c);

        double[] c2 = [1, 2, 3, 4];
        double[] a = [1, 2], b = [3, 4];
        Gemm.Multiply(false, false, 2, 2, 1, 0.0, a, 1, b, 2, 3.0, c2, 2);
        Assert.Equal([3.0, 6, 9, 12], c2);

        // Empty output: nothing to do, nothing touched.
        Gemm.Multiply(false, false, 0, 3, 2, 1.0, ReadOnlySpan<double>.Empty, 2, new double[6], 3, 0.0, Span<double>.Empty, 3);
    }

    [Fact]
    public void LeadingDimensions_PaddingIsNotTouched()
    {
        var rng = new Random(11);
        int m = 13, n = 37, k = 19, ldc = n + 5;
        float[] a = Random<float>(rng, m * (k + 3)), b = Random<float>(rng, k * (n + 2));
        float[] c = Enumerable.Repeat(-7f, m * ldc).ToArray();
        Gemm.Multiply(false, false, m, n, k, 1f, a, k + 3, b, n + 2, 0f, c, ldc, maxThreads: 2);
        for (int i = 0; i < m; i++)
        {
            for (int j = n; j < ldc; j++)
            {
                Assert.Equal(-7f, c[i * ldc + j]);
            }
        }
    }

    [Fact]
    public void InvalidArguments_Throw()
    {
        float[] a = new float[6], b = new float[6], c = new float[4];
        Assert.ThrowsAny<ArgumentException>(() => Gemm.Multiply(false, false, 2, 2, 3, 1f, a, 2, b, 2, 0f, c, 2)); // lda < k
        Assert.ThrowsAny<ArgumentException>(() => Gemm.Multiply(false, false, 2, 2, 4, 1f, a, 4, b, 2, 0f, c, 2)); // a too short
        Assert.ThrowsAny<ArgumentException>(() => Gemm.Multiply(false, false, 2, 3, 3, 1f, a, 3, b, 3, 0f, c, 3)); // c too short
        Assert.ThrowsAny<ArgumentException>(() => Gemm.Multiply(false, false, -1, 2, 3, 1f, a, 3, b, 2, 0f, c, 2));
    }

    public static TheoryData<bool, bool, int, int, int> DeterminismCases => new()
    {
        { false, true, 64, 128, 784 },
        { true, false, 128, 784, 64 },
        { false, false, 64, 784, 128 },
        { true, true, 50, 70, 300 },
        { false, true, 500, 64, 784 },
        { false, false, 1, 784, 128 },
        { false, true, 97, 33, 517 },
    };

    [Theory]
    [MemberData(nameof(DeterminismCases))]
    public void Results_AreBitwiseIndependentOfThreadCount(bool transA, bool transB, int m, int n, int k)
    {
        var rng = new Random(m * 31 + n * 7 + k);
        float[] a = Random<float>(rng, m * k), b = Random<float>(rng, k * n), c0 = Random<float>(rng, m * n);
        double[] ad = Random<double>(rng, m * k), bd = Random<double>(rng, k * n), c0d = Random<double>(rng, m * n);
        int lda = transA ? m : k, ldb = transB ? k : n;
        float[]? first = null;
        double[]? firstD = null;
        foreach (int threads in new[] { 1, 2, 4, 3 })
        {
            float[] c = (float[])c0.Clone();
            Gemm.Multiply(transA, transB, m, n, k, 1.5f, a, lda, b, ldb, 0.5f, c, n, threads);
            double[] cd = (double[])c0d.Clone();
            Gemm.Multiply(transA, transB, m, n, k, 1.5, ad, lda, bd, ldb, 0.5, cd, n, threads);
            if (first is null || firstD is null)
            {
                first = c;
                firstD = cd;
                continue;
            }
            Assert.True(first.AsSpan().SequenceEqual(c), $"float result differs with {threads} threads");
            Assert.True(firstD.AsSpan().SequenceEqual(cd), $"double result differs with {threads} threads");
        }
    }

    [Theory]
    [InlineData(2, 8, 11, true)]
    [InlineData(2, 16, 22, false)]
    [InlineData(4, 1, 1334, false)]
    [InlineData(3, 49, 22, false)]
    [InlineData(8, 2, 3, true)]
    public void ChooseSplit_StaysWithinTheGrid(int threads, int panels, int rowTiles, bool sharedA)
    {
        var (tn, tm) = Gemm.ChooseSplit(threads, panels, rowTiles, sharedA);
        Assert.InRange(tn, 1, panels);
        Assert.InRange(tm, 1, rowTiles);
        Assert.InRange(tn * tm, 1, 4 * threads);
    }

    [Fact]
    public void ManySplits_MatchSerialBitwise()
    {
        // Shapes on both sides of the shared-A switch, with row and column tile edges.
        var rng = new Random(3);
        foreach (var (m, n, k) in new[] { (45, 200, 70), (200, 45, 70), (7, 300, 300), (301, 17, 260) })
        {
            float[] a = Random<float>(rng, m * k), b = Random<float>(rng, k * n);
            float[] serial = new float[m * n];
            Gemm.Multiply(false, false, m, n, k, 1f, a, k, b, n, 0f, serial, n, 1);
            foreach (int threads in new[] { 2, 3, 5, 8 })
            {
                float[] c = Enumerable.Repeat(float.NaN, m * n).ToArray();
                Gemm.Multiply(false, false, m, n, k, 1f, a, k, b, n, 0f, c, n, threads);
                Assert.True(serial.AsSpan().SequenceEqual(c), $"{m}x{n}x{k} with {threads} threads differs from serial");
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WideProducts_RunInColumnChunks(bool transB)
    {
        // k·n beyond the packing limit (2^24 elements): op(B) is packed and multiplied in column chunks.
        Check<float>(GemmIsa.Auto, false, transB, 2, 4200, 4100, 1f, 0f, pad: 0, threads: 2, seed: 77);
    }

    [Fact]
    public void ConcurrentCallers_GetCorrectResults()
    {
        var rng = new Random(5);
        int m = 70, n = 90, k = 150;
        float[] a = Random<float>(rng, m * k), b = Random<float>(rng, n * k);
        float[] expected = new float[m * n];
        Gemm.Multiply(false, true, m, n, k, 1f, a, k, b, k, 0f, expected, n, 1);
        Parallel.For(0, 8, _ =>
        {
            for (int rep = 0; rep < 20; rep++)
            {
                float[] c = new float[m * n];
                Gemm.Multiply(false, true, m, n, k, 1f, a, k, b, k, 0f, c, n, 2);
                Assert.True(expected.AsSpan().SequenceEqual(c));
            }
        });
    }

    private static void Check<T>(GemmIsa isa, bool transA, bool transB, int m, int n, int k, T alpha, T beta, int pad, int threads, int seed)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(seed);
        int aRows = transA ? k : m, aCols = transA ? m : k;
        int bRows = transB ? n : k, bCols = transB ? k : n;
        int lda = aCols + pad, ldb = bCols + (pad + 1) / 2, ldc = n + pad;
        T[] a = Random<T>(rng, (aRows - 1) * lda + aCols);
        T[] b = Random<T>(rng, (bRows - 1) * ldb + bCols);
        T[] c0 = beta == T.Zero ? Enumerable.Repeat(T.NaN, (m - 1) * ldc + n).ToArray() : Random<T>(rng, (m - 1) * ldc + n);
        T[] expected = (T[])c0.Clone();
        T[] actual = (T[])c0.Clone();
        GemmReference.Multiply(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, expected, ldc);
        Gemm.MultiplyWith(isa, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, actual, ldc, threads, emulate512: true);

        double eps = typeof(T) == typeof(float) ? 1.2e-7 : 2.3e-16;
        double al = Math.Abs(double.CreateTruncating(alpha)), be = Math.Abs(double.CreateTruncating(beta));
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double magnitude = 0;
                for (int p = 0; p < k; p++)
                {
                    double x = double.CreateTruncating(transA ? a[p * lda + i] : a[i * lda + p]);
                    double y = double.CreateTruncating(transB ? b[j * ldb + p] : b[p * ldb + j]);
                    magnitude += Math.Abs(x * y);
                }
                magnitude = al * magnitude + (beta == T.Zero ? 0 : be * Math.Abs(double.CreateTruncating(c0[i * ldc + j])));
                double tol = 2 * (k + 4) * eps * magnitude + 1e-30;
                double e = double.CreateTruncating(expected[i * ldc + j]), v = double.CreateTruncating(actual[i * ldc + j]);
                Assert.True(Math.Abs(e - v) <= tol,
                    $"{typeof(T).Name} {isa} tA={transA} tB={transB} {m}x{n}x{k} alpha={alpha} beta={beta} threads={threads}: C[{i},{j}] = {v}, expected {e} (tol {tol})");
            }
        }
        // Padding between rows of C is never written.
        for (int i = 0; i + 1 < m; i++)
        {
            for (int j = n; j < ldc; j++)
            {
                Assert.Equal(c0[i * ldc + j], actual[i * ldc + j]);
            }
        }
    }

    private static T[] Random<T>(Random rng, int count)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var values = new T[Math.Max(count, 0)];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = T.CreateTruncating(rng.NextDouble() * 2 - 1);
        }
        return values;
    }
}
