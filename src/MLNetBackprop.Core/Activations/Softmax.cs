using System.Numerics;
using System.Numerics.Tensors;

namespace MLNetBackprop.Core.Activations;

/// <summary>
/// Softmax over each row, a_k = e^(z_k) / Σ_j e^(z_j); output layer only. Its Jacobian diag(a) − a aᵀ is not diagonal,
/// so δ is formed by <see cref="MultiplyByJacobian{T}"/>, not element by element.
/// </summary>
internal readonly struct Softmax : IActivationOperator<Softmax>
{
    public static ActivationInfo Info { get; } = ActivationInfo.For<Softmax>(Activation.Softmax, hidden: false, WeightInit.Glorot, new("Softmax"));

    public static void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Stable form e^(z − max z) / Σ e^(z − max z): TensorPrimitives.SoftMax exponentiates z as it is, which overflows
        // to ∞/∞ = NaN once a logit passes ~88 in float.
        for (int r = 0; r < z.Length; r += width)
        {
            var zr = z.Slice(r, width);
            var ar = a.Slice(r, width);
            TensorPrimitives.Subtract(zr, TensorPrimitives.Max(zr), ar);
            TensorPrimitives.Exp(ar, ar);
            TensorPrimitives.Divide(ar, TensorPrimitives.Sum<T>(ar), ar);
        }
    }

    /// <summary>For each row, replaces g by Jᵀg where J = diag(a) − a aᵀ: (Jᵀg)_k = a_k (g_k − Σ_j g_j a_j).</summary>
    public static void MultiplyByJacobian<T>(ReadOnlySpan<T> a, Span<T> g, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < g.Length; r += width)
        {
            var ar = a.Slice(r, width);
            var gr = g.Slice(r, width);
            T dot = TensorPrimitives.Dot<T>(gr, ar);
            for (int k = 0; k < width; k++) gr[k] = ar[k] * (gr[k] - dot);
        }
    }

    public static T MultiplyByDerivative<T>(T delta, T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => throw NotDiagonal();

    public static Vector<T> MultiplyByDerivative<T>(Vector<T> delta, Vector<T> z, Vector<T> a) where T : unmanaged, IFloatingPointIeee754<T> =>
        throw NotDiagonal();

    private static InvalidOperationException NotDiagonal() => new("Softmax has a full Jacobian; use Softmax.MultiplyByJacobian.");
}
