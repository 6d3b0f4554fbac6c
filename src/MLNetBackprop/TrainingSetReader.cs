using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop;

/// <summary>
/// Reads an IDataView once into the arrays the core trains on: features dense row-major, or compressed sparse rows as
/// soon as one row arrives sparse (sparse rows stay sparse); raw targets (0/1, one-hot, or the label values); weights.
/// Every non-finite or missing value is reported with its column, row index and slot.
/// </summary>
internal sealed class TrainingSetReader
{
    public int Count { get; private set; }
    public int FeatureCount { get; }
    public int TargetCount { get; }
    public float[]? Dense { get; private set; }
    public int[]? RowStart { get; private set; }
    public int[]? Indices { get; private set; }
    public float[]? Values { get; private set; }
    public float[] Targets { get; private set; } = [];
    public float[]? Weights { get; private set; }
    public bool IsSparse => RowStart is not null;

    private TrainingSetReader(int featureCount, int targetCount)
    {
        FeatureCount = featureCount;
        TargetCount = targetCount;
    }

    public static TrainingSetReader Read(IDataView data, ColumnBinding cols, string role, CancellationToken ct)
    {
        var reader = new TrainingSetReader(cols.FeatureCount, cols.OutputCount);
        reader.ReadAll(data, cols, role, ct);
        return reader;
    }

    private void ReadAll(IDataView data, ColumnBinding cols, string role, CancellationToken ct)
    {
        int n = FeatureCount, k = TargetCount;
        var needed = new List<DataViewSchema.Column> { cols.Features, cols.Label };
        if (cols.Weight is { } wc) needed.Add(wc);
        using var cursor = data.GetRowCursor(needed);
        var featureGetter = cursor.GetGetter<VBuffer<float>>(cols.Features);
        var labelReader = MakeLabelReader(cursor, cols);
        var weightGetter = cols.Weight is { } w ? cursor.GetGetter<float>(w) : null;

        var dense = new List<float>();
        List<int>? rowStart = null, indices = null;
        List<float>? values = null;
        var targets = new List<float>();
        var weights = weightGetter is null ? null : new List<float>();
        var features = default(VBuffer<float>);
        var target = new float[k];
        string fname = cols.Features.Name;
        long row = -1;
        while (cursor.MoveNext())
        {
            row++;
            if ((row & 1023) == 0) ct.ThrowIfCancellationRequested();
            featureGetter(ref features);
            if (features.Length != n)
                throw new InvalidOperationException($"Column '{fname}' row {row} has {features.Length} slots; the column type says {n}.");
            var vals = features.GetValues();
            if (features.IsDense)
            {
                for (int j = 0; j < vals.Length; j++)
                    if (!float.IsFinite(vals[j])) throw NonFinite(fname, row, j, vals[j], role);
                if (rowStart is null) dense.AddRange(vals);
                else AppendSparse(vals, null);
            }
            else
            {
                var idx = features.GetIndices();
                for (int j = 0; j < vals.Length; j++)
                    if (!float.IsFinite(vals[j])) throw NonFinite(fname, row, idx[j], vals[j], role);
                if (rowStart is null)
                {
                    // The first sparse row: move the dense rows read so far into compressed-row form.
                    rowStart = [0];
                    indices = [];
                    values = [];
                    var denseSpan = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(dense);
                    for (int r = 0; r < Count; r++) AppendSparse(denseSpan.Slice(r * n, n), null);
                    dense.Clear();
                }
                AppendSparse(vals, idx);
            }

            labelReader(row, target);
            targets.AddRange(target);
            if (weightGetter is not null)
            {
                float wt = 0;
                weightGetter(ref wt);
                if (!float.IsFinite(wt) || wt < 0)
                    throw new InvalidOperationException($"Column '{cols.Weight!.Value.Name}' row {row} is {wt} in the {role}; example weights must be finite and non-negative.");
                weights!.Add(wt);
            }
            Count++;
        }
        if (Count == 0)
            throw new ArgumentException($"The {role} has no rows; the trainer needs at least one.", nameof(data));
        if (weights is not null && weights.Sum() <= 0)
            throw new ArgumentException($"Column '{cols.Weight!.Value.Name}': the example weights of the {role} sum to zero.", nameof(data));

        if (rowStart is null) Dense = dense.ToArray();
        else
        {
            RowStart = rowStart.ToArray();
            Indices = indices!.ToArray();
            Values = values!.ToArray();
        }
        Targets = targets.ToArray();
        Weights = weights?.ToArray();

        void AppendSparse(ReadOnlySpan<float> v, ReadOnlySpan<int> idx)
        {
            bool isDense = idx.IsEmpty && v.Length == n;
            for (int j = 0; j < v.Length; j++)
            {
                if (v[j] == 0) continue;
                indices!.Add(isDense ? j : idx[j]);
                values!.Add(v[j]);
            }
            rowStart!.Add(indices!.Count);
        }
    }

    private static InvalidOperationException NonFinite(string column, long row, int slot, float value, string role) =>
        new($"Column '{column}' row {row} slot {slot} is {(float.IsNaN(value) ? "NaN" : value.ToString(System.Globalization.CultureInfo.InvariantCulture))} in the {role}; " +
            "features must be finite (impute missing values, e.g. with ReplaceMissingValues).");

    private delegate void LabelReader(long row, float[] target);

    private static LabelReader MakeLabelReader(DataViewRowCursor cursor, ColumnBinding cols)
    {
        var label = cols.Label;
        string name = label.Name;
        int k = cols.OutputCount;
        switch (cols.Task)
        {
            case BackpropTask.BinaryClassification when label.Type == BooleanDataViewType.Instance:
            {
                var g = cursor.GetGetter<bool>(label);
                bool v = false;
                return (row, t) => { g(ref v); t[0] = v ? 1 : 0; };
            }
            case BackpropTask.BinaryClassification:
            {
                var g = cursor.GetGetter<float>(label);
                float v = 0;
                return (row, t) =>
                {
                    g(ref v);
                    if (float.IsNaN(v)) throw new InvalidOperationException($"Column '{name}' (the label) row {row} is NaN.");
                    t[0] = v > 0 ? 1 : 0;
                };
            }
            case BackpropTask.MulticlassClassification:
            {
                var g = cursor.GetGetter<uint>(label);
                uint v = 0;
                return (row, t) =>
                {
                    g(ref v);
                    if (v == 0 || v > k)
                        throw new InvalidOperationException(v == 0
                            ? $"Column '{name}' (the label) row {row} is a missing key value; filter or impute such rows."
                            : $"Column '{name}' (the label) row {row} has key {v}, outside 1..{k}.");
                    Array.Clear(t);
                    t[v - 1] = 1;
                };
            }
            case BackpropTask.Regression when k == 1 && label.Type is not VectorDataViewType:
            {
                var g = cursor.GetGetter<float>(label);
                float v = 0;
                return (row, t) =>
                {
                    g(ref v);
                    if (!float.IsFinite(v)) throw new InvalidOperationException($"Column '{name}' (the label) row {row} is {v}; regression targets must be finite.");
                    t[0] = v;
                };
            }
            default:
            {
                var g = cursor.GetGetter<VBuffer<float>>(label);
                var v = default(VBuffer<float>);
                return (row, t) =>
                {
                    g(ref v);
                    if (v.Length != k) throw new InvalidOperationException($"Column '{name}' (the label) row {row} has {v.Length} slots; expected {k}.");
                    v.CopyTo(t);
                    for (int j = 0; j < k; j++)
                        if (!float.IsFinite(t[j]))
                            throw new InvalidOperationException($"Column '{name}' (the label) row {row} slot {j} is {t[j]}; regression targets must be finite.");
                };
            }
        }
    }
}
