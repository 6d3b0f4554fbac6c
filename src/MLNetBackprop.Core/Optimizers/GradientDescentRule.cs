using System.Numerics;
using System.Numerics.Tensors;

namespace MLNetBackprop.Core.Optimizers;

/// <summary>θ := θ − α ∂J/∂θ.</summary>
internal sealed class GradientDescentRule<T> : IUpdateRule<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Step(Span<T> parameters, ReadOnlySpan<T> gradient, double learningRate, int maxThreads = 1) =>
        TensorPrimitives.MultiplyAdd(gradient, T.CreateTruncating(-learningRate), parameters, parameters);

    public void Reset() { }

    public T[][] StateArrays => [];

    public int Steps { get; set; }
}
