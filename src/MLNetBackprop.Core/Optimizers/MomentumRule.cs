using System.Numerics;

namespace MLNetBackprop.Core.Optimizers;

/// <summary>
/// Momentum: v := μ v − α g, θ := θ + v. Nesterov's variant applies the look-ahead θ := θ + μ v − α g with the
/// new v (the form of Sutskever et al. 2013 used by scikit-learn).
/// </summary>
internal sealed class MomentumRule<T>(int parameterCount, double momentum, bool nesterov) : IUpdateRule<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _velocity = new T[parameterCount];

    public void Step(Span<T> parameters, ReadOnlySpan<T> gradient, double learningRate)
    {
        T mu = T.CreateTruncating(momentum), lr = T.CreateTruncating(learningRate);
        var v = _velocity.AsSpan();
        int n = parameters.Length, i = 0, w = Vector<T>.Count;
        if (nesterov)
        {
            // v := μ v − α g;  θ := θ + μ v − α g
            for (; i <= n - w; i += w)
            {
                var step = new Vector<T>(gradient.Slice(i)) * lr;
                var vi = new Vector<T>(v.Slice(i)) * mu - step;
                vi.CopyTo(v.Slice(i));
                (new Vector<T>(parameters.Slice(i)) + vi * mu - step).CopyTo(parameters.Slice(i));
            }
            for (; i < n; i++)
            {
                T step = lr * gradient[i];
                v[i] = mu * v[i] - step;
                parameters[i] += mu * v[i] - step;
            }
        }
        else
        {
            // v := μ v − α g;  θ := θ + v
            for (; i <= n - w; i += w)
            {
                var vi = new Vector<T>(v.Slice(i)) * mu - new Vector<T>(gradient.Slice(i)) * lr;
                vi.CopyTo(v.Slice(i));
                (new Vector<T>(parameters.Slice(i)) + vi).CopyTo(parameters.Slice(i));
            }
            for (; i < n; i++)
            {
                v[i] = mu * v[i] - lr * gradient[i];
                parameters[i] += v[i];
            }
        }
    }

    public void Reset() => Array.Clear(_velocity);
}
