using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MLNetBackprop.Core.Kernels;

/// <summary>
/// The single-row product with a sparse row: c[0..n) = Σ_t values[t] · B[indices[t], :], B row-major k × n
/// (leading dimension n), for rows that are mostly zeros (MNIST pixels: about 81 % of them; one-hot features; the
/// output of a ReLU layer). Only the rows of B that meet a non-zero are read.
/// </summary>
/// <remarks>
/// Each element gets the operations the dense kernels give it (<see cref="Gemm"/>): one fused multiply-add chain
/// per k slice, in increasing p, starting from +0, then c = acc for the first slice and c = acc + c after it. A term
/// whose a[p] is zero changes nothing in that chain when B[p, j] is finite: fma(±0, w, acc) is acc for acc ≠ 0, and
/// +0 for acc = +0 (the chain starts at +0 and, rounding to nearest, a sum that cancels exactly is +0, so acc is
/// never −0). So leaving the zeros out gives the dense product's bits, whatever the machine's kernel family, as long
/// as B is finite — callers check that once (0 · ∞ would be NaN in the dense product).
/// </remarks>
internal static unsafe class GemmSparseRow<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private static bool UseVectors => Vector256.IsHardwareAccelerated && Fma.IsSupported;

    /// <summary>
    /// Writes the indices of the non-zero elements of <paramref name="row"/> (NaN counts as non-zero, −0 as zero)
    /// to <paramref name="indices"/> and returns how many there are.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int NonZeroIndices(ReadOnlySpan<T> row, Span<int> indices)
    {
        if (indices.Length < row.Length)
            throw new ArgumentException("The index buffer is shorter than the row.", nameof(indices));
        int count = 0, i = 0, n = row.Length;
        fixed (T* x = row)
        fixed (int* idx = indices)
        {
            if (Vector256.IsHardwareAccelerated)
            {
                int w = Vector256<T>.Count;
                uint all = (1u << w) - 1;
                for (; i + w <= n; i += w)
                {
                    uint mask = ~Vector256.Equals(Vector256.Load(x + i), Vector256<T>.Zero).ExtractMostSignificantBits() & all;
                    while (mask != 0)
                    {
                        idx[count++] = i + BitOperations.TrailingZeroCount(mask);
                        mask &= mask - 1;
                    }
                }
            }
            for (; i < n; i++)
            {
                idx[count] = i;
                count += x[i] != T.Zero ? 1 : 0;
            }
        }
        return count;
    }

    /// <summary>
    /// Writes the indices of the non-zero elements of <paramref name="row"/> and their values (NaN counts as non-zero,
    /// −0 as zero) and returns how many there are. Both buffers need <see cref="CompressSlack"/> elements more than the
    /// row: with AVX2 and float, each group of 8 is written whole (branch-free: a mispredicted branch per group would
    /// also stop the loads of the next rows from overlapping).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int Compress(ReadOnlySpan<T> row, Span<int> indices, Span<T> values)
    {
        int n = row.Length;
        if (indices.Length < n + CompressSlack || values.Length < n + CompressSlack)
            throw new ArgumentException($"The buffers need {n + CompressSlack} elements.", indices.Length < n + CompressSlack ? nameof(indices) : nameof(values));
        if (typeof(T) != typeof(float) || !Avx2.IsSupported)
        {
            int count = NonZeroIndices(row, indices);
            for (int t = 0; t < count; t++) values[t] = row[indices[t]];
            return count;
        }
        fixed (T* px = row, pv = values)
        fixed (int* idx = indices)
        fixed (ulong* table = CompressTable)
        {
            float* x = (float*)px, v = (float*)pv;
            int count = 0, i = 0;
            for (; i + 8 <= n; i += 8)
            {
                Vector256<float> xs = Vector256.Load(x + i);
                uint mask = ~Vector256.Equals(xs, Vector256<float>.Zero).ExtractMostSignificantBits() & 0xFF;
                // The positions of the set bits, packed low, as 8 bytes → 8 ints.
                Vector256<int> perm = Avx2.ConvertToVector256Int32(Vector128.CreateScalarUnsafe(table[mask]).AsByte());
                Vector256.Store(perm + Vector256.Create(i), idx + count);
                Vector256.Store(Avx2.PermuteVar8x32(xs, perm), v + count);
                count += BitOperations.PopCount(mask);
            }
            for (; i < n; i++)
            {
                idx[count] = i;
                v[count] = x[i];
                count += x[i] != 0f ? 1 : 0;
            }
            return count;
        }
    }

    /// <summary>Extra elements <see cref="Compress"/> may write past the count.</summary>
    public const int CompressSlack = 8;

    /// <summary>For each 8-bit mask, the positions of its set bits as bytes, lowest first.</summary>
    private static readonly ulong[] CompressTable = BuildCompressTable();

    private static ulong[] BuildCompressTable()
    {
        var table = new ulong[256];
        for (int mask = 0; mask < 256; mask++)
        {
            ulong packed = 0;
            int slot = 0;
            for (int bit = 0; bit < 8; bit++)
                if ((mask & (1 << bit)) != 0) packed |= (ulong)bit << (8 * slot++);
            table[mask] = packed;
        }
        return table;
    }

    /// <summary>
    /// c[0..n) = Σ_t values[t] · B[indices[t], 0..n) with the dense kernels' bits. <paramref name="indices"/> must be
    /// strictly increasing in [0, k); <paramref name="b"/> holds k rows of (at least) n elements, row p starting at
    /// p · <paramref name="ldb"/> (so a block of columns of a wider matrix can be passed as a slice).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(int k, int n, ReadOnlySpan<int> indices, ReadOnlySpan<T> values, ReadOnlySpan<T> b, int ldb, Span<T> c)
    {
        if (values.Length < indices.Length)
            throw new ArgumentException("Fewer values than indices.", nameof(values));
        if (ldb < n)
            throw new ArgumentOutOfRangeException(nameof(ldb), ldb, $"The leading dimension is smaller than the {n} columns.");
        if (k > 0 && n > 0 && b.Length < (long)(k - 1) * ldb + n)
            throw new ArgumentException($"B needs {(long)(k - 1) * ldb + n} elements, it has {b.Length}.", nameof(b));
        if (c.Length < n)
            throw new ArgumentException($"c needs {n} elements, it has {c.Length}.", nameof(c));
        int nnz = indices.Length;
        fixed (int* idx = indices)
        fixed (T* v = values, pb = b, pc = c)
        {
            int nkb = Gemm.SliceCount(k);
            int t0 = 0;
            for (int kb = 0; kb < nkb; kb++)
            {
                int p1 = Gemm.SliceStart(k, nkb, kb + 1);
                int t1 = t0;
                while (t1 < nnz && idx[t1] < p1) t1++;
                if (UseVectors)
                    VectorSlice(n, idx + t0, v + t0, t1 - t0, pb, ldb, pc, kb == 0);
                else
                    ScalarSlice(0, n, idx + t0, v + t0, t1 - t0, pb, ldb, pc, kb == 0);
                t0 = t1;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(T* c, Vector256<T> acc, bool first)
        => Vector256.Store(first ? acc : acc + Vector256.Load(c), c);

    /// <summary>
    /// One k slice, columns in lanes: 16 vectors of columns per pass over the non-zeros where they fit (each touched
    /// row of B is then read in one contiguous stretch; 16 accumulators plus the broadcast value just exceed the 16
    /// AVX2 registers, and the JIT keeps the weights as memory operands), then 8, 2 and 1 vectors and a scalar tail.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void VectorSlice(int n, int* idx, T* v, int count, T* b, nint ldb, T* c, bool first)
    {
        int w = Vector256<T>.Count;
        int j = 0;
        for (; j + 16 * w <= n; j += 16 * w)
        {
            Vector256<T> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
            Vector256<T> s8 = default, s9 = default, s10 = default, s11 = default, s12 = default, s13 = default, s14 = default, s15 = default;
            T* bj = b + j;
            for (int t = 0; t < count; t++)
            {
                Vector256<T> x = Vector256.Create(v[t]);
                T* bp = bj + idx[t] * ldb;
                s0 = Simd256<T>.Fma(x, Vector256.Load(bp), s0);
                s1 = Simd256<T>.Fma(x, Vector256.Load(bp + w), s1);
                s2 = Simd256<T>.Fma(x, Vector256.Load(bp + 2 * w), s2);
                s3 = Simd256<T>.Fma(x, Vector256.Load(bp + 3 * w), s3);
                s4 = Simd256<T>.Fma(x, Vector256.Load(bp + 4 * w), s4);
                s5 = Simd256<T>.Fma(x, Vector256.Load(bp + 5 * w), s5);
                s6 = Simd256<T>.Fma(x, Vector256.Load(bp + 6 * w), s6);
                s7 = Simd256<T>.Fma(x, Vector256.Load(bp + 7 * w), s7);
                s8 = Simd256<T>.Fma(x, Vector256.Load(bp + 8 * w), s8);
                s9 = Simd256<T>.Fma(x, Vector256.Load(bp + 9 * w), s9);
                s10 = Simd256<T>.Fma(x, Vector256.Load(bp + 10 * w), s10);
                s11 = Simd256<T>.Fma(x, Vector256.Load(bp + 11 * w), s11);
                s12 = Simd256<T>.Fma(x, Vector256.Load(bp + 12 * w), s12);
                s13 = Simd256<T>.Fma(x, Vector256.Load(bp + 13 * w), s13);
                s14 = Simd256<T>.Fma(x, Vector256.Load(bp + 14 * w), s14);
                s15 = Simd256<T>.Fma(x, Vector256.Load(bp + 15 * w), s15);
            }
            T* cp = c + j;
            Store(cp, s0, first);
            Store(cp + w, s1, first);
            Store(cp + 2 * w, s2, first);
            Store(cp + 3 * w, s3, first);
            Store(cp + 4 * w, s4, first);
            Store(cp + 5 * w, s5, first);
            Store(cp + 6 * w, s6, first);
            Store(cp + 7 * w, s7, first);
            Store(cp + 8 * w, s8, first);
            Store(cp + 9 * w, s9, first);
            Store(cp + 10 * w, s10, first);
            Store(cp + 11 * w, s11, first);
            Store(cp + 12 * w, s12, first);
            Store(cp + 13 * w, s13, first);
            Store(cp + 14 * w, s14, first);
            Store(cp + 15 * w, s15, first);
        }
        for (; j + 8 * w <= n; j += 8 * w)
        {
            Vector256<T> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
            T* bj = b + j;
            for (int t = 0; t < count; t++)
            {
                Vector256<T> x = Vector256.Create(v[t]);
                T* bp = bj + idx[t] * ldb;
                s0 = Simd256<T>.Fma(x, Vector256.Load(bp), s0);
                s1 = Simd256<T>.Fma(x, Vector256.Load(bp + w), s1);
                s2 = Simd256<T>.Fma(x, Vector256.Load(bp + 2 * w), s2);
                s3 = Simd256<T>.Fma(x, Vector256.Load(bp + 3 * w), s3);
                s4 = Simd256<T>.Fma(x, Vector256.Load(bp + 4 * w), s4);
                s5 = Simd256<T>.Fma(x, Vector256.Load(bp + 5 * w), s5);
                s6 = Simd256<T>.Fma(x, Vector256.Load(bp + 6 * w), s6);
                s7 = Simd256<T>.Fma(x, Vector256.Load(bp + 7 * w), s7);
            }
            T* cp = c + j;
            Store(cp, s0, first);
            Store(cp + w, s1, first);
            Store(cp + 2 * w, s2, first);
            Store(cp + 3 * w, s3, first);
            Store(cp + 4 * w, s4, first);
            Store(cp + 5 * w, s5, first);
            Store(cp + 6 * w, s6, first);
            Store(cp + 7 * w, s7, first);
        }
        for (; j + 2 * w <= n; j += 2 * w)
        {
            Vector256<T> s0 = default, s1 = default;
            T* bj = b + j;
            for (int t = 0; t < count; t++)
            {
                Vector256<T> x = Vector256.Create(v[t]);
                T* bp = bj + idx[t] * ldb;
                s0 = Simd256<T>.Fma(x, Vector256.Load(bp), s0);
                s1 = Simd256<T>.Fma(x, Vector256.Load(bp + w), s1);
            }
            Store(c + j, s0, first);
            Store(c + j + w, s1, first);
        }
        for (; j + w <= n; j += w)
        {
            Vector256<T> s0 = default;
            T* bj = b + j;
            for (int t = 0; t < count; t++)
                s0 = Simd256<T>.Fma(Vector256.Create(v[t]), Vector256.Load(bj + idx[t] * ldb), s0);
            Store(c + j, s0, first);
        }
        ScalarSlice(j, n, idx, v, count, b, ldb, c, first);
    }

    private static void ScalarSlice(int j0, int n, int* idx, T* v, int count, T* b, nint ldb, T* c, bool first)
    {
        for (int j = j0; j < n; j++)
        {
            T acc = T.Zero;
            for (int t = 0; t < count; t++)
                acc = T.FusedMultiplyAdd(v[t], b[idx[t] * ldb + j], acc);
            c[j] = first ? acc : acc + c[j];
        }
    }
}
