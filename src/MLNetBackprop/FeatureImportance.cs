using System.Collections.Immutable;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop;

/// <summary>How much one feature matters to a model: the drop of the task's main metric when its values are permuted.</summary>
/// <param name="Index">The feature's slot in the feature vector.</param>
/// <param name="Name">The slot name of the feature column, or "Features[i]" when the column has none.</param>
/// <param name="Importance">Mean over the permutations of (metric on the data) − (metric with this feature permuted):
/// positive when the model relies on the feature, about 0 when it ignores it.</param>
/// <param name="StandardDeviation">Standard deviation of that drop over the permutations (0 for one permutation).</param>
/// <param name="StandardError">Standard error of the mean drop.</param>
public sealed record FeatureImportance(int Index, string Name, double Importance, double StandardDeviation, double StandardError);

/// <summary>
/// Permutation feature importance of a fitted pipeline's backpropagation model, from
/// <see cref="BackpropCatalog.PermutationFeatureImportance"/>: per feature, named, on the task's main metric (area under the
/// ROC curve, micro-accuracy or R²), plus ML.NET's full statistics of every metric.
/// </summary>
public sealed class BackpropFeatureImportance
{
    internal BackpropFeatureImportance(BackpropTask task, string metricName, IReadOnlyList<FeatureImportance> features,
        ImmutableArray<BinaryClassificationMetricsStatistics> binary, ImmutableArray<MulticlassClassificationMetricsStatistics> multiclass,
        ImmutableArray<RegressionMetricsStatistics> regression)
    {
        Task = task;
        MetricName = metricName;
        Features = features;
        Binary = binary.IsDefault ? [] : binary;
        Multiclass = multiclass.IsDefault ? [] : multiclass;
        Regression = regression.IsDefault ? [] : regression;
    }

    /// <summary>The model's task.</summary>
    public BackpropTask Task { get; }

    /// <summary>The metric <see cref="FeatureImportance.Importance"/> is measured on: "AreaUnderRocCurve" (binary),
    /// "MicroAccuracy" (multiclass) or "RSquared" (regression).</summary>
    public string MetricName { get; }

    /// <summary>One entry per feature, in feature order.</summary>
    public IReadOnlyList<FeatureImportance> Features { get; }

    /// <summary>The features from the most important to the least (ties in feature order).</summary>
    public IReadOnlyList<FeatureImportance> Ranked => Features.OrderByDescending(f => f.Importance).ThenBy(f => f.Index).ToArray();

    /// <summary>Binary classification: ML.NET's statistics of every metric's change per feature (permuted − original). Empty otherwise.</summary>
    public ImmutableArray<BinaryClassificationMetricsStatistics> Binary { get; }

    /// <summary>Multiclass classification: ML.NET's statistics of every metric's change per feature. Empty otherwise.</summary>
    public ImmutableArray<MulticlassClassificationMetricsStatistics> Multiclass { get; }

    /// <summary>Regression: ML.NET's statistics of every metric's change per feature. Empty otherwise.</summary>
    public ImmutableArray<RegressionMetricsStatistics> Regression { get; }

    /// <summary>The ranked features as lines "name  importance ± standard error".</summary>
    public override string ToString()
    {
        var ranked = Ranked;
        int width = ranked.Count == 0 ? 0 : ranked.Max(f => f.Name.Length);
        return string.Join(Environment.NewLine, ranked.Select(f => string.Create(CultureInfo.InvariantCulture,
            $"{f.Name.PadRight(width)}  {f.Importance,9:F4} ± {f.StandardError:F4}")));
    }
}

/// <summary>Finds the backpropagation model in a fitted pipeline and runs ML.NET's permutation feature importance on it.</summary>
internal static class PipelineFeatureImportance
{
    /// <summary>The last <see cref="BackpropTransformer"/> of a (possibly nested) chain, and the transforms before it.</summary>
    /// <exception cref="ArgumentException">The model holds no <see cref="BackpropTransformer"/>.</exception>
    public static (IReadOnlyList<ITransformer> Before, BackpropTransformer Model) Find(ITransformer model, string paramName)
    {
        var flat = new List<ITransformer>();
        Flatten(model, flat);
        int at = flat.FindLastIndex(t => t is BackpropTransformer);
        if (at < 0)
            throw new ArgumentException(
                "The model holds no BackpropTransformer. A model loaded with mlContext.Model.Load runs the network as ONNX: load it with mlContext.Backprop().LoadModel instead.",
                paramName);
        return (flat.Take(at).ToArray(), (BackpropTransformer)flat[at]);
    }

    private static void Flatten(ITransformer t, List<ITransformer> into)
    {
        if (t is BackpropTransformer || t is not IEnumerable<ITransformer> chain)
        {
            into.Add(t);
            return;
        }
        foreach (var inner in chain) Flatten(inner, into);
    }

    public static BackpropFeatureImportance Run(MLContext ml, ITransformer model, IDataView data, int permutationCount,
        int? numberOfExamplesToUse)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(permutationCount, 1);
        if (numberOfExamplesToUse is < 1)
            throw new ArgumentOutOfRangeException(nameof(numberOfExamplesToUse), numberOfExamplesToUse, "The number of examples to use must be at least 1 (or null for all).");
        var (before, ours) = Find(model, nameof(model));
        var input = before.Aggregate(data, (d, t) => t.Transform(d));
        string label = ours.LabelColumnName;
        if (input.Schema.GetColumnOrNull(label) is null)
            throw new ArgumentException(
                $"The data has no label column '{label}' (the column the model was trained on) where the model reads its features; permutation importance needs labeled data.",
                nameof(data));
        ours.GetOutputSchema(input.Schema); // names the feature column when it is missing or of the wrong size
        var names = FeatureNames(input.Schema[ours.FeatureColumnName], ours.Model.InputSize);
        return ours.Model.Head.PermutationImportance(ml, ours, input, label, numberOfExamplesToUse, permutationCount, names);
    }

    private static string[] FeatureNames(DataViewSchema.Column features, int count)
    {
        var names = ModelSummary.SlotNames(features);
        var result = new string[count];
        for (int i = 0; i < count; i++)
            result[i] = names is not null && !string.IsNullOrEmpty(names[i]) ? names[i] : string.Create(CultureInfo.InvariantCulture, $"{features.Name}[{i}]");
        return result;
    }
}
