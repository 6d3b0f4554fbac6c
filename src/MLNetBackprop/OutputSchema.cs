using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Interop;

namespace MLNetBackprop;

/// <summary>The columns a trained model adds, typed and annotated as ML.NET's own trainers produce them.</summary>
internal static class OutputSchema
{
    public const string Score = "Score";
    public const string Probability = "Probability";
    public const string PredictedLabel = "PredictedLabel";

    /// <summary>Names of the added columns, in order.</summary>
    public static string[] ColumnNames(BackpropTask task) => task switch
    {
        BackpropTask.BinaryClassification => [Score, Probability, PredictedLabel],
        BackpropTask.MulticlassClassification => [Score, PredictedLabel],
        _ => [Score],
    };

    /// <summary>
    /// Adds the output columns to <paramref name="builder"/>. <paramref name="labelAnnotations"/> carries the label's
    /// KeyValues (copied to PredictedLabel); <paramref name="classNames"/> become the Score column's SlotNames.
    /// </summary>
    public static void AddColumns(DataViewSchema.Builder builder, BackpropTask task, int outputCount, bool vectorOutput,
        DataViewSchema.Annotations? labelAnnotations, string[] classNames)
    {
        switch (task)
        {
            case BackpropTask.BinaryClassification:
                builder.AddColumn(Score, NumberDataViewType.Single, Kind("BinaryClassification", "Score"));
                builder.AddColumn(Probability, NumberDataViewType.Single, Kind("BinaryClassification", "Probability", isNormalized: true));
                builder.AddColumn(PredictedLabel, BooleanDataViewType.Instance, Kind("BinaryClassification", "PredictedLabel"));
                break;
            case BackpropTask.MulticlassClassification:
            {
                var scoreAnn = new DataViewSchema.Annotations.Builder();
                if (classNames.Length == outputCount)
                {
                    var names = classNames.Select(n => n.AsMemory()).ToArray();
                    ValueGetter<VBuffer<ReadOnlyMemory<char>>> getter = (ref VBuffer<ReadOnlyMemory<char>> v) =>
                        v = new VBuffer<ReadOnlyMemory<char>>(names.Length, (ReadOnlyMemory<char>[])names.Clone());
                    scoreAnn.Add("SlotNames", new VectorDataViewType(TextDataViewType.Instance, outputCount), getter);
                }
                scoreAnn.Add(Kind("MulticlassClassification", "Score"), _ => true);
                builder.AddColumn(Score, new VectorDataViewType(NumberDataViewType.Single, outputCount), scoreAnn.ToAnnotations());

                var labelAnn = new DataViewSchema.Annotations.Builder();
                if (labelAnnotations is not null && labelAnnotations.Schema.GetColumnOrNull("KeyValues") is { } kv
                    && kv.Type.SlotCount() == outputCount)
                    labelAnn.Add(labelAnnotations, n => n == "KeyValues");
                labelAnn.Add(Kind("MulticlassClassification", "PredictedLabel"), _ => true);
                builder.AddColumn(PredictedLabel, new KeyDataViewType(typeof(uint), outputCount), labelAnn.ToAnnotations());
                break;
            }
            default:
                builder.AddColumn(Score,
                    !vectorOutput ? NumberDataViewType.Single : new VectorDataViewType(NumberDataViewType.Single, outputCount),
                    Kind(!vectorOutput ? "Regression" : "MultiOutputRegression", "Score"));
                break;
        }
    }

    private static DataViewSchema.Annotations Kind(string columnKind, string valueKind, bool isNormalized = false)
    {
        var b = new DataViewSchema.Annotations.Builder();
        var ck = columnKind.AsMemory();
        var vk = valueKind.AsMemory();
        b.Add("ScoreColumnKind", TextDataViewType.Instance, (ref ReadOnlyMemory<char> v) => v = ck);
        b.Add("ScoreValueKind", TextDataViewType.Instance, (ref ReadOnlyMemory<char> v) => v = vk);
        if (isNormalized) b.Add("IsNormalized", BooleanDataViewType.Instance, (ref bool v) => v = true);
        return b.ToAnnotations();
    }

    /// <summary>The label's key values as text (the SlotNames of a multiclass Score column); empty when it has none.</summary>
    public static string[] ClassNames(DataViewSchema.Column label, int count)
    {
        if (label.Annotations.Schema.GetColumnOrNull("KeyValues") is not { } kv
            || kv.Type is not VectorDataViewType { ItemType: var item } || kv.Type.SlotCount() != count)
            return [];
        return KeyValues.ReadAsText(label.Annotations, kv);
    }
}
