using System.Numerics;
using System.Runtime.CompilerServices;
using MLNetBackprop.Core.Kernels;

namespace MLNetBackprop.Core.Optimizers;

/// <summary>
/// Momentum: v := μ v − α g, θ := θ + v. Nesterov's variant applies the look-ahead θ := θ + μ v − α g with the
/// new v (the form of Sutskever et al. 2013 used by scikit-learn).
/// </summary>
internal sealed unsafe class MomentumRule<T>(int parameterCount, double momentum, bool nesterov) : IUpdateRule<T>, IGemmParallelJob
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _velocity = new T[parameterCount];

    // The step in progress (set while the arrays are pinned); element-wise, shared among threads (ElementwiseParts).
    private T* _p, _g, _pv;
    private int _n, _parts;
    private T _lr;

    public void Step(Span<T> parameters, ReadOnlySpan<T> gradient, double learningRate, int maxThreads = 1)
    {
        _lr = T.CreateTruncating(learningRate);
        _n = parameters.Length;
        _parts = ElementwiseParts.Count(_n, maxThreads);
        fixed (T* p = parameters, g = gradient, v = _velocity)
        {
            _p = p;
            _g = g;
            _pv = v;
            try
            {
                ElementwiseParts.Run(this, _parts);
            }
            finally
            {
                _p = _g = _pv = null;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Execute(int part)
    {
        var (from, to) = ElementwiseParts.Range(_n, _parts, part);
        var parameters = new Span<T>(_p + from, to - from);
        var gradient = new ReadOnlySpan<T>(_g + from, to - from);
        var v = new Span<T>(_pv + from, to - from);
        T mu = T.CreateTruncating(momentum), lr = _lr;
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

    public T[][] StateArrays => [_velocity];

    public int Steps { get; set; }
}
