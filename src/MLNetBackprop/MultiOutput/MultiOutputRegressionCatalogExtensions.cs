using System.Runtime.CompilerServices;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop;

/// <summary>
/// Multi-output regression (a known-size vector of Single as the label, a vector Score of the same length) on the
/// backpropagation catalog: an evaluator, cross-validation, and a per-output wrapper that lets ML.NET's one-output
/// regressors fit such a label. ML.NET's own <c>Regression.Evaluate</c> and <c>CrossValidate</c> accept only a Single label.
/// </summary>
public static class MultiOutputRegressionCatalogExtensions
{
    /// <summary>
    /// Evaluates scored multi-output regression data: per output the metrics of ML.NET's <c>Regression.Evaluate</c> on
    /// that slot alone (R², RMSE, MAE, MSE), and their uniform averages. See <see cref="MultiOutputRegressionMetrics"/>
    /// for the definitions, NaN labels and scores (skipped per output, as ML.NET skips them) and constant outputs (R² NaN).
    /// There is no example-weight parameter: ML.NET's <c>Regression.Evaluate</c> has none either.
    /// </summary>
    /// <param name="catalog">The backpropagation catalog, <c>mlContext.Backprop()</c>.</param>
    /// <param name="data">The scored data.</param>
    /// <param name="labelColumnName">The label column: a known-size vector of Single (or Single, one output).</param>
    /// <param name="scoreColumnName">The score column: the same type and length as the label.</param>
    /// <returns>The per-output and averaged metrics.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A column is not in <paramref name="data"/>.</exception>
    /// <exception cref="ArgumentException">A column has another type, the lengths differ, or an output has no row with
    /// both a label and a score.</exception>
    public static MultiOutputRegressionMetrics EvaluateMultiOutputRegression(this BackpropCatalog catalog, IDataView data,
        string labelColumnName = "Label", string scoreColumnName = "Score")
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return MultiOutputRegressionEvaluator.Evaluate(data, labelColumnName, scoreColumnName);
    }

    /// <summary>
    /// Cross-validates <paramref name="estimator"/> on a multi-output regression task: the folds are ML.NET's
    /// <c>Data.CrossValidationSplit</c> with the same arguments, which are the folds <c>Regression.CrossValidate</c> would
    /// use (same seed, same <paramref name="samplingKeyColumnName"/> grouping, the MLContext's seed when
    /// <paramref name="seed"/> is null); each fold is fitted, its held-out rows are scored (a transformer chain with
    /// every scope, as ML.NET's cross-validation does) and evaluated with <see cref="EvaluateMultiOutputRegression"/>.
    /// </summary>
    /// <param name="catalog">The backpropagation catalog, <c>mlContext.Backprop()</c>.</param>
    /// <param name="data">The data to cross-validate on.</param>
    /// <param name="estimator">The estimator to fit (featurization and trainer); it must write a "Score" column.</param>
    /// <param name="numberOfFolds">Number of folds, at least 2.</param>
    /// <param name="labelColumnName">The label column (after the estimator's transforms) the evaluation reads.</param>
    /// <param name="samplingKeyColumnName">Optional column whose equal values stay in the same fold (grouping, not stratification).</param>
    /// <param name="seed">Seed of the fold assignment; null uses the MLContext's seed, as ML.NET does.</param>
    /// <returns>One result per fold, in fold order.</returns>
    /// <exception cref="ArgumentException">The estimator's output has no such label, or no vector Score.</exception>
    public static IReadOnlyList<MultiOutputCrossValidationResult> CrossValidateMultiOutputRegression(this BackpropCatalog catalog,
        IDataView data, IEstimator<ITransformer> estimator, int numberOfFolds = 5, string labelColumnName = "Label",
        string? samplingKeyColumnName = null, int? seed = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(estimator);
        ArgumentException.ThrowIfNullOrEmpty(labelColumnName);
        if (numberOfFolds < 2)
            throw new ArgumentOutOfRangeException(nameof(numberOfFolds), numberOfFolds, $"numberOfFolds = {numberOfFolds} must be at least 2.");
        CheckOutputShape(estimator, data.Schema, labelColumnName);
        return CrossValidateCore(Context(catalog), data, estimator, numberOfFolds, labelColumnName, samplingKeyColumnName, seed);
    }

    /// <summary>The cross-validation without the up-front schema check (which builds trainers and so draws from the MLContext's random stream).</summary>
    internal static IReadOnlyList<MultiOutputCrossValidationResult> CrossValidateCore(MLContext ml, IDataView data, IEstimator<ITransformer> estimator,
        int numberOfFolds, string labelColumnName, string? samplingKeyColumnName, int? seed)
    {
        var folds = ml.Data.CrossValidationSplit(data, numberOfFolds, samplingKeyColumnName, seed);
        var results = new MultiOutputCrossValidationResult[folds.Count];
        for (int fold = 0; fold < folds.Count; fold++)
        {
            var model = estimator.Fit(folds[fold].TrainSet);
            var scored = TransformEverything(model, folds[fold].TestSet);
            results[fold] = new MultiOutputCrossValidationResult(model, MultiOutputRegressionEvaluator.Evaluate(scored, labelColumnName, "Score"), scored, fold);
        }
        return results;
    }

    /// <summary>
    /// Wraps a one-output regression trainer (ML.NET's SDCA, L-BFGS Poisson, FastTree, LightGBM, …) so that it fits a
    /// vector label: at Fit, one model per output, each on a Single label column holding that slot of the vector label;
    /// the fitted chain writes their K scores, in output order, as one vector Score column (Vector&lt;Single, K&gt;), so
    /// the result evaluates, cross-validates and compares like a multi-output model. This is the baseline to compare a
    /// multi-output network against: K independent regressors.
    /// </summary>
    /// <param name="catalog">The backpropagation catalog, <c>mlContext.Backprop()</c>.</param>
    /// <param name="trainer">
    /// Makes the trainer of one output from the name of its Single label column, e.g.
    /// <c>label =&gt; mlContext.Regression.Trainers.Sdca(labelColumnName: label)</c>; it must write a Single "Score"
    /// column. Called once per output at every Fit and once by GetOutputSchema.
    /// </param>
    /// <param name="labelColumnName">The vector label column.</param>
    /// <param name="scoreColumnName">The vector score column to write; default "Score".</param>
    /// <returns>The estimator.</returns>
    /// <remarks>
    /// The per-output trainers are built at Fit time, so a trainer that takes its random seed from the MLContext (SDCA's
    /// shuffling, for example) gets a seed that depends on everything that used the MLContext before; for repeatable
    /// results give such a trainer its own seed, or turn its shuffling off.
    /// </remarks>
    public static PerOutputRegressionEstimator PerOutputRegression(this BackpropCatalog catalog,
        Func<string, IEstimator<ITransformer>> trainer, string labelColumnName = "Label", string scoreColumnName = "Score")
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentException.ThrowIfNullOrEmpty(labelColumnName);
        ArgumentException.ThrowIfNullOrEmpty(scoreColumnName);
        return new PerOutputRegressionEstimator(Context(catalog), trainer, labelColumnName, scoreColumnName);
    }

    /// <summary>The estimator's output must hold the label (Single or a vector of Single) and a Score of the same kind.</summary>
    internal static void CheckOutputShape(IEstimator<ITransformer> estimator, DataViewSchema input, string labelColumnName)
    {
        SchemaShape shape;
        try
        {
            shape = estimator.GetOutputSchema(SchemaShapes.FromSchema(input));
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException(
                $"The estimator rejects the data: {e.Message} (A vector label for multi-output regression: ML.NET's regressors fit one Single label; " +
                "wrap one in mlContext.Backprop().PerOutputRegression(...).)", nameof(estimator), e);
        }
        var label = shape.LastOrDefault(c => c.Name == labelColumnName);
        if (label.Name is null)
            throw new ArgumentException(
                $"Column '{labelColumnName}' (the label column) is not in the estimator's output. Its columns are: {string.Join(", ", shape.Select(c => $"'{c.Name}'"))}.",
                nameof(labelColumnName));
        if (label.ItemType != NumberDataViewType.Single || label.IsKey || label.Kind == SchemaShape.Column.VectorKind.VariableVector)
            throw new ArgumentException(
                $"Column '{labelColumnName}' (the label column) is {Describe(label)} in the estimator's output; multi-output regression expects a known-size vector of Single.",
                nameof(labelColumnName));
        var score = shape.LastOrDefault(c => c.Name == "Score");
        if (score.Name is null || score.Kind != label.Kind || score.ItemType != NumberDataViewType.Single)
            throw new ArgumentException(
                $"The estimator's output has {(score.Name is null ? "no 'Score' column" : $"a 'Score' column that is {Describe(score)}")} but the label '{labelColumnName}' is {Describe(label)}; " +
                "multi-output regression needs a Score with one value per label output (ML.NET's regressors fit one Single label: wrap one in mlContext.Backprop().PerOutputRegression(...)).",
                nameof(estimator));
    }

    internal static string Describe(SchemaShape.Column c) => c.Kind switch
    {
        SchemaShape.Column.VectorKind.Scalar => c.IsKey ? $"a key of {c.ItemType}" : $"{c.ItemType}",
        SchemaShape.Column.VectorKind.Vector => $"a known-size vector of {c.ItemType}",
        _ => $"a variable-size vector of {c.ItemType}",
    };

    /// <summary>Scores the held-out rows as ML.NET's cross-validation does: a transformer chain with every scope (training-only transforms included).</summary>
    internal static IDataView TransformEverything(ITransformer model, IDataView data)
    {
        for (var type = model.GetType(); type is not null; type = type.BaseType)
        {
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(TransformerChain<>))
                return Unsafe.As<TransformerChain<ITransformer>>(model).Transform(data, TransformerScope.Everything);
        }
        return model.Transform(data);
    }

    private static MLContext Context(BackpropCatalog catalog) => catalog.Environment as MLContext
        ?? throw new InvalidOperationException("This needs a catalog made by mlContext.Backprop().");
}
