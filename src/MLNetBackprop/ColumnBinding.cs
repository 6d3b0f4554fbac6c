using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Heads;

namespace MLNetBackprop;

/// <summary>The columns a trainer reads and the task they imply, resolved against a concrete schema.</summary>
internal sealed class ColumnBinding
{
    private ColumnBinding(DataViewSchema.Column features, DataViewSchema.Column label, DataViewSchema.Column? weight,
        TaskHead head, int outputCount)
    {
        Features = features;
        Label = label;
        Weight = weight;
        Head = head;
        OutputCount = outputCount;
    }

    public DataViewSchema.Column Features { get; }
    public DataViewSchema.Column Label { get; }
    public DataViewSchema.Column? Weight { get; }
    public BackpropTask Task => Head.Task;

    /// <summary>What the task does with the label and the network's outputs.</summary>
    public TaskHead Head { get; }

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
        var (head, k) = ResolveTask(label.Name, label.Type, options.Task);
        return new ColumnBinding(features, label, weight, head, k);
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

    /// <summary>
    /// Decides the task's head from the label type and the requested task; K is the number of output units. Auto follows
    /// the type (Single is regression, though binary takes it too); a forced task's head checks that the type fits.
    /// </summary>
    public static (TaskHead Head, int OutputCount) ResolveTask(string labelName, DataViewType type, BackpropTask requested)
    {
        bool isVector = type is VectorDataViewType { ItemType: var it, IsKnownSize: true } && it == NumberDataViewType.Single;
        TaskHead head = requested switch
        {
            BackpropTask.Auto when type == BooleanDataViewType.Instance => BinaryHead.Instance,
            BackpropTask.Auto when type is KeyDataViewType => MulticlassHead.Instance,
            BackpropTask.Auto when type == NumberDataViewType.Single => RegressionHead.Instance,
            BackpropTask.Auto when isVector => MultiOutputRegressionHead.Instance,
            BackpropTask.Auto => throw new ArgumentException(
                $"Column '{labelName}' (the label column) has type {type}; expected Boolean (binary classification), a key type (multiclass), Single (regression) or a known-size vector of Single (multi-output regression).",
                nameof(BackpropTrainerOptions.LabelColumnName)),
            _ when Enum.IsDefined(requested) => TaskHead.For(requested, vectorLabel: type is VectorDataViewType),
            _ => throw new ArgumentOutOfRangeException(nameof(BackpropTrainerOptions.Task), requested, $"The option Task = {requested} is not a defined task."),
        };
        return (head, head.OutputCount(labelName, type));
    }
}
