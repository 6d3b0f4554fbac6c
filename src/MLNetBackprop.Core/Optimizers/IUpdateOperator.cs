using System.Numerics;

namespace MLNetBackprop.Core.Optimizers;

/// <summary>
/// One optimizer's element-wise update as an operator struct, in the manner of TensorPrimitives' operators and of the
/// activations (<see cref="Activations.IActivationOperator{TSelf}"/>): θ and the rule's state (up to two arrays) updated
/// from the gradient g, written once for a scalar and once for a vector with the same operations per element. The
/// struct's fields are the step's constants (learning rate, decay rates...). Applied by
/// <see cref="Kernels.ElementwiseLoop.Update{TOp, T}"/>, shared among threads by
/// <see cref="Kernels.ElementwiseUpdate{TOp, T}"/>.
/// </summary>
internal interface IUpdateOperator<TSelf, T>
    where TSelf : struct, IUpdateOperator<TSelf, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>How many state arrays the update reads and writes (0, 1 or 2); the state arguments past them are unused.</summary>
    static abstract int States { get; }

    /// <summary>One element: θ and the state s₀, s₁ in place, given g.</summary>
    void Invoke(ref T theta, T g, ref T s0, ref T s1);

    /// <summary>One vector: per element the same operations as the scalar form.</summary>
    void Invoke(ref Vector<T> theta, Vector<T> g, ref Vector<T> s0, ref Vector<T> s1);
}
