using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using X86 = System.Runtime.Intrinsics.X86;
using Arm = System.Runtime.Intrinsics.Arm;

namespace MLNetBackprop.Core.Kernels;

/// <summary>
/// One hardware vector width (<typeparamref name="TVec"/> = Vector128, Vector256 or Vector512 of T) as the few
/// operations the kernels use, so a kernel is written once, generic over the width. The JIT compiles each struct
/// instantiation on its own and inlines these one-line members, so every width gets the machine code a copy written
/// for it would get (the BCL's own ISimdVector is internal).
/// </summary>
internal unsafe interface ISimdWidth<TVec, T>
    where TVec : struct
    where T : unmanaged
{
    /// <summary>Lanes of a vector.</summary>
    static abstract int Count { get; }

    /// <summary>Whether this width runs on hardware vectors with hardware FMA here.</summary>
    static abstract bool IsAccelerated { get; }

    /// <summary>(x, x, …, x).</summary>
    static abstract TVec Create(T x);

    /// <summary>The vector at <paramref name="p"/> (unaligned).</summary>
    static abstract TVec Load(T* p);

    /// <summary>Writes <paramref name="x"/> at <paramref name="p"/> (unaligned).</summary>
    static abstract void Store(TVec x, T* p);

    /// <summary>x · y, lane by lane.</summary>
    static abstract TVec Multiply(TVec x, TVec y);

    /// <summary>x · y + acc, lane by lane, rounded once (float and double; the BCL has no generic overload).</summary>
    static abstract TVec Fma(TVec x, TVec y, TVec acc);
}

/// <summary>AVX-512 (or, where the tests ask for it, Vector512 emulated on narrower vectors).</summary>
internal readonly unsafe struct Simd512<T> : ISimdWidth<Vector512<T>, T>
    where T : unmanaged
{
    public static int Count => Vector512<T>.Count;

    public static bool IsAccelerated => Vector512.IsHardwareAccelerated && X86.Avx512F.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Create(T x) => Vector512.Create(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Load(T* p) => Vector512.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<T> x, T* p) => Vector512.Store(x, p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Multiply(Vector512<T> x, Vector512<T> y) => x * y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Fma(Vector512<T> x, Vector512<T> y, Vector512<T> acc) =>
        typeof(T) == typeof(float) ? Vector512.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), acc.AsSingle()).As<float, T>()
        : typeof(T) == typeof(double) ? Vector512.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), acc.AsDouble()).As<double, T>()
        : throw new NotSupportedException();
}

/// <summary>AVX2 with FMA.</summary>
internal readonly unsafe struct Simd256<T> : ISimdWidth<Vector256<T>, T>
    where T : unmanaged
{
    public static int Count => Vector256<T>.Count;

    public static bool IsAccelerated => Vector256.IsHardwareAccelerated && X86.Fma.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Create(T x) => Vector256.Create(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Load(T* p) => Vector256.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<T> x, T* p) => Vector256.Store(x, p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Multiply(Vector256<T> x, Vector256<T> y) => x * y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Fma(Vector256<T> x, Vector256<T> y, Vector256<T> acc) =>
        typeof(T) == typeof(float) ? Vector256.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), acc.AsSingle()).As<float, T>()
        : typeof(T) == typeof(double) ? Vector256.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), acc.AsDouble()).As<double, T>()
        : throw new NotSupportedException();
}

/// <summary>SSE with FMA, or Arm64 AdvSIMD (which always has FMA).</summary>
internal readonly unsafe struct Simd128<T> : ISimdWidth<Vector128<T>, T>
    where T : unmanaged
{
    public static int Count => Vector128<T>.Count;

    public static bool IsAccelerated => Vector128.IsHardwareAccelerated && (X86.Fma.IsSupported || Arm.AdvSimd.Arm64.IsSupported);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Create(T x) => Vector128.Create(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Load(T* p) => Vector128.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<T> x, T* p) => Vector128.Store(x, p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Multiply(Vector128<T> x, Vector128<T> y) => x * y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Fma(Vector128<T> x, Vector128<T> y, Vector128<T> acc) =>
        typeof(T) == typeof(float) ? Vector128.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), acc.AsSingle()).As<float, T>()
        : typeof(T) == typeof(double) ? Vector128.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), acc.AsDouble()).As<double, T>()
        : throw new NotSupportedException();
}
