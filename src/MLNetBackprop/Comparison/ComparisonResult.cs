namespace MLNetBackprop;

/// <summary>
/// The result of a comparison: one row per candidate with the task's metrics (mean ± standard deviation over the folds),
/// fit time and scoring throughput. Renders as aligned text, Markdown or CSV, all in the invariant culture.
/// </summary>
public sealed class ComparisonResult
{
    internal ComparisonResult(BackpropTask task, string description, IReadOnlyList<string> metricNames, int foldCount, IReadOnlyList<ComparisonRow> rows,
        int outputCount)
    {
        OutputCount = outputCount;
        Task = task;
        Description = description;
        MetricNames = metricNames.ToArray();
        FoldCount = foldCount;
        Rows = rows.ToArray();
    }

    /// <summary>The task whose evaluator was used (never <see cref="BackpropTask.Auto"/>); <see cref="BackpropTask.Regression"/> for multi-output regression.</summary>
    public BackpropTask Task { get; }

    /// <summary>
    /// The number of label outputs: K for multi-output regression (a vector label, evaluated with
    /// <see cref="MultiOutputRegressionCatalogExtensions.EvaluateMultiOutputRegression"/>; 0 when no candidate could be
    /// evaluated), 1 for every other task.
    /// </summary>
    public int OutputCount { get; }

    /// <summary>True when the label is a vector (multi-output regression).</summary>
    public bool IsMultiOutput => OutputCount != 1;

    /// <summary>The task and the protocol in words, e.g. "binary classification, 5-fold cross-validation (seed 0), 699 rows".</summary>
    public string Description { get; }

    /// <summary>
    /// The metric names, in column order, the primary one first. Binary: AUC, Accuracy, F1, AUPRC, and LogLoss when some
    /// candidate outputs a Probability column. Multiclass: MicroAccuracy, MacroAccuracy, LogLoss. Regression: RSquared,
    /// RMSE, MAE. Multi-output regression: RSquared, RMSE, MAE (uniform averages over the outputs), then "RSquared[name]"
    /// for each output, named by the label's slot names.
    /// </summary>
    public IReadOnlyList<string> MetricNames { get; }

    /// <summary>The primary metric: AUC, MicroAccuracy or RSquared.</summary>
    public string PrimaryMetric => MetricNames[0];

    /// <summary>Number of folds (1 for a train/test split).</summary>
    public int FoldCount { get; }

    /// <summary>One row per candidate, in the order they were given.</summary>
    public IReadOnlyList<ComparisonRow> Rows { get; }

    /// <summary>The row with the best mean of <paramref name="metric"/> (the primary one when null), failed rows excluded; null when every row failed.</summary>
    public ComparisonRow? Best(string? metric = null)
    {
        metric ??= PrimaryMetric;
        var scored = Rows.Where(r => r.Metric(metric) is not null).ToArray();
        if (scored.Length == 0) return null;
        return HigherIsBetter(metric)
            ? scored.MaxBy(r => r.Metric(metric)!.Mean)
            : scored.MinBy(r => r.Metric(metric)!.Mean);
    }

    /// <summary>True when a larger value of <paramref name="metric"/> is better (false for LogLoss, RMSE, MAE and fit time).</summary>
    public static bool HigherIsBetter(string metric) => TaskMetrics.HigherIsBetter(metric);

    /// <summary>The table as aligned plain text for a console, headed by <see cref="Description"/>.</summary>
    /// <param name="decimals">Decimals of the metric values.</param>
    public string ToText(int decimals = 4) => ComparisonTable.Text(this, decimals);

    /// <summary>The table as GitHub-flavoured Markdown: "mean ± sd" per metric, fit seconds per fold, scoring rows per second.</summary>
    /// <param name="decimals">Decimals of the metric values.</param>
    public string ToMarkdown(int decimals = 4) => ComparisonTable.Markdown(this, decimals);

    /// <summary>
    /// The table as CSV (RFC 4180, comma separated, header line), full round-trip precision: Trainer, then for each metric
    /// its mean and "_sd" columns, FitSeconds, FitSeconds_sd, ScoringRowsPerSecond, Folds, Error. Empty cells where a
    /// value does not exist.
    /// </summary>
    public string ToCsv() => ComparisonTable.Csv(this);

    /// <summary>Same as <see cref="ToText"/>.</summary>
    public override string ToString() => ToText();
}
