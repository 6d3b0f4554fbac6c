using System.Numerics;

namespace MLNetBackprop.Core.Activations;

/// <summary>Identity f(z) = z (a linear output for regression), f'(z) = 1.</summary>
internal readonly struct Identity : IActivationOperator<Identity>
{
    public static ActivationInfo Info { get; } = ActivationInfo.For<Identity>(Activation.Identity, hidden: true, WeightInit.Glorot, new("Identity"));

    public static void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!z.Overlaps(a)) z.CopyTo(a);
    }

    public static T MultiplyByDerivative<T>(T delta, T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => delta;

    public static Vector<T> MultiplyByDerivative<T>(Vector<T> delta, Vector<T> z, Vector<T> a) where T : unmanaged, IFloatingPointIeee754<T> => delta;
}
