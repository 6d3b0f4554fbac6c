using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core;
using MLNetBackprop.Onnx;
using MLNetBackprop.Persistence;

namespace MLNetBackprop.Heads;

/// <summary>
/// Two classes on one sigmoid unit: label Boolean (or Single, &gt; 0 positive) as the target 0/1; Score is the logit,
/// Probability the sigmoid, PredictedLabel Probability &gt; 0.5; ML.NET's binary evaluator, calibrated when the candidate
/// gives a Probability.
/// </summary>
internal sealed class BinaryHead : TaskHead
{
    public static readonly BinaryHead Instance = new();

    private BinaryHead()
    {
    }

    public override BackpropTask Task => BackpropTask.BinaryClassification;

    public override string Name => "binary classification";

    public override bool VectorOutput => false;

    public override int OutputCount(string labelName, DataViewType type) =>
        type == BooleanDataViewType.Instance || type == NumberDataViewType.Single ? 1
            : throw new ArgumentException(BadLabel(labelName, type, "binary classification expects Boolean (or Single, where > 0 is the positive class)"),
                nameof(BackpropTrainerOptions.LabelColumnName));

    public override LabelReader MakeLabelReader(DataViewRowCursor cursor, DataViewSchema.Column label, int outputs)
    {
        if (label.Type == BooleanDataViewType.Instance)
        {
            var g = cursor.GetGetter<bool>(label);
            bool v = false;
            return (row, t) => { g(ref v); t[0] = v ? 1 : 0; return null; };
        }
        var s = cursor.GetGetter<float>(label);
        float x = 0;
        string name = label.Name;
        return (row, t) =>
        {
            s(ref x);
            if (float.IsNaN(x)) return $"Column '{name}' (the label) row {row} is NaN.";
            t[0] = x > 0 ? 1 : 0;
            return null;
        };
    }

    public override int ClassCount(int outputs) => 2;

    public override int ClassOf(ReadOnlySpan<float> target) => target[0] > 0.5f ? 1 : 0;

    public override string? CheckTargets(ReadOnlySpan<float> targets, string labelName, string role) =>
        targets.Length > 0 && !targets.ContainsAnyExcept(targets[0]) ? OneClass(labelName, role, targets[0] > 0) : null;

    public override string? CheckClassCounts(ReadOnlySpan<long> counts, string labelName, string role) =>
        counts[0] == 0 || counts[1] == 0 ? OneClass(labelName, role, counts[1] > 0) : null;

    private static string OneClass(string labelName, string role, bool positive) =>
        $"Column '{labelName}' (the label column) has only one class in the {role} (every row is {(positive ? "positive" : "negative")}); binary classification needs both.";

    public override Activation DefaultOutputActivation => Activation.Sigmoid;

    public override void CheckOutputActivation(Activation activation)
    {
        if (activation != Activation.Sigmoid)
            throw new ArgumentOutOfRangeException(nameof(BackpropTrainerOptions.OutputActivation), activation,
                $"The option OutputActivation = {activation} does not fit binary classification, which needs Sigmoid.");
    }

    public override string[] ColumnNames => [OutputSchema.Score, OutputSchema.Probability, OutputSchema.PredictedLabel];

    public override void AddColumns(DataViewSchema.Builder builder, int outputs, DataViewSchema.Annotations? labelAnnotations, string[] classNames)
    {
        builder.AddColumn(OutputSchema.Score, NumberDataViewType.Single, Kind("BinaryClassification", "Score"));
        builder.AddColumn(OutputSchema.Probability, NumberDataViewType.Single, Kind("BinaryClassification", "Probability", isNormalized: true));
        builder.AddColumn(OutputSchema.PredictedLabel, BooleanDataViewType.Instance, Kind("BinaryClassification", "PredictedLabel"));
    }

    public override Delegate MakeGetter(RowScorer scorer, string name)
    {
        // The Score is the logit: the sigmoid's input, which the predictor keeps (under another activation, the output).
        bool logits = scorer.Model.Network.OutputActivation == Activation.Sigmoid;
        return name switch
        {
            OutputSchema.Score => (ValueGetter<float>)((ref float v) => { scorer.Ensure(); v = logits ? scorer.Logits[0] : scorer.Output[0]; }),
            OutputSchema.Probability => (ValueGetter<float>)((ref float v) => { scorer.Ensure(); v = scorer.Output[0]; }),
            OutputSchema.PredictedLabel => (ValueGetter<bool>)((ref bool v) => { scorer.Ensure(); v = scorer.Output[0] > 0.5f; }),
            _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Not an output column of binary classification."),
        };
    }

    public override void WriteOnnxTail(OnnxExport.Tail tail, BackpropModelParameters model, string logit, string output)
    {
        var names = tail.Names;
        tail.FloatOutput(logit, names.Score, 1);
        tail.FloatOutput(output, names.Probability, 1);
        tail.FloatConstant("half", [], [0.5f]);
        string greater = tail.Fresh("greater");
        tail.Node("Greater", [output, "half"], greater);
        tail.BoolOutput(greater, names.PredictedLabel);
    }

    public override string[] SavedOutputs => [SavedColumns.Score, SavedColumns.Probability, SavedColumns.PredictedLabel];

    public override IEnumerable<IEstimator<ITransformer>> SavedMappings(MLContext ml, BackpropTransformer transformer, List<string> drop) =>
        [ml.Transforms.CustomMapping(new BinaryOutputsMapping().GetMapping(), BinaryOutputsMapping.ContractName)];

    public override bool IsCalibrated(SchemaShape output) => output.Any(col => col.Name == OutputSchema.Probability);

    public override bool HasLogLoss(bool calibrated) => calibrated;

    public override (object Metrics, ITransformer Model, IDataView Scored)[] CrossValidate(MLContext ml, IDataView data,
        IEstimator<ITransformer> pipeline, int folds, string label, string? samplingKey, int seed, bool calibrated) => calibrated
        ? Folds(ml.BinaryClassification.CrossValidate(data, pipeline, folds, label, samplingKey, seed))
        : Folds(ml.BinaryClassification.CrossValidateNonCalibrated(data, pipeline, folds, label, samplingKey, seed));

    public override object Evaluate(MLContext ml, IDataView scored, string label, bool calibrated) => calibrated
        ? ml.BinaryClassification.Evaluate(scored, label)
        : ml.BinaryClassification.EvaluateNonCalibrated(scored, label);

    public override string[] MetricNames(bool withLogLoss, object? firstMetrics) => withLogLoss
        ? [TaskMetrics.Auc, TaskMetrics.Accuracy, TaskMetrics.F1, TaskMetrics.Auprc, TaskMetrics.LogLoss]
        : [TaskMetrics.Auc, TaskMetrics.Accuracy, TaskMetrics.F1, TaskMetrics.Auprc];

    public override BackpropFeatureImportance PermutationImportance(MLContext ml, BackpropTransformer model, IDataView input, string label,
        int? numberOfExamplesToUse, int permutationCount, string[] featureNames)
    {
        var stats = ml.BinaryClassification.PermutationFeatureImportance(model, input, label, numberOfExamplesToUse: numberOfExamplesToUse,
            permutationCount: permutationCount);
        return new(Task, nameof(BinaryClassificationMetrics.AreaUnderRocCurve),
            Importances(featureNames, stats.Select(s => s.AreaUnderRocCurve)), stats, None<MulticlassClassificationMetricsStatistics>(),
            None<RegressionMetricsStatistics>());
    }
}
