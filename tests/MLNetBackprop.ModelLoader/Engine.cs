using Microsoft.ML;
using Microsoft.ML.Data;

/// <summary>Prediction engines over the test data's row shapes, returning each prediction flattened like Program.Rows.</summary>
internal static class Engine
{
    public sealed class Row
    {
        public float[] Features { get; set; } = [];
        public bool BoolLabel { get; set; }
        public float FloatLabel { get; set; }
        public float[] VectorLabel { get; set; } = [];
    }

    public sealed class BoolInput
    {
        public bool Label { get; set; }
        public float[] Features { get; set; } = [];
    }

    public sealed class FloatInput
    {
        public float Label { get; set; }
        public float[] Features { get; set; } = [];
    }

    public sealed class VectorInput
    {
        public float[] Label { get; set; } = [];
        public float[] Features { get; set; } = [];
    }

    public sealed class BinaryOutput
    {
        public float Score { get; set; }
        public float Probability { get; set; }
        public bool PredictedLabel { get; set; }
    }

    public sealed class MulticlassOutput
    {
        public float[] Score { get; set; } = [];
        public uint PredictedLabel { get; set; }
    }

    public sealed class ScalarOutput
    {
        public float Score { get; set; }
    }

    public sealed class VectorOutput
    {
        public float[] Score { get; set; } = [];
    }

    /// <summary>The input rows of <paramref name="data"/> (Label and Features as the model's input schema types them).</summary>
    public static List<Row> Inputs(MLContext ml, IDataView data, DataViewSchema schema)
    {
        var rows = new List<Row>();
        using var cursor = data.GetRowCursor(data.Schema.Where(c => c.Name is "Label" or "Features"));
        var features = cursor.GetGetter<VBuffer<float>>(data.Schema["Features"]);
        var labelType = data.Schema["Label"].Type;
        VBuffer<float> f = default, lv = default;
        bool b = false;
        float l = 0;
        var boolGetter = labelType == BooleanDataViewType.Instance ? cursor.GetGetter<bool>(data.Schema["Label"]) : null;
        var floatGetter = labelType == NumberDataViewType.Single ? cursor.GetGetter<float>(data.Schema["Label"]) : null;
        var vectorGetter = labelType is VectorDataViewType ? cursor.GetGetter<VBuffer<float>>(data.Schema["Label"]) : null;
        while (cursor.MoveNext())
        {
            features(ref f);
            var row = new Row { Features = f.DenseValues().ToArray() };
            if (boolGetter is not null) { boolGetter(ref b); row.BoolLabel = b; }
            if (floatGetter is not null) { floatGetter(ref l); row.FloatLabel = l; }
            if (vectorGetter is not null) { vectorGetter(ref lv); row.VectorLabel = lv.DenseValues().ToArray(); }
            rows.Add(row);
        }
        return rows;
    }

    public static Func<Row, double[]> Create(MLContext ml, ITransformer model, DataViewSchema schema, IDataView data, string task)
    {
        var labelType = data.Schema["Label"].Type;
        int d = data.Schema["Features"].Type.GetValueCount();
        if (labelType == BooleanDataViewType.Instance)
        {
            var e = Make<BoolInput, BinaryOutput>(ml, model, d, 0);
            return r => Flatten(e.Predict(new BoolInput { Label = r.BoolLabel, Features = r.Features }), task);
        }
        if (labelType is VectorDataViewType lt)
        {
            var e = Make<VectorInput, VectorOutput>(ml, model, d, lt.Size);
            return r => Flatten(e.Predict(new VectorInput { Label = r.VectorLabel, Features = r.Features }), task);
        }
        if (task == "multiclass")
        {
            var e = Make<FloatInput, MulticlassOutput>(ml, model, d, 0);
            return r => Flatten(e.Predict(new FloatInput { Label = r.FloatLabel, Features = r.Features }), task);
        }
        var s = Make<FloatInput, ScalarOutput>(ml, model, d, 0);
        return r => Flatten(s.Predict(new FloatInput { Label = r.FloatLabel, Features = r.Features }), task);
    }

    private static PredictionEngine<TIn, TOut> Make<TIn, TOut>(MLContext ml, ITransformer model, int d, int labelSize)
        where TIn : class where TOut : class, new()
    {
        var def = SchemaDefinition.Create(typeof(TIn));
        def["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, d);
        if (labelSize > 0) def["Label"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, labelSize);
        return ml.Model.CreatePredictionEngine<TIn, TOut>(model, inputSchemaDefinition: def);
    }

    private static double[] Flatten(object output, string task) => output switch
    {
        BinaryOutput b => [b.Score, b.Probability, b.PredictedLabel ? 1 : 0],
        MulticlassOutput m => [.. m.Score.Select(x => (double)x), m.PredictedLabel],
        ScalarOutput s => [s.Score],
        VectorOutput v => v.Score.Select(x => (double)x).ToArray(),
        _ => throw new InvalidOperationException(task),
    };
}

internal static class TypeExtensions
{
    public static int GetValueCount(this DataViewType type) => type is VectorDataViewType v ? v.Size : 1;
}
