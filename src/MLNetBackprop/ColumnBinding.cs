using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop;

/// <summary>The columns a trainer reads and the task they imply, resolved against a concrete schema.</summary>
internal sealed class ColumnBinding
{
    private ColumnBinding(DataViewSchema.Column features, DataViewSchema.Column label, DataViewSchema.Column? weight,
        BackpropTask task, int outputCount)
    {
        Features = features;
        Label = label;
        Weight = weight;
        Task = task;
        OutputCount = outputCount;
    }

    public DataViewSchema.Column Features { get; }
    public DataViewSchema.Column Label { get; }
    public DataViewSchema.Column? Weight { get; }
    public BackpropTask Task { get; }

    /// <summary>Output units: 1 for binary and scalar regression, K for multiclass and multi-output regression.</summary>
    public int OutputCount { get; }

    public int FeatureCount => Features.Type.SlotCount();

    /// <summary>Resolves the columns of <paramref name="options"/> in <paramref name="schema"/>, throwing a clear exception on a mismatch.</summary>
    public static ColumnBinding Resolve(DataViewSchema schema, BackpropTrainerOptions options, string role = "training data")
    {
        var features = FindFeatures(schema, options.FeatureColumnName, role);
        var label = Find(schema, options.LabelColumnName, "label", nameof(options.LabelColumnName), role);
        DataViewSchema.Column? weight = null;
        if (options.ExampleWeightColumnName is { } w)
        {
            weight = Find(schema, w, "example weight", nameof(options.ExampleWeightColumnName), role);
            if (weight.Value.Type != NumberDataViewType.Single)
                throw new ArgumentException(
                    $"Column '{w}' (the example weight column) has type {weight.Value.Type}; expected Single.", nameof(options.ExampleWeightColumnName));
        }
        var (task, k) = ResolveTask(label.Name, label.Type, options.Task);
        return new ColumnBinding(features, label, weight, task, k);
    }

    public static DataViewSchema.Column FindFeatures(DataViewSchema schema, string name, string role)
    {
        var features = Find(schema, name, "feature", nameof(BackpropTrainerOptions.FeatureColumnName), role);
        CheckFeatureType(name, features.Type);
        return features;
    }

    public static void CheckFeatureType(string name, DataViewType type)
    {
        if (type is not VectorDataViewType { ItemType: var item, IsKnownSize: true } || item != NumberDataViewType.Single)
            throw new ArgumentException(
                $"Column '{name}' (the feature column) has type {type}; expected a known-size vector of Single (Vector<Single, n>). " +
                "Use Concatenate to build it.", nameof(BackpropTrainerOptions.FeatureColumnName));
    }

    private static DataViewSchema.Column Find(DataViewSchema schema, string name, string what, string option, string role)
    {
        if (string.IsNullOrEmpty(name))
            throw new ArgumentException($"The {what} column name ({option}) must not be empty.", option);
        return schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(option,
                $"Column '{name}' (the {what} column) was not found in the {role}. Its columns are: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}'"))}.");
    }

    /// <summary>Decides the task from the label type and the requested task; K is the number of output units.</summary>
    public static (BackpropTask Task, int OutputCount) ResolveTask(string labelName, DataViewType type, BackpropTask requested)
    {
        bool isBool = type == BooleanDataViewType.Instance;
        bool isSingle = type == NumberDataViewType.Single;
        var key = type as KeyDataViewType;
        bool isVector = type is VectorDataViewType { ItemType: var it, IsKnownSize: true } && it == NumberDataViewType.Single;
        string Bad(string expected) =>
            $"Column '{labelName}' (the label column) has type {type}; {expected}.";

        switch (requested)
        {
            case BackpropTask.Auto:
                if (isBool) return (BackpropTask.BinaryClassification, 1);
                if (key is not null) return (BackpropTask.MulticlassClassification, KeyCount(labelName, key));
                if (isSingle) return (BackpropTask.Regression, 1);
                if (isVector) return (BackpropTask.Regression, type.SlotCount());
                throw new ArgumentException(Bad("expected Boolean (binary classification), a key type (multiclass), Single (regression) or a known-size vector of Single (multi-output regression)"), nameof(BackpropTrainerOptions.LabelColumnName));
            case BackpropTask.BinaryClassification:
                if (isBool || isSingle) return (BackpropTask.BinaryClassification, 1);
                throw new ArgumentException(Bad("binary classification expects Boolean (or Single, where > 0 is the positive class)"), nameof(BackpropTrainerOptions.LabelColumnName));
            case BackpropTask.MulticlassClassification:
                if (key is not null) return (BackpropTask.MulticlassClassification, KeyCount(labelName, key));
                throw new ArgumentException(Bad("multiclass classification expects a key type; convert the label with MapValueToKey"), nameof(BackpropTrainerOptions.LabelColumnName));
            case BackpropTask.Regression:
                if (isSingle) return (BackpropTask.Regression, 1);
                if (isVector) return (BackpropTask.Regression, type.SlotCount());
                throw new ArgumentException(Bad("regression expects Single or a known-size vector of Single"), nameof(BackpropTrainerOptions.LabelColumnName));
            default:
                throw new ArgumentOutOfRangeException(nameof(BackpropTrainerOptions.Task), requested, $"The option Task = {requested} is not a defined task.");
        }
    }

    private static int KeyCount(string labelName, KeyDataViewType key)
    {
        if (key.Count < 2 || key.Count > 1_000_000)
            throw new ArgumentException(
                $"Column '{labelName}' (the label column) is a key type with {key.Count} values; multiclass classification needs a known count of at least 2 classes.",
                nameof(BackpropTrainerOptions.LabelColumnName));
        return (int)key.Count;
    }
}
