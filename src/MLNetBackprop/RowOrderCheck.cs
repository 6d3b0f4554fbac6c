using System.Globalization;
using Microsoft.ML.Data;

namespace MLNetBackprop;

/// <summary>
/// Whether the rows of a view come in a drifting order (sorted by a label, by time, by a feature) or in one that looks
/// random, from one pass in the view's order: for each column (every feature, up to <see cref="MaxFeatures"/>, and every
/// target) a one-way analysis of variance of its values over consecutive chunks of rows. With a random order the
/// F statistic is about 1 (its standard deviation about √(2 / (chunks − 1))); a column whose chunk means differ by more than
/// chance gives a large F. Memory is five doubles per column, whatever the row count. The chunk means are combined by
/// Welford's update and each chunk's spread is taken about its own mean, so a column with a large mean and a small spread
/// does not lose its variance to rounding.
/// </summary>
internal sealed class RowOrderCheck
{
    /// <summary>Above this many features only the targets are checked (the per-column sums would outgrow a block).</summary>
    public const int MaxFeatures = 65_536;

    /// <summary>Drift is declared when F passes 1 + this many standard deviations of F under a random order.</summary>
    public const double Sigmas = 6;

    private readonly int _features, _targets, _chunkRows;
    private readonly double[] _chunk, _chunkSq, _mean, _between, _within;
    private int _inChunk;
    private long _rows;
    private int _chunks;

    public RowOrderCheck(int features, int targets, int chunkRows)
    {
        _features = features <= MaxFeatures ? features : 0;
        _targets = targets;
        _chunkRows = chunkRows;
        int n = _features + targets;
        _chunk = new double[n];
        _chunkSq = new double[n];
        _mean = new double[n];
        _between = new double[n];
        _within = new double[n];
    }

    /// <summary>Whether the features are checked too, or only the targets (more than <see cref="MaxFeatures"/> features).</summary>
    public bool ChecksFeatures => _features > 0;

    public void Add(VBuffer<float> features, ReadOnlySpan<float> target)
    {
        if (_features > 0)
        {
            var v = features.GetValues();
            if (features.IsDense)
                for (int j = 0; j < v.Length; j++) Accumulate(j, v[j]);
            else
            {
                var idx = features.GetIndices();
                for (int i = 0; i < v.Length; i++) Accumulate(idx[i], v[i]);
            }
        }
        for (int j = 0; j < _targets; j++) Accumulate(_features + j, target[j]);
        _rows++;
        if (++_inChunk == _chunkRows) EndChunk();
    }

    private void Accumulate(int j, double x)
    {
        _chunk[j] += x;
        _chunkSq[j] += x * x;
    }

    private void EndChunk()
    {
        if (_inChunk == 0) return;
        double n = _inChunk, total = _rows;
        for (int j = 0; j < _chunk.Length; j++)
        {
            double m = _chunk[j] / n;
            _within[j] += Math.Max(_chunkSq[j] - _chunk[j] * m, 0);
            // Welford over the chunk means, weighted by the chunk's rows: the sum of squares between the chunks.
            double d = m - _mean[j];
            _mean[j] += d * n / total;
            _between[j] += n * d * (m - _mean[j]);
            _chunk[j] = 0;
            _chunkSq[j] = 0;
        }
        _chunks++;
        _inChunk = 0;
    }

    /// <summary>
    /// The largest F over the columns (NaN with fewer than three chunks), the column it belongs to (features first, then
    /// targets), and the threshold F must pass to count as drift.
    /// </summary>
    public (double F, int Column, double Threshold, int Chunks) Result()
    {
        EndChunk();
        int k = _chunks;
        double threshold = k > 1 ? 1 + Sigmas * Math.Sqrt(2.0 / (k - 1)) : double.NaN;
        if (k < 3 || _rows <= k) return (double.NaN, -1, threshold, k);
        double worst = 0;
        int at = -1;
        for (int j = 0; j < _mean.Length; j++)
        {
            // F = (between / (k − 1)) / (within / (n − k)). A column constant within every chunk but not across them is
            // the strongest drift there is; one constant everywhere says nothing.
            double between = Math.Max(_between[j], 0), within = _within[j];
            double f = within > 0 ? between / (k - 1) / (within / (_rows - k)) : between > 0 ? double.PositiveInfinity : 0;
            if (f > worst) (worst, at) = (f, j);
        }
        return (worst, at, threshold, k);
    }

    /// <summary>The column of <see cref="Result"/> as a user reads it.</summary>
    public string Describe(int column, string featureColumn, string labelColumn) =>
        column < 0 ? "none"
        : column < _features ? string.Create(CultureInfo.InvariantCulture, $"slot {column} of column '{featureColumn}'")
        : _targets == 1 ? $"column '{labelColumn}'"
        : string.Create(CultureInfo.InvariantCulture, $"slot {column - _features} of column '{labelColumn}'");
}
