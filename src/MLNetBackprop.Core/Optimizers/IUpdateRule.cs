using System.Numerics;

namespace MLNetBackprop.Core.Optimizers;

/// <summary>One step of a first-order optimizer: θ := update(θ, ∂J/∂θ, α). Keeps its own state (velocity, moments).</summary>
internal interface IUpdateRule<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// Applies one step to <paramref name="parameters"/> in place: all of the network's parameters, or one chunk of them
    /// starting at parameter <paramref name="offset"/> (a data-parallel rank's own chunk), whose state is the rule's
    /// state from that offset on. One call is one step whatever the length (Adam's t counts calls).
    /// </summary>
    /// <remarks>The update is element-wise; rules may share it among up to <paramref name="maxThreads"/> threads with
    /// results that do not depend on the thread count.</remarks>
    void Step(Span<T> parameters, ReadOnlySpan<T> gradient, double learningRate, int maxThreads = 1, int offset = 0);

    /// <summary>Forgets the state (after a divergence back-off).</summary>
    void Reset();

    /// <summary>
    /// The rule's state arrays, live (Adam: first and second moments m, v; momentum: the velocity; plain gradient
    /// descent: none), for saving into a <see cref="TrainingState{T}"/> and restoring from one.
    /// </summary>
    T[][] StateArrays { get; }

    /// <summary>Steps taken so far (Adam's t, which its bias correction depends on); 0 for rules without a step count.</summary>
    int Steps { get; set; }
}
