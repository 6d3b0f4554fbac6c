using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop;

namespace MLNetBackprop.ModelLoader;

/// <summary>
/// <c>train-capped &lt;Auto|InMemory&gt; &lt;rows&gt; &lt;features&gt;</c>: trains on a synthetic view of that many rows, generated
/// on the fly (the view holds no rows) and reporting its row count, as a file loader does. Run with
/// <c>DOTNET_GCHeapHardLimit</c> set (issue #18's container test): prints one JSON object with the data loading the
/// trainer chose, the epochs, the held-out AUC, the peak managed heap and peak RSS, or the exception it died of.
/// </summary>
internal static class CappedTraining
{
    private sealed class Row
    {
        [VectorType(0)]
        public float[] Features { get; set; } = [];

        public bool Label { get; set; }
    }

    /// <summary>Rows generated from the seed on every enumeration: the same rows each pass, none held.</summary>
    private static IEnumerable<Row> Generate(long rows, int features, int seed)
    {
        var rng = new Random(seed);
        var row = new Row { Features = new float[features] };
        for (long i = 0; i < rows; i++)
        {
            double s = 0;
            for (int j = 0; j < features; j++)
            {
                float x = (float)(rng.NextDouble() * 2 - 1);
                row.Features[j] = x;
                if (j < 8) s += Math.Sin(3 * x);
            }
            row.Label = s + 0.5 * (rng.NextDouble() - 0.5) > 0;
            yield return row;
        }
    }

    private sealed class Repeatable(long rows, int features, int seed) : IEnumerable<Row>
    {
        public IEnumerator<Row> GetEnumerator() => Generate(rows, features, seed).GetEnumerator();
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>A view that knows its row count (as a loader of a file does), over one that does not.</summary>
    private sealed class Counted(IDataView inner, long rows) : IDataView
    {
        public bool CanShuffle => false;
        public DataViewSchema Schema => inner.Schema;
        public long? GetRowCount() => rows;
        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => inner.GetRowCursor(columnsNeeded);
        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => [inner.GetRowCursor(columnsNeeded)];
    }

    public static int Run(string[] args)
    {
        var mode = Enum.Parse<DataLoadingMode>(args[1]);
        long rows = long.Parse(args[2], CultureInfo.InvariantCulture);
        int features = int.Parse(args[3], CultureInfo.InvariantCulture);
        var ml = new MLContext(seed: 1);
        string? loading = null;
        ml.Log += (_, e) =>
        {
            if (e.Message.Contains("Backprop: data loading: ", StringComparison.Ordinal)) loading = e.Message[(e.Message.IndexOf("Backprop: ", StringComparison.Ordinal) + 10)..];
        };
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, features);
        IDataView View(long n, int seed) => new Counted(ml.Data.LoadFromEnumerable(new Repeatable(n, features, seed), schema), n);
        long peakHeap = 0;
        using var sampler = new Timer(_ =>
        {
            long now = GC.GetTotalMemory(false);
            if (now > Interlocked.Read(ref peakHeap)) Interlocked.Exchange(ref peakHeap, now);
        }, null, 0, 20);
        var result = new Dictionary<string, object?>
        {
            ["heapLimitMiB"] = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes >> 20,
        };
        var sw = Stopwatch.StartNew();
        try
        {
            var options = new BackpropTrainerOptions { HiddenLayers = [16], MaxEpochs = 2, DataLoading = mode, Seed = 1 };
            var model = ml.BinaryClassification.Trainers.Backprop(options).Fit(View(rows, 1));
            result["epochs"] = model.History.Epochs.Count;
            result["auc"] = ml.BinaryClassification.Evaluate(model.Transform(View(20_000, 2))).AreaUnderRocCurve;
        }
        catch (Exception e)
        {
            result["error"] = e.GetType().Name + ": " + e.Message;
        }
        result["loading"] = loading;
        result["seconds"] = sw.Elapsed.TotalSeconds;
        result["peakHeapMiB"] = Interlocked.Read(ref peakHeap) / 1048576.0;
        result["peakRssMiB"] = Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0;
        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }
}
