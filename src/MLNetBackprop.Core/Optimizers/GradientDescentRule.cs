using System.Numerics;
using System.Runtime.CompilerServices;
using MLNetBackprop.Core.Kernels;

namespace MLNetBackprop.Core.Optimizers;

/// <summary>θ := θ − α ∂J/∂θ.</summary>
internal sealed class GradientDescentRule<T> : IUpdateRule<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly ElementwiseUpdate<Update, T> _update = new();

    public void Step(Span<T> parameters, ReadOnlySpan<T> gradient, double learningRate, int maxThreads = 1, int offset = 0) =>
        _update.Run(new Update(T.CreateTruncating(-learningRate)), parameters, gradient, default, default, maxThreads);

    public void Reset() { }

    public T[][] StateArrays => [];

    public int Steps { get; set; }

    /// <summary>θ := g · (−α) + θ, in the order TensorPrimitives.MultiplyAdd, which this replaces, computes it.</summary>
    private readonly struct Update(T minusLr) : IUpdateOperator<Update, T>
    {
        public static int States => 0;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref T theta, T g, ref T unused0, ref T unused1) => theta = g * minusLr + theta;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref Vector<T> theta, Vector<T> g, ref Vector<T> unused0, ref Vector<T> unused1) => theta = g * minusLr + theta;
    }
}
