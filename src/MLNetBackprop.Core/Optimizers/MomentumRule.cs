using System.Numerics;
using System.Runtime.CompilerServices;
using MLNetBackprop.Core.Kernels;

namespace MLNetBackprop.Core.Optimizers;

/// <summary>
/// Momentum: v := μ v − α g, θ := θ + v. Nesterov's variant applies the look-ahead θ := θ + μ v − α g with the
/// new v (the form of Sutskever et al. 2013 used by scikit-learn). Element-wise, shared among threads
/// (<see cref="ElementwiseUpdate{TOp, T}"/>).
/// </summary>
internal sealed class MomentumRule<T>(int parameterCount, double momentum, bool nesterov) : IUpdateRule<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _velocity = new T[parameterCount];
    private ElementwiseUpdate<Classical, T>? _classical;
    private ElementwiseUpdate<Nesterov, T>? _nesterov;

    public void Step(Span<T> parameters, ReadOnlySpan<T> gradient, double learningRate, int maxThreads = 1, int offset = 0)
    {
        T mu = T.CreateTruncating(momentum), lr = T.CreateTruncating(learningRate);
        var velocity = _velocity.AsSpan(offset, parameters.Length);
        if (nesterov)
            (_nesterov ??= new()).Run(new Nesterov(mu, lr), parameters, gradient, velocity, default, maxThreads);
        else
            (_classical ??= new()).Run(new Classical(mu, lr), parameters, gradient, velocity, default, maxThreads);
    }

    public void Reset() => Array.Clear(_velocity);

    public T[][] StateArrays => [_velocity];

    public int Steps { get; set; }

    /// <summary>v := μ v − α g;  θ := θ + v (s₀ = v).</summary>
    private readonly struct Classical(T mu, T lr) : IUpdateOperator<Classical, T>
    {
        public static int States => 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref T theta, T g, ref T v, ref T unused)
        {
            v = mu * v - lr * g;
            theta += v;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref Vector<T> theta, Vector<T> g, ref Vector<T> v, ref Vector<T> unused)
        {
            v = v * mu - g * lr;
            theta += v;
        }
    }

    /// <summary>v := μ v − α g;  θ := θ + μ v − α g (s₀ = v).</summary>
    private readonly struct Nesterov(T mu, T lr) : IUpdateOperator<Nesterov, T>
    {
        public static int States => 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref T theta, T g, ref T v, ref T unused)
        {
            T step = lr * g;
            v = mu * v - step;
            theta += mu * v - step;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref Vector<T> theta, Vector<T> g, ref Vector<T> v, ref Vector<T> unused)
        {
            var step = g * lr;
            v = v * mu - step;
            theta = theta + v * mu - step;
        }
    }
}
