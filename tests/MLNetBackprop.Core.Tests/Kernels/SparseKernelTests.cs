using System.Numerics;
using MLNetBackprop.Core.Kernels;
using Xunit;

namespace MLNetBackprop.Core.Tests.Kernels;

public class SparseKernelTests
{
    // (rows, nIn, nOut): one row, one output, widths around the vector sizes, n_in across the 400-element k slice
    // (forward), rows across it (gradient: 2 and 3 slices), MNIST's first layer; one or two sparse rows (fewer
    // non-zeros than inputs) take the forward path that gathers weights instead of transposing W.
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 7, 1 }, { 1, 784, 128 }, { 2, 801, 10 }, { 5, 33, 10 }, { 64, 100, 8 }, { 3, 401, 17 }, { 64, 784, 128 }, { 450, 40, 64 }, { 900, 30, 13 }, { 130, 801, 130 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void FloatSparseProductsGiveTheDenseGemmsBits(int rows, int nIn, int nOut) => Check<float>(rows, nIn, nOut);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void DoubleSparseProductsGiveTheDenseGemmsBits(int rows, int nIn, int nOut) => Check<double>(rows, nIn, nOut);

    private static void Check<T>(int rows, int nIn, int nOut) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(rows * 7919 + nIn * 31 + nOut);
        // X about 20 % non-zero with −0s among the zeros, one empty row; W and Δ dense.
        var x = new T[rows * nIn];
        for (int i = 0; i < x.Length; i++)
            x[i] = rng.NextDouble() < 0.2 ? T.CreateChecked(rng.NextDouble() * 2 - 1) : rng.Next(3) == 0 ? T.NegativeZero : T.Zero;
        if (rows > 2) x.AsSpan(nIn, nIn).Clear();
        var (rowStart, indices, values) = ToCsr(x, rows, nIn, offset: 5);
        var w = Random<T>(rng, nOut * nIn);
        var delta = Random<T>(rng, rows * nOut);

        foreach (int threads in new[] { 1, 2 })
        {
            // Forward: Z = X · Wᵀ.
            var dense = new T[rows * nOut];
            Gemm.Multiply(false, true, rows, nOut, nIn, T.One, x, nIn, w, nIn, T.Zero, dense, nOut, threads);
            var sparse = new T[rows * nOut];
            var transposed = new T[nIn * nOut];
            SparseKernels.MultiplyByTransposed(rowStart.AsSpan(0, rows + 1), indices, values, rows, w, nIn, nOut, sparse, transposed, threads);
            AssertBitEqual(dense, sparse, $"forward rows={rows} nIn={nIn} nOut={nOut} threads={threads}");

            // Gradient: G = α Δᵀ X + β G, with β = 0 (G overwritten, even if it held NaN) and β = λ (G preset to W).
            T alpha = T.One / T.CreateChecked(rows);
            foreach (T beta in new[] { T.Zero, T.CreateChecked(1e-3) })
            {
                var gDense = beta == T.Zero ? Enumerable.Repeat(T.NaN, nOut * nIn).ToArray() : (T[])w.Clone();
                var gSparse = (T[])gDense.Clone();
                Gemm.Multiply(true, false, nOut, nIn, rows, alpha, delta, nOut, x, nIn, beta, gDense, nIn, threads);
                SparseKernels.TransposedTimesSparse(delta, nOut, rowStart.AsSpan(0, rows + 1), indices, values, rows, nIn, alpha, beta, gSparse, threads);
                AssertBitEqual(gDense, gSparse, $"gradient rows={rows} nIn={nIn} nOut={nOut} beta={beta} threads={threads}");
            }
        }
    }

    [Fact]
    public void TransposeHandlesRaggedEdges()
    {
        foreach (var (r, c) in new[] { (1, 1), (8, 8), (9, 17), (16, 3), (30, 45) })
        {
            var src = Enumerable.Range(0, r * c).Select(i => (float)i).ToArray();
            var dst = new float[r * c];
            SparseKernels.Transpose<float>(src, r, c, dst);
            for (int i = 0; i < r; i++)
                for (int j = 0; j < c; j++)
                    Assert.Equal(src[i * c + j], dst[j * r + i]);
        }
    }

    /// <summary>CSR of the non-zeros of x; the arrays start with <paramref name="offset"/> unused entries (rowStart need not start at 0).</summary>
    private static (int[] RowStart, int[] Indices, T[] Values) ToCsr<T>(T[] x, int rows, int cols, int offset)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var start = new int[rows + 1];
        var idx = new List<int>(Enumerable.Repeat(-1, offset));
        var val = new List<T>(Enumerable.Repeat(T.NaN, offset));
        for (int r = 0; r < rows; r++)
        {
            start[r] = idx.Count;
            for (int j = 0; j < cols; j++)
                if (x[r * cols + j] != T.Zero) { idx.Add(j); val.Add(x[r * cols + j]); }
        }
        start[rows] = idx.Count;
        return (start, idx.ToArray(), val.ToArray());
    }

    private static T[] Random<T>(Random rng, int n) where T : unmanaged, IFloatingPointIeee754<T>
        => Enumerable.Range(0, n).Select(_ => T.CreateChecked(rng.NextDouble() - 0.5)).ToArray();

    private static void AssertBitEqual<T>(T[] expected, T[] actual, string what) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < expected.Length; i++)
        {
            bool same = typeof(T) == typeof(float)
                ? BitConverter.SingleToInt32Bits((float)(object)expected[i]) == BitConverter.SingleToInt32Bits((float)(object)actual[i])
                : BitConverter.DoubleToInt64Bits((double)(object)expected[i]) == BitConverter.DoubleToInt64Bits((double)(object)actual[i]);
            Assert.True(same, $"{what}: element {i} is {actual[i]}, the dense product gives {expected[i]}");
        }
    }
}
