using System.Numerics;
using System.Runtime.CompilerServices;
using MLNetBackprop.Core.Kernels;

namespace MLNetBackprop.Core.Optimizers;

/// <summary>
/// Adam: m := β₁ m + (1 − β₁) g, v := β₂ v + (1 − β₂) g², θ := θ − α_t m / (√v + ε) with the bias-corrected
/// step α_t = α √(1 − β₂ᵗ) / (1 − β₁ᵗ). Element-wise, so the parameters are shared among threads
/// (<see cref="ElementwiseParts"/>: the same bits for any thread count).
/// </summary>
internal sealed unsafe class AdamRule<T>(int parameterCount, double beta1, double beta2, double epsilon) : IUpdateRule<T>, IGemmParallelJob
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _m = new T[parameterCount];
    private readonly T[] _v = new T[parameterCount];
    private int _t;

    // The step in progress (set while the arrays are pinned).
    private T* _p, _g, _pm, _pv;
    private int _n, _parts;
    private T _b1, _b2, _c1, _c2, _lr, _eps;

    public void Step(Span<T> parameters, ReadOnlySpan<T> gradient, double learningRate, int maxThreads = 1)
    {
        _t++;
        double stepSize = learningRate * Math.Sqrt(1 - Math.Pow(beta2, _t)) / (1 - Math.Pow(beta1, _t));
        _b1 = T.CreateTruncating(beta1);
        _b2 = T.CreateTruncating(beta2);
        _c1 = T.One - _b1;
        _c2 = T.One - _b2;
        _lr = T.CreateTruncating(stepSize);
        _eps = T.CreateTruncating(epsilon);
        _n = parameters.Length;
        _parts = ElementwiseParts.Count(_n, maxThreads);
        fixed (T* p = parameters, g = gradient, m = _m, v = _v)
        {
            _p = p;
            _g = g;
            _pm = m;
            _pv = v;
            try
            {
                ElementwiseParts.Run(this, _parts);
            }
            finally
            {
                _p = _g = _pm = _pv = null;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Execute(int part)
    {
        var (from, to) = ElementwiseParts.Range(_n, _parts, part);
        var parameters = new Span<T>(_p + from, to - from);
        var gradient = new ReadOnlySpan<T>(_g + from, to - from);
        var m = new Span<T>(_pm + from, to - from);
        var v = new Span<T>(_pv + from, to - from);
        T b1 = _b1, b2 = _b2, c1 = _c1, c2 = _c2, lr = _lr, eps = _eps;
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

    public T[][] StateArrays => [_m, _v];

    public int Steps { get => _t; set => _t = value; }

    public void Reset()
    {
        Array.Clear(_m);
        Array.Clear(_v);
        _t = 0;
    }
}
