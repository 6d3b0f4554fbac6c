using System.Numerics;

namespace MLNetBackprop.Core.Distributed;

/// <summary>
/// The collective operations data-parallel training needs between the processes (ranks) that train one model, each on
/// its shard of the rows. The core sees only this; an MPI implementation lives in the MLNetBackprop.Distributed package,
/// and <see cref="SingleProcess"/> is one process alone (today's behaviour).
/// </summary>
/// <remarks>
/// Every rank must call the same operations in the same order with buffers of the same length. An implementation
/// must give every rank the same bits, and sum in an order that depends only on <see cref="Size"/> (never on timing):
/// that is what keeps the ranks' weights identical after every step and a run reproducible bit for bit.
/// <see cref="RingOrder"/> defines the order the implementations here use.
/// </remarks>
public interface IGradientAllreduce
{
    /// <summary>This process's rank, 0 to <see cref="Size"/> − 1. Rank 0 writes the model and the log.</summary>
    int Rank { get; }

    /// <summary>The number of ranks.</summary>
    int Size { get; }

    /// <summary>Replaces <paramref name="values"/>, on every rank, by the element-wise sum of every rank's values, summed in <see cref="RingOrder"/>.</summary>
    void Sum<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>
    /// Gathers <paramref name="mine"/> from every rank: <paramref name="all"/> (length <see cref="Size"/> × mine.Length)
    /// receives rank r's values at r × mine.Length. Used to compare the ranks' schemas, options and row counts.
    /// </summary>
    void Allgather(ReadOnlySpan<long> mine, Span<long> all);
}

/// <summary>One process alone: <see cref="IGradientAllreduce.Sum{T}"/> leaves the values as they are.</summary>
public sealed class SingleProcess : IGradientAllreduce
{
    /// <summary>The one instance.</summary>
    public static SingleProcess Instance { get; } = new();

    private SingleProcess() { }

    /// <inheritdoc/>
    public int Rank => 0;

    /// <inheritdoc/>
    public int Size => 1;

    /// <inheritdoc/>
    public void Sum<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T> { }

    /// <inheritdoc/>
    public void Allgather(ReadOnlySpan<long> mine, Span<long> all) => mine.CopyTo(all);
}
