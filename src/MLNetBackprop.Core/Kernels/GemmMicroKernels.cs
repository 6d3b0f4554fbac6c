using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using X86 = System.Runtime.Intrinsics.X86;
using Arm = System.Runtime.Intrinsics.Arm;

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

/// <summary>Fused multiply-add on generic vectors (the BCL only has float and double overloads).</summary>
internal static class VectorFma
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Fma<T>(Vector512<T> x, Vector512<T> y, Vector512<T> acc)
    {
        if (typeof(T) == typeof(float))
        {
            return Vector512.FusedMultiplyAdd(x.As<T, float>(), y.As<T, float>(), acc.As<T, float>()).As<float, T>();
        }
        if (typeof(T) == typeof(double))
        {
            return Vector512.FusedMultiplyAdd(x.As<T, double>(), y.As<T, double>(), acc.As<T, double>()).As<double, T>();
        }
        throw new NotSupportedException();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Fma<T>(Vector256<T> x, Vector256<T> y, Vector256<T> acc)
    {
        if (typeof(T) == typeof(float))
        {
            return Vector256.FusedMultiplyAdd(x.As<T, float>(), y.As<T, float>(), acc.As<T, float>()).As<float, T>();
        }
        if (typeof(T) == typeof(double))
        {
            return Vector256.FusedMultiplyAdd(x.As<T, double>(), y.As<T, double>(), acc.As<T, double>()).As<double, T>();
        }
        throw new NotSupportedException();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Fma<T>(Vector128<T> x, Vector128<T> y, Vector128<T> acc)
    {
        if (typeof(T) == typeof(float))
        {
            return Vector128.FusedMultiplyAdd(x.As<T, float>(), y.As<T, float>(), acc.As<T, float>()).As<float, T>();
        }
        if (typeof(T) == typeof(double))
        {
            return Vector128.FusedMultiplyAdd(x.As<T, double>(), y.As<T, double>(), acc.As<T, double>()).As<double, T>();
        }
        throw new NotSupportedException();
    }

    public static bool HardwareFma128 => X86.Fma.IsSupported || Arm.AdvSimd.Arm64.IsSupported;
}

/// <summary>AVX-512 micro-kernel: 6 rows × 4 vectors (24 accumulators of 32 registers).</summary>
internal readonly struct Kernel512<T> : IGemmMicroKernel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int MR => 6;

    public static int NR => 4 * Vector512<T>.Count;

    public static bool IsSupported => Vector512.IsHardwareAccelerated && X86.Avx512F.IsSupported;

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
            c00 = VectorFma.Fma(x, b0, c00); c01 = VectorFma.Fma(x, b1, c01); c02 = VectorFma.Fma(x, b2, c02); c03 = VectorFma.Fma(x, b3, c03);
            x = Vector512.Create(a1[off]);
            c10 = VectorFma.Fma(x, b0, c10); c11 = VectorFma.Fma(x, b1, c11); c12 = VectorFma.Fma(x, b2, c12); c13 = VectorFma.Fma(x, b3, c13);
            x = Vector512.Create(a2[off]);
            c20 = VectorFma.Fma(x, b0, c20); c21 = VectorFma.Fma(x, b1, c21); c22 = VectorFma.Fma(x, b2, c22); c23 = VectorFma.Fma(x, b3, c23);
            x = Vector512.Create(a3[off]);
            c30 = VectorFma.Fma(x, b0, c30); c31 = VectorFma.Fma(x, b1, c31); c32 = VectorFma.Fma(x, b2, c32); c33 = VectorFma.Fma(x, b3, c33);
            x = Vector512.Create(a4[off]);
            c40 = VectorFma.Fma(x, b0, c40); c41 = VectorFma.Fma(x, b1, c41); c42 = VectorFma.Fma(x, b2, c42); c43 = VectorFma.Fma(x, b3, c43);
            x = Vector512.Create(a5[off]);
            c50 = VectorFma.Fma(x, b0, c50); c51 = VectorFma.Fma(x, b1, c51); c52 = VectorFma.Fma(x, b2, c52); c53 = VectorFma.Fma(x, b3, c53);
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
        Vector512.Store(VectorFma.Fma(va, x0, vb * Vector512.Load(r)), r);
        Vector512.Store(VectorFma.Fma(va, x1, vb * Vector512.Load(r + w)), r + w);
        Vector512.Store(VectorFma.Fma(va, x2, vb * Vector512.Load(r + 2 * w)), r + 2 * w);
        Vector512.Store(VectorFma.Fma(va, x3, vb * Vector512.Load(r + 3 * w)), r + 3 * w);
    }
}

/// <summary>AVX2 micro-kernel: 6 rows × 2 vectors (12 accumulators of 16 registers).</summary>
internal readonly struct Kernel256<T> : IGemmMicroKernel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int MR => 6;

    public static int NR => 2 * Vector256<T>.Count;

    public static bool IsSupported => Vector256.IsHardwareAccelerated && X86.Fma.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run(nint kc, T* a, nint rsa, nint csa, T* b, nint ldbp, T* c, nint ldc, T alpha, T beta)
    {
        nint w = Vector256<T>.Count;
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        T* a0 = a, a1 = a + rsa, a2 = a1 + rsa, a3 = a2 + rsa, a4 = a3 + rsa, a5 = a4 + rsa;
        nint off = 0;
        for (nint p = 0; p < kc; p++)
        {
            Vector256<T> b0 = Vector256.Load(b);
            Vector256<T> b1 = Vector256.Load(b + w);
            Vector256<T> x = Vector256.Create(a0[off]);
            c00 = VectorFma.Fma(x, b0, c00); c01 = VectorFma.Fma(x, b1, c01);
            x = Vector256.Create(a1[off]);
            c10 = VectorFma.Fma(x, b0, c10); c11 = VectorFma.Fma(x, b1, c11);
            x = Vector256.Create(a2[off]);
            c20 = VectorFma.Fma(x, b0, c20); c21 = VectorFma.Fma(x, b1, c21);
            x = Vector256.Create(a3[off]);
            c30 = VectorFma.Fma(x, b0, c30); c31 = VectorFma.Fma(x, b1, c31);
            x = Vector256.Create(a4[off]);
            c40 = VectorFma.Fma(x, b0, c40); c41 = VectorFma.Fma(x, b1, c41);
            x = Vector256.Create(a5[off]);
            c50 = VectorFma.Fma(x, b0, c50); c51 = VectorFma.Fma(x, b1, c51);
            off += csa;
            b += ldbp;
        }

        Vector256<T> va = Vector256.Create(alpha);
        Vector256<T> vb = Vector256.Create(beta);
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
    private static unsafe void Update(T* r, nint w, Vector256<T> va, Vector256<T> vb, bool overwrite, Vector256<T> x0, Vector256<T> x1)
    {
        if (overwrite)
        {
            Vector256.Store(va * x0, r);
            Vector256.Store(va * x1, r + w);
        }
        else
        {
            Vector256.Store(VectorFma.Fma(va, x0, vb * Vector256.Load(r)), r);
            Vector256.Store(VectorFma.Fma(va, x1, vb * Vector256.Load(r + w)), r + w);
        }
    }
}

/// <summary>128-bit micro-kernel (SSE+FMA or Arm64 AdvSIMD): 6 rows × 2 vectors.</summary>
internal readonly struct Kernel128<T> : IGemmMicroKernel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int MR => 6;

    public static int NR => 2 * Vector128<T>.Count;

    public static bool IsSupported => Vector128.IsHardwareAccelerated && VectorFma.HardwareFma128;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run(nint kc, T* a, nint rsa, nint csa, T* b, nint ldbp, T* c, nint ldc, T alpha, T beta)
    {
        nint w = Vector128<T>.Count;
        Vector128<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector128<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        T* a0 = a, a1 = a + rsa, a2 = a1 + rsa, a3 = a2 + rsa, a4 = a3 + rsa, a5 = a4 + rsa;
        nint off = 0;
        for (nint p = 0; p < kc; p++)
        {
            Vector128<T> b0 = Vector128.Load(b);
            Vector128<T> b1 = Vector128.Load(b + w);
            Vector128<T> x = Vector128.Create(a0[off]);
            c00 = VectorFma.Fma(x, b0, c00); c01 = VectorFma.Fma(x, b1, c01);
            x = Vector128.Create(a1[off]);
            c10 = VectorFma.Fma(x, b0, c10); c11 = VectorFma.Fma(x, b1, c11);
            x = Vector128.Create(a2[off]);
            c20 = VectorFma.Fma(x, b0, c20); c21 = VectorFma.Fma(x, b1, c21);
            x = Vector128.Create(a3[off]);
            c30 = VectorFma.Fma(x, b0, c30); c31 = VectorFma.Fma(x, b1, c31);
            x = Vector128.Create(a4[off]);
            c40 = VectorFma.Fma(x, b0, c40); c41 = VectorFma.Fma(x, b1, c41);
            x = Vector128.Create(a5[off]);
            c50 = VectorFma.Fma(x, b0, c50); c51 = VectorFma.Fma(x, b1, c51);
            off += csa;
            b += ldbp;
        }

        Vector128<T> va = Vector128.Create(alpha);
        Vector128<T> vb = Vector128.Create(beta);
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
    private static unsafe void Update(T* r, nint w, Vector128<T> va, Vector128<T> vb, bool overwrite, Vector128<T> x0, Vector128<T> x1)
    {
        if (overwrite)
        {
            Vector128.Store(va * x0, r);
            Vector128.Store(va * x1, r + w);
        }
        else
        {
            Vector128.Store(VectorFma.Fma(va, x0, vb * Vector128.Load(r)), r);
            Vector128.Store(VectorFma.Fma(va, x1, vb * Vector128.Load(r + w)), r + w);
        }
    }
}
