using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop.Heads;

/// <summary>
/// Regression on a known-size vector label of K Single (still <see cref="BackpropTask.Regression"/>): K identity units,
/// each target standardized on its own; Score is the vector of K predictions; the library's multi-output evaluator
/// (ML.NET's regressors and evaluator take one output).
/// </summary>
internal sealed class MultiOutputRegressionHead : RegressionHead
{
    public static new readonly MultiOutputRegressionHead Instance = new();

    private MultiOutputRegressionHead()
    {
    }

    public override string Describe(int outputs) => string.Create(CultureInfo.InvariantCulture, $"regression ({outputs} outputs)");

    public override bool VectorOutput => true;

    public override int OutputCount(string labelName, DataViewType type) =>
        type is VectorDataViewType { ItemType: var item, IsKnownSize: true } && item == NumberDataViewType.Single ? type.SlotCount() : throw WrongLabel(labelName, type);

    public override LabelReader MakeLabelReader(DataViewRowCursor cursor, DataViewSchema.Column label, int outputs)
    {
        var g = cursor.GetGetter<VBuffer<float>>(label);
        var v = default(VBuffer<float>);
        string name = label.Name;
        return (row, t) =>
        {
            g(ref v);
            if (v.Length != outputs) throw new InvalidOperationException($"Column '{name}' (the label) row {row} has {v.Length} slots; expected {outputs}.");
            v.CopyTo(t);
            for (int j = 0; j < outputs; j++)
            {
                if (!float.IsFinite(t[j]))
                    return $"Column '{name}' (the label) row {row} slot {j} is {t[j]}; regression targets must be finite.";
                if (Math.Abs(t[j]) > MaxRegressionTarget) return TooLarge(name, row, j, t[j]);
            }
            return null;
        };
    }

    public override void AddColumns(DataViewSchema.Builder builder, int outputs, DataViewSchema.Annotations? labelAnnotations, string[] classNames) =>
        builder.AddColumn(OutputSchema.Score, new VectorDataViewType(NumberDataViewType.Single, outputs), Kind("MultiOutputRegression", "Score"));

    public override Delegate MakeGetter(RowScorer scorer, string name) => VectorGetter(scorer);

    public override IEnumerable<IEstimator<ITransformer>> SavedMappings(MLContext ml, BackpropTransformer transformer, List<string> drop) =>
        [ml.Transforms.CopyColumns(OutputSchema.Score, Persistence.SavedColumns.Score)];

    public override void CheckCandidate(string name, IEstimator<ITransformer> pipeline, DataViewSchema input, string label)
    {
        // ML.NET's regressors reject a vector label: say so by name, and point at the per-output wrapper, instead of
        // ML.NET's bare schema mismatch.
        try
        {
            MultiOutputRegressionCatalogExtensions.CheckOutputShape(pipeline, input, label);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new ArgumentException(
                $"Candidate '{name}' cannot fit the vector label '{label}' (multi-output regression): {e.Message}" +
                (e.Message.Contains("PerOutputRegression", StringComparison.Ordinal) ? ""
                    : " To compare a one-output regressor, fit one per output with mlContext.Backprop().PerOutputRegression(label => ...)."),
                "candidates", e);
        }
    }

    public override (object Metrics, ITransformer Model, IDataView Scored)[] CrossValidate(MLContext ml, IDataView data,
        IEstimator<ITransformer> pipeline, int folds, string label, string? samplingKey, int seed, bool calibrated) =>
        MultiOutputRegressionCatalogExtensions.CrossValidateCore(ml, data, pipeline, folds, label, samplingKey, seed)
            .Select(r => ((object)r.Metrics, r.Model, r.ScoredHoldOutSet)).ToArray();

    public override object Evaluate(MLContext ml, IDataView scored, string label, bool calibrated) =>
        MultiOutputRegressionEvaluator.Evaluate(scored, label, OutputSchema.Score);

    /// <summary>The averaged RSquared, RMSE, MAE, then each output's RSquared, by the label's slot names (none known when no candidate was evaluated).</summary>
    public override string[] MetricNames(bool withLogLoss, object? firstMetrics) =>
        [TaskMetrics.RSquared, TaskMetrics.Rmse, TaskMetrics.Mae, .. (firstMetrics as MultiOutputRegressionMetrics)?.OutputNames.Select(TaskMetrics.PerOutputRSquared) ?? []];

    public override string ComparisonName(object? firstMetrics) => firstMetrics is MultiOutputRegressionMetrics m
        ? string.Create(CultureInfo.InvariantCulture, $"multi-output regression ({m.OutputCount} outputs: {string.Join(", ", m.OutputNames)})")
        : "multi-output regression";

    public override int ComparisonOutputs(object? firstMetrics) => (firstMetrics as MultiOutputRegressionMetrics)?.OutputCount ?? 0;

    public override BackpropFeatureImportance PermutationImportance(MLContext ml, BackpropTransformer model, IDataView input, string label,
        int? numberOfExamplesToUse, int permutationCount, string[] featureNames) =>
        throw new NotSupportedException(
            $"Permutation feature importance is not available for multi-output regression (the label '{label}' is a vector): ML.NET's regression evaluator scores one output.");
}
