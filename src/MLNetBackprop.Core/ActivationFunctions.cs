using System.Numerics;
using System.Numerics.Tensors;

namespace MLNetBackprop.Core;

/// <summary>
/// The activations and their derivatives, one small function each, applied to whole rows or batches.
/// Derivatives are expressed through the activation a = f(z) where that is cheaper, and through z otherwise.
/// </summary>
internal static class ActivationFunctions
{
    /// <summary>Slope of <see cref="Activation.LeakyRelu"/> for negative inputs.</summary>
    public const double LeakySlope = 0.01;

    /// <summary>a = f(z) for a batch stored row-major as rows × width.</summary>
    public static void Apply<T>(Activation f, ReadOnlySpan<T> z, Span<T> a, int width)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (f)
        {
            // Row by row: TensorPrimitives takes a scalar path for spans shorter than a vector and a vector path
            // otherwise, which differ in the last bit. Applied per row, a row gets the same bits alone as in a batch.
            case Activation.Sigmoid:
                for (int r = 0; r < z.Length; r += width) TensorPrimitives.Sigmoid(z.Slice(r, width), a.Slice(r, width));
                break;
            case Activation.Tanh:
                for (int r = 0; r < z.Length; r += width) TensorPrimitives.Tanh(z.Slice(r, width), a.Slice(r, width));
                break;
            case Activation.Relu: TensorPrimitives.Max(z, T.Zero, a); break;
            case Activation.LeakyRelu: LeakyRelu(z, a); break;
            case Activation.Identity: if (!z.Overlaps(a)) z.CopyTo(a); break;
            case Activation.Softmax:
                // Stable form e^(z − max z) / Σ e^(z − max z): TensorPrimitives.SoftMax exponentiates z as it is, which
                // overflows to ∞/∞ = NaN once a logit passes ~88 in float.
                for (int r = 0; r < z.Length; r += width)
                {
                    var zr = z.Slice(r, width);
                    var ar = a.Slice(r, width);
                    TensorPrimitives.Subtract(zr, TensorPrimitives.Max(zr), ar);
                    TensorPrimitives.Exp(ar, ar);
                    TensorPrimitives.Divide(ar, TensorPrimitives.Sum<T>(ar), ar);
                }
                break;
            default: throw new ArgumentOutOfRangeException(nameof(f), f, "Unknown activation.");
        }
    }

    /// <summary>
    /// delta ⊙= f'(z), element-wise, for every activation except softmax (whose Jacobian is not diagonal;
    /// see <see cref="MultiplyBySoftmaxJacobian{T}"/>).
    /// </summary>
    public static void MultiplyByDerivative<T>(Activation f, ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> delta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = delta.Length, i = 0, w = Vector<T>.Count;
        switch (f)
        {
            case Activation.Sigmoid:
                // f'(z) = a (1 − a)
                for (; i <= n - w; i += w)
                {
                    var av = new Vector<T>(a.Slice(i));
                    (new Vector<T>(delta.Slice(i)) * (av - av * av)).CopyTo(delta.Slice(i));
                }
                for (; i < n; i++) delta[i] *= a[i] * (T.One - a[i]);
                break;
            case Activation.Tanh:
                // f'(z) = 1 − a²
                for (; i <= n - w; i += w)
                {
                    var av = new Vector<T>(a.Slice(i));
                    (new Vector<T>(delta.Slice(i)) * (Vector<T>.One - av * av)).CopyTo(delta.Slice(i));
                }
                for (; i < n; i++) delta[i] *= T.One - a[i] * a[i];
                break;
            case Activation.Relu:
                // f'(z) = 1 for z > 0, else 0
                for (; i <= n - w; i += w)
                {
                    var positive = Vector.GreaterThan(new Vector<T>(z.Slice(i)), Vector<T>.Zero);
                    Vector.ConditionalSelect(positive, new Vector<T>(delta.Slice(i)), Vector<T>.Zero).CopyTo(delta.Slice(i));
                }
                for (; i < n; i++) if (!(z[i] > T.Zero)) delta[i] = T.Zero;
                break;
            case Activation.LeakyRelu:
                T slope = T.CreateTruncating(LeakySlope);
                for (; i <= n - w; i += w)
                {
                    var positive = Vector.GreaterThan(new Vector<T>(z.Slice(i)), Vector<T>.Zero);
                    var d = new Vector<T>(delta.Slice(i));
                    Vector.ConditionalSelect(positive, d, d * slope).CopyTo(delta.Slice(i));
                }
                for (; i < n; i++) if (!(z[i] > T.Zero)) delta[i] *= slope;
                break;
            case Activation.Identity:
                break;
            case Activation.Softmax:
                throw new InvalidOperationException("Softmax has a full Jacobian; use MultiplyBySoftmaxJacobian.");
            default: throw new ArgumentOutOfRangeException(nameof(f), f, "Unknown activation.");
        }
    }

    /// <summary>
    /// For each row, replaces g by Jᵀg where J = diag(a) − a aᵀ is the softmax Jacobian:
    /// (Jᵀg)_k = a_k (g_k − Σ_j g_j a_j).
    /// </summary>
    public static void MultiplyBySoftmaxJacobian<T>(ReadOnlySpan<T> a, Span<T> g, int width)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < g.Length; r += width)
        {
            var ar = a.Slice(r, width);
            var gr = g.Slice(r, width);
            T dot = TensorPrimitives.Dot<T>(gr, ar);
            for (int k = 0; k < width; k++) gr[k] = ar[k] * (gr[k] - dot);
        }
    }

    private static void LeakyRelu<T>(ReadOnlySpan<T> z, Span<T> a) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T slope = T.CreateTruncating(LeakySlope);
        int n = z.Length, i = 0, w = Vector<T>.Count;
        for (; i <= n - w; i += w)
        {
            var zv = new Vector<T>(z.Slice(i));
            Vector.ConditionalSelect(Vector.GreaterThan(zv, Vector<T>.Zero), zv, zv * slope).CopyTo(a.Slice(i));
        }
        for (; i < n; i++) a[i] = z[i] > T.Zero ? z[i] : slope * z[i];
    }

    /// <summary>True when f may be used on a hidden layer.</summary>
    public static bool IsValidHidden(Activation f) => f is >= Activation.Sigmoid and <= Activation.Identity;

    /// <summary>True when the activation is defined (any value of the enum).</summary>
    public static bool IsDefined(Activation f) => f is >= Activation.Sigmoid and <= Activation.Softmax;
}
