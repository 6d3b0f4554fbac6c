using System.Numerics;

namespace MLNetBackprop.Core.Activations;

/// <summary>Rectified linear unit f(z) = max(0, z) (NaN stays NaN), f'(z) = 1 for z &gt; 0 and 0 otherwise.</summary>
internal readonly struct Relu : IElementwiseActivation<Relu>
{
    public static ActivationInfo Info { get; } =
        ActivationInfo.For<Relu>(Activation.Relu, hidden: true, WeightInit.He, new("Relu"), oftenExactlyZero: true);

    public static T Invoke<T>(T z) where T : unmanaged, IFloatingPointIeee754<T> => T.Max(z, T.Zero);

    public static Vector<T> Invoke<T>(Vector<T> z) where T : unmanaged, IFloatingPointIeee754<T> => Vector.Max(z, Vector<T>.Zero);

    public static T MultiplyByDerivative<T>(T delta, T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => z > T.Zero ? delta : T.Zero;

    public static Vector<T> MultiplyByDerivative<T>(Vector<T> delta, Vector<T> z, Vector<T> a) where T : unmanaged, IFloatingPointIeee754<T> =>
        Vector.ConditionalSelect(Vector.GreaterThan(z, Vector<T>.Zero), delta, Vector<T>.Zero);
}
