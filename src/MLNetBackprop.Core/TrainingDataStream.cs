using System.Numerics;

namespace MLNetBackprop.Core;

/// <summary>
/// A training set read block by block instead of held in memory, for data larger than memory: each pass reads every row
/// once, in blocks of a size the trainer asks for, and a block's buffers may be refilled once the enumeration moves on,
/// so memory stays O(block) whatever the number of rows. <see cref="NetworkTrainer.Train{T}(NeuralNetwork{T}, ITrainingDataStream{T}, TrainingOptions, TrainingData{T}?, CancellationToken)"/>
/// trains on it: mini-batch optimizers take their batches from within each block (shuffled within the block when
/// <see cref="TrainingOptions.Shuffle"/> is on), full-batch ones (gradient descent, L-BFGS) sum each gradient over one pass.
/// </summary>
public interface ITrainingDataStream<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Width of a feature row (the network's input size).</summary>
    int FeatureCount { get; }

    /// <summary>Width of a target row (the network's output size).</summary>
    int TargetCount { get; }

    /// <summary>Rows in one pass; every pass reads the same rows (in the same or another order). At least 1.</summary>
    long Count { get; }

    /// <summary>The rows per block the stream is sized for (its shuffle window); the trainer asks for the nearest multiple of its batch size.</summary>
    int PreferredBlockRows { get; }

    /// <summary>
    /// One pass over all rows in consecutive blocks of <paramref name="blockRows"/> rows (the last one may be shorter).
    /// With <paramref name="shuffle"/> the stream may also change the order of the rows between passes, seeded by
    /// <paramref name="pass"/> (pass 0 is an evaluation pass and is never shuffled); without it the order is the same every pass.
    /// </summary>
    IEnumerable<TrainingData<T>> ReadBlocks(int blockRows, int pass, bool shuffle);
}

/// <summary>Streams over data that is already in memory.</summary>
public static class TrainingDataStream
{
    /// <summary>
    /// <paramref name="data"/> read as a stream in blocks copied into reused buffers, in its own row order: what a
    /// stream of these rows gives, for tests and for comparing the streamed and the in-memory paths (with the same row
    /// order, the mini-batch optimizers train the same network bit for bit).
    /// </summary>
    public static ITrainingDataStream<T> FromMemory<T>(TrainingData<T> data, int preferredBlockRows = 65_536)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(preferredBlockRows, 1);
        return new InMemoryStream<T>(data, preferredBlockRows);
    }

    private sealed class InMemoryStream<T>(TrainingData<T> data, int preferredBlockRows) : ITrainingDataStream<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly MiniBatch<T> _copy = new();
        private int[] _rows = [];

        public int FeatureCount => data.FeatureCount;
        public int TargetCount => data.TargetCount;
        public long Count => data.Count;
        public int PreferredBlockRows => preferredBlockRows;

        /// <summary>How many passes were read (tests count them).</summary>
        public int Passes { get; private set; }

        public IEnumerable<TrainingData<T>> ReadBlocks(int blockRows, int pass, bool shuffle)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(blockRows, 1);
            Passes++;
            if (_rows.Length < blockRows) _rows = new int[blockRows];
            for (int start = 0; start < data.Count; start += blockRows)
            {
                int n = Math.Min(blockRows, data.Count - start);
                for (int i = 0; i < n; i++) _rows[i] = start + i;
                _copy.Gather(data, _rows.AsSpan(0, n));
                yield return _copy.ToTrainingData();
            }
        }
    }
}
