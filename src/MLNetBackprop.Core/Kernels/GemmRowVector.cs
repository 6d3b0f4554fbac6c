using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MLNetBackprop.Core.Kernels;

/// <summary>
/// The single-row product (m = 1, prediction): c = alpha · a · op(B) + beta · c, reading B in place
/// (packing would cost as much as the product). Each element gets exactly the operations the blocked
/// kernels give it: one fused multiply-add chain per k slice (<see cref="Gemm.SliceStart"/>) in
/// increasing p, then c = alpha·acc + beta·c (beta·c dropped when beta is zero, beta = 1 after the
/// first slice). So a row computed alone is bitwise the row computed in a batch.
/// </summary>
internal static unsafe class GemmRowVector<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Runs the product if this shape has a row-vector path here; false means use the blocked driver.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryRun(bool transA, bool transB, int n, int k, T alpha, T* a, nint lda, T* b, nint ldb, T beta, T* c)
    {
        bool columnsInLanes = transB && typeof(T) == typeof(float) && Avx.IsSupported && Fma.IsSupported;
        if (!(transB ? columnsInLanes : Vector256.IsHardwareAccelerated && Fma.IsSupported))
        {
            return false;
        }
        if (transA && lda != 1)
        {
            // A stored k×1: gather the row so it is contiguous.
            T* row = GemmBuffers<T>.PackA(k);
            for (int p = 0; p < k; p++)
            {
                row[p] = a[p * lda];
            }
            a = row;
        }

        int nkb = Gemm.SliceCount(k);
        for (int kb = 0; kb < nkb; kb++)
        {
            int p0 = Gemm.SliceStart(k, nkb, kb);
            int kc = Gemm.SliceStart(k, nkb, kb + 1) - p0;
            T sliceBeta = kb == 0 ? beta : T.One;
            if (transB)
            {
                TransposedSlice(n, p0, kc, Unsafe.As<T, float>(ref alpha), (float*)a, (float*)b, ldb, Unsafe.As<T, float>(ref sliceBeta), (float*)c);
            }
            else
            {
                Slice(n, p0, kc, alpha, a, b, ldb, sliceBeta, c);
            }
        }
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TS Finish<TS>(TS acc, TS alpha, TS beta, TS old)
        where TS : IFloatingPointIeee754<TS>
        => beta == TS.Zero ? alpha * acc : TS.FusedMultiplyAdd(alpha, acc, beta * old);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<TS>(TS* c, Vector256<TS> acc, Vector256<TS> va, Vector256<TS> vb, bool overwrite)
        where TS : unmanaged
        => Vector256.Store(overwrite ? va * acc : Simd256<TS>.Fma(va, acc, vb * Vector256.Load(c)), c);

    /// <summary>c (+)= alpha · Σ_{p in slice} a[p] · B[p, :], columns in lanes, 8 vectors of columns at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Slice(int n, int p0, int kc, T alpha, T* a, T* b, nint ldb, T beta, T* c)
    {
        int w = Vector256<T>.Count;
        Vector256<T> va = Vector256.Create(alpha), vb = Vector256.Create(beta);
        bool overwrite = beta == T.Zero;
        a += p0;
        b += p0 * ldb;
        int j = 0;
        for (; j + 8 * w <= n; j += 8 * w)
        {
            Vector256<T> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
            T* bp = b + j;
            for (int p = 0; p < kc; p++)
            {
                Vector256<T> x = Vector256.Create(a[p]);
                s0 = Simd256<T>.Fma(x, Vector256.Load(bp), s0);
                s1 = Simd256<T>.Fma(x, Vector256.Load(bp + w), s1);
                s2 = Simd256<T>.Fma(x, Vector256.Load(bp + 2 * w), s2);
                s3 = Simd256<T>.Fma(x, Vector256.Load(bp + 3 * w), s3);
                s4 = Simd256<T>.Fma(x, Vector256.Load(bp + 4 * w), s4);
                s5 = Simd256<T>.Fma(x, Vector256.Load(bp + 5 * w), s5);
                s6 = Simd256<T>.Fma(x, Vector256.Load(bp + 6 * w), s6);
                s7 = Simd256<T>.Fma(x, Vector256.Load(bp + 7 * w), s7);
                bp += ldb;
            }
            T* cp = c + j;
            Store(cp, s0, va, vb, overwrite);
            Store(cp + w, s1, va, vb, overwrite);
            Store(cp + 2 * w, s2, va, vb, overwrite);
            Store(cp + 3 * w, s3, va, vb, overwrite);
            Store(cp + 4 * w, s4, va, vb, overwrite);
            Store(cp + 5 * w, s5, va, vb, overwrite);
            Store(cp + 6 * w, s6, va, vb, overwrite);
            Store(cp + 7 * w, s7, va, vb, overwrite);
        }
        // Narrow remainders (a 10-class output is 2 vectors wide) keep 4 or 2 chains in flight: one chain at a time
        // would wait out the FMA latency k times per vector.
        for (; j + 4 * w <= n; j += 4 * w)
        {
            Vector256<T> s0 = default, s1 = default, s2 = default, s3 = default;
            T* bp = b + j;
            for (int p = 0; p < kc; p++)
            {
                Vector256<T> x = Vector256.Create(a[p]);
                s0 = Simd256<T>.Fma(x, Vector256.Load(bp), s0);
                s1 = Simd256<T>.Fma(x, Vector256.Load(bp + w), s1);
                s2 = Simd256<T>.Fma(x, Vector256.Load(bp + 2 * w), s2);
                s3 = Simd256<T>.Fma(x, Vector256.Load(bp + 3 * w), s3);
                bp += ldb;
            }
            T* cp = c + j;
            Store(cp, s0, va, vb, overwrite);
            Store(cp + w, s1, va, vb, overwrite);
            Store(cp + 2 * w, s2, va, vb, overwrite);
            Store(cp + 3 * w, s3, va, vb, overwrite);
        }
        for (; j + 2 * w <= n; j += 2 * w)
        {
            Vector256<T> s0 = default, s1 = default;
            T* bp = b + j;
            for (int p = 0; p < kc; p++)
            {
                Vector256<T> x = Vector256.Create(a[p]);
                s0 = Simd256<T>.Fma(x, Vector256.Load(bp), s0);
                s1 = Simd256<T>.Fma(x, Vector256.Load(bp + w), s1);
                bp += ldb;
            }
            Store(c + j, s0, va, vb, overwrite);
            Store(c + j + w, s1, va, vb, overwrite);
        }
        for (; j + w <= n; j += w)
        {
            Vector256<T> s0 = default;
            T* bp = b + j;
            for (int p = 0; p < kc; p++)
            {
                s0 = Simd256<T>.Fma(Vector256.Create(a[p]), Vector256.Load(bp), s0);
                bp += ldb;
            }
            Store(c + j, s0, va, vb, overwrite);
        }
        for (; j < n; j++)
        {
            T acc = T.Zero;
            T* bp = b + j;
            for (int p = 0; p < kc; p++)
            {
                acc = T.FusedMultiplyAdd(a[p], *bp, acc);
                bp += ldb;
            }
            c[j] = Finish(acc, alpha, beta, c[j]);
        }
    }

    /// <summary>
    /// c (+)= alpha · Σ_{p in slice} a[p] · B[j, p] with B stored n×k: 8×8 blocks of B are transposed in
    /// registers so 8 columns sit in the lanes; two groups of 8 columns run side by side.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransposedSlice(int n, int p0, int kc, float alpha, float* a, float* b, nint ldb, float beta, float* c)
    {
        Vector256<float> va = Vector256.Create(alpha), vb = Vector256.Create(beta);
        bool overwrite = beta == 0f;
        a += p0;
        b += p0;
        int j = 0;
        for (; j + 16 <= n; j += 16)
        {
            Vector256<float> s0 = default, s1 = default;
            float* g0 = b + j * ldb, g1 = g0 + 8 * ldb;
            int p = 0;
            for (; p + 8 <= kc; p += 8)
            {
                s0 = GemmPackFloat.FmaTransposed8(a + p, g0 + p, ldb, s0);
                s1 = GemmPackFloat.FmaTransposed8(a + p, g1 + p, ldb, s1);
            }
            for (; p < kc; p++)
            {
                Vector256<float> x = Vector256.Create(a[p]);
                s0 = Fma.MultiplyAdd(x, Gather8(g0 + p, ldb), s0);
                s1 = Fma.MultiplyAdd(x, Gather8(g1 + p, ldb), s1);
            }
            Store(c + j, s0, va, vb, overwrite);
            Store(c + j + 8, s1, va, vb, overwrite);
        }
        for (; j + 8 <= n; j += 8)
        {
            Vector256<float> s0 = default;
            float* g0 = b + j * ldb;
            int p = 0;
            for (; p + 8 <= kc; p += 8)
            {
                s0 = GemmPackFloat.FmaTransposed8(a + p, g0 + p, ldb, s0);
            }
            for (; p < kc; p++)
            {
                s0 = Fma.MultiplyAdd(Vector256.Create(a[p]), Gather8(g0 + p, ldb), s0);
            }
            Store(c + j, s0, va, vb, overwrite);
        }
        for (; j < n; j++)
        {
            float acc = 0f;
            float* bj = b + j * ldb;
            for (int p = 0; p < kc; p++)
            {
                acc = MathF.FusedMultiplyAdd(a[p], bj[p], acc);
            }
            c[j] = Finish(acc, alpha, beta, c[j]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Gather8(float* s, nint ld)
        => Vector256.Create(s[0], s[ld], s[2 * ld], s[3 * ld], s[4 * ld], s[5 * ld], s[6 * ld], s[7 * ld]);
}
