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

    /// <summary>An IDataView that counts its cursors and how many are open at once.</summary>
    private sealed class CountingView(IDataView inner) : IDataView
    {
        private int _open;

        public int Cursors { get; private set; }
        public int MaxOpen { get; private set; }
        public bool CanShuffle => false;
        public DataViewSchema Schema => inner.Schema;
        public long? GetRowCount() => inner.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            Cursors++;
            MaxOpen = Math.Max(MaxOpen, ++_open);
            return new Counted(inner.GetRowCursor(columnsNeeded), () => _open--);
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            [GetRowCursor(columnsNeeded, rand)];

        private sealed class Counted(DataViewRowCursor c, Action closed) : DataViewRowCursor
        {
            private bool _closed;
            public override long Position => c.Position;
            public override long Batch => c.Batch;
            public override DataViewSchema Schema => c.Schema;
            public override bool MoveNext() => c.MoveNext();
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
