using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.ExceptionServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core;

namespace MLNetBackprop;

/// <summary>
/// The training rows of an IDataView read block by block through its cursor, every pass, instead of copied into memory
/// (<see cref="DataLoadingMode.Streaming"/>): memory is O(block + held-out rows) whatever the row count. A first scan
/// checks every row (the same messages, with row numbers, as the in-memory reader), counts them, and gathers what the
/// in-memory path computes from all rows — the regression targets' mean and standard deviation (a second scan), the class
/// counts for balanced class weights — and, for early stopping, holds out a seeded fraction of the rows by row id.
/// Every pass then gives the same rows, transformed as the in-memory path transforms them, so that with the same row
/// order the network is the in-memory one bit for bit.
/// </summary>
internal sealed class DataViewTrainingStream : ITrainingDataStream<float>
{
    private const string Role = "training data";

    private readonly IDataView _data;
    private readonly ColumnBinding _cols;
    private readonly bool _skip;
    private readonly int _seed;
    private readonly CancellationToken _ct;
    private readonly HashSet<DataViewRowId>? _heldOut;
    private readonly BlockBuilder _block, _spare;
    private float[] _mean = [], _scale = [];
    private double[]? _classFactor;
    private bool _viewShuffles;

    private DataViewTrainingStream(IDataView data, ColumnBinding cols, bool skip, int seed, int blockRows, bool holdOut, CancellationToken ct)
    {
        _data = data;
        _cols = cols;
        _skip = skip;
        _seed = seed;
        _ct = ct;
        PreferredBlockRows = blockRows;
        _heldOut = holdOut ? [] : null;
        _block = new BlockBuilder(cols.FeatureCount, cols.OutputCount);
        _spare = new BlockBuilder(cols.FeatureCount, cols.OutputCount);
    }

    public int FeatureCount => _cols.FeatureCount;

    public int TargetCount => _cols.OutputCount;

    /// <summary>Training rows per pass: the valid rows less the held-out ones.</summary>
    public long Count { get; private set; }

    public int PreferredBlockRows { get; }

    /// <summary>Rows dropped as invalid (with SkipInvalidRows), and the first one's problem.</summary>
    public long Skipped { get; private set; }

    public string? FirstSkipReason { get; private set; }

    /// <summary>The held-out rows for early stopping, or null.</summary>
    public TrainingData<float>? Validation { get; private set; }

    /// <summary>
    /// How each epoch shuffles (<see cref="BackpropTrainerOptions.StreamingShuffle"/>) and why, for MLContext.Log; with
    /// <see cref="StreamingShuffleMode.Auto"/>, the order check's statistic.
    /// </summary>
    public string ShuffleChoice { get; private set; } = "";

    /// <summary>A warning for MLContext.Log when the row order drifts and the view cannot shuffle itself, or null.</summary>
    public string? ShuffleWarning { get; private set; }

    /// <summary>Whether the epochs ask the view for a shuffled cursor (with Shuffle on).</summary>
    public bool ViewShuffles => _viewShuffles;

    /// <summary>Passes read so far, the scans included (tests count them).</summary>
    public int Passes { get; private set; }

    /// <summary>Regression: the targets' mean and scale over all valid rows, as <see cref="Heads.TaskHead.TargetScaling"/> computes them in memory.</summary>
    public (float[] Mean, float[] Scale) TargetScaling => (_mean, _scale);

    /// <summary>
    /// Scans <paramref name="data"/> and returns the stream. <paramref name="holdOutFraction"/> &gt; 0 holds out that
    /// fraction of the rows (at most <see cref="BackpropTrainerOptions.StreamingValidationMaxRows"/>) for <see cref="Validation"/>.
    /// A regression's targets are scaled by <paramref name="targetScaling"/> when given (a warm start keeps the scaling
    /// its network was trained in), else by the scan's statistics.
    /// </summary>
    public static DataViewTrainingStream Open(IDataView data, ColumnBinding cols, BackpropTrainerOptions o, int seed,
        double holdOutFraction, CancellationToken ct, (float[] Mean, float[] Scale)? targetScaling = null)
    {
        var s = new DataViewTrainingStream(data, cols, o.SkipInvalidRows, seed, BlockRowsWithin(o, cols), holdOutFraction > 0, ct);
        s.Scan(o, holdOutFraction, o.StreamingValidationMaxRows, targetScaling);
        return s;
    }

    /// <summary>
    /// <see cref="BackpropTrainerOptions.StreamingBlockRows"/>, or fewer when the two blocks in memory at a time (the one
    /// trained on and the one read ahead) would take more than a quarter of the memory budget.
    /// </summary>
    internal static int BlockRowsWithin(BackpropTrainerOptions o, ColumnBinding cols)
    {
        long rowBytes = (cols.FeatureCount + cols.OutputCount + 1L) * sizeof(float);
        long fit = BackpropTrainer.Budget(o) / 4 / (2 * rowBytes);
        return (int)Math.Clamp(fit, 1, o.StreamingBlockRows);
    }

    private void Scan(BackpropTrainerOptions o, double fraction, int maxHeldOut, (float[] Mean, float[] Scale)? targetScaling)
    {
        int k = TargetCount;
        var head = _cols.Head;
        int classes = head.ClassCount(k);
        var classCounts = new long[classes];
        var classWeight = new double[classes];
        double weightSum = 0;
        var sum = new double[k];
        long valid = 0;
        var validation = _heldOut is null ? null : new BlockBuilder(FeatureCount, k);
        // Auto needs to know whether the row order drifts (and, on a view that cannot shuffle, to warn when it does).
        var order = o.Shuffle && o.StreamingShuffle == StreamingShuffleMode.Auto
            ? new RowOrderCheck(FeatureCount, k, Math.Clamp(PreferredBlockRows / 8, 16, 4096))
            : null;
        bool weighted = _cols.Weight is not null || o.ClassWeights is not null || o.BalanceClasses;
        // With a known row count the held-out share is capped up front; otherwise the first rows chosen fill the cap.
        long? known = _data.GetRowCount();
        double share = known is > 0 ? Math.Min(fraction, (double)maxHeldOut / known.Value) : fraction;

        Passes++;
        using (var rows = new TrainingSetReader.RowReader(_data, _cols, Role, shuffle: null, withIds: _heldOut is not null))
        {
            while (rows.MoveNext(_ct))
            {
                if (Invalid(rows)) continue;
                valid++;
                var t = rows.Target;
                order?.Add(rows.Features, t);
                double w = rows.Weight;
                if (classes > 0)
                {
                    int c = head.ClassOf(t);
                    classCounts[c]++;
                    classWeight[c] += w;
                }
                else
                    for (int j = 0; j < k; j++) sum[j] += w * t[j];
                weightSum += w;
                if (_heldOut is not null && _heldOut.Count < maxHeldOut && HeldOutDraw(rows.Id) < share)
                {
                    _heldOut.Add(rows.Id);
                    validation!.Add(rows.Features, t, rows.Weight, weighted);
                }
            }
        }
        if (valid == 0)
            throw new ArgumentException(Skipped == 0
                ? $"The {Role} has no rows; the trainer needs at least one."
                : $"All {Skipped} rows of the {Role} were invalid and skipped; the first: {FirstSkipReason}", nameof(_data));
        if (head.CheckClassCounts(classCounts, _cols.Label.Name, Role) is { } untrainable) throw new ArgumentException(untrainable, nameof(_data));
        if (_cols.Weight is { } wc && weightSum <= 0)
            throw new ArgumentException($"Column '{wc.Name}': the example weights of the {Role} sum to zero.", nameof(_data));
        Count = valid - (_heldOut?.Count ?? 0);
        if (Count < 1)
            throw new ArgumentException($"The {Role} has {valid} row(s); holding some out for early stopping leaves none to train on.", nameof(_data));

        if (o.ClassWeights is not null || o.BalanceClasses)
        {
            // The in-memory path's ApplyClassWeights: counts over every valid row, m / (K · m_c) for balanced.
            _classFactor = new double[classes];
            double total = 0;
            for (int c = 0; c < classes; c++)
            {
                _classFactor[c] = o.ClassWeights?[c] ?? 1;
                if (o.BalanceClasses) _classFactor[c] *= classCounts[c] == 0 ? 0 : (double)valid / (classes * classCounts[c]);
                total += _classFactor[c] * classWeight[c];
            }
            if (!(total > 0))
                throw new ArgumentException("With the class weights, the training rows' weights sum to zero: give a class present in the training data a positive weight.",
                    o.ClassWeights is not null ? nameof(o.ClassWeights) : nameof(o.BalanceClasses));
        }
        if (head.ScalesTargets && targetScaling is { } given)
            (_mean, _scale) = (given.Mean.ToArray(), given.Scale.ToArray());
        else if (head.ScalesTargets)
        {
            _mean = new float[k];
            _scale = new float[k];
            var mu = new double[k];
            for (int j = 0; j < k; j++)
            {
                mu[j] = sum[j] / weightSum;
                _mean[j] = (float)mu[j];
                _scale[j] = 1;
            }
            if (o.StandardizeTargets) SecondScan(mu, weightSum);
        }
        ChooseShuffle(o, order);
        if (validation is not null && validation.Rows > 0)
        {
            validation.Transform(this, weighted);
            Validation = validation.ToData(copy: true);
        }
    }

    private void ChooseShuffle(BackpropTrainerOptions o, RowOrderCheck? order)
    {
        var inv = CultureInfo.InvariantCulture;
        bool can = _data.CanShuffle;
        const string cannot = "shuffled within blocks (the view cannot shuffle itself)";
        if (!o.Shuffle) (_viewShuffles, ShuffleChoice) = (false, "the view's order every epoch (Shuffle = false)");
        else if (o.StreamingShuffle == StreamingShuffleMode.View)
            (_viewShuffles, ShuffleChoice) = can ? (true, "the view's shuffled cursor, and within blocks (StreamingShuffle = View)") : (false, cannot);
        else if (o.StreamingShuffle == StreamingShuffleMode.WithinBlocks) (_viewShuffles, ShuffleChoice) = (false, "the view's order, shuffled within blocks (StreamingShuffle = WithinBlocks)");
        else if (Count <= PreferredBlockRows)
            (_viewShuffles, ShuffleChoice) = (false, string.Create(inv, $"the view's order, shuffled within one block of all {Count} rows, which is a full shuffle (StreamingShuffle = Auto)"));
        else
        {
            var (f, column, threshold, chunks) = order!.Result();
            string what = order.ChecksFeatures ? "features and targets" : "targets (too many features to check)";
            if (double.IsNaN(f))
                (_viewShuffles, ShuffleChoice) = can
                    ? (true, string.Create(inv, $"the view's shuffled cursor (StreamingShuffle = Auto: {chunks} chunks are too few to check the row order)"))
                    : (false, cannot);
            else if (f > threshold)
            {
                string why = string.Create(inv,
                    $"the row order drifts; {order.Describe(column, _cols.Features.Name, _cols.Label.Name)} has F = {f:G3} over {chunks} chunks of rows, above {threshold:F2}");
                (_viewShuffles, ShuffleChoice) = can ? (true, $"the view's shuffled cursor, and within blocks (StreamingShuffle = Auto: {why})") : (false, cannot);
                if (!can)
                    ShuffleWarning = string.Create(inv,
                        $"Backprop: {why}, and the view cannot shuffle itself, so rows further apart than a block of {PreferredBlockRows} are never in one mini-batch. Shuffle the data once (for example save it with SaveAsBinary and stream the .idv file, which shuffles by blocks), or raise StreamingBlockRows.");
            }
            else
                (_viewShuffles, ShuffleChoice) = (false, string.Create(inv,
                    $"the view's order, shuffled within blocks of {PreferredBlockRows} rows (StreamingShuffle = Auto: the row order looks random; the largest F of the {what} over {chunks} chunks of rows is {f:F2}, below {threshold:F2})"));
        }
    }

    /// <summary>Σ w (y − μ)² over the valid rows, in row order as the in-memory statistics sum it, for the standard deviation.</summary>
    private void SecondScan(double[] mu, double weightSum)
    {
        int k = TargetCount;
        var sumSq = new double[k];
        Passes++;
        using var rows = new TrainingSetReader.RowReader(_data, _cols, Role, shuffle: null, withIds: false);
        while (rows.MoveNext(_ct))
        {
            if (Invalid(rows)) continue;
            for (int j = 0; j < k; j++)
            {
                double d = rows.Target[j] - mu[j];
                sumSq[j] += rows.Weight * d * d;
            }
        }
        for (int j = 0; j < k; j++)
        {
            double sd = Math.Sqrt(sumSq[j] / weightSum);
            _scale[j] = sd > 1e-12 && double.IsFinite(sd) ? (float)sd : 1;
        }
    }

    /// <summary>Reads the current row; true when it is invalid and skipped (or throws, as the in-memory reader does).</summary>
    private bool Invalid(TrainingSetReader.RowReader rows)
    {
        string? problem = rows.Read();
        if (problem is null) return false;
        if (!_skip) throw new InvalidOperationException(problem + " Set SkipInvalidRows to drop such rows instead.");
        if (Passes == 1)
        {
            Skipped++;
            FirstSkipReason ??= problem;
        }
        return true;
    }

    /// <summary>A uniform draw in [0, 1) fixed by the row id and the seed: the same row is held out in every pass.</summary>
    private double HeldOutDraw(DataViewRowId id)
    {
        ulong h = id.Low * 0x9E3779B97F4A7C15UL ^ id.High * 0xC2B2AE3D27D4EB4FUL ^ (ulong)(uint)_seed * 0x165667B19E3779F9UL;
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCDUL;
        h ^= h >> 33;
        h *= 0xC4CEB9FE1A85EC53UL;
        h ^= h >> 33;
        return (h >> 11) * (1.0 / (1UL << 53));
    }

    /// <summary>The row's target and weight as the in-memory path trains on them: standardized, class-weighted.</summary>
    private float TransformRow(Span<float> target, float weight)
    {
        for (int j = 0; j < _mean.Length; j++) target[j] = (target[j] - _mean[j]) / _scale[j];
        return _classFactor is null ? weight : (float)(weight * _classFactor[_cols.Head.ClassOf(target)]);
    }

    /// <summary>
    /// One pass of the training rows, block by block, read ahead: a thread of its own reads and fills the next block from
    /// the cursor while the trainer works on the current one (two blocks in memory at most), so that the cursor's
    /// decoding overlaps the training instead of adding to it. Blocks come in the cursor's order; a block handed out is
    /// valid until the next one is asked for. Errors of the reading thread (a bad row, a changed row count, cancellation)
    /// are thrown here, as they are.
    /// </summary>
    public IEnumerable<TrainingData<float>> ReadBlocks(int blockRows, int pass, bool shuffle)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockRows, 1);
        return ReadAhead(blockRows, pass, shuffle);
    }

    private IEnumerable<TrainingData<float>> ReadAhead(int blockRows, int pass, bool shuffle)
    {
        Passes++;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(_ct);
        using var free = new BlockingCollection<BlockBuilder>(2);
        using var full = new BlockingCollection<BlockBuilder>(2);
        free.Add(_block);
        free.Add(_spare);
        Exception? failure = null;
        var reader = new Thread(() =>
        {
            try
            {
                Fill(blockRows, pass, shuffle, free, full, stop.Token);
            }
            catch (Exception e)
            {
                failure = e;
            }
            finally
            {
                full.CompleteAdding();
            }
        })
        {
            IsBackground = true,
            Name = "Backprop stream read-ahead",
        };
        reader.Start();
        try
        {
            foreach (var block in full.GetConsumingEnumerable())
            {
                yield return block.ToData(copy: false);
                free.Add(block);
            }
        }
        finally
        {
            // Also when the trainer stops early (cancellation, divergence, its budget): the reader ends and closes its cursor.
            stop.Cancel();
            reader.Join();
        }
        if (failure is OperationCanceledException && _ct.IsCancellationRequested) throw new OperationCanceledException(_ct);
        if (failure is not null) ExceptionDispatchInfo.Capture(failure).Throw();
    }

    /// <summary>The reading thread: fills free blocks from the cursor and hands them over full, in order.</summary>
    private void Fill(int blockRows, int pass, bool shuffle, BlockingCollection<BlockBuilder> free, BlockingCollection<BlockBuilder> full,
        CancellationToken ct)
    {
        bool weighted = _cols.Weight is not null || _classFactor is not null;
        // A view that can shuffle itself (an .idv file: by blocks) is asked to when the scan chose so, seeded by the pass;
        // the trainer also shuffles each block. Pass 0 (evaluation) and Shuffle off keep the view's order.
        var rng = shuffle && pass > 0 && _viewShuffles ? new Random(unchecked(_seed * 1_000_003 + pass)) : null;
        long seen = 0;
        using var rows = new TrainingSetReader.RowReader(_data, _cols, Role, rng, withIds: _heldOut is not null);
        var block = free.Take(ct);
        block.Clear();
        while (rows.MoveNext(ct))
        {
            if (Invalid(rows)) continue;
            if (_heldOut is not null && _heldOut.Count > 0 && _heldOut.Contains(rows.Id)) continue;
            var t = rows.Target;
            float w = TransformRow(t, rows.Weight);
            block.Add(rows.Features, t, w, weighted);
            seen++;
            if (block.Rows == blockRows)
            {
                full.Add(block, ct);
                block = free.Take(ct);
                block.Clear();
            }
        }
        if (block.Rows > 0) full.Add(block, ct);
        if (seen != Count)
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"The {Role} gave {seen} training rows in pass {pass} and {Count} when first read: a streamed view must give the same rows every pass."));
    }

    /// <summary>
    /// Rows gathered into reused buffers: dense until a sparse row arrives, then compressed rows (as the in-memory reader
    /// does), wrapped without a copy.
    /// </summary>
    private sealed class BlockBuilder(int features, int targets)
    {
        private readonly GrowableBuffer<float> _dense = new(1024);
        private readonly GrowableBuffer<int> _rowStart = new(1024);
        private readonly GrowableBuffer<int> _indices = new(1024);
        private readonly GrowableBuffer<float> _values = new(1024);
        private readonly GrowableBuffer<float> _targets = new(1024);
        private readonly GrowableBuffer<float> _weights = new(1024);
        private bool _sparse, _weighted;
        private TrainingData<float>? _view;

        public int Rows { get; private set; }

        public void Clear()
        {
            Rows = 0;
            _sparse = false;
            _dense.Clear();
            _rowStart.Clear();
            _indices.Clear();
            _values.Clear();
            _targets.Clear();
            _weights.Clear();
        }

        public void Add(VBuffer<float> row, ReadOnlySpan<float> target, float weight, bool weighted)
        {
            _weighted = weighted;
            var vals = row.GetValues();
            if (!_sparse && !row.IsDense)
            {
                // The first sparse row: the dense rows so far move into compressed-row form.
                _sparse = true;
                _rowStart.Clear();
                _rowStart.Add(0);
                var dense = _dense.Span;
                for (int r = 0; r < Rows; r++) AppendSparse(dense.Slice(r * features, features), default);
                _dense.Clear();
            }
            if (_sparse) AppendSparse(vals, row.IsDense ? default : row.GetIndices());
            else _dense.AddRange(vals);
            _targets.AddRange(target);
            if (weighted) _weights.Add(weight);
            Rows++;
        }

        private void AppendSparse(ReadOnlySpan<float> v, ReadOnlySpan<int> idx)
        {
            bool isDense = idx.IsEmpty && v.Length == features;
            for (int j = 0; j < v.Length; j++)
            {
                if (v[j] == 0) continue;
                _indices.Add(isDense ? j : idx[j]);
                _values.Add(v[j]);
            }
            _rowStart.Add(_indices.Count);
        }

        /// <summary>Applies the stream's target and weight transforms to every row gathered (the held-out rows, read raw).</summary>
        public void Transform(DataViewTrainingStream s, bool weighted)
        {
            var t = _targets.Buffer;
            for (int r = 0; r < Rows; r++)
            {
                float w = s.TransformRow(t.AsSpan(r * targets, targets), weighted ? _weights.Buffer[r] : 1);
                if (weighted) _weights.Buffer[r] = w;
            }
        }

        /// <summary>The rows as training data: over the buffers (valid until the next Clear), or copied.</summary>
        public TrainingData<float> ToData(bool copy)
        {
            float[]? w = _weighted ? (copy ? _weights.ToArray() : _weights.Buffer) : null;
            float[] y = copy ? _targets.ToArray() : _targets.Buffer;
            if (!copy && _view is { } v && v.Count == Rows && v.IsSparse == _sparse && SameBuffers(y, w)) return v;
            var data = _sparse
                ? TrainingData<float>.FromSparseRows(Rows, copy ? _rowStart.ToArray() : _rowStart.Buffer, copy ? _indices.ToArray() : _indices.Buffer,
                    copy ? _values.ToArray() : _values.Buffer, features, y, targets, w)
                : TrainingData<float>.FromDenseRows(Rows, copy ? _dense.ToArray() : _dense.Buffer, features, y, targets, w);
            if (!copy)
            {
                _view = data;
                (_viewTargets, _viewWeights, _viewDense, _viewValues, _viewIndices, _viewRowStart) =
                    (y, w, _dense.Buffer, _values.Buffer, _indices.Buffer, _rowStart.Buffer);
            }
            return data;
        }

        // A wrapper over the same arrays with the same row count is the same data: the next block's rows are in them.
        private bool SameBuffers(float[] y, float[]? w) => ReferenceEquals(_viewTargets, y) && ReferenceEquals(_viewWeights, w)
            && (_sparse ? ReferenceEquals(_viewValues, _values.Buffer) && ReferenceEquals(_viewIndices, _indices.Buffer) && ReferenceEquals(_viewRowStart, _rowStart.Buffer)
                        : ReferenceEquals(_viewDense, _dense.Buffer));

        private float[]? _viewTargets, _viewWeights, _viewDense, _viewValues;
        private int[]? _viewIndices, _viewRowStart;
    }
}
