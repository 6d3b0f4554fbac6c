using System.Numerics;

namespace MLNetBackprop.Core.Activations;

/// <summary>
/// The one element-wise loop the activations share: whole vectors first, then the scalar tail, each element through the
/// operator's own form. Which elements take the scalar form depends only on the span's length, as in the loops this
/// replaces, so the results are bit for bit theirs.
/// </summary>
internal static class ElementwiseLoop
{
    /// <summary>a = f(z).</summary>
    public static void Apply<TOp, T>(ReadOnlySpan<T> z, Span<T> a)
        where TOp : struct, IElementwiseActivation<TOp> where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = z.Length, i = 0, w = Vector<T>.Count;
        for (; i <= n - w; i += w) TOp.Invoke(new Vector<T>(z.Slice(i))).CopyTo(a.Slice(i));
        for (; i < n; i++) a[i] = TOp.Invoke(z[i]);
    }

    /// <summary>δ ⊙= f'(z).</summary>
    public static void MultiplyByDerivative<TOp, T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> delta)
        where TOp : struct, IActivationOperator<TOp> where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = delta.Length, i = 0, w = Vector<T>.Count;
        for (; i <= n - w; i += w)
            TOp.MultiplyByDerivative(new Vector<T>(delta.Slice(i)), new Vector<T>(z.Slice(i)), new Vector<T>(a.Slice(i))).CopyTo(delta.Slice(i));
        for (; i < n; i++) delta[i] = TOp.MultiplyByDerivative(delta[i], z[i], a[i]);
    }
}
