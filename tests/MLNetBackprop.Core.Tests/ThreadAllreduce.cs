using System.Numerics;
using MLNetBackprop.Core.Distributed;

namespace MLNetBackprop.Core.Tests;

/// <summary>
/// N ranks as N threads of one process: each <see cref="IGradientAllreduce.Sum{T}"/> waits for every member, then each
/// member computes <see cref="RingOrder.Sum{T}"/> of all the parts itself. It gives the sums an MPI ring gives, so the
/// training logic of a data-parallel run is tested here without MPI; a member that waits longer than the timeout
/// throws instead of hanging the test. It splits sums too (<see cref="IShardedAllreduce"/>), as MpiAllreduce does, and
/// leaves NaN outside a rank's own chunk after a reduce-scatter, so that a step that read them would show it.
/// </summary>
internal sealed class ThreadAllreduce : IShardedAllreduce
{
    private readonly Group _group;

    private readonly bool _split;

    private ThreadAllreduce(Group group, int rank, bool split)
    {
        _group = group;
        Rank = rank;
        _split = split;
    }

    public int Rank { get; }

    public int Size => _group.Parts.Length;

    /// <param name="split">What <see cref="PrepareSplit{T}"/> answers: whether the trainer splits its sums.</param>
    public static ThreadAllreduce[] Create(int size, bool split = true)
    {
        var g = new Group(size);
        return Enumerable.Range(0, size).Select(r => new ThreadAllreduce(g, r, split)).ToArray();
    }

    /// <summary>Runs <paramref name="body"/> once per rank, each on its own thread, and returns the results in rank order.</summary>
    public static TResult[] Run<TResult>(int size, Func<IGradientAllreduce, TResult> body, bool split = true)
    {
        var members = Create(size, split);
        var tasks = members.Select(m => Task.Factory.StartNew(() => body(m), TaskCreationOptions.LongRunning)).ToArray();
        Task.WaitAll(tasks);
        return tasks.Select(t => t.Result).ToArray();
    }

    public void Sum<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        _group.Parts[Rank] = values.ToArray();
        Wait();
        RingOrder.Sum(_group.Parts.Select(p => (T[])p!).ToArray(), values);
        Wait(); // nobody posts the next call's part before everyone has read this one's
    }

    public bool PrepareSplit<T>(int length) where T : unmanaged, IFloatingPointIeee754<T> => _split;

    public void ReduceScatter<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Sum(values);
        var (start, length) = RingOrder.Owned(values.Length, Size, Rank);
        values[..start].Fill(T.NaN);
        values[(start + length)..].Fill(T.NaN);
    }

    public void AllgatherChunks<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        _group.Parts[Rank] = values.ToArray();
        Wait();
        for (int r = 0; r < Size; r++)
        {
            var (start, length) = RingOrder.Owned(values.Length, Size, r);
            ((T[])_group.Parts[r]!).AsSpan(start, length).CopyTo(values.Slice(start, length));
        }
        Wait();
    }

    public void Allgather(ReadOnlySpan<long> mine, Span<long> all)
    {
        _group.Parts[Rank] = mine.ToArray();
        Wait();
        for (int r = 0; r < Size; r++) ((long[])_group.Parts[r]!).CopyTo(all.Slice(r * mine.Length, mine.Length));
        Wait();
    }

    private void Wait()
    {
        if (!_group.Barrier.SignalAndWait(TimeSpan.FromSeconds(60)))
            throw new TimeoutException($"Rank {Rank}: another rank did not reach the collective within 60 s.");
    }

    private sealed class Group(int size)
    {
        public readonly object?[] Parts = new object?[size];
        public readonly Barrier Barrier = new(size);
    }
}
