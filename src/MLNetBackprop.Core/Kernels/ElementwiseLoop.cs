using System.Numerics;
using System.Runtime.CompilerServices;
using MLNetBackprop.Core.Activations;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Core.Kernels;

/// <summary>
/// The one element-wise loop the activations and the optimizers' updates share: whole vectors first, then the scalar
/// tail, each element through the operator's own form. Which elements take the scalar form depends only on the span's
/// length, as in the hand-written loops this replaces, so the results are bit for bit theirs. (An update shared among
/// threads runs this loop on each part, <see cref="ElementwiseUpdate{TOp, T}"/>.)
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

    /// <summary>
    /// d = x·a + y·b element by element: both products rounded, then their sum, never fused, so the bits are those of
    /// y·b written first and x·a added to it after (TensorPrimitives' Multiply, then its MultiplyAdd) in one pass instead of two.
    /// </summary>
    public static void ScaledSum<T>(ReadOnlySpan<T> x, T a, ReadOnlySpan<T> y, T b, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = d.Length, i = 0, w = Vector<T>.Count;
        if (x.Length != n || y.Length != n) throw new ArgumentException("x, y and d must have the same length.");
        var va = new Vector<T>(a);
        var vb = new Vector<T>(b);
        for (; i <= n - w; i += w) (new Vector<T>(x.Slice(i)) * va + new Vector<T>(y.Slice(i)) * vb).CopyTo(d.Slice(i));
        for (; i < n; i++) d[i] = x[i] * a + y[i] * b;
    }

    /// <summary>
    /// θ, s₀, s₁ := u(θ, g, s₀, s₁) element by element, u = <paramref name="update"/>; the state spans past the
    /// update's <see cref="IUpdateOperator{TSelf, T}.States"/> are not read (pass them empty).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Update<TOp, T>(TOp update, Span<T> theta, ReadOnlySpan<T> g, Span<T> s0, Span<T> s1)
        where TOp : struct, IUpdateOperator<TOp, T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = theta.Length, i = 0, w = Vector<T>.Count;
        for (; i <= n - w; i += w)
        {
            var t = new Vector<T>(theta.Slice(i));
            var u0 = TOp.States > 0 ? new Vector<T>(s0.Slice(i)) : default;
            var u1 = TOp.States > 1 ? new Vector<T>(s1.Slice(i)) : default;
            update.Invoke(ref t, new Vector<T>(g.Slice(i)), ref u0, ref u1);
            if (TOp.States > 0) u0.CopyTo(s0.Slice(i));
            if (TOp.States > 1) u1.CopyTo(s1.Slice(i));
            t.CopyTo(theta.Slice(i));
        }
        for (; i < n; i++)
        {
            T u0 = TOp.States > 0 ? s0[i] : default, u1 = TOp.States > 1 ? s1[i] : default;
            update.Invoke(ref theta[i], g[i], ref u0, ref u1);
            if (TOp.States > 0) s0[i] = u0;
            if (TOp.States > 1) s1[i] = u1;
        }
    }
}
