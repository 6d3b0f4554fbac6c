using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MLNetBackprop.Core.Kernels;

/// <summary>
/// A register-tiled GEMM micro-kernel: computes an MR×NR tile of acc = Σ_p A[r, p] · B[p, col] over a
/// k-slice, then writes C = alpha · acc + beta · C (C overwritten when beta is zero).
/// A is addressed as a[r·rsa + p·csa] (the driver passes packed tiles: rsa = 1, csa = MR); B is a
/// panel of NR contiguous values per k step, consecutive steps <c>ldbp</c> apart.
/// Every lane does the same sequence of fused multiply-adds in increasing p, so the value of an element
/// depends only on its operands, never on where its tile falls or which thread ran it.
/// </summary>
internal interface IGemmMicroKernel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Rows of the register tile.</summary>
    static abstract int MR { get; }

    /// <summary>Columns (elements) of the register tile.</summary>
    static abstract int NR { get; }

    /// <summary>Whether this kernel runs on hardware vectors with hardware FMA here.</summary>
    static abstract bool IsSupported { get; }

    /// <summary>Runs the tile (see the type's summary).</summary>
    static abstract unsafe void Run(nint kc, T* a, nint rsa, nint csa, T* b, nint ldbp, T* c, nint ldc, T alpha, T beta);
}

/// <summary>AVX-512 micro-kernel: 6 rows × 4 vectors (24 accumulators of 32 registers).</summary>
internal readonly struct Kernel512<T> : IGemmMicroKernel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int MR => 6;

    public static int NR => 4 * Vector512<T>.Count;

    public static bool IsSupported => Simd512<T>.IsAccelerated;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run(nint kc, T* a, nint rsa, nint csa, T* b, nint ldbp, T* c, nint ldc, T alpha, T beta)
    {
        nint w = Vector512<T>.Count;
        Vector512<T> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<T> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<T> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector512<T> c30 = default, c31 = default, c32 = default, c33 = default;
        Vector512<T> c40 = default, c41 = default, c42 = default, c43 = default;
        Vector512<T> c50 = default, c51 = default, c52 = default, c53 = default;
        T* a0 = a, a1 = a + rsa, a2 = a1 + rsa, a3 = a2 + rsa, a4 = a3 + rsa, a5 = a4 + rsa;
        nint off = 0;
        for (nint p = 0; p < kc; p++)
        {
            Vector512<T> b0 = Vector512.Load(b);
            Vector512<T> b1 = Vector512.Load(b + w);
            Vector512<T> b2 = Vector512.Load(b + 2 * w);
            Vector512<T> b3 = Vector512.Load(b + 3 * w);
            Vector512<T> x = Vector512.Create(a0[off]);
            c00 = Simd512<T>.Fma(x, b0, c00); c01 = Simd512<T>.Fma(x, b1, c01); c02 = Simd512<T>.Fma(x, b2, c02); c03 = Simd512<T>.Fma(x, b3, c03);
            x = Vector512.Create(a1[off]);
            c10 = Simd512<T>.Fma(x, b0, c10); c11 = Simd512<T>.Fma(x, b1, c11); c12 = Simd512<T>.Fma(x, b2, c12); c13 = Simd512<T>.Fma(x, b3, c13);
            x = Vector512.Create(a2[off]);
            c20 = Simd512<T>.Fma(x, b0, c20); c21 = Simd512<T>.Fma(x, b1, c21); c22 = Simd512<T>.Fma(x, b2, c22); c23 = Simd512<T>.Fma(x, b3, c23);
            x = Vector512.Create(a3[off]);
            c30 = Simd512<T>.Fma(x, b0, c30); c31 = Simd512<T>.Fma(x, b1, c31); c32 = Simd512<T>.Fma(x, b2, c32); c33 = Simd512<T>.Fma(x, b3, c33);
            x = Vector512.Create(a4[off]);
            c40 = Simd512<T>.Fma(x, b0, c40); c41 = Simd512<T>.Fma(x, b1, c41); c42 = Simd512<T>.Fma(x, b2, c42); c43 = Simd512<T>.Fma(x, b3, c43);
            x = Vector512.Create(a5[off]);
            c50 = Simd512<T>.Fma(x, b0, c50); c51 = Simd512<T>.Fma(x, b1, c51); c52 = Simd512<T>.Fma(x, b2, c52); c53 = Simd512<T>.Fma(x, b3, c53);
            off += csa;
            b += ldbp;
        }

        Vector512<T> va = Vector512.Create(alpha);
        if (beta == T.Zero)
        {
            T* r = c;
            Vector512.Store(va * c00, r); Vector512.Store(va * c01, r + w); Vector512.Store(va * c02, r + 2 * w); Vector512.Store(va * c03, r + 3 * w); r += ldc;
            Vector512.Store(va * c10, r); Vector512.Store(va * c11, r + w); Vector512.Store(va * c12, r + 2 * w); Vector512.Store(va * c13, r + 3 * w); r += ldc;
            Vector512.Store(va * c20, r); Vector512.Store(va * c21, r + w); Vector512.Store(va * c22, r + 2 * w); Vector512.Store(va * c23, r + 3 * w); r += ldc;
            Vector512.Store(va * c30, r); Vector512.Store(va * c31, r + w); Vector512.Store(va * c32, r + 2 * w); Vector512.Store(va * c33, r + 3 * w); r += ldc;
            Vector512.Store(va * c40, r); Vector512.Store(va * c41, r + w); Vector512.Store(va * c42, r + 2 * w); Vector512.Store(va * c43, r + 3 * w); r += ldc;
            Vector512.Store(va * c50, r); Vector512.Store(va * c51, r + w); Vector512.Store(va * c52, r + 2 * w); Vector512.Store(va * c53, r + 3 * w);
        }
        else
        {
            Vector512<T> vb = Vector512.Create(beta);
            T* r = c;
            Update(r, w, va, vb, c00, c01, c02, c03); r += ldc;
            Update(r, w, va, vb, c10, c11, c12, c13); r += ldc;
            Update(r, w, va, vb, c20, c21, c22, c23); r += ldc;
            Update(r, w, va, vb, c30, c31, c32, c33); r += ldc;
            Update(r, w, va, vb, c40, c41, c42, c43); r += ldc;
            Update(r, w, va, vb, c50, c51, c52, c53);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Update(T* r, nint w, Vector512<T> va, Vector512<T> vb, Vector512<T> x0, Vector512<T> x1, Vector512<T> x2, Vector512<T> x3)
    {
        Vector512.Store(Simd512<T>.Fma(va, x0, vb * Vector512.Load(r)), r);
        Vector512.Store(Simd512<T>.Fma(va, x1, vb * Vector512.Load(r + w)), r + w);
        Vector512.Store(Simd512<T>.Fma(va, x2, vb * Vector512.Load(r + 2 * w)), r + 2 * w);
        Vector512.Store(Simd512<T>.Fma(va, x3, vb * Vector512.Load(r + 3 * w)), r + 3 * w);
    }
}

/// <summary>
/// The AVX2 and 128-bit micro-kernel, written once over the vector width <typeparamref name="TSimd"/>
/// (<see cref="Simd256{T}"/>: AVX2+FMA; <see cref="Simd128{T}"/>: SSE+FMA or Arm64 AdvSIMD): 6 rows × 2 vectors,
/// 12 accumulators of 16 registers.
/// </summary>
internal readonly struct Kernel6x2<TSimd, TVec, T> : IGemmMicroKernel<T>
    where TSimd : struct, ISimdWidth<TVec, T>
    where TVec : struct
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int MR => 6;

    public static int NR => 2 * TSimd.Count;

    public static bool IsSupported => TSimd.IsAccelerated;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run(nint kc, T* a, nint rsa, nint csa, T* b, nint ldbp, T* c, nint ldc, T alpha, T beta)
    {
        nint w = TSimd.Count;
        TVec c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        TVec c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        T* a0 = a, a1 = a + rsa, a2 = a1 + rsa, a3 = a2 + rsa, a4 = a3 + rsa, a5 = a4 + rsa;
        nint off = 0;
        for (nint p = 0; p < kc; p++)
        {
            TVec b0 = TSimd.Load(b);
            TVec b1 = TSimd.Load(b + w);
            TVec x = TSimd.Create(a0[off]);
            c00 = TSimd.Fma(x, b0, c00); c01 = TSimd.Fma(x, b1, c01);
            x = TSimd.Create(a1[off]);
            c10 = TSimd.Fma(x, b0, c10); c11 = TSimd.Fma(x, b1, c11);
            x = TSimd.Create(a2[off]);
            c20 = TSimd.Fma(x, b0, c20); c21 = TSimd.Fma(x, b1, c21);
            x = TSimd.Create(a3[off]);
            c30 = TSimd.Fma(x, b0, c30); c31 = TSimd.Fma(x, b1, c31);
            x = TSimd.Create(a4[off]);
            c40 = TSimd.Fma(x, b0, c40); c41 = TSimd.Fma(x, b1, c41);
            x = TSimd.Create(a5[off]);
            c50 = TSimd.Fma(x, b0, c50); c51 = TSimd.Fma(x, b1, c51);
            off += csa;
            b += ldbp;
        }

        TVec va = TSimd.Create(alpha);
        TVec vb = TSimd.Create(beta);
        bool overwrite = beta == T.Zero;
        T* r = c;
        Update(r, w, va, vb, overwrite, c00, c01); r += ldc;
        Update(r, w, va, vb, overwrite, c10, c11); r += ldc;
        Update(r, w, va, vb, overwrite, c20, c21); r += ldc;
        Update(r, w, va, vb, overwrite, c30, c31); r += ldc;
        Update(r, w, va, vb, overwrite, c40, c41); r += ldc;
        Update(r, w, va, vb, overwrite, c50, c51);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Update(T* r, nint w, TVec va, TVec vb, bool overwrite, TVec x0, TVec x1)
    {
        if (overwrite)
        {
            TSimd.Store(TSimd.Multiply(va, x0), r);
            TSimd.Store(TSimd.Multiply(va, x1), r + w);
        }
        else
        {
            TSimd.Store(TSimd.Fma(va, x0, TSimd.Multiply(vb, TSimd.Load(r))), r);
            TSimd.Store(TSimd.Fma(va, x1, TSimd.Multiply(vb, TSimd.Load(r + w))), r + w);
        }
    }
}
