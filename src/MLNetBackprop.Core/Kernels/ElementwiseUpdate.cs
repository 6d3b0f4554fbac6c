using System.Numerics;
using System.Runtime.CompilerServices;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Core.Kernels;

/// <summary>
/// Runs an optimizer's update <typeparamref name="TOp"/> over the parameters, shared among threads in the parts of
/// <see cref="ElementwiseParts"/> (the same bits for any thread count), each part through
/// <see cref="ElementwiseLoop.Update{TOp, T}"/>. A rule keeps one: it holds the step in progress (the arrays pinned for
/// the workers), so a step allocates nothing.
/// </summary>
internal sealed unsafe class ElementwiseUpdate<TOp, T> : IGemmParallelJob
    where TOp : struct, IUpdateOperator<TOp, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private TOp _update;
    private T* _theta, _g, _s0, _s1;
    private int _n, _parts;

    /// <summary>
    /// θ, s₀, s₁ := u(θ, g, s₀, s₁) with up to <paramref name="maxThreads"/> threads; the state arrays past the
    /// update's <see cref="IUpdateOperator{TSelf, T}.States"/> are not read (pass them empty).
    /// </summary>
    public void Run(TOp update, Span<T> theta, ReadOnlySpan<T> g, Span<T> s0, Span<T> s1, int maxThreads)
    {
        _update = update;
        _n = theta.Length;
        _parts = ElementwiseParts.Count(_n, maxThreads);
        fixed (T* pt = theta, pg = g, p0 = s0, p1 = s1)
        {
            _theta = pt;
            _g = pg;
            _s0 = p0;
            _s1 = p1;
            try
            {
                ElementwiseParts.Run(this, _parts);
            }
            finally
            {
                _theta = _g = _s0 = _s1 = null;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Execute(int part)
    {
        var (from, to) = ElementwiseParts.Range(_n, _parts, part);
        int n = to - from;
        ElementwiseLoop.Update(
            _update,
            new Span<T>(_theta + from, n),
            new ReadOnlySpan<T>(_g + from, n),
            TOp.States > 0 ? new Span<T>(_s0 + from, n) : default,
            TOp.States > 1 ? new Span<T>(_s1 + from, n) : default);
    }
}
