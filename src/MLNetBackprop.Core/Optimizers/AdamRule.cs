using System.Numerics;

namespace MLNetBackprop.Core.Optimizers;

/// <summary>
/// Adam: m := β₁ m + (1 − β₁) g, v := β₂ v + (1 − β₂) g², θ := θ − α_t m / (√v + ε) with the bias-corrected
/// step α_t = α √(1 − β₂ᵗ) / (1 − β₁ᵗ).
/// </summary>
internal sealed class AdamRule<T>(int parameterCount, double beta1, double beta2, double epsilon) : IUpdateRule<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _m = new T[parameterCount];
    private readonly T[] _v = new T[parameterCount];
    private int _t;

    public void Step(Span<T> parameters, ReadOnlySpan<T> gradient, double learningRate)
    {
        _t++;
        double stepSize = learningRate * Math.Sqrt(1 - Math.Pow(beta2, _t)) / (1 - Math.Pow(beta1, _t));
        T b1 = T.CreateTruncating(beta1), b2 = T.CreateTruncating(beta2);
        T c1 = T.One - b1, c2 = T.One - b2;
        T lr = T.CreateTruncating(stepSize), eps = T.CreateTruncating(epsilon);
        var m = _m.AsSpan();
        var v = _v.AsSpan();
        int n = parameters.Length, i = 0, w = Vector<T>.Count;
        for (; i <= n - w; i += w)
        {
            var g = new Vector<T>(gradient.Slice(i));
            var mi = new Vector<T>(m.Slice(i)) * b1 + g * c1;
            var vi = new Vector<T>(v.Slice(i)) * b2 + g * g * c2;
            mi.CopyTo(m.Slice(i));
            vi.CopyTo(v.Slice(i));
            (new Vector<T>(parameters.Slice(i)) - mi * lr / (Vector.SquareRoot(vi) + new Vector<T>(eps))).CopyTo(parameters.Slice(i));
        }
        for (; i < n; i++)
        {
            T g = gradient[i];
            m[i] = b1 * m[i] + c1 * g;
            v[i] = b2 * v[i] + c2 * g * g;
            parameters[i] -= lr * m[i] / (T.Sqrt(v[i]) + eps);
        }
    }

    public void Reset()
    {
        Array.Clear(_m);
        Array.Clear(_v);
        _t = 0;
    }
}
