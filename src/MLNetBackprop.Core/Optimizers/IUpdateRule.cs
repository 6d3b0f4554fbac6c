using System.Numerics;

namespace MLNetBackprop.Core.Optimizers;

/// <summary>One step of a first-order optimizer: θ := update(θ, ∂J/∂θ, α). Keeps its own state (velocity, moments).</summary>
internal interface IUpdateRule<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Applies one step to <paramref name="parameters"/> in place.</summary>
    /// <remarks>The update is element-wise; rules may share it among up to <paramref name="maxThreads"/> threads with
    /// results that do not depend on the thread count.</remarks>
    void Step(Span<T> parameters, ReadOnlySpan<T> gradient, double learningRate, int maxThreads = 1);

    /// <summary>Forgets the state (after a divergence back-off).</summary>
    void Reset();
}
