using System.Numerics;
using System.Numerics.Tensors;

namespace MLNetBackprop.Core.Activations;

/// <summary>Hyperbolic tangent f(z) = tanh z, f'(z) = 1 − a².</summary>
internal readonly struct Tanh : IActivationOperator<Tanh>
{
    public static ActivationInfo Info { get; } = ActivationInfo.For<Tanh>(Activation.Tanh, hidden: true, WeightInit.Glorot, new("Tanh"));

    public static void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < z.Length; r += width) TensorPrimitives.Tanh(z.Slice(r, width), a.Slice(r, width));
    }

    public static T MultiplyByDerivative<T>(T delta, T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => delta * (T.One - a * a);

    public static Vector<T> MultiplyByDerivative<T>(Vector<T> delta, Vector<T> z, Vector<T> a) where T : unmanaged, IFloatingPointIeee754<T> =>
        delta * (Vector<T>.One - a * a);
}
