using System.Numerics;

namespace MLNetBackprop.Core.Distributed;

/// <summary>
/// An <see cref="IGradientAllreduce"/> that can also split the sum among the ranks and gather the pieces back. A
/// data-parallel step then sums the gradient only into each rank's own chunk, each rank updates only its chunk of the
/// weights, and the ranks gather the updated chunks (ZeRO stage 1). Every rank still ends the step with the same
/// weights, but each runs the optimizer's update over 1/N of them instead of all of them. Same bytes as an allreduce.
/// </summary>
/// <remarks>
/// <see cref="NetworkTrainer.TrainDistributed{T}"/> takes this path for the first-order optimizers when the collectives
/// implement this interface and <see cref="PrepareSplit{T}"/> says so, and <see cref="IGradientAllreduce.Sum{T}"/>
/// otherwise. The split step needs one more sum, of 4 values, to agree on the loss and the flags: nearly free through
/// shared memory, but 2(N − 1) more messages round a ring of machines, whose latency can cost more than the update saved. The chunks are
/// <see cref="RingOrder.Owned"/>'s, and each is summed in <see cref="RingOrder"/>'s order, so a chunk holds the bits that
/// <see cref="IGradientAllreduce.Sum{T}"/> gives it.
/// </remarks>
public interface IShardedAllreduce : IGradientAllreduce
{
    /// <summary>
    /// Collective (every rank calls it at the same point, before the first split sum): prepares the split sum for buffers
    /// of <paramref name="length"/> values and returns whether a step should use it, the same answer on every rank.
    /// </summary>
    bool PrepareSplit<T>(int length) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>
    /// Sums every rank's <paramref name="values"/> as <see cref="IGradientAllreduce.Sum{T}"/> does, but only this rank's
    /// own chunk (<see cref="RingOrder.Owned"/>(values.Length, Size, Rank)) is left holding the sum; the other values
    /// are unspecified afterwards.
    /// </summary>
    void ReduceScatter<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>
    /// Replaces, on every rank, each rank's own chunk (<see cref="RingOrder.Owned"/>) of <paramref name="values"/> by that
    /// rank's values there; this rank's own chunk is sent and left as it is.
    /// </summary>
    void AllgatherChunks<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T>;
}
