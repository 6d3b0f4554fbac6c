using Microsoft.ML;

namespace MLNetBackprop;

/// <summary>A trained model bound to one input schema: the feature column found and checked, the output schema built.</summary>
internal sealed class ScoringSchema
{
    public ScoringSchema(BackpropTransformer transformer, DataViewSchema input)
    {
        ArgumentNullException.ThrowIfNull(input);
        Model = transformer.Model;
        Input = input;
        Features = ColumnBinding.FindFeatures(input, transformer.FeatureColumnName, "input data");
        int size = Features.Type.SlotCount();
        if (size != Model.InputSize)
            throw new ArgumentException(
                $"Column '{Features.Name}' (the feature column) has {size} slots; the model was trained on {Model.InputSize}.", nameof(input));
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(input);
        Model.Head.AddColumns(builder, Model.OutputSize, transformer.LabelAnnotations, Model.ClassNameArray);
        Output = builder.ToSchema();
        Names = Model.Head.ColumnNames;
    }

    public BackpropModelParameters Model { get; }
    public DataViewSchema Input { get; }
    public DataViewSchema Output { get; }
    public DataViewSchema.Column Features { get; }

    /// <summary>Names of the added columns; column <c>Input.Count + i</c> of <see cref="Output"/> is Names[i].</summary>
    public string[] Names { get; }

    public int InputCount => Input.Count;

    /// <summary>Which added columns are wanted, and which input columns that takes.</summary>
    public (bool[] Active, List<DataViewSchema.Column> InputColumns) Split(IEnumerable<DataViewSchema.Column> wanted)
    {
        var active = new bool[Names.Length];
        var inputs = new List<DataViewSchema.Column>();
        foreach (var c in wanted)
        {
            if (c.Index < InputCount) inputs.Add(Input[c.Index]);
            else if (c.Index - InputCount < Names.Length) active[c.Index - InputCount] = true;
        }
        if (active.Any(a => a) && !inputs.Any(c => c.Index == Features.Index)) inputs.Add(Features);
        return (active, inputs);
    }
}
