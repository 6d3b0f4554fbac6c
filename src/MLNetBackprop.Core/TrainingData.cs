using System.Numerics;

namespace MLNetBackprop.Core;

/// <summary>
/// Training examples: features (dense row-major, or sparse rows in compressed-row form), target vectors and
/// optional example weights. Sparse rows stay sparse: the first layer multiplies them without densifying.
/// </summary>
public sealed class TrainingData<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private TrainingData(int count, int featureCount, int targetCount, T[]? dense, int[]? rowStart, int[]? indices,
        T[]? values, T[] targets, T[]? weights)
    {
        Count = count;
        FeatureCount = featureCount;
        TargetCount = targetCount;
        DenseFeatures = dense;
        RowStart = rowStart;
        Indices = indices;
        Values = values;
        Targets = targets;
        Weights = weights;
    }

    /// <summary>Number of examples m.</summary>
    public int Count { get; }

    /// <summary>Width of a feature row (the network's input size).</summary>
    public int FeatureCount { get; }

    /// <summary>Width of a target row (the network's output size).</summary>
    public int TargetCount { get; }

    /// <summary>True when the features are stored as sparse rows.</summary>
    public bool IsSparse => RowStart is not null;

    /// <summary>True when examples carry weights.</summary>
    public bool HasWeights => Weights is not null;

    internal T[]? DenseFeatures { get; }
    internal int[]? RowStart { get; }
    internal int[]? Indices { get; }
    internal T[]? Values { get; }

    /// <summary>
    /// Dense features at most this dense (share of non-zeros) also get a compressed-row copy, and the first layer
    /// multiplies their non-zeros only. The sparse products give the dense ones' bits, so this changes the speed, never
    /// the trained network. Measured on MNIST rows with pixels dropped (784 → 128, batch 64, 2 threads, forward +
    /// weight gradient): 5 % non-zero 158 µs sparse vs 275 dense, 10 % 197 vs 256, 19 % (MNIST itself) 233 vs 238 —
    /// the per-batch transposes and the fold back into G's layout cost ~75 µs whatever the density.
    /// </summary>
    internal const double SparseCopyMaxDensity = 0.1;

    /// <summary>Dense features narrower than this are never copied to compressed rows (nothing to gain).</summary>
    internal const int SparseCopyMinFeatures = 32;

    private (int[] RowStart, int[] Indices, T[] Values)? _sparseCopy;

    /// <summary>True when the first layer reads compressed rows: sparse data, or mostly-zero dense data's copy.</summary>
    internal bool HasSparseRows => RowStart is not null || _sparseCopy is not null;

    internal int[]? SparseRowStart => RowStart ?? _sparseCopy?.RowStart;
    internal int[]? SparseIndices => Indices ?? _sparseCopy?.Indices;
    internal T[]? SparseValues => Values ?? _sparseCopy?.Values;

    /// <summary>Rows already validated (a mini-batch's buffers), wrapped without a check or a copy.</summary>
    internal static TrainingData<T> Trusted(int count, int featureCount, int targetCount, T[]? dense, int[]? rowStart, int[]? indices,
        T[]? values, T[] targets, T[]? weights) =>
        new(count, featureCount, targetCount, dense, rowStart, indices, values, targets, weights);

    /// <summary>The same data without the compressed-row copy of dense features (tests and benchmarks compare the paths).</summary>
    internal TrainingData<T> WithoutSparseCopy() =>
        new(Count, FeatureCount, TargetCount, DenseFeatures, RowStart, Indices, Values, Targets, Weights);

    private TrainingData<T> WithSparseCopyIfMostlyZero()
    {
        if (DenseFeatures is null || FeatureCount < SparseCopyMinFeatures) return this;
        long nnz = CountNonZeros(DenseFeatures);
        if (nnz > SparseCopyMaxDensity * DenseFeatures.Length) return this;
        _sparseCopy = CompressedRows(DenseFeatures, nnz);
        return this;
    }

    /// <summary>
    /// The same examples with the features in compressed-row form (zeros dropped); sparse data is returned as it is.
    /// Targets and weights are shared, not copied. Training on either gives the same network, bit for bit.
    /// </summary>
    public TrainingData<T> ToSparse()
    {
        if (IsSparse) return this;
        var (rowStart, indices, values) = CompressedRows(DenseFeatures!, CountNonZeros(DenseFeatures!));
        return new TrainingData<T>(Count, FeatureCount, TargetCount, null, rowStart, indices, values, Targets, Weights);
    }

    private static long CountNonZeros(T[] x)
    {
        long nnz = 0;
        foreach (T v in x) nnz += v != T.Zero ? 1 : 0;
        return nnz;
    }

    private (int[] RowStart, int[] Indices, T[] Values) CompressedRows(T[] x, long nnz)
    {
        var rowStart = new int[Count + 1];
        var indices = new int[nnz];
        var values = new T[nnz];
        int k = 0;
        for (int r = 0; r < Count; r++)
        {
            rowStart[r] = k;
            for (int j = 0; j < FeatureCount; j++)
            {
                T v = x[r * FeatureCount + j];
                if (v == T.Zero) continue;
                indices[k] = j;
                values[k++] = v;
            }
        }
        rowStart[Count] = k;
        return (rowStart, indices, values);
    }
    internal T[] Targets { get; }
    internal T[]? Weights { get; }

    /// <summary>Σ w_i over the rows (the row count when unweighted).</summary>
    internal double WeightSum()
    {
        if (Weights is null) return Count;
        double s = 0;
        for (int i = 0; i < Count; i++) s += double.CreateTruncating(Weights[i]);
        return s;
    }

    /// <summary>The target row of example <paramref name="row"/>.</summary>
    public ReadOnlySpan<T> TargetRow(int row) => Targets.AsSpan(row * TargetCount, TargetCount);

    /// <summary>
    /// Dense examples. <paramref name="features"/> holds m rows of <paramref name="featureCount"/> values,
    /// <paramref name="targets"/> m rows of <paramref name="targetCount"/>; <paramref name="weights"/>, if given, m
    /// non-negative values with a positive sum. The arrays are used as they are, not copied.
    /// </summary>
    /// <exception cref="ArgumentException">A length does not fit, or a value is NaN or infinite (the message names the row and column).</exception>
    public static TrainingData<T> FromDense(T[] features, int featureCount, T[] targets, int targetCount, T[]? weights = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(targets);
        CheckCounts(featureCount, targetCount);
        if (features.Length % featureCount != 0)
            throw new ArgumentException($"The feature array length {features.Length} is not a multiple of the feature count {featureCount}.", nameof(features));
        int m = features.Length / featureCount;
        CheckTargetsAndWeights(m, targets, targetCount, weights);
        for (int i = 0; i < features.Length; i++)
            if (!T.IsFinite(features[i]))
                throw new ArgumentException($"Feature {i % featureCount} of row {i / featureCount} is {features[i]}; features must be finite.", nameof(features));
        return new TrainingData<T>(m, featureCount, targetCount, features, null, null, null, targets, weights).WithSparseCopyIfMostlyZero();
    }

    /// <summary>
    /// Sparse examples in compressed-row form: the non-zeros of row i are <paramref name="indices"/>[k] and
    /// <paramref name="values"/>[k] for k in [rowStart[i], rowStart[i + 1]); indices in each row strictly increasing.
    /// </summary>
    /// <exception cref="ArgumentException">The structure is inconsistent or a value is not finite (the message names the row).</exception>
    public static TrainingData<T> FromSparse(int[] rowStart, int[] indices, T[] values, int featureCount, T[] targets, int targetCount, T[]? weights = null)
    {
        ArgumentNullException.ThrowIfNull(rowStart);
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(targets);
        CheckCounts(featureCount, targetCount);
        if (rowStart.Length < 1 || rowStart[0] != 0)
            throw new ArgumentException("rowStart must have m + 1 entries starting at 0.", nameof(rowStart));
        int m = rowStart.Length - 1;
        if (indices.Length != values.Length || rowStart[m] != indices.Length)
            throw new ArgumentException($"rowStart ends at {rowStart[m]} but there are {indices.Length} indices and {values.Length} values.", nameof(rowStart));
        CheckSparseRows(m, rowStart, indices, values, featureCount);
        CheckTargetsAndWeights(m, targets, targetCount, weights);
        return new TrainingData<T>(m, featureCount, targetCount, null, rowStart, indices, values, targets, weights);
    }

    /// <summary>The feature and target counts every factory takes must be positive (the exception names the parameter).</summary>
    private static void CheckCounts(int featureCount, int targetCount)
    {
        if (featureCount <= 0) throw new ArgumentOutOfRangeException(nameof(featureCount), featureCount, "The feature count must be positive.");
        if (targetCount <= 0) throw new ArgumentOutOfRangeException(nameof(targetCount), targetCount, "The target count must be positive.");
    }

    /// <summary>
    /// The first <paramref name="rowCount"/> dense rows of buffers that may be longer, used as they are (not copied): for
    /// an <see cref="ITrainingDataStream{T}"/> that refills the same buffers block after block. Validated like
    /// <see cref="FromDense(T[], int, T[], int, T[])"/> over those rows; no compressed-row copy is made.
    /// </summary>
    /// <exception cref="ArgumentException">A buffer is too short, or a value is not finite (the message names the row).</exception>
    public static TrainingData<T> FromDenseRows(int rowCount, T[] features, int featureCount, T[] targets, int targetCount, T[]? weights = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(targets);
        CheckCounts(featureCount, targetCount);
        ArgumentOutOfRangeException.ThrowIfNegative(rowCount);
        if (features.Length < (long)rowCount * featureCount)
            throw new ArgumentException($"The feature buffer holds {features.Length} values, fewer than {rowCount} rows × {featureCount}.", nameof(features));
        CheckTargetsAndWeights(rowCount, targets, targetCount, weights, exact: false);
        for (int i = 0; i < rowCount * featureCount; i++)
            if (!T.IsFinite(features[i]))
                throw new ArgumentException($"Feature {i % featureCount} of row {i / featureCount} is {features[i]}; features must be finite.", nameof(features));
        return new TrainingData<T>(rowCount, featureCount, targetCount, features, null, null, null, targets, weights);
    }

    /// <summary>
    /// The first <paramref name="rowCount"/> compressed rows of buffers that may be longer, used as they are (not copied):
    /// the sparse counterpart of <see cref="FromDenseRows"/>, validated like
    /// <see cref="FromSparse(int[], int[], T[], int, T[], int, T[])"/> over those rows.
    /// </summary>
    /// <exception cref="ArgumentException">The structure is inconsistent or a value is not finite (the message names the row).</exception>
    public static TrainingData<T> FromSparseRows(int rowCount, int[] rowStart, int[] indices, T[] values, int featureCount, T[] targets, int targetCount,
        T[]? weights = null)
    {
        ArgumentNullException.ThrowIfNull(rowStart);
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(targets);
        CheckCounts(featureCount, targetCount);
        ArgumentOutOfRangeException.ThrowIfNegative(rowCount);
        if (rowStart.Length < rowCount + 1 || rowStart[0] != 0)
            throw new ArgumentException($"rowStart must have at least {rowCount} + 1 entries starting at 0.", nameof(rowStart));
        if (indices.Length < rowStart[rowCount] || values.Length < rowStart[rowCount])
            throw new ArgumentException($"rowStart ends at {rowStart[rowCount]} but there are {indices.Length} indices and {values.Length} values.", nameof(rowStart));
        CheckSparseRows(rowCount, rowStart, indices, values, featureCount);
        CheckTargetsAndWeights(rowCount, targets, targetCount, weights, exact: false);
        return new TrainingData<T>(rowCount, featureCount, targetCount, null, rowStart, indices, values, targets, weights);
    }

    private static void CheckSparseRows(int m, int[] rowStart, int[] indices, T[] values, int featureCount)
    {
        for (int r = 0; r < m; r++)
        {
            if (rowStart[r + 1] < rowStart[r])
                throw new ArgumentException($"rowStart decreases at row {r}.", nameof(rowStart));
            int prev = -1;
            for (int k = rowStart[r]; k < rowStart[r + 1]; k++)
            {
                if (indices[k] <= prev || indices[k] >= featureCount)
                    throw new ArgumentException($"Row {r} has index {indices[k]}; indices must increase within a row and lie in [0, {featureCount}).", nameof(indices));
                if (!T.IsFinite(values[k]))
                    throw new ArgumentException($"Feature {indices[k]} of row {r} is {values[k]}; features must be finite.", nameof(values));
                prev = indices[k];
            }
        }
    }

    private static void CheckTargetsAndWeights(int m, T[] targets, int targetCount, T[]? weights, bool exact = true)
    {
        if (m == 0) throw new ArgumentException("The training data has no rows.", nameof(targets));
        if (exact ? targets.Length != (long)m * targetCount : targets.Length < (long)m * targetCount)
            throw new ArgumentException($"Expected {m} × {targetCount} = {(long)m * targetCount} targets, got {targets.Length}.", nameof(targets));
        for (int i = 0; i < m * targetCount; i++)
            if (!T.IsFinite(targets[i]))
                throw new ArgumentException($"Target {i % targetCount} of row {i / targetCount} is {targets[i]}; targets must be finite.", nameof(targets));
        if (weights is null) return;
        if (exact ? weights.Length != m : weights.Length < m)
            throw new ArgumentException($"Expected {m} example weights, got {weights.Length}.", nameof(weights));
        T sum = T.Zero;
        for (int i = 0; i < m; i++)
        {
            if (!T.IsFinite(weights[i]) || weights[i] < T.Zero)
                throw new ArgumentException($"The weight of row {i} is {weights[i]}; weights must be finite and non-negative.", nameof(weights));
            sum += weights[i];
        }
        // A block of a stream may weigh zero (all its rows in a class weighted 0); a whole data set may not.
        if (exact && !(sum > T.Zero)) throw new ArgumentException("The example weights sum to zero.", nameof(weights));
    }

    /// <summary>A new data set holding the given rows, in that order (copied).</summary>
    public TrainingData<T> Subset(ReadOnlySpan<int> rows)
    {
        var targets = new T[rows.Length * TargetCount];
        T[]? weights = Weights is null ? null : new T[rows.Length];
        for (int r = 0; r < rows.Length; r++)
        {
            TargetRow(rows[r]).CopyTo(targets.AsSpan(r * TargetCount));
            if (weights is not null) weights[r] = Weights![rows[r]];
        }
        if (!IsSparse)
        {
            var dense = new T[rows.Length * FeatureCount];
            for (int r = 0; r < rows.Length; r++)
                DenseFeatures.AsSpan(rows[r] * FeatureCount, FeatureCount).CopyTo(dense.AsSpan(r * FeatureCount));
            var subset = new TrainingData<T>(rows.Length, FeatureCount, TargetCount, dense, null, null, null, targets, weights);
            return _sparseCopy is null ? subset : subset.WithSparseCopyIfMostlyZero();
        }
        var start = new int[rows.Length + 1];
        for (int r = 0; r < rows.Length; r++) start[r + 1] = start[r] + RowStart![rows[r] + 1] - RowStart[rows[r]];
        var idx = new int[start[^1]];
        var val = new T[start[^1]];
        for (int r = 0; r < rows.Length; r++)
        {
            int from = RowStart![rows[r]], len = RowStart[rows[r] + 1] - from;
            Indices.AsSpan(from, len).CopyTo(idx.AsSpan(start[r]));
            Values.AsSpan(from, len).CopyTo(val.AsSpan(start[r]));
        }
        return new TrainingData<T>(rows.Length, FeatureCount, TargetCount, null, start, idx, val, targets, weights);
    }

    /// <summary>One-hot target rows for class indices 0 … classCount − 1.</summary>
    public static T[] OneHot(ReadOnlySpan<int> classes, int classCount)
    {
        var y = new T[classes.Length * classCount];
        for (int i = 0; i < classes.Length; i++)
        {
            if ((uint)classes[i] >= (uint)classCount)
                throw new ArgumentOutOfRangeException(nameof(classes), $"Row {i} has class {classes[i]}, outside [0, {classCount}).");
            y[i * classCount + classes[i]] = T.One;
        }
        return y;
    }
}
