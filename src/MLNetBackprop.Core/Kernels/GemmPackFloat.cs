using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MLNetBackprop.Core.Kernels;

/// <summary>
/// AVX 8×8 transposes for the float packing routines whose source runs the wrong way (op(A) from a
/// row-major A, op(B) from Bᵀ). Packing only copies values, so which routine packs has no effect on results.
/// </summary>
internal static unsafe class GemmPackFloat
{
    public static bool IsSupported => Avx.IsSupported;

    /// <summary>
    /// dst[p·ldd + q] = src_q[p] for q &lt; 8, p &lt; count (count a multiple of 8), where src_q = src + q·lds.
    /// Each store writes 8 values even when the caller only wants the first few per group (see <see cref="PackRowsToGroups"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8(float* src, nint lds, float* dst, nint ldd)
    {
        Vector256<float> r0 = Avx.LoadVector256(src), r1 = Avx.LoadVector256(src + lds);
        Vector256<float> r2 = Avx.LoadVector256(src + 2 * lds), r3 = Avx.LoadVector256(src + 3 * lds);
        Vector256<float> r4 = Avx.LoadVector256(src + 4 * lds), r5 = Avx.LoadVector256(src + 5 * lds);
        Vector256<float> r6 = Avx.LoadVector256(src + 6 * lds), r7 = Avx.LoadVector256(src + 7 * lds);
        Transpose8Store(r0, r1, r2, r3, r4, r5, r6, r7, dst, ldd);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8Store(
        Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7, float* dst, nint ldd)
    {
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + ldd, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * ldd, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * ldd, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * ldd, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * ldd, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * ldd, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * ldd, Avx.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>
    /// acc = fma(a[7], col7, … fma(a[0], col0, acc)), where col_r = (src[q·lds + r])_q for q &lt; 8: the
    /// 8×8 block is transposed in registers so 8 rows of a row-major matrix sit in the lanes, and the
    /// 8 fused multiply-adds run in increasing r.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> FmaTransposed8(float* a, float* src, nint lds, Vector256<float> acc)
    {
        Vector256<float> r0 = Avx.LoadVector256(src), r1 = Avx.LoadVector256(src + lds);
        Vector256<float> r2 = Avx.LoadVector256(src + 2 * lds), r3 = Avx.LoadVector256(src + 3 * lds);
        Vector256<float> r4 = Avx.LoadVector256(src + 4 * lds), r5 = Avx.LoadVector256(src + 5 * lds);
        Vector256<float> r6 = Avx.LoadVector256(src + 6 * lds), r7 = Avx.LoadVector256(src + 7 * lds);
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        acc = Fma.MultiplyAdd(Vector256.Create(a[0]), Avx.Permute2x128(u0, u4, 0x20), acc);
        acc = Fma.MultiplyAdd(Vector256.Create(a[1]), Avx.Permute2x128(u1, u5, 0x20), acc);
        acc = Fma.MultiplyAdd(Vector256.Create(a[2]), Avx.Permute2x128(u2, u6, 0x20), acc);
        acc = Fma.MultiplyAdd(Vector256.Create(a[3]), Avx.Permute2x128(u3, u7, 0x20), acc);
        acc = Fma.MultiplyAdd(Vector256.Create(a[4]), Avx.Permute2x128(u0, u4, 0x31), acc);
        acc = Fma.MultiplyAdd(Vector256.Create(a[5]), Avx.Permute2x128(u1, u5, 0x31), acc);
        acc = Fma.MultiplyAdd(Vector256.Create(a[6]), Avx.Permute2x128(u2, u6, 0x31), acc);
        acc = Fma.MultiplyAdd(Vector256.Create(a[7]), Avx.Permute2x128(u3, u7, 0x31), acc);
        return acc;
    }

    /// <summary>
    /// Packs op(B) = Bᵀ for one panel: dst[p·nr + j] = src[j·ldb + p] for j &lt; cols, p &lt; kc; columns
    /// cols..nr are zero. src points at B[j0, p0].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackTransposedPanel(float* src, nint ldb, int kc, int cols, int nr, float* dst)
    {
        int j = 0;
        for (; j + 8 <= cols; j += 8)
        {
            float* s = src + j * ldb;
            int p = 0;
            for (; p + 8 <= kc; p += 8)
            {
                Transpose8(s + p, ldb, dst + (nint)p * nr + j, nr);
            }
            for (; p < kc; p++)
            {
                float* d = dst + (nint)p * nr + j;
                for (int q = 0; q < 8; q++)
                {
                    d[q] = s[q * ldb + p];
                }
            }
        }
        for (; j < cols; j++)
        {
            float* s = src + j * ldb;
            float* d = dst + j;
            for (int p = 0; p < kc; p++)
            {
                d[(nint)p * nr] = s[p];
            }
        }
        if (cols < nr)
        {
            for (int p = 0; p < kc; p++)
            {
                new Span<float>(dst + (nint)p * nr + cols, nr - cols).Clear();
            }
        }
    }

    /// <summary>
    /// Packs a tile of <paramref name="rows"/> (≤ mr ≤ 8) rows of a row-major A: dst[p·mr + r] = src[r·lda + p],
    /// zero for r ≥ rows. Writes exactly kc·mr values.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackRowsToGroups(float* src, nint lda, int rows, int kc, int mr, float* dst)
    {
        Vector256<float> zero = Vector256<float>.Zero;
        int p = 0;
        if (mr <= 8)
        {
            // An 8-wide store for group q also writes 8 - mr values into group q + 1; stopping the vector
            // loop while at least one group is left for the scalar tail keeps every write inside the tile,
            // so tiles (packed concurrently by different threads) never touch each other.
            int vectorEnd = mr == 8 ? kc : kc - 1;
            for (; p + 8 <= vectorEnd; p += 8)
            {
                float* s = src + p;
                Vector256<float> r0 = rows > 0 ? Avx.LoadVector256(s) : zero;
                Vector256<float> r1 = rows > 1 ? Avx.LoadVector256(s + lda) : zero;
                Vector256<float> r2 = rows > 2 ? Avx.LoadVector256(s + 2 * lda) : zero;
                Vector256<float> r3 = rows > 3 ? Avx.LoadVector256(s + 3 * lda) : zero;
                Vector256<float> r4 = rows > 4 ? Avx.LoadVector256(s + 4 * lda) : zero;
                Vector256<float> r5 = rows > 5 ? Avx.LoadVector256(s + 5 * lda) : zero;
                Vector256<float> r6 = rows > 6 ? Avx.LoadVector256(s + 6 * lda) : zero;
                Vector256<float> r7 = rows > 7 ? Avx.LoadVector256(s + 7 * lda) : zero;
                Transpose8Store(r0, r1, r2, r3, r4, r5, r6, r7, dst + (nint)p * mr, mr);
            }
        }
        for (; p < kc; p++)
        {
            float* d = dst + (nint)p * mr;
            for (int r = 0; r < mr; r++)
            {
                d[r] = r < rows ? src[r * lda + p] : 0f;
            }
        }
    }
}
