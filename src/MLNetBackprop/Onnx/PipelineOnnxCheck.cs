using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetBackprop.Heads;

namespace MLNetBackprop.Onnx;

/// <summary>
/// Runs an exported pipeline graph in ONNX Runtime on the first rows of the data it was exported with and compares its
/// outputs with the fitted pipeline's <c>Transform</c>, so that a graph that loads but computes something else (a
/// transform the converter writes differently from how ML.NET runs it) is refused instead of written.
/// </summary>
internal static class PipelineOnnxCheck
{
    /// <summary>How many rows of the data are compared.</summary>
    public const int Rows = 256;

    /// <summary>Scores agree when |graph − Transform| ≤ Tolerance · max(1, |Transform|).</summary>
    public const double Tolerance = 1e-4;

    public static void Check(byte[] graph, ITransformer model, BackpropTask task, IDataView inputData)
    {
        var data = new MLContext().Data.TakeRows(inputData, Rows);
        InferenceSession session;
        try
        {
            session = new InferenceSession(graph);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidOperationException($"The exported ONNX graph does not load in ONNX Runtime, so it was not written: {e.Message}", e);
        }
        using (session)
        {
            var inputs = session.InputMetadata.Select(p => Feed(data, p.Key, p.Value)).ToList();
            if (inputs.Count == 0 || inputs[0].Rows == 0) return; // no rows to compare (schema-only data)
            using var results = session.Run(inputs.Select(i => i.Value).ToList());
            var actual = results.ToDictionary(r => r.Name, r => r);
            // The columns compared are the head's: Score always; Probability and PredictedLabel where the task has them,
            // the label compared by its type (a Boolean threshold or a key's arg max).
            var columns = TaskHead.For(task).ColumnNames;
            var expected = Expected(model.Transform(data), columns, out var labelType);
            int n = expected.Count;
            if (inputs.Any(i => i.Rows != n))
                throw new InvalidOperationException($"The exported ONNX graph was fed {inputs[0].Rows} rows but Transform gave {n}; it was not written.");

            var score = actual[OutputSchema.Score].AsTensor<float>();
            int width = (int)score.Length / Math.Max(n, 1);
            for (int i = 0; i < n; i++)
            {
                var e = expected[i];
                for (int j = 0; j < width; j++) Compare(OutputSchema.Score, i, e.Score[j], score.GetValue(i * width + j));
                if (columns.Contains(OutputSchema.Probability))
                    Compare(OutputSchema.Probability, i, e.Probability, actual[OutputSchema.Probability].AsTensor<float>().GetValue(i));
                if (labelType == BooleanDataViewType.Instance)
                {
                    bool label = actual[OutputSchema.PredictedLabel].AsTensor<bool>().GetValue(i);
                    // A probability within the tolerance of 0.5 may fall on either side.
                    if (label != e.Label > 0 && Math.Abs(e.Probability - 0.5f) > Tolerance) Mismatch(OutputSchema.PredictedLabel, i, e.Label, label ? 1 : 0);
                }
                else if (labelType is KeyDataViewType)
                {
                    long index = actual[OutputSchema.PredictedLabel].AsTensor<long>().GetValue(i);
                    var sorted = e.Score.OrderDescending().ToArray();
                    bool tie = sorted.Length > 1 && sorted[0] - sorted[1] <= Tolerance;
                    if (index + 1 != e.Label && !tie) Mismatch(OutputSchema.PredictedLabel, i, e.Label - 1, index);
                }
            }
        }
    }

    private static void Compare(string column, int row, float expected, float actual)
    {
        if (float.IsNaN(expected) && float.IsNaN(actual)) return;
        if (!(Math.Abs(expected - actual) <= Tolerance * Math.Max(1, Math.Abs(expected)))) Mismatch(column, row, expected, actual);
    }

    private static void Mismatch(string column, int row, double expected, double actual) =>
        throw new NotSupportedException(
            $"The exported ONNX graph computes {column} {actual:R} for row {row} of the data where Transform gives {expected:R}: ML.NET's " +
            "ONNX converter writes a transform before the network differently from how ML.NET runs it. Nothing was written.");

    private sealed record Input(NamedOnnxValue Value, int Rows);

    private sealed record Row(float[] Score, float Probability, double Label);

    /// <summary>Transform's <paramref name="columns"/> per row; <paramref name="labelType"/> is PredictedLabel's type, null without one.</summary>
    private static List<Row> Expected(IDataView scored, string[] columns, out DataViewType? labelType)
    {
        var schema = scored.Schema;
        var rows = new List<Row>();
        var score = schema[OutputSchema.Score];
        var wanted = columns.Select(c => schema[c]).ToList();
        labelType = columns.Contains(OutputSchema.PredictedLabel) ? schema[OutputSchema.PredictedLabel].Type : null;
        using var cursor = scored.GetRowCursor(wanted);
        var scalar = score.Type is VectorDataViewType ? null : cursor.GetGetter<float>(score);
        var vector = score.Type is VectorDataViewType ? cursor.GetGetter<VBuffer<float>>(score) : null;
        var probability = columns.Contains(OutputSchema.Probability) ? cursor.GetGetter<float>(schema[OutputSchema.Probability]) : null;
        var boolLabel = labelType == BooleanDataViewType.Instance ? cursor.GetGetter<bool>(schema[OutputSchema.PredictedLabel]) : null;
        var keyLabel = labelType is KeyDataViewType ? cursor.GetGetter<uint>(schema[OutputSchema.PredictedLabel]) : null;
        float s = 0, p = 0;
        bool b = false;
        uint k = 0;
        VBuffer<float> v = default;
        while (cursor.MoveNext())
        {
            float[] values;
            if (scalar is not null)
            {
                scalar(ref s);
                values = [s];
            }
            else
            {
                vector!(ref v);
                values = v.DenseValues().ToArray();
            }
            probability?.Invoke(ref p);
            double label = 0;
            if (boolLabel is not null)
            {
                boolLabel(ref b);
                label = b ? 1 : 0;
            }
            if (keyLabel is not null)
            {
                keyLabel(ref k);
                label = k;
            }
            rows.Add(new Row(values, p, label));
        }
        return rows;
    }

    /// <summary>The graph input <paramref name="name"/> from the data column of that name, as a [rows, width] tensor.</summary>
    private static Input Feed(IDataView data, string name, NodeMetadata meta)
    {
        var column = data.Schema.GetColumnOrNull(name)
            ?? throw new InvalidOperationException($"The exported ONNX graph has an input '{name}' that is not a column of the data; it was not written.");
        var item = column.Type is VectorDataViewType vector ? vector.ItemType : column.Type;
        int width = column.Type is VectorDataViewType v ? v.Size : 1;
        if (width == 0)
            throw new NotSupportedException($"Column '{name}' is a vector of unknown size: the exported graph cannot be checked against Transform, so it was not written.");
        var raw = item.RawType;
        if (raw == typeof(float)) return Read<float, float>(data, column, width, meta, x => x);
        if (raw == typeof(double)) return Read<double, double>(data, column, width, meta, x => x);
        if (raw == typeof(bool)) return Read<bool, bool>(data, column, width, meta, x => x);
        if (raw == typeof(int)) return Read<int, int>(data, column, width, meta, x => x);
        if (raw == typeof(long)) return Read<long, long>(data, column, width, meta, x => x);
        if (raw == typeof(uint)) return Read<uint, uint>(data, column, width, meta, x => x);
        if (raw == typeof(ReadOnlyMemory<char>)) return Read<ReadOnlyMemory<char>, string>(data, column, width, meta, x => x.ToString());
        throw new NotSupportedException(
            $"Column '{name}' has type {column.Type}, which this export cannot feed to ONNX Runtime to check the graph against Transform; it was not written.");
    }

    private static Input Read<TIn, TOut>(IDataView data, DataViewSchema.Column column, int width, NodeMetadata meta, Func<TIn, TOut> convert)
    {
        if (meta.ElementType != typeof(TOut))
            throw new NotSupportedException(
                $"The exported ONNX graph reads column '{column.Name}' as {meta.ElementType.Name}, not as its type {column.Type}; it cannot be " +
                "checked against Transform, so it was not written.");
        var values = new List<TOut>();
        int rows = 0;
        using var cursor = data.GetRowCursor([column]);
        if (column.Type is VectorDataViewType)
        {
            var getter = cursor.GetGetter<VBuffer<TIn>>(column);
            VBuffer<TIn> buffer = default;
            while (cursor.MoveNext())
            {
                getter(ref buffer);
                foreach (var x in buffer.DenseValues()) values.Add(convert(x));
                rows++;
            }
        }
        else
        {
            var getter = cursor.GetGetter<TIn>(column);
            TIn x = default!;
            while (cursor.MoveNext())
            {
                getter(ref x);
                values.Add(convert(x));
                rows++;
            }
        }
        return new Input(NamedOnnxValue.CreateFromTensor(column.Name, new DenseTensor<TOut>(values.ToArray(), [rows, width])), rows);
    }
}
