namespace MLNetBackprop;

/// <summary>
/// Metrics of a multi-output regression (a vector label scored by a vector Score of the same length): for every output
/// the metrics ML.NET's <c>RegressionMetrics</c> has for one output, computed the same way, and their uniform averages
/// (scikit-learn's <c>multioutput='uniform_average'</c>). Made by
/// <see cref="MultiOutputRegressionCatalogExtensions.EvaluateMultiOutputRegression"/>.
/// </summary>
/// <remarks>
/// <para>Per output k, over the rows whose label slot k and score slot k are both not NaN (ML.NET's regression
/// evaluator skips a row with a NaN label or a NaN score in the same way; here the skipping is per output, so output k
/// gets exactly the metrics <c>mlContext.Regression.Evaluate</c> gives on slot k alone): MAE = mean |y − ŷ|,
/// MSE = mean (y − ŷ)², RMSE = √MSE, R² = 1 − SS_res / SS_tot with SS_tot = Σ (y − ȳ)².</para>
/// <para>An output whose label is constant over its rows has SS_tot = 0 and no defined R²: its R² is NaN, as ML.NET
/// reports it, and so is the averaged <see cref="RSquared"/> (scikit-learn's default instead substitutes 1 or 0, which
/// would silently move the average).</para>
/// </remarks>
public sealed class MultiOutputRegressionMetrics
{
    internal MultiOutputRegressionMetrics(string[] outputNames, double[] mae, double[] mse, double[] rSquared, long[] rowCounts,
        long[] skippedLabels, long[] skippedScores)
    {
        OutputNames = outputNames;
        PerOutputMeanAbsoluteError = mae;
        PerOutputMeanSquaredError = mse;
        PerOutputRootMeanSquaredError = mse.Select(Math.Sqrt).ToArray();
        PerOutputRSquared = rSquared;
        PerOutputRowCount = rowCounts;
        PerOutputNaNLabelCount = skippedLabels;
        PerOutputNaNScoreCount = skippedScores;
        MeanAbsoluteError = mae.Average();
        MeanSquaredError = mse.Average();
        RootMeanSquaredError = PerOutputRootMeanSquaredError.Average();
        RSquared = rSquared.Average();
    }

    /// <summary>Number of outputs K (the length of the label and score vectors).</summary>
    public int OutputCount => OutputNames.Count;

    /// <summary>
    /// The outputs' names: the label column's slot names when it has K of them (Concatenate of scalar columns gives
    /// the columns' names), else "0" … "K−1".
    /// </summary>
    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>Uniform average over the outputs of <see cref="PerOutputRSquared"/>; NaN when some output's R² is undefined.</summary>
    public double RSquared { get; }

    /// <summary>Uniform average over the outputs of <see cref="PerOutputRootMeanSquaredError"/> (not the root of the averaged MSE).</summary>
    public double RootMeanSquaredError { get; }

    /// <summary>Uniform average over the outputs of <see cref="PerOutputMeanAbsoluteError"/>.</summary>
    public double MeanAbsoluteError { get; }

    /// <summary>Uniform average over the outputs of <see cref="PerOutputMeanSquaredError"/>.</summary>
    public double MeanSquaredError { get; }

    /// <summary>R² = 1 − SS_res / SS_tot of every output, as ML.NET's <c>RegressionMetrics.RSquared</c>; NaN for a constant output.</summary>
    public IReadOnlyList<double> PerOutputRSquared { get; }

    /// <summary>Root mean squared error of every output.</summary>
    public IReadOnlyList<double> PerOutputRootMeanSquaredError { get; }

    /// <summary>Mean absolute error of every output.</summary>
    public IReadOnlyList<double> PerOutputMeanAbsoluteError { get; }

    /// <summary>Mean squared error of every output.</summary>
    public IReadOnlyList<double> PerOutputMeanSquaredError { get; }

    /// <summary>Rows that entered each output's metrics (label and score slot both not NaN).</summary>
    public IReadOnlyList<long> PerOutputRowCount { get; }

    /// <summary>Rows skipped for each output because the label slot is NaN (a missing label, as ML.NET's evaluator treats it).</summary>
    public IReadOnlyList<long> PerOutputNaNLabelCount { get; }

    /// <summary>Rows skipped for each output because the score slot is NaN (with a label present), as ML.NET's evaluator skips them.</summary>
    public IReadOnlyList<long> PerOutputNaNScoreCount { get; }
}
