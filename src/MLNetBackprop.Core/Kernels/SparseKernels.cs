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

    /// <summary>
    /// G[nOut × nIn] = alpha · Δᵀ · X with Δ dense rows × nOut and X sparse rows × nIn. Accumulates Gᵀ (nIn × nOut) in
    /// <paramref name="scratch"/> first, so each non-zero x_rj adds x_rj · δ_r to one contiguous row (a vector
    /// multiply-add) instead of nOut scattered elements, then transposes into G. Each element sums the rows in order.
    /// </summary>
    public static void TransposedTimesSparse<T>(ReadOnlySpan<T> delta, int nOut, ReadOnlySpan<int> rowStart,
        ReadOnlySpan<int> indices, ReadOnlySpan<T> values, int rows, int nIn, T alpha, Span<T> g, Span<T> scratch)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var gt = scratch.Slice(0, nIn * nOut);
        gt.Clear();
        for (int r = 0; r < rows; r++)
        {
            var dr = delta.Slice(r * nOut, nOut);
            for (int k = rowStart[r]; k < rowStart[r + 1]; k++)
            {
                var row = gt.Slice(indices[k] * nOut, nOut);
                T v = values[k];
                // row += v · δ_r as a separate multiply and add per lane (no fused rounding), like the scalar tail
                int o = 0, w = Vector<T>.Count;
                for (; o <= nOut - w; o += w)
                    (new Vector<T>(row.Slice(o)) + new Vector<T>(dr.Slice(o)) * v).CopyTo(row.Slice(o));
                for (; o < nOut; o++) row[o] += dr[o] * v;
            }
        }
        for (int o = 0; o < nOut; o++)
        {
            var go = g.Slice(o * nIn, nIn);
            for (int j = 0; j < nIn; j++) go[j] = alpha * gt[j * nOut + o];
        }
    }
}
