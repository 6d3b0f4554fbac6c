using System.Numerics;
using System.Numerics.Tensors;

namespace MLNetBackprop.Core.Distributed;

/// <summary>
/// The fixed order in which a sum over ranks is taken: the order of a ring reduce-scatter. A buffer of n values is cut
/// into <c>size</c> chunks (<see cref="Chunk"/>); chunk c is summed starting from rank c's values and adding rank c + 1's,
/// c + 2's, … (mod size) in turn: ((g_c + g_{c+1}) + g_{c+2}) + … . A ring allreduce over MPI sends each chunk along
/// the ring and adds in exactly this order, then passes the finished chunks round unchanged, so every rank ends with
/// the same bits; <see cref="Sum{T}"/> computes the same thing in one process, which is how a test checks an N-rank
/// run against N shards trained in one process.
/// </summary>
public static class RingOrder
{
    /// <summary>The range of chunk <paramref name="c"/> of a buffer of <paramref name="length"/> values cut into <paramref name="size"/> chunks (sizes differ by at most one).</summary>
    public static (int Start, int Length) Chunk(int length, int size, int c)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(c);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(c, size);
        int q = length / size, rest = length % size;
        int start = c * q + Math.Min(c, rest);
        return (start, q + (c < rest ? 1 : 0));
    }

    /// <summary>
    /// The chunk rank <paramref name="rank"/> holds summed after a reduce-scatter (<see cref="IShardedAllreduce"/>):
    /// chunk rank + 1 (mod size). Chunk c's sum starts from rank c's values and ends with rank c − 1's, so in a ring it is
    /// rank c − 1 that finishes it.
    /// </summary>
    public static int OwnedChunk(int rank, int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, size);
        return (rank + 1) % size;
    }

    /// <summary>The range of <see cref="OwnedChunk"/> in a buffer of <paramref name="length"/> values.</summary>
    public static (int Start, int Length) Owned(int length, int size, int rank) => Chunk(length, size, OwnedChunk(rank, size));

    /// <summary>
    /// Writes into <paramref name="destination"/> the sum of <paramref name="parts"/> (one per rank, rank order), taken
    /// chunk by chunk in the ring's order.
    /// </summary>
    public static void Sum<T>(IReadOnlyList<T[]> parts, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(parts);
        int size = parts.Count, n = destination.Length;
        if (size == 0) throw new ArgumentException("There must be at least one part.", nameof(parts));
        for (int r = 0; r < size; r++)
            if (parts[r].Length != n)
                throw new ArgumentException($"Rank {r}'s part has {parts[r].Length} values; the destination has {n}.", nameof(parts));
        for (int c = 0; c < size; c++)
        {
            var (start, len) = Chunk(n, size, c);
            var acc = destination.Slice(start, len);
            parts[c].AsSpan(start, len).CopyTo(acc);
            for (int j = 1; j < size; j++)
                TensorPrimitives.Add(acc, parts[(c + j) % size].AsSpan(start, len), acc);
        }
    }
}
