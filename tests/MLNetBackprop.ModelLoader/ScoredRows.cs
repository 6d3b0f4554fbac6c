using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop.ModelLoader;

/// <summary>
/// Each scored row flattened to numbers: Score (all slots), then Probability and PredictedLabel (0/1) for binary, then
/// the PredictedLabel key for multiclass. Shared by the loader program and the persistence tests (linked into both), so
/// the two sides of a comparison flatten rows the same way.
/// </summary>
public static class ScoredRows
{
    public static List<double[]> Read(IDataView scored, string task)
    {
        var rows = new List<double[]>();
        var schema = scored.Schema;
        var score = schema["Score"];
        using var cursor = scored.GetRowCursor(schema.Where(c => c.Name is "Score" or "Probability" or "PredictedLabel"));
        var scalar = score.Type is VectorDataViewType ? null : cursor.GetGetter<float>(score);
        var vector = score.Type is VectorDataViewType ? cursor.GetGetter<VBuffer<float>>(score) : null;
        var probability = task == "binary" ? cursor.GetGetter<float>(schema["Probability"]) : null;
        var boolLabel = task == "binary" ? cursor.GetGetter<bool>(schema["PredictedLabel"]) : null;
        var keyLabel = task == "multiclass" ? cursor.GetGetter<uint>(schema["PredictedLabel"]) : null;
        float s = 0, p = 0;
        bool b = false;
        uint k = 0;
        VBuffer<float> v = default;
        while (cursor.MoveNext())
        {
            var row = new List<double>();
            if (scalar is not null) { scalar(ref s); row.Add(s); }
            if (vector is not null) { vector(ref v); row.AddRange(v.DenseValues().Select(x => (double)x)); }
            if (probability is not null) { probability(ref p); row.Add(p); }
            if (boolLabel is not null) { boolLabel(ref b); row.Add(b ? 1 : 0); }
            if (keyLabel is not null) { keyLabel(ref k); row.Add(k); }
            rows.Add(row.ToArray());
        }
        return rows;
    }
}
