using System.Numerics;

namespace MLNetBackprop.Core;

/// <summary>
/// The rows of one gradient step. Either a view of a whole <see cref="TrainingData{T}"/> (no copy) or rows
/// gathered into buffers that are reused from batch to batch.
/// </summary>
internal sealed class MiniBatch<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private T[] _dense = [];
    private int[] _rowStart = [0];
    private int[] _indices = [];
    private T[] _values = [];
    private T[] _targets = [];
    private T[] _weights = [];
    private bool _sparse;
    private bool _weighted;

    public int Rows { get; private set; }

    /// <summary>Σ w_i over the batch (the number of rows when unweighted): the m of the 1/m average.</summary>
    public double WeightSum { get; private set; }

    public int TargetCount { get; private set; }

    public ReadOnlySpan<T> Targets => _targets.AsSpan(0, Rows * TargetCount);

    /// <summary>Per-row weights, or empty when the batch is unweighted.</summary>
    public ReadOnlySpan<T> Weights => _weighted ? _weights.AsSpan(0, Rows) : default;

    public BatchInput<T> Input => _sparse
        ? BatchInput<T>.FromSparse(_rowStart.AsSpan(0, Rows + 1), _indices, _values)
        : BatchInput<T>.FromDense(_dense.AsSpan(0, Rows * _featureCount));

    private int _featureCount;

    /// <summary>A view of all rows of <paramref name="data"/>, sharing its arrays.</summary>
    public static MiniBatch<T> Whole(TrainingData<T> data)
    {
        var b = new MiniBatch<T>();
        b.SetWhole(data);
        return b;
    }

    public void SetWhole(TrainingData<T> data)
    {
        Rows = data.Count;
        TargetCount = data.TargetCount;
        _featureCount = data.FeatureCount;
        _sparse = data.HasSparseRows;
        if (_sparse)
        {
            _rowStart = data.SparseRowStart!;
            _indices = data.SparseIndices!;
            _values = data.SparseValues!;
        }
        else
        {
            _dense = data.DenseFeatures!;
        }
        _targets = data.Targets;
        _weighted = data.HasWeights;
        if (_weighted) _weights = data.Weights!;
        WeightSum = SumWeights();
    }

    /// <summary>Copies the given rows of <paramref name="data"/> into this batch's own buffers (grown as needed, never shrunk).</summary>
    public void Gather(TrainingData<T> data, ReadOnlySpan<int> rows)
    {
        int n = rows.Length, f = data.FeatureCount, t = data.TargetCount;
        Rows = n;
        TargetCount = t;
        _featureCount = f;
        _sparse = data.HasSparseRows;
        _weighted = data.HasWeights;
        Grow(ref _targets, n * t);
        for (int r = 0; r < n; r++) data.TargetRow(rows[r]).CopyTo(_targets.AsSpan(r * t, t));
        if (_weighted)
        {
            Grow(ref _weights, n);
            for (int r = 0; r < n; r++) _weights[r] = data.Weights![rows[r]];
        }
        if (_sparse)
        {
            int[] rowStart = data.SparseRowStart!, indices = data.SparseIndices!;
            T[] values = data.SparseValues!;
            Grow(ref _rowStart, n + 1);
            _rowStart[0] = 0;
            for (int r = 0; r < n; r++)
                _rowStart[r + 1] = _rowStart[r] + rowStart[rows[r] + 1] - rowStart[rows[r]];
            Grow(ref _indices, _rowStart[n]);
            Grow(ref _values, _rowStart[n]);
            for (int r = 0; r < n; r++)
            {
                int from = rowStart[rows[r]], len = rowStart[rows[r] + 1] - from;
                indices.AsSpan(from, len).CopyTo(_indices.AsSpan(_rowStart[r]));
                values.AsSpan(from, len).CopyTo(_values.AsSpan(_rowStart[r]));
            }
        }
        else
        {
            Grow(ref _dense, n * f);
            var src = data.DenseFeatures!;
            for (int r = 0; r < n; r++) src.AsSpan(rows[r] * f, f).CopyTo(_dense.AsSpan(r * f, f));
        }
        WeightSum = SumWeights();
    }

    private TrainingData<T>? _view;

    /// <summary>
    /// This batch's rows as a <see cref="TrainingData{T}"/> over the same buffers (valid until the next Gather). The
    /// wrapper is reused while the size and the buffers stay, so a stream of equal blocks allocates nothing per block.
    /// </summary>
    public TrainingData<T> ToTrainingData()
    {
        var weights = _weighted ? _weights : null;
        if (_view is { } v && v.Count == Rows && v.Targets == _targets && v.Weights == weights
            && (_sparse ? v.RowStart == _rowStart && v.Indices == _indices && v.Values == _values : v.DenseFeatures == _dense))
            return v;
        return _view = _sparse
            ? TrainingData<T>.Trusted(Rows, _featureCount, TargetCount, null, _rowStart, _indices, _values, _targets, weights)
            : TrainingData<T>.Trusted(Rows, _featureCount, TargetCount, _dense, null, null, null, _targets, weights);
    }

    private double SumWeights()
    {
        if (!_weighted) return Rows;
        double s = 0;
        for (int i = 0; i < Rows; i++) s += double.CreateTruncating(_weights[i]);
        return s;
    }

    private static void Grow<TElement>(ref TElement[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new TElement[Math.Max(length, buffer.Length * 2)];
    }
}
