using System.Numerics;
using System.Runtime.CompilerServices;
using MLNetBackprop.Core.Kernels;

namespace MLNetBackprop.Core.Optimizers;

/// <summary>
/// Adam: m := β₁ m + (1 − β₁) g, v := β₂ v + (1 − β₂) g², θ := θ − α_t m / (√v + ε) with the bias-corrected
/// step α_t = α √(1 − β₂ᵗ) / (1 − β₁ᵗ). Element-wise, so the parameters are shared among threads
/// (<see cref="ElementwiseUpdate{TOp, T}"/>: the same bits for any thread count).
/// </summary>
internal sealed class AdamRule<T>(int parameterCount, double beta1, double beta2, double epsilon) : IUpdateRule<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _m = new T[parameterCount];
    private readonly T[] _v = new T[parameterCount];
    private readonly ElementwiseUpdate<Update, T> _update = new();
    private int _t;

    public void Step(Span<T> parameters, ReadOnlySpan<T> gradient, double learningRate, int maxThreads = 1, int offset = 0)
    {
        _t++;
        double stepSize = learningRate * Math.Sqrt(1 - Math.Pow(beta2, _t)) / (1 - Math.Pow(beta1, _t));
        T b1 = T.CreateTruncating(beta1), b2 = T.CreateTruncating(beta2);
        var update = new Update(b1, b2, T.One - b1, T.One - b2, T.CreateTruncating(stepSize), T.CreateTruncating(epsilon));
        _update.Run(update, parameters, gradient, _m.AsSpan(offset, parameters.Length), _v.AsSpan(offset, parameters.Length), maxThreads);
    }

    public T[][] StateArrays => [_m, _v];

    public int Steps { get => _t; set => _t = value; }

    public void Reset()
    {
        Array.Clear(_m);
        Array.Clear(_v);
        _t = 0;
    }

    /// <summary>One element of the step: s₀ = m, s₁ = v; c₁ = 1 − β₁, c₂ = 1 − β₂, lr = α_t.</summary>
    private readonly struct Update(T b1, T b2, T c1, T c2, T lr, T eps) : IUpdateOperator<Update, T>
    {
        public static int States => 2;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref T theta, T g, ref T m, ref T v)
        {
            m = b1 * m + c1 * g;
            v = b2 * v + c2 * g * g;
            theta -= lr * m / (T.Sqrt(v) + eps);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref Vector<T> theta, Vector<T> g, ref Vector<T> m, ref Vector<T> v)
        {
            m = m * b1 + g * c1;
            v = v * b2 + g * g * c2;
            theta -= m * lr / (Vector.SquareRoot(v) + new Vector<T>(eps));
        }
    }
}
