using Microsoft.ML;

namespace MLNetBackprop;

/// <summary>One candidate's result: its metrics over the folds, fit times and scoring throughput.</summary>
public sealed class ComparisonRow
{
    internal ComparisonRow(string name, IReadOnlyList<MetricSummary> metrics, IReadOnlyList<TimeSpan> fitTimes, double scoringRowsPerSecond,
        IReadOnlyList<ITransformer> models, Exception? error)
    {
        Name = name;
        Metrics = metrics.ToArray();
        FitTimes = fitTimes.ToArray();
        ScoringRowsPerSecond = scoringRowsPerSecond;
        Models = models.ToArray();
        Error = error;
        if (FitTimes.Count > 0)
        {
            FitSeconds = new MetricSummary("FitSeconds", FitTimes.Select(t => t.TotalSeconds).ToArray());
        }
    }

    /// <summary>The candidate's name.</summary>
    public string Name { get; }

    /// <summary>The task's metrics in the result's metric order; empty when the candidate failed.</summary>
    public IReadOnlyList<MetricSummary> Metrics { get; }

    /// <summary>Wall-clock time of the trainer's Fit in every fold (it includes reading the featurized training rows, not fitting the featurization).</summary>
    public IReadOnlyList<TimeSpan> FitTimes { get; }

    /// <summary>Fit time in seconds per fold: values, mean and standard deviation; null when no fit completed.</summary>
    public MetricSummary? FitSeconds { get; }

    /// <summary>
    /// Held-out rows scored per second through the fitted pipeline (featurization and model), by one cursor reading the
    /// Score column; NaN when the candidate failed.
    /// </summary>
    public double ScoringRowsPerSecond { get; }

    /// <summary>The fitted pipelines (featurization and trainer), one per fold.</summary>
    public IReadOnlyList<ITransformer> Models { get; }

    /// <summary>The exception the candidate threw, when <see cref="ComparisonOptions.ContinueOnError"/> let the comparison go on; else null.</summary>
    public Exception? Error { get; }

    /// <summary>The metric called <paramref name="name"/>, or null when this row has none (e.g. LogLoss of an uncalibrated binary classifier).</summary>
    public MetricSummary? Metric(string name) => Metrics.FirstOrDefault(m => m.Name == name);
}
