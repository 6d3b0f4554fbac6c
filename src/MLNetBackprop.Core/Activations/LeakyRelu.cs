using System.Numerics;

namespace MLNetBackprop.Core.Activations;

/// <summary>Leaky ReLU f(z) = z for z &gt; 0 and <see cref="Slope"/>·z otherwise, f'(z) = 1 or <see cref="Slope"/>.</summary>
internal readonly struct LeakyRelu : IElementwiseActivation<LeakyRelu>
{
    /// <summary>The slope for negative inputs (also the ONNX operator's alpha).</summary>
    public const double Slope = 0.01;

    public static ActivationInfo Info { get; } =
        ActivationInfo.For<LeakyRelu>(Activation.LeakyRelu, hidden: true, WeightInit.He, new("LeakyRelu", Alpha: (float)Slope));

    public static T Invoke<T>(T z) where T : unmanaged, IFloatingPointIeee754<T> => z > T.Zero ? z : T.CreateTruncating(Slope) * z;

    public static Vector<T> Invoke<T>(Vector<T> z) where T : unmanaged, IFloatingPointIeee754<T> =>
        Vector.ConditionalSelect(Vector.GreaterThan(z, Vector<T>.Zero), z, z * T.CreateTruncating(Slope));

    public static T MultiplyByDerivative<T>(T delta, T z, T a) where T : unmanaged, IFloatingPointIeee754<T> =>
        z > T.Zero ? delta : delta * T.CreateTruncating(Slope);

    public static Vector<T> MultiplyByDerivative<T>(Vector<T> delta, Vector<T> z, Vector<T> a) where T : unmanaged, IFloatingPointIeee754<T> =>
        Vector.ConditionalSelect(Vector.GreaterThan(z, Vector<T>.Zero), delta, delta * T.CreateTruncating(Slope));
}
