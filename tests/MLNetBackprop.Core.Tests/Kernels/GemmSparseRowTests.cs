using System.Numerics;
using MLNetBackprop.Core.Kernels;
using Xunit;

namespace MLNetBackprop.Core.Tests.Kernels;

public class GemmSparseRowTests
{
    // (k, n): one column, widths around the vector sizes, k across the 400-element slice boundary (2 and 3 slices).
    public static TheoryData<int, int> Shapes => new()
    {
        { 1, 1 }, { 5, 7 }, { 33, 8 }, { 64, 16 }, { 100, 65 }, { 401, 17 }, { 784, 128 }, { 784, 256 }, { 801, 130 }, { 1200, 3 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void FloatSparseRowEqualsTheDenseProductBitwise(int k, int n) => Check<float>(k, n);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void DoubleSparseRowEqualsTheDenseProductBitwise(int k, int n) => Check<double>(k, n);

    private static void Check<T>(int k, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(k * 1000 + n);
        var b = new T[k * n];
        for (int i = 0; i < b.Length; i++) b[i] = T.CreateChecked(rng.NextDouble() * 2 - 1);
        // Densities from all-zero to all-non-zero, with −0 among the zeros, and zero slices (first, last).
        foreach (double density in new[] { 0.0, 0.02, 0.19, 0.5, 1.0 })
        {
            var a = new T[k];
            for (int p = 0; p < k; p++)
            {
                if (rng.NextDouble() < density) a[p] = T.CreateChecked(rng.NextDouble() * 4 - 2);
                else a[p] = rng.Next(2) == 0 ? T.Zero : T.NegativeZero;
            }
            var dense = new T[n];
            var scalar = new T[n];
            Gemm.Multiply(false, false, 1, n, k, T.One, a, k, b, n, T.Zero, dense, n);
            Gemm.MultiplyWith(GemmIsa.Scalar, false, false, 1, n, k, T.One, a, k, b, n, T.Zero, scalar, n);
            Assert.Equal(scalar, dense);

            var indices = new int[k];
            int nnz = GemmSparseRow<T>.NonZeroIndices(a, indices);
            int expected = a.Count(x => x != T.Zero);
            Assert.Equal(expected, nnz);
            Assert.Equal(Enumerable.Range(0, k).Where(p => a[p] != T.Zero), indices.Take(nnz));
            var values = indices.Take(nnz).Select(p => a[p]).ToArray();
            var sparse = new T[n];
            sparse.AsSpan().Fill(T.NaN); // must be overwritten
            GemmSparseRow<T>.Multiply(k, n, indices.AsSpan(0, nnz), values, b, n, sparse);
            for (int j = 0; j < n; j++)
                Assert.True(BitEqual(dense[j], sparse[j]), $"k={k} n={n} density={density} column {j}: dense {dense[j]}, sparse {sparse[j]}");
            // A block of columns [j0, n) read through the full row stride gives those columns' bits.
            int j0 = n / 3;
            var block = new T[n - j0];
            GemmSparseRow<T>.Multiply(k, n - j0, indices.AsSpan(0, nnz), values, b.AsSpan(j0), n, block);
            for (int j = j0; j < n; j++)
                Assert.True(BitEqual(dense[j], block[j - j0]), $"k={k} n={n} block from {j0}, column {j}");
        }
    }

    [Fact]
    public void NonZeroIndicesCountsNaNAndSkipsNegativeZero()
    {
        var row = new float[21];
        row[0] = float.NaN;
        row[3] = -0f;
        row[8] = 1e-45f; // smallest subnormal: not zero
        row[19] = float.NegativeInfinity;
        row[20] = -2f;
        var idx = new int[21];
        int n = GemmSparseRow<float>.NonZeroIndices(row, idx);
        Assert.Equal([0, 8, 19, 20], idx.Take(n));
        Assert.Throws<ArgumentException>(() => GemmSparseRow<float>.NonZeroIndices(row, new int[20]));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(29)]
    [InlineData(784)]
    public void CompressGivesTheNonZeroIndicesAndTheirValues(int n)
    {
        var rng = new Random(n);
        foreach (double density in new[] { 0.0, 0.1, 0.5, 1.0 })
        {
            var row = new float[n];
            for (int i = 0; i < n; i++)
            {
                double u = rng.NextDouble();
                row[i] = u >= density ? (rng.Next(2) == 0 ? 0f : -0f) : u < 0.01 ? float.NaN : (float)(rng.NextDouble() - 0.5);
            }
            var indices = new int[n + GemmSparseRow<float>.CompressSlack];
            var values = new float[n + GemmSparseRow<float>.CompressSlack];
            int count = GemmSparseRow<float>.Compress(row, indices, values);
            var expected = Enumerable.Range(0, n).Where(i => row[i] != 0f).ToArray();
            Assert.Equal(expected, indices.Take(count));
            Assert.Equal(expected.Select(i => BitConverter.SingleToInt32Bits(row[i])), values.Take(count).Select(BitConverter.SingleToInt32Bits));

            var dIndices = new int[n + GemmSparseRow<double>.CompressSlack];
            var dValues = new double[n + GemmSparseRow<double>.CompressSlack];
            int dCount = GemmSparseRow<double>.Compress(row.Select(v => (double)v).ToArray(), dIndices, dValues);
            Assert.Equal(expected, dIndices.Take(dCount));
        }
        Assert.Equal("values", Assert.Throws<ArgumentException>(() => GemmSparseRow<float>.Compress(new float[n], new int[n + 8], new float[n + 7])).ParamName);
    }

    private static bool BitEqual<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T>
        => typeof(T) == typeof(float)
            ? BitConverter.SingleToInt32Bits((float)(object)x) == BitConverter.SingleToInt32Bits((float)(object)y)
            : BitConverter.DoubleToInt64Bits((double)(object)x) == BitConverter.DoubleToInt64Bits((double)(object)y);
}
