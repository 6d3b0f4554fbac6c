using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Tests;

/// <summary>Issue #18, the adapter's side: the streamed path (rows read from the view's cursor every epoch) against the in-memory one.</summary>
public class StreamingTests
{
    private static BackpropTrainerOptions Options(DataLoadingMode mode) => new()
    {
        HiddenLayers = [16], Optimizer = OptimizerKind.Adam, BatchSize = 32, MaxEpochs = 5, Shuffle = false, EarlyStopping = false,
        Seed = 3, L2Regularization = 1e-3, DataLoading = mode, StreamingBlockRows = 100,
    };

    [Fact]
    public void StreamedTrainingInTheViewsOrderIsBitwiseTheInMemoryTraining_Regression()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.NormalizeMeanVariance("Features").Fit(Datasets.Housing(ml)).Transform(Datasets.Housing(ml));
        var log = new List<string>();
        ml.Log += (_, e) => { lock (log) log.Add(e.Message); };
        var inMemory = ml.Regression.Trainers.Backprop(Options(DataLoadingMode.InMemory)).Fit(data);
        var streamed = ml.Regression.Trainers.Backprop(Options(DataLoadingMode.Streaming)).Fit(data);

        // The same target standardization (two scans in the in-memory path's summation order) and the same batches.
        Assert.Equal(inMemory.Model.TargetMean, streamed.Model.TargetMean);
        Assert.Equal(inMemory.Model.TargetScale, streamed.Model.TargetScale);
        Assert.Equal(inMemory.Model.CloneNetwork().Parameters.ToArray(), streamed.Model.CloneNetwork().Parameters.ToArray());
        Assert.Equal(inMemory.History.TrainingLoss, streamed.History.TrainingLoss);
        var scores = streamed.Transform(data).GetColumn<float>("Score").ToArray();
        Assert.Equal(inMemory.Transform(data).GetColumn<float>("Score").ToArray(), scores);
        Assert.True(streamed.History.Epochs[^1].TrainingLoss < streamed.History.Epochs[0].TrainingLoss, "it trained");
        lock (log)
        {
            Assert.Contains(log, m => m.Contains("data loading: streaming (DataLoading = Streaming)"));
            Assert.Contains(log, m => m.Contains("506 training rows (streamed)"));
        }
    }

    [Fact]
    public void StreamedTrainingKeepsClassWeightsAndHoldsValidationRowsOut()
    {
        var ml = new MLContext(seed: 1);
        var raw = Datasets.BreastCancer(ml);
        var data = ml.Transforms.ReplaceMissingValues("Features").Append(ml.Transforms.NormalizeMinMax("Features")).Fit(raw).Transform(raw);
        var o = Options(DataLoadingMode.InMemory);
        o.BalanceClasses = true;
        var inMemory = ml.BinaryClassification.Trainers.Backprop(o).Fit(data);
        o.DataLoading = DataLoadingMode.Streaming;
        var streamed = ml.BinaryClassification.Trainers.Backprop(o).Fit(data);
        Assert.Equal(inMemory.Model.CloneNetwork().Parameters.ToArray(), streamed.Model.CloneNetwork().Parameters.ToArray());

        // Early stopping on a stream: a seeded tenth of the rows is held out by row id, the rest trained on.
        o.EarlyStopping = true;
        o.MaxEpochs = 50;
        var stopped = ml.BinaryClassification.Trainers.Backprop(o).Fit(data);
        Assert.All(stopped.History.Epochs, e => Assert.NotNull(e.ValidationLoss));
        var auc = ml.BinaryClassification.Evaluate(stopped.Transform(data)).AreaUnderRocCurve;
        Assert.True(auc > 0.97, $"AUC {auc}");
    }

    [Fact]
    public void AutoStreamsWhenTheEstimateIsOverTheBudgetAndSaysWhy()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.NormalizeMeanVariance("Features").Fit(Datasets.Housing(ml)).Transform(Datasets.Housing(ml));
        var log = new List<string>();
        ml.Log += (_, e) => { lock (log) log.Add(e.Message); };
        var o = Options(DataLoadingMode.Auto);
        // 506 rows × (13 + 1 + 1) × 4 bytes × 2 ≈ 60 KB: a 16 KB budget streams, a 1 MiB one does not.
        o.MemoryBudgetBytes = 16_000;
        var streamed = ml.Regression.Trainers.Backprop(o).Fit(data);
        o.MemoryBudgetBytes = 1 << 20;
        var inMemory = ml.Regression.Trainers.Backprop(o).Fit(data);
        Assert.Equal(inMemory.Model.CloneNetwork().Parameters.ToArray(), streamed.Model.CloneNetwork().Parameters.ToArray());
        lock (log)
        {
            Assert.Contains(log, m => m.Contains("data loading: streaming (506 rows, about 0 MiB in memory, more than the budget of 0 MiB)"));
            Assert.Contains(log, m => m.Contains("data loading: in memory (506 rows"));
        }
        o.MemoryBudgetBytes = 0;
        Assert.Contains("MemoryBudgetBytes", Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.Backprop(o)).Message);
    }

    [Fact]
    public void AStreamedViewIsReadThroughOneCursorAtATimeAndABadRowIsNamed()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 300).Select(i => new Datasets.DenseRow { Label = i % 7, Features = [i / 300f, (i % 13) / 13f] }).ToList();
        var counting = new CountingView(ml.Data.LoadFromEnumerable(rows, Datasets.SchemaFor<Datasets.DenseRow>(ml, 2)));
        var o = Options(DataLoadingMode.Streaming);
        var model = ml.Regression.Trainers.Backprop(o).Fit(counting);
        // Scans: 2 (rows and statistics, then the standard deviation); passes: the initial cost, 5 epochs, the final check.
        Assert.Equal(2 + 1 + 5 + 1, counting.Cursors);
        Assert.Equal(1, counting.MaxOpen);
        Assert.Equal(5, model.History.Epochs.Count);

        rows[123].Features[1] = float.NaN;
        var e = Assert.Throws<InvalidOperationException>(() => ml.Regression.Trainers.Backprop(o).Fit(ml.Data.LoadFromEnumerable(rows, Datasets.SchemaFor<Datasets.DenseRow>(ml, 2))));
        Assert.Contains("Column 'Features' row 123 slot 1 is NaN in the training data", e.Message);
    }

    [Fact]
    public void CancelingAStreamedFitMidEpochStopsTheReadAheadAndClosesItsCursor()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 3000).Select(i => new Datasets.DenseRow { Label = i % 7, Features = [i / 3000f, (i % 13) / 13f] }).ToList();
        var counting = new CountingView(ml.Data.LoadFromEnumerable(rows, Datasets.SchemaFor<Datasets.DenseRow>(ml, 2)));
        using var cts = new CancellationTokenSource();
        var o = Options(DataLoadingMode.Streaming);
        o.MaxEpochs = 50;
        o.CancellationToken = cts.Token;
        // Blocks of 96 rows: while the trainer is in its first block of epoch 3, the reading thread is filling the next.
        o.StreamingBlockRows = 96;
        o.EpochCompleted = r => { if (r.Epoch == 2) cts.Cancel(); };
        Assert.ThrowsAny<OperationCanceledException>(() => ml.Regression.Trainers.Backprop(o).Fit(counting));
        // Fit has returned: the reading thread has ended and closed its cursor, and no more were opened.
        Assert.Equal(0, counting.Open);
        int cursors = counting.Cursors;
        Thread.Sleep(100);
        Assert.Equal(cursors, counting.Cursors);
        Assert.Equal(1, counting.MaxOpen);
    }

    [Fact]
    public void AViewThatGivesOtherRowsInALaterPassIsNamed_FromTheReadingThread()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 500).Select(i => new Datasets.DenseRow { Label = i % 7, Features = [i / 500f, (i % 13) / 13f] }).ToList();
        var shrinking = new CountingView(ml.Data.LoadFromEnumerable(rows, Datasets.SchemaFor<Datasets.DenseRow>(ml, 2))) { StopAfterInCursor = (5, 321) };
        var e = Assert.Throws<InvalidOperationException>(() => ml.Regression.Trainers.Backprop(Options(DataLoadingMode.Streaming)).Fit(shrinking));
        // The 5th cursor is epoch 2's pass (two scans, the initial cost and epoch 1 before it), numbered by its epoch.
        Assert.Contains("gave 321 training rows in pass 2 and 500 when first read: a streamed view must give the same rows every pass", e.Message);
        Assert.Equal(0, shrinking.Open);
    }

    /// <summary>Runs the loader program's train-capped mode in a process whose GC heap is capped (DOTNET_GCHeapHardLimit).</summary>
    private static System.Text.Json.JsonElement TrainCapped(string mode, long rows, int features, long heapLimitBytes)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { PersistenceHarness.LoaderDll(), "train-capped", mode, rows.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     features.ToString(System.Globalization.CultureInfo.InvariantCulture) })
            psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_GCHeapHardLimit"] = "0x" + heapLimitBytes.ToString("X", System.Globalization.CultureInfo.InvariantCulture);
        using var process = System.Diagnostics.Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(180_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"train-capped {mode} did not finish in 180 s.");
        }
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"train-capped {mode} failed (exit {process.ExitCode}):\n{stderr.Result}\n{stdout.Result}");
        return System.Text.Json.JsonDocument.Parse(stdout.Result.Trim().Split('\n')[^1]).RootElement;
    }

    [Fact]
    public void InAProcessCappedAt256MiB_AViewOf600MiBStreamsAndTrains_WhereInMemoryDies()
    {
        // 800,000 rows × 100 features, generated on the fly by a view that reports its row count: 320 MB of features
        // alone, 623 MiB by the trainer's in-memory estimate, in a process whose GC heap may hold 256 MiB (a container's
        // limit, which GC.GetGCMemoryInfo reports). Measured: Auto streamed (budget 64 MiB, a quarter of the cap), 2
        // epochs in 6 s, held-out AUC 0.90, peak managed heap 150 MiB, peak RSS 217 MiB; InMemory died at once.
        const long cap = 256L << 20;
        var auto = TrainCapped("Auto", 800_000, 100, cap);
        Assert.Equal(256, auto.GetProperty("heapLimitMiB").GetInt64());
        Assert.False(auto.TryGetProperty("error", out var error), error.ToString());
        Assert.StartsWith("data loading: streaming (800000 rows, about 623 MiB in memory, more than the budget of 64 MiB); epochs read ",
            auto.GetProperty("loading").GetString());
        Assert.Equal(2, auto.GetProperty("epochs").GetInt32());
        Assert.True(auto.GetProperty("auc").GetDouble() > 0.85, $"AUC {auto.GetProperty("auc")}");
        Assert.True(auto.GetProperty("peakHeapMiB").GetDouble() < 256, $"peak heap {auto.GetProperty("peakHeapMiB")} MiB");

        // The control: the same data forced into memory cannot be held in this process.
        var inMemory = TrainCapped("InMemory", 800_000, 100, cap);
        Assert.StartsWith("OutOfMemoryException", inMemory.GetProperty("error").GetString());
    }

    /// <summary>An IDataView that counts its cursors and how many are open at once.</summary>
    private sealed class CountingView(IDataView inner) : IDataView
    {
        private readonly Lock _gate = new();
        private int _open;

        public int Cursors { get; private set; }
        public int MaxOpen { get; private set; }

        public int Open
        {
            get { lock (_gate) return _open; }
        }

        /// <summary>(n, r): the n-th cursor (1-based) ends after r rows, as if the data had changed.</summary>
        public (int Cursor, int Rows)? StopAfterInCursor { get; init; }
        public bool CanShuffle => false;
        public DataViewSchema Schema => inner.Schema;
        public long? GetRowCount() => inner.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            lock (_gate)
            {
                Cursors++;
                MaxOpen = Math.Max(MaxOpen, ++_open);
                long limit = StopAfterInCursor is { } stop && stop.Cursor == Cursors ? stop.Rows : long.MaxValue;
                return new Counted(inner.GetRowCursor(columnsNeeded), () => { lock (_gate) _open--; }, limit);
            }
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            [GetRowCursor(columnsNeeded, rand)];

        private sealed class Counted(DataViewRowCursor c, Action closed, long limit) : DataViewRowCursor
        {
            private bool _closed;
            private long _rows;
            public override long Position => c.Position;
            public override long Batch => c.Batch;
            public override DataViewSchema Schema => c.Schema;
            public override bool MoveNext() => _rows++ < limit && c.MoveNext();
            public override ValueGetter<DataViewRowId> GetIdGetter() => c.GetIdGetter();
            public override bool IsColumnActive(DataViewSchema.Column column) => c.IsColumnActive(column);
            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => c.GetGetter<TValue>(column);

            protected override void Dispose(bool disposing)
            {
                if (disposing && !_closed)
                {
                    _closed = true;
                    closed();
                    c.Dispose();
                }
                base.Dispose(disposing);
            }
        }
    }
}
