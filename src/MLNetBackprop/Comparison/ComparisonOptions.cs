namespace MLNetBackprop;

/// <summary>How a comparison runs: the task, the label, the split, the seed and a progress callback.</summary>
public sealed class ComparisonOptions
{
    /// <summary>
    /// The task, which picks ML.NET's evaluator. <see cref="BackpropTask.Auto"/> (the default) follows the label
    /// column's type after the featurization, as the trainer does: Boolean → binary classification, key → multiclass
    /// classification, Single → regression, a known-size vector of Single → multi-output regression (evaluated with
    /// <see cref="MultiOutputRegressionCatalogExtensions.EvaluateMultiOutputRegression"/>; ML.NET's one-output regressors
    /// take part through <see cref="MultiOutputRegressionCatalogExtensions.PerOutputRegression"/>).
    /// </summary>
    public BackpropTask Task { get; set; } = BackpropTask.Auto;

    /// <summary>The label column the evaluator reads (after the featurization). Default "Label".</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>Cross-validation (the default) or one train/test split. Ignored when a test set is given.</summary>
    public ComparisonProtocol Protocol { get; set; } = ComparisonProtocol.CrossValidation;

    /// <summary>Number of cross-validation folds, at least 2. Default 5.</summary>
    public int NumberOfFolds { get; set; } = 5;

    /// <summary>Fraction of the rows held out for testing with <see cref="ComparisonProtocol.TrainTestSplit"/>, in (0, 1). Default 0.2.</summary>
    public double TestFraction { get; set; } = 0.2;

    /// <summary>
    /// Optional column whose equal values are kept in the same fold or on the same side of the split (ML.NET's
    /// <c>samplingKeyColumnName</c>: grouping, not stratification). Default null: rows are assigned at random.
    /// </summary>
    public string? SamplingKeyColumnName { get; set; }

    /// <summary>
    /// Seed of the split or the folds. Null (the default) draws one seed from the MLContext, once, so every candidate
    /// still sees the same rows.
    /// </summary>
    public int? Seed { get; set; }

    /// <summary>
    /// Wall-clock time spent measuring each candidate's scoring throughput, spread over its folds: the held-out rows are
    /// scored repeatedly (one cursor, reading the Score column) until this much time has passed. At least one pass is
    /// always made. Default 100 ms.
    /// </summary>
    public TimeSpan ScoringMeasurementTime { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// When a candidate throws, record the error in its row and go on with the next one instead of failing the whole
    /// comparison. Default false.
    /// </summary>
    public bool ContinueOnError { get; set; }

    /// <summary>Called on the comparing thread before and after every fit and when a candidate is done. Default null.</summary>
    public Action<ComparisonProgress>? Progress { get; set; }

    internal ComparisonOptions Clone() => (ComparisonOptions)MemberwiseClone();
}
