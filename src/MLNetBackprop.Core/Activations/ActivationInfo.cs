using System.Numerics;
using MLNetBackprop.Core.Kernels;

namespace MLNetBackprop.Core.Activations;

/// <summary>How weights feeding a layer are drawn (<see cref="NeuralNetwork{T}.Initialize"/>).</summary>
internal enum WeightInit
{
    /// <summary>The UFLDL/Glorot rule U(±√(6 / (n_in + n_out + 1))), for activations symmetric about the origin.</summary>
    Glorot,

    /// <summary>He's rule U(±√(6 / n_in)), for rectifiers, which pass about half their inputs.</summary>
    He,
}

/// <summary>
/// An activation's ONNX form: one operator (with an optional <c>alpha</c> attribute), its output multiplied by the layer's
/// pre-activation when <see cref="TimesInput"/> (SiLU is z · Sigmoid(z)).
/// </summary>
internal readonly record struct OnnxForm(string Operator, float? Alpha = null, bool TimesInput = false);

/// <summary>
/// Everything about one activation that is not its arithmetic: which enum value it is, whether a hidden layer may use
/// it, how the weights feeding it start, whether its outputs are often exactly zero (the one-row scorer then skips
/// them), and its ONNX form. <see cref="Kernel"/> runs its arithmetic for any element type.
/// </summary>
internal sealed record ActivationInfo(Activation Kind, bool Hidden, WeightInit Init, bool OftenExactlyZero, OnnxForm Onnx)
{
    /// <summary>The operator's batch application and derivative, for float and double.</summary>
    public required IActivationKernel Kernel { get; init; }

    /// <summary>The bound r of U(±r) for a layer of <paramref name="nIn"/> inputs and <paramref name="nOut"/> units.</summary>
    public double InitBound(int nIn, int nOut) => Init == WeightInit.He ? Math.Sqrt(6.0 / nIn) : Math.Sqrt(6.0 / (nIn + nOut + 1));

    /// <summary>The entry for operator <typeparamref name="TOp"/>.</summary>
    public static ActivationInfo For<TOp>(Activation kind, bool hidden, WeightInit init, OnnxForm onnx, bool oftenExactlyZero = false)
        where TOp : struct, IActivationOperator<TOp> =>
        new(kind, hidden, init, oftenExactlyZero, onnx) { Kernel = new ActivationKernel<TOp>() };
}

/// <summary>An operator's arithmetic behind a non-generic reference, so that a table can hold every activation.</summary>
internal interface IActivationKernel
{
    void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T>;

    void MultiplyByDerivative<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> delta) where T : unmanaged, IFloatingPointIeee754<T>;
}

internal sealed class ActivationKernel<TOp> : IActivationKernel where TOp : struct, IActivationOperator<TOp>
{
    public void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T> => TOp.Apply(z, a, width);

    public void MultiplyByDerivative<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> delta) where T : unmanaged, IFloatingPointIeee754<T> =>
        ElementwiseLoop.MultiplyByDerivative<TOp, T>(z, a, delta);
}
