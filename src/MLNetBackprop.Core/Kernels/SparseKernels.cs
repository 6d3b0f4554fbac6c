using System.Numerics;

namespace MLNetBackprop.Core.Kernels;

/// <summary>Products of a compressed-sparse-row input batch with the first layer's dense weights.</summary>
internal static class SparseKernels
{
    /// <summary>Z[rows × nOut] = X · Wᵀ with X sparse (rows × nIn) and W dense nOut × nIn, row-major.</summary>
    public static void MultiplyByTransposed<T>(ReadOnlySpan<int> rowStart, ReadOnlySpan<int> indices, ReadOnlySpan<T> values,
        int rows, ReadOnlySpan<T> w, int nIn, int nOut, Span<T> z)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++)
        {
            int from = rowStart[r], to = rowStart[r + 1];
            var zr = z.Slice(r * nOut, nOut);
            for (int o = 0; o < nOut; o++)
            {
                var wo = w.Slice(o * nIn, nIn);
                T sum = T.Zero;
                for (int k = from; k < to; k++) sum += values[k] * wo[indices[k]];
                zr[o] = sum;
            }
        }
    }

    /// <summary>G[nOut × nIn] = alpha · Δᵀ · X with Δ dense rows × nOut and X sparse rows × nIn.</summary>
    public static void TransposedTimesSparse<T>(ReadOnlySpan<T> delta, int nOut, ReadOnlySpan<int> rowStart,
        ReadOnlySpan<int> indices, ReadOnlySpan<T> values, int rows, int nIn, T alpha, Span<T> g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        g.Clear();
        for (int r = 0; r < rows; r++)
        {
            var dr = delta.Slice(r * nOut, nOut);
            for (int k = rowStart[r]; k < rowStart[r + 1]; k++)
            {
                int j = indices[k];
                T v = values[k];
                for (int o = 0; o < nOut; o++) g[o * nIn + j] += dr[o] * v;
            }
        }
        if (alpha != T.One)
            for (int i = 0; i < g.Length; i++) g[i] *= alpha;
    }
}
