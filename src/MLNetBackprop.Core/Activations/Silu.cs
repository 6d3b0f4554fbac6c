using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace MLNetBackprop.Core.Activations;

/// <summary>
/// SiLU (swish) f(z) = z · σ(z), σ the logistic sigmoid (Elfwing et al. 2018; Ramachandran et al.'s swish with β = 1).
/// f'(z) = σ(z) + z σ(z)(1 − σ(z)) = s + a (1 − s) with s = σ(z), which the backward pass recovers from what it holds as
/// s = a / z (½ at z = 0), so it needs neither an exponential nor a buffer of its own.
/// </summary>
internal readonly struct Silu : IActivationOperator<Silu>
{
    public static ActivationInfo Info { get; } =
        ActivationInfo.For<Silu>(Activation.Silu, hidden: true, WeightInit.He, new("Sigmoid", TimesInput: true));

    public static void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // σ(z) goes to a row of scratch first: a may be z itself (the batch scorer works in place).
        T[]? rented = null;
        Span<T> s = width * Unsafe.SizeOf<T>() <= 1024 ? stackalloc T[width] : (rented = ArrayPool<T>.Shared.Rent(width)).AsSpan(0, width);
        for (int r = 0; r < z.Length; r += width)
        {
            var zr = z.Slice(r, width);
            TensorPrimitives.Sigmoid(zr, s);
            TensorPrimitives.Multiply(zr, s, a.Slice(r, width));
        }
        if (rented is not null) ArrayPool<T>.Shared.Return(rented);
    }

    public static T MultiplyByDerivative<T>(T delta, T z, T a) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T s = z != T.Zero ? a / z : T.CreateTruncating(0.5);
        return delta * (s + a * (T.One - s));
    }

    public static Vector<T> MultiplyByDerivative<T>(Vector<T> delta, Vector<T> z, Vector<T> a) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = Vector.ConditionalSelect(Vector.Equals(z, Vector<T>.Zero), new Vector<T>(T.CreateTruncating(0.5)), a / z);
        return delta * (s + a * (Vector<T>.One - s));
    }
}
