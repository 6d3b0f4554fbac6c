using Microsoft.ML;

namespace MLNetBackprop;

/// <summary>
/// Comparative evaluation: <c>mlContext.Backprop().Compare(...)</c> runs one featurization and several named trainers
/// (this library's with different options, ML.NET's built-ins) through the same cross-validation folds or the same
/// train/test split, and returns a table of the task's metrics, fit times and scoring throughput.
/// </summary>
public static class ComparisonCatalogExtensions
{
    /// <summary>
    /// Compares <paramref name="candidates"/> on <paramref name="data"/> by k-fold cross-validation (ML.NET's
    /// <c>CrossValidate</c> of the task's catalog) or one train/test split (<c>Data.TrainTestSplit</c>), as
    /// <paramref name="options"/> say. Each candidate is fitted as <c>featurization.Append(trainer)</c> and scored with
    /// ML.NET's evaluator of the task; every candidate sees the same rows.
    /// </summary>
    /// <param name="catalog">The backpropagation catalog, <c>mlContext.Backprop()</c>.</param>
    /// <param name="data">All the rows.</param>
    /// <param name="featurization">
    /// The estimator that turns the rows into the trainers' input (e.g. MapValueToKey for a multiclass label,
    /// NormalizeMeanVariance for the features); fitted anew on every training fold. Use an empty
    /// <c>new EstimatorChain&lt;ITransformer&gt;()</c> when the data needs none.
    /// </param>
    /// <param name="candidates">Named trainers, in the order of the table's rows; names must be distinct.</param>
    /// <param name="options">Task, label, protocol, seed and progress; null keeps the defaults (5-fold cross-validation).</param>
    /// <returns>One row per candidate.</returns>
    /// <exception cref="ArgumentException">No candidates, a repeated or empty name, or a label the task cannot use.</exception>
    public static ComparisonResult Compare(this BackpropCatalog catalog, IDataView data, IEstimator<ITransformer> featurization,
        IEnumerable<(string Name, IEstimator<ITransformer> Trainer)> candidates, ComparisonOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(data);
        return new ComparisonRunner(Context(catalog), featurization, candidates, options).Run(data, null);
    }

    /// <summary>
    /// Compares <paramref name="candidates"/> on a given split: each is fitted as <c>featurization.Append(trainer)</c> on
    /// <paramref name="trainData"/> and evaluated on <paramref name="testData"/> with ML.NET's evaluator of the task.
    /// <see cref="ComparisonOptions.Protocol"/> is ignored.
    /// </summary>
    /// <param name="catalog">The backpropagation catalog, <c>mlContext.Backprop()</c>.</param>
    /// <param name="trainData">The training rows.</param>
    /// <param name="testData">The test rows, with the same columns.</param>
    /// <param name="featurization">The estimator that turns the rows into the trainers' input; fitted on the training rows.</param>
    /// <param name="candidates">Named trainers, in the order of the table's rows; names must be distinct.</param>
    /// <param name="options">Task, label and progress; null keeps the defaults.</param>
    /// <returns>One row per candidate.</returns>
    /// <exception cref="ArgumentException">No candidates, a repeated or empty name, or a label the task cannot use.</exception>
    public static ComparisonResult Compare(this BackpropCatalog catalog, IDataView trainData, IDataView testData,
        IEstimator<ITransformer> featurization, IEnumerable<(string Name, IEstimator<ITransformer> Trainer)> candidates,
        ComparisonOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(trainData);
        ArgumentNullException.ThrowIfNull(testData);
        return new ComparisonRunner(Context(catalog), featurization, candidates, options).Run(trainData, testData);
    }

    private static MLContext Context(BackpropCatalog catalog) => catalog.Environment as MLContext
        ?? throw new InvalidOperationException("Compare needs a catalog made by mlContext.Backprop().");
}
