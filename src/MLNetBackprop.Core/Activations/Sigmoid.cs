using System.Numerics;
using System.Numerics.Tensors;

namespace MLNetBackprop.Core.Activations;

/// <summary>Logistic sigmoid f(z) = 1 / (1 + e^(−z)), f'(z) = a (1 − a) = a − a².</summary>
internal readonly struct Sigmoid : IActivationOperator<Sigmoid>
{
    public static ActivationInfo Info { get; } = ActivationInfo.For<Sigmoid>(Activation.Sigmoid, hidden: true, WeightInit.Glorot, new("Sigmoid"));

    public static void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < z.Length; r += width) TensorPrimitives.Sigmoid(z.Slice(r, width), a.Slice(r, width));
    }

    // a − a², the same operations in both forms (the scalar tail once computed a (1 − a), a last bit apart).
    public static T MultiplyByDerivative<T>(T delta, T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => delta * (a - a * a);

    public static Vector<T> MultiplyByDerivative<T>(Vector<T> delta, Vector<T> z, Vector<T> a) where T : unmanaged, IFloatingPointIeee754<T> =>
        delta * (a - a * a);
}
