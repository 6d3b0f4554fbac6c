using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MLNetBackprop.Core.Kernels;

/// <summary>Whether a span holds only finite numbers: the training's guard on every step's gradient.</summary>
internal static class FiniteCheck
{
    /// <summary>
    /// True when no element is NaN or ±∞. A NaN or ±∞ anywhere makes a plain sum non-finite, so the sum is tried first;
    /// only when it is not finite (a non-finite element, or finite elements whose sum overflows) are the elements looked at
    /// one by one.
    /// </summary>
    public static bool All<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (T.IsFinite(Sum(values))) return true;
        foreach (var v in values) if (!T.IsFinite(v)) return false;
        return true;
    }

    /// <summary>
    /// Four independent vector sums and a scalar tail. TensorPrimitives.Sum measured about 2× slower on W2's 235,146
    /// floats (0.10 against 0.046 ms, AMD EPYC with AVX-512, 2026-12-04), and the check runs once per step; only whether
    /// the result is finite is used, so the order of the additions does not matter.
    /// </summary>
    internal static T Sum<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        T sum = T.Zero;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            int w = Vector256<T>.Count;
            ref T start = ref MemoryMarshal.GetReference(values);
            Vector256<T> s0 = Vector256<T>.Zero, s1 = s0, s2 = s0, s3 = s0;
            for (; i + 4 * w <= values.Length; i += 4 * w)
            {
                s0 += Vector256.LoadUnsafe(ref start, (nuint)i);
                s1 += Vector256.LoadUnsafe(ref start, (nuint)(i + w));
                s2 += Vector256.LoadUnsafe(ref start, (nuint)(i + 2 * w));
                s3 += Vector256.LoadUnsafe(ref start, (nuint)(i + 3 * w));
            }
            sum = Vector256.Sum(s0 + s1 + (s2 + s3));
        }
        for (; i < values.Length; i++) sum += values[i];
        return sum;
    }
}
