using System.Numerics;
using MLNetBackprop.Core.Kernels;

namespace MLNetBackprop.Core.Activations;

/// <summary>
/// One activation f as an operator struct, in the manner of TensorPrimitives' operators: its application to a batch and
/// δ·f' written once for a scalar and once for a vector with the same operations per element (applied by
/// <see cref="ElementwiseLoop"/>), and its <see cref="ActivationInfo"/>. A new activation is one such struct in a file of
/// its own, a member of <see cref="Activation"/>, and its entry in <see cref="ActivationTable"/>.
/// </summary>
internal interface IActivationOperator<TSelf> where TSelf : struct, IActivationOperator<TSelf>
{
    /// <summary>What the rest of the library needs to know: hidden or not, initialization, ONNX form.</summary>
    static abstract ActivationInfo Info { get; }

    /// <summary>
    /// a = f(z) over a batch of rows × <paramref name="width"/>, row-major. Whatever it does, a row must get the same bits
    /// alone as in a batch (TensorPrimitives' routines are therefore applied row by row: their scalar and vector paths
    /// differ in the last bit). <paramref name="a"/> may be <paramref name="z"/> itself (in place).
    /// </summary>
    static abstract void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>δ · f'(z), one element, given z and a = f(z) (whichever makes f' cheaper).</summary>
    static abstract T MultiplyByDerivative<T>(T delta, T z, T a) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>δ · f'(z), one vector: per element the same operations as the scalar form.</summary>
    static abstract Vector<T> MultiplyByDerivative<T>(Vector<T> delta, Vector<T> z, Vector<T> a) where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>An activation computed element by element (ReLU, identity...): f for a scalar and a vector, applied by <see cref="ElementwiseLoop"/>.</summary>
internal interface IElementwiseActivation<TSelf> : IActivationOperator<TSelf> where TSelf : struct, IElementwiseActivation<TSelf>
{
    /// <summary>a = f(z), one element.</summary>
    static abstract T Invoke<T>(T z) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>a = f(z), one vector: per element the same operations as the scalar form.</summary>
    static abstract Vector<T> Invoke<T>(Vector<T> z) where T : unmanaged, IFloatingPointIeee754<T>;

    static void IActivationOperator<TSelf>.Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) => ElementwiseLoop.Apply<TSelf, T>(z, a);
}
