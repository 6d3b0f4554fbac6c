using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core;
using MLNetBackprop.Interop;
using MLNetBackprop.Onnx;
using MLNetBackprop.Persistence;

namespace MLNetBackprop.Heads;

/// <summary>
/// K classes on K softmax units: label a key with K values as a one-hot target; Score is the class probabilities (with
/// the class names as SlotNames), PredictedLabel the key of the largest (with the label's KeyValues); ML.NET's
/// multiclass evaluator.
/// </summary>
internal sealed class MulticlassHead : TaskHead
{
    public static readonly MulticlassHead Instance = new();

    private MulticlassHead()
    {
    }

    public override BackpropTask Task => BackpropTask.MulticlassClassification;

    public override string Name => "multiclass classification";

    public override string Describe(int outputs) => string.Create(CultureInfo.InvariantCulture, $"multiclass classification ({outputs} classes)");

    public override bool VectorOutput => true;

    public override int OutputCount(string labelName, DataViewType type) => type is KeyDataViewType key
        ? KeyCount(labelName, key)
        : throw new ArgumentException(BadLabel(labelName, type, "multiclass classification expects a key type; convert the label with MapValueToKey"),
            nameof(BackpropTrainerOptions.LabelColumnName));

    /// <summary>The classes of a key label: at least 2, and few enough for an output layer.</summary>
    public static int KeyCount(string labelName, KeyDataViewType key)
    {
        if (key.Count < 2 || key.Count > 1_000_000)
            throw new ArgumentException(
                $"Column '{labelName}' (the label column) is a key type with {key.Count} values; multiclass classification needs a known count of at least 2 classes.",
                nameof(BackpropTrainerOptions.LabelColumnName));
        return (int)key.Count;
    }

    public override LabelReader MakeLabelReader(DataViewRowCursor cursor, DataViewSchema.Column label, int outputs)
    {
        var g = cursor.GetGetter<uint>(label);
        uint v = 0;
        string name = label.Name;
        return (row, t) =>
        {
            g(ref v);
            if (v == 0 || v > outputs)
                return v == 0
                    ? $"Column '{name}' (the label) row {row} is a missing key value; filter or impute such rows."
                    : $"Column '{name}' (the label) row {row} has key {v}, outside 1..{outputs}.";
            Array.Clear(t);
            t[v - 1] = 1;
            return null;
        };
    }

    public override int ClassCount(int outputs) => outputs;

    public override bool KeyedClasses => true;

    /// <summary>The label's key values as text (the SlotNames of the Score column); empty when it has none.</summary>
    public override string[] ClassNames(DataViewSchema.Column label, int outputs)
    {
        if (label.Annotations.Schema.GetColumnOrNull("KeyValues") is not { } kv
            || kv.Type is not VectorDataViewType { ItemType: var item } || kv.Type.SlotCount() != outputs)
            return [];
        return KeyValues.ReadAsText(label.Annotations, kv);
    }

    public override (DataViewSchema.Annotations? Label, string[] ClassNames) ShapeAnnotations(SchemaShape.Column label, int outputs)
    {
        var kv = label.Annotations.FirstOrDefault(a => a.Name == "KeyValues");
        if (kv.Name is null || kv.ItemType is not PrimitiveDataViewType item) return (null, []);
        var builder = new DataViewSchema.Annotations.Builder();
        builder.Add(KeyValues.Name, new VectorDataViewType(item, outputs), KeyValues.EmptyGetter(item));
        return (builder.ToAnnotations(), Enumerable.Range(0, outputs).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray());
    }

    public override Activation DefaultOutputActivation => Activation.Softmax;

    public override void CheckOutputActivation(Activation activation)
    {
        if (activation is not (Activation.Softmax or Activation.Sigmoid))
            throw new ArgumentOutOfRangeException(nameof(BackpropTrainerOptions.OutputActivation), activation,
                $"The option OutputActivation = {activation} does not fit multiclass classification, which needs Softmax or Sigmoid.");
    }

    public override string[] ColumnNames => [OutputSchema.Score, OutputSchema.PredictedLabel];

    public override void AddColumns(DataViewSchema.Builder builder, int outputs, DataViewSchema.Annotations? labelAnnotations, string[] classNames)
    {
        var scoreAnn = new DataViewSchema.Annotations.Builder();
        if (classNames.Length == outputs)
        {
            var names = classNames.Select(n => n.AsMemory()).ToArray();
            ValueGetter<VBuffer<ReadOnlyMemory<char>>> getter = (ref VBuffer<ReadOnlyMemory<char>> v) =>
                v = new VBuffer<ReadOnlyMemory<char>>(names.Length, (ReadOnlyMemory<char>[])names.Clone());
            scoreAnn.Add("SlotNames", new VectorDataViewType(TextDataViewType.Instance, outputs), getter);
        }
        scoreAnn.Add(Kind("MulticlassClassification", "Score"), _ => true);
        builder.AddColumn(OutputSchema.Score, new VectorDataViewType(NumberDataViewType.Single, outputs), scoreAnn.ToAnnotations());

        var labelAnn = new DataViewSchema.Annotations.Builder();
        if (labelAnnotations is not null && labelAnnotations.Schema.GetColumnOrNull("KeyValues") is { } kv && kv.Type.SlotCount() == outputs)
            labelAnn.Add(labelAnnotations, n => n == "KeyValues");
        labelAnn.Add(Kind("MulticlassClassification", "PredictedLabel"), _ => true);
        builder.AddColumn(OutputSchema.PredictedLabel, new KeyDataViewType(typeof(uint), outputs), labelAnn.ToAnnotations());
    }

    public override Delegate MakeGetter(RowScorer scorer, string name) => name switch
    {
        OutputSchema.Score => VectorGetter(scorer),
        OutputSchema.PredictedLabel => (ValueGetter<uint>)((ref uint v) =>
        {
            scorer.Ensure();
            var output = scorer.Output;
            int best = -1;
            float max = float.NegativeInfinity;
            for (int k = 0; k < output.Length; k++)
                if (output[k] > max) { max = output[k]; best = k; }
            v = (uint)(best + 1);
        }),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Not an output column of multiclass classification."),
    };

    public override void WriteOnnxTail(OnnxExport.Tail tail, BackpropModelParameters model, string logit, string output)
    {
        tail.FloatOutput(output, tail.Names.Score, model.OutputSize);
        tail.ArgMaxOutput(output, tail.Names.PredictedLabel);
    }

    public override string[] SavedOutputs => [SavedColumns.Score, SavedColumns.PredictedLabel];

    public override IEnumerable<IEstimator<ITransformer>> SavedMappings(MLContext ml, BackpropTransformer transformer, List<string> drop)
    {
        drop.Add(SavedColumns.ClassIndex);
        drop.Add(SavedColumns.ClassValue);
        return [ml.Transforms.CopyColumns(OutputSchema.Score, SavedColumns.Score),
            ml.Transforms.CustomMapping(new ClassIndexMapping().GetMapping(), ClassIndexMapping.ContractName),
            .. NativePipeline.KeyMapping(ml, transformer.LabelAnnotations, transformer.Model.OutputSize)];
    }

    public override bool HasLogLoss(bool calibrated) => true;

    public override (object Metrics, ITransformer Model, IDataView Scored)[] CrossValidate(MLContext ml, IDataView data,
        IEstimator<ITransformer> pipeline, int folds, string label, string? samplingKey, int seed, bool calibrated) =>
        Folds(ml.MulticlassClassification.CrossValidate(data, pipeline, folds, label, samplingKey, seed));

    public override object Evaluate(MLContext ml, IDataView scored, string label, bool calibrated) => ml.MulticlassClassification.Evaluate(scored, label);

    public override string[] MetricNames(bool withLogLoss, object? firstMetrics) => [TaskMetrics.MicroAccuracy, TaskMetrics.MacroAccuracy, TaskMetrics.LogLoss];

    public override BackpropFeatureImportance PermutationImportance(MLContext ml, BackpropTransformer model, IDataView input, string label,
        int? numberOfExamplesToUse, int permutationCount, string[] featureNames)
    {
        var stats = ml.MulticlassClassification.PermutationFeatureImportance(model, input, label, numberOfExamplesToUse: numberOfExamplesToUse,
            permutationCount: permutationCount);
        return new(Task, nameof(MulticlassClassificationMetrics.MicroAccuracy),
            Importances(featureNames, stats.Select(s => s.MicroAccuracy)), None<BinaryClassificationMetricsStatistics>(), stats,
            None<RegressionMetricsStatistics>());
    }
}
