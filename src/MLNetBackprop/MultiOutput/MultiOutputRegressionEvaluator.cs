using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop;

/// <summary>Computes <see cref="MultiOutputRegressionMetrics"/> in one pass over a scored data view.</summary>
internal static class MultiOutputRegressionEvaluator
{
    /// <summary>The number of outputs of a label column a multi-output evaluation accepts (a known-size vector of Single, or Single).</summary>
    public static int OutputCount(DataViewSchema.Column column, string role, string parameter)
    {
        if (column.Type == NumberDataViewType.Single) return 1;
        if (column.Type is VectorDataViewType { ItemType: var item, IsKnownSize: true } v && item == NumberDataViewType.Single) return v.Size;
        throw new ArgumentException(
            $"Column '{column.Name}' (the {role} column) has type {column.Type}; multi-output regression expects a known-size vector of Single (or Single for one output).",
            parameter);
    }

    public static MultiOutputRegressionMetrics Evaluate(IDataView data, string labelColumnName, string scoreColumnName)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrEmpty(labelColumnName);
        ArgumentException.ThrowIfNullOrEmpty(scoreColumnName);
        var label = Find(data.Schema, labelColumnName, "label", nameof(labelColumnName));
        var score = Find(data.Schema, scoreColumnName, "score", nameof(scoreColumnName));
        int k = OutputCount(label, "label", nameof(labelColumnName));
        int kScore = OutputCount(score, "score", nameof(scoreColumnName));
        bool labelVector = label.Type is VectorDataViewType, scoreVector = score.Type is VectorDataViewType;
        if (kScore != k || labelVector != scoreVector)
            throw new ArgumentException(
                $"Column '{score.Name}' (the score column) is {score.Type} but column '{label.Name}' (the label column) is {label.Type}; " +
                "the score must have one value per label output (the same type and vector length).", nameof(scoreColumnName));

        var sums = new Accumulator[k];
        var y = new float[k];
        var s = new float[k];
        using (var cursor = data.GetRowCursor([label, score]))
        {
            Action readLabel = Reader(cursor, label, y), readScore = Reader(cursor, score, s);
            while (cursor.MoveNext())
            {
                readLabel();
                readScore();
                for (int j = 0; j < k; j++) sums[j].Add(y[j], s[j]);
            }
        }

        var names = OutputNames(label, k);
        for (int j = 0; j < k; j++)
        {
            if (sums[j].Count == 0)
                throw new ArgumentException(
                    $"Output {j} ('{names[j]}') of column '{label.Name}' (the label column) has no row with both a label and a score " +
                    $"(rows with a NaN label: {sums[j].NaNLabels}, with a NaN score: {sums[j].NaNScores}); its metrics are undefined.", nameof(data));
        }
        return new MultiOutputRegressionMetrics(names,
            sums.Select(a => a.AbsoluteError / a.Count).ToArray(),
            sums.Select(a => a.SquaredError / a.Count).ToArray(),
            sums.Select(a => a.LabelSumOfSquares == 0 ? double.NaN : 1 - a.SquaredError / a.LabelSumOfSquares).ToArray(),
            sums.Select(a => a.Count).ToArray(), sums.Select(a => a.NaNLabels).ToArray(), sums.Select(a => a.NaNScores).ToArray());
    }

    /// <summary>The label's slot names when it has one per output, else "0" … "K−1" ("0" for a scalar label).</summary>
    public static string[] OutputNames(DataViewSchema.Column label, int k)
    {
        if (label.Type is VectorDataViewType && label.Annotations.Schema.GetColumnOrNull("SlotNames") is { Type: VectorDataViewType { Size: var n } } && n == k)
        {
            VBuffer<ReadOnlyMemory<char>> slots = default;
            label.GetSlotNames(ref slots);
            var names = new string[k];
            var dense = new ReadOnlyMemory<char>[k];
            slots.CopyTo(dense);
            for (int j = 0; j < k; j++) names[j] = dense[j].IsEmpty ? j.ToString(System.Globalization.CultureInfo.InvariantCulture) : dense[j].ToString();
            if (names.Distinct(StringComparer.Ordinal).Count() == k) return names;
        }
        return Enumerable.Range(0, k).Select(j => j.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    private static DataViewSchema.Column Find(DataViewSchema schema, string name, string role, string parameter) =>
        schema.GetColumnOrNull(name) ?? throw new ArgumentOutOfRangeException(parameter,
            $"Column '{name}' (the {role} column) was not found in the data. Its columns are: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}'"))}.");

    /// <summary>A delegate that reads the current row's value of <paramref name="column"/> into <paramref name="target"/> (dense).</summary>
    private static Action Reader(DataViewRowCursor cursor, DataViewSchema.Column column, float[] target)
    {
        if (column.Type is VectorDataViewType)
        {
            var getter = cursor.GetGetter<VBuffer<float>>(column);
            VBuffer<float> buffer = default;
            return () =>
            {
                getter(ref buffer);
                buffer.CopyTo(target);
            };
        }
        var scalar = cursor.GetGetter<float>(column);
        return () => scalar(ref target[0]);
    }

    /// <summary>One output's running sums; SS_tot by Welford's update, which is exactly 0 for a constant label.</summary>
    private struct Accumulator
    {
        public long Count, NaNLabels, NaNScores;
        public double AbsoluteError, SquaredError, LabelMean, LabelSumOfSquares;

        public void Add(float label, float score)
        {
            if (float.IsNaN(label))
            {
                NaNLabels++;
                return;
            }
            if (float.IsNaN(score))
            {
                NaNScores++;
                return;
            }
            double e = Math.Abs((double)label - score);
            AbsoluteError += e;
            SquaredError += e * e;
            Count++;
            double delta = label - LabelMean;
            LabelMean += delta / Count;
            LabelSumOfSquares += delta * (label - LabelMean);
        }
    }
}
