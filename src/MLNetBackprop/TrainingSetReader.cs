using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Heads;

namespace MLNetBackprop;

/// <summary>
/// Reads an IDataView once into the arrays the core trains on: features dense row-major, or compressed sparse rows as
/// soon as one row arrives sparse (sparse rows stay sparse); raw targets (0/1, one-hot, or the label values); weights.
/// Every non-finite or missing value is reported with its column, row index and slot.
/// </summary>
internal sealed class TrainingSetReader
{
    public int Count { get; private set; }
    public int FeatureCount { get; }
    public int TargetCount { get; }
    public float[]? Dense { get; private set; }
    public int[]? RowStart { get; private set; }
    public int[]? Indices { get; private set; }
    public float[]? Values { get; private set; }
    public float[] Targets { get; private set; } = [];
    public float[]? Weights { get; internal set; }
    public bool IsSparse => RowStart is not null;

    /// <summary>Rows dropped because a value was invalid (only with <c>skipInvalidRows</c>).</summary>
    public long Skipped { get; private set; }

    /// <summary>The first dropped row's problem, for the log.</summary>
    public string? FirstSkipReason { get; private set; }

    private TrainingSetReader(int featureCount, int targetCount)
    {
        FeatureCount = featureCount;
        TargetCount = targetCount;
    }

    /// <summary>
    /// Reads every row. A NaN or infinite feature, label or weight, a missing key label, a regression target beyond
    /// ±<see cref="RegressionHead.MaxRegressionTarget"/> or a negative weight throws an
    /// <see cref="InvalidOperationException"/> naming the column, row and slot, or with <paramref name="skipInvalidRows"/>
    /// drops the row and counts it in <see cref="Skipped"/>.
    /// </summary>
    public static TrainingSetReader Read(IDataView data, ColumnBinding cols, string role, CancellationToken ct, bool skipInvalidRows = false)
    {
        var reader = new TrainingSetReader(cols.FeatureCount, cols.OutputCount);
        reader.ReadAll(data, cols, role, ct, skipInvalidRows, maxBytes: null);
        return reader;
    }

    /// <summary>
    /// Like <see cref="Read"/>, but gives up (returns null) as soon as the rows read take more than
    /// <paramref name="maxBytes"/>: for a view that does not know its row count, whether it fits is learnt by reading.
    /// </summary>
    public static TrainingSetReader? ReadWithin(IDataView data, ColumnBinding cols, string role, CancellationToken ct, bool skipInvalidRows, long maxBytes)
    {
        var reader = new TrainingSetReader(cols.FeatureCount, cols.OutputCount);
        reader.ReadAll(data, cols, role, ct, skipInvalidRows, maxBytes);
        return reader.OverBudget ? null : reader;
    }

    private bool OverBudget { get; set; }

    private void ReadAll(IDataView data, ColumnBinding cols, string role, CancellationToken ct, bool skip, long? maxBytes)
    {
        int n = FeatureCount, k = TargetCount;
        using var rows = new RowReader(data, cols, role, shuffle: null, withIds: false);
        var target = rows.Target;

        // Pre-sized when the view knows its row count (exact for dense rows: no growth and no final copy), unless that
        // is more than the memory budget allows: then the reader grows as it goes and gives up at the budget.
        long expectedRows = data.GetRowCount() ?? 1024;
        if (maxBytes is { } budget && expectedRows * (n + k + 1L) * sizeof(float) > budget) expectedRows = 1024;
        var dense = new GrowableBuffer<float>(expectedRows * n);
        GrowableBuffer<int>? rowStart = null, indices = null;
        GrowableBuffer<float>? values = null;
        var targets = new GrowableBuffer<float>(expectedRows * k);
        var weights = cols.Weight is null ? null : new GrowableBuffer<float>(expectedRows);
        while (rows.MoveNext(ct))
        {
            // Validate the whole row (features, label, weight) before keeping any of it, so a skipped row leaves no trace.
            string? problem = rows.Read();
            if (problem is not null)
            {
                if (!skip) throw new InvalidOperationException(problem + " Set SkipInvalidRows to drop such rows instead.");
                Skipped++;
                FirstSkipReason ??= problem;
                continue;
            }
            if (maxBytes is { } limit && (Count & 1023) == 0
                && ((long)dense.Count + (rowStart?.Count ?? 0) + 2L * (indices?.Count ?? 0) + targets.Count + (weights?.Count ?? 0)) * sizeof(float) > limit)
            {
                OverBudget = true;
                return;
            }
            var features = rows.Features;
            float wt = rows.Weight;
            var vals = features.GetValues();
            if (features.IsDense)
            {
                if (rowStart is null) dense.AddRange(vals);
                else AppendSparse(vals, null);
            }
            else
            {
                if (rowStart is null)
                {
                    // The first sparse row: move the dense rows read so far into compressed-row form.
                    rowStart = new GrowableBuffer<int>(expectedRows + 1);
                    rowStart.Add(0);
                    indices = new GrowableBuffer<int>(1024);
                    values = new GrowableBuffer<float>(1024);
                    var denseSpan = dense.Span;
                    for (int r = 0; r < Count; r++) AppendSparse(denseSpan.Slice(r * n, n), null);
                    dense = new GrowableBuffer<float>(0);
                }
                AppendSparse(vals, features.GetIndices());
            }
            targets.AddRange(target);
            weights?.Add(wt);
            Count++;
        }
        if (Count == 0)
            throw new ArgumentException(Skipped == 0
                ? $"The {role} has no rows; the trainer needs at least one."
                : $"All {Skipped} rows of the {role} were invalid and skipped; the first: {FirstSkipReason}", nameof(data));
        if (cols.Head.CheckTargets(targets.Span, cols.Label.Name, role) is { } untrainable) throw new ArgumentException(untrainable, nameof(data));
        if (weights is not null && Sum(weights.Span) <= 0)
            throw new ArgumentException($"Column '{cols.Weight!.Value.Name}': the example weights of the {role} sum to zero.", nameof(data));

        if (rowStart is null) Dense = dense.ToArray();
        else
        {
            RowStart = rowStart.ToArray();
            Indices = indices!.ToArray();
            Values = values!.ToArray();
        }
        Targets = targets.ToArray();
        Weights = weights?.ToArray();

        static double Sum(ReadOnlySpan<float> w)
        {
            double total = 0;
            foreach (float x in w) total += x;
            return total;
        }

        void AppendSparse(ReadOnlySpan<float> v, ReadOnlySpan<int> idx)
        {
            bool isDense = idx.IsEmpty && v.Length == n;
            for (int j = 0; j < v.Length; j++)
            {
                if (v[j] == 0) continue;
                indices!.Add(isDense ? j : idx[j]);
                values!.Add(v[j]);
            }
            rowStart!.Add(indices!.Count);
        }
    }

    /// <summary>
    /// One cursor over the feature, label and weight columns, reading and checking one row at a time: the in-memory
    /// reader and the stream (<see cref="DataViewTrainingStream"/>) read rows through it, so both name a bad value the
    /// same way. The row number is the position in the view (its row id, when the cursor shuffles).
    /// </summary>
    internal sealed class RowReader : IDisposable
    {
        private readonly DataViewRowCursor _cursor;
        private readonly ValueGetter<VBuffer<float>> _featureGetter;
        private readonly TaskHead.LabelReader _labelReader;
        private readonly ValueGetter<float>? _weightGetter;
        private readonly ValueGetter<DataViewRowId>? _idGetter;
        private readonly ColumnBinding _cols;
        private readonly string _role;
        private VBuffer<float> _features;
        private DataViewRowId _id;

        public RowReader(IDataView data, ColumnBinding cols, string role, Random? shuffle, bool withIds)
        {
            _cols = cols;
            _role = role;
            var needed = new List<DataViewSchema.Column> { cols.Features, cols.Label };
            if (cols.Weight is { } wc) needed.Add(wc);
            _cursor = shuffle is null ? data.GetRowCursor(needed) : data.GetRowCursor(needed, shuffle);
            _featureGetter = _cursor.GetGetter<VBuffer<float>>(cols.Features);
            _labelReader = cols.Head.MakeLabelReader(_cursor, cols.Label, cols.OutputCount);
            _weightGetter = cols.Weight is { } w ? _cursor.GetGetter<float>(w) : null;
            _idGetter = withIds ? _cursor.GetIdGetter() : null;
            Target = new float[cols.OutputCount];
        }

        /// <summary>Index of the current row in this cursor's order (−1 before the first).</summary>
        public long Row { get; private set; } = -1;

        /// <summary>The current row's features (valid after <see cref="Read"/>).</summary>
        public VBuffer<float> Features => _features;

        /// <summary>The current row's target vector (valid after <see cref="Read"/>).</summary>
        public float[] Target { get; }

        /// <summary>The current row's example weight, 1 without a weight column (valid after <see cref="Read"/>).</summary>
        public float Weight { get; private set; } = 1;

        /// <summary>The current row's id, stable across cursors (only when made with ids).</summary>
        public DataViewRowId Id
        {
            get
            {
                _idGetter!(ref _id);
                return _id;
            }
        }

        public bool MoveNext(CancellationToken ct)
        {
            if (!_cursor.MoveNext()) return false;
            Row++;
            if ((Row & 1023) == 0) ct.ThrowIfCancellationRequested();
            return true;
        }

        /// <summary>Reads and checks the current row; returns what is wrong with it (for the message), or null.</summary>
        /// <exception cref="InvalidOperationException">The feature vector has another size than its column type says.</exception>
        public string? Read()
        {
            _featureGetter(ref _features);
            int n = _cols.FeatureCount;
            if (_features.Length != n)
                throw new InvalidOperationException($"Column '{_cols.Features.Name}' row {Row} has {_features.Length} slots; the column type says {n}.");
            string? problem = CheckFeatures(_features, _cols.Features.Name, Row, _role) ?? _labelReader(Row, Target);
            float wt = 1;
            if (problem is null && _weightGetter is not null)
            {
                _weightGetter(ref wt);
                if (!float.IsFinite(wt) || wt < 0)
                    problem = $"Column '{_cols.Weight!.Value.Name}' row {Row} is {wt.ToString(System.Globalization.CultureInfo.InvariantCulture)} in the {_role}; example weights must be finite and non-negative.";
            }
            Weight = wt;
            return problem;
        }

        public void Dispose() => _cursor.Dispose();
    }

    private static string? CheckFeatures(in VBuffer<float> features, string column, long row, string role)
    {
        var vals = features.GetValues();
        // NaN or ±∞ anywhere makes the sum non-finite, so a finite sum (one vectorized pass, the core's finite check) clears
        // the row; only a non-finite sum (a bad value, or an overflow of huge finite ones) is searched slot by slot.
        if (float.IsFinite(MLNetBackprop.Core.Kernels.FiniteCheck.Sum<float>(vals))) return null;
        var idx = features.IsDense ? default : features.GetIndices();
        for (int j = 0; j < vals.Length; j++)
            if (!float.IsFinite(vals[j]))
                return NonFinite(column, row, features.IsDense ? j : idx[j], vals[j], role);
        return null;
    }

    private static string NonFinite(string column, long row, int slot, float value, string role) =>
        $"Column '{column}' row {row} slot {slot} is {(float.IsNaN(value) ? "NaN" : value.ToString(System.Globalization.CultureInfo.InvariantCulture))} in the {role}; " +
        "features must be finite (impute missing values, e.g. with ReplaceMissingValues).";
}
