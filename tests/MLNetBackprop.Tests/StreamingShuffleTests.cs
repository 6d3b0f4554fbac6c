using Microsoft.ML;
using Microsoft.ML.Runtime;
using Microsoft.ML.Data;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Tests;

/// <summary>
/// Issue #18: a streamed epoch reads the view in its order, shuffled within blocks, when the row order looks random, and
/// through the view's shuffled cursor (which costs CPU) when it drifts; <see cref="RowOrderCheck"/> tells which.
/// </summary>
public class StreamingShuffleTests
{
    private const int Rows = 20_000, Features = 5, Chunk = 100;

    private static (double F, int Column, double Threshold, int Chunks) Check(Func<int, int, float> feature, Func<int, float> label)
    {
        var check = new RowOrderCheck(Features, 1, Chunk);
        var x = new float[Features];
        var y = new float[1];
        for (int r = 0; r < Rows; r++)
        {
            for (int j = 0; j < Features; j++) x[j] = feature(r, j);
            y[0] = label(r);
            check.Add(new VBuffer<float>(Features, x), y);
        }
        return check.Result();
    }

    private static float Gaussian(Random rng) => (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));

    [Fact]
    public void ARandomOrderPasses_EvenWithALargeOffset()
    {
        var rng = new Random(5);
        // Feature 3 is 1e6 + N(0, 1): its chunk means must not lose the spread to rounding.
        var (f, _, threshold, chunks) = Check((_, j) => (j == 3 ? 1e6f : 0) + Gaussian(rng), _ => rng.Next(2));
        Assert.Equal(Rows / Chunk, chunks);
        // The threshold is 1 + 6 standard deviations of F under a random order: 1 + 6 √(2 / 199) ≈ 1.60.
        Assert.Equal(1 + 6 * Math.Sqrt(2.0 / 199), threshold, 12);
        Assert.InRange(f, 0.9, 1.35);
    }

    [Fact]
    public void ALabelSortedOrder_AndASlowDriftInOneFeature_AreFound()
    {
        var rng = new Random(6);
        var sorted = Check((_, _) => Gaussian(rng), r => r < Rows / 2 ? 0 : 1);
        Assert.Equal(Features, sorted.Column); // the label, after the five features
        Assert.True(sorted.F > 1000, $"F {sorted.F}");

        // Feature 2's mean moves by one standard deviation from the first row to the last (data gathered over time): with
        // chunks of 100 rows F is about 1 + 100 / 12 (in training, chunks of up to 4,096 rows see a drift 40 times smaller).
        var drift = Check((r, j) => Gaussian(rng) + (j == 2 ? 1f * r / Rows : 0), _ => rng.Next(2));
        Assert.Equal(2, drift.Column);
        Assert.True(drift.F > drift.Threshold, $"F {drift.F}, threshold {drift.Threshold}");
    }

    [Fact]
    public void AColumnConstantWithinChunksButNotAcrossIsDrift_OneConstantEverywhereIsNot()
    {
        var stepped = Check((r, j) => j == 1 ? r / (10 * Chunk) : 0, _ => 0);
        Assert.Equal(1, stepped.Column);
        Assert.Equal(double.PositiveInfinity, stepped.F);
        var flat = Check((_, _) => 7, _ => 1);
        Assert.Equal(0, flat.F);
    }

    private sealed class Row
    {
        [VectorType(13)] public float[] Features { get; set; } = [];
        public float Label { get; set; }
    }

    private static BackpropTrainerOptions Options(StreamingShuffleMode mode) => new()
    {
        HiddenLayers = [8], Optimizer = OptimizerKind.Adam, BatchSize = 32, MaxEpochs = 3, EarlyStopping = false, Seed = 3,
        DataLoading = DataLoadingMode.Streaming, StreamingBlockRows = 128, StreamingShuffle = mode,
    };

    /// <summary>Fits, and returns the log's data-loading line and its warnings.</summary>
    private static (string Loading, List<string> Warnings) FitAndLog(MLContext ml, IDataView data, BackpropTrainerOptions o)
    {
        var log = new List<(string Message, ChannelMessageKind Kind)>();
        ml.Log += (_, e) => { lock (log) log.Add((e.Message, e.Kind)); };
        var model = ml.Regression.Trainers.Backprop(o).Fit(data);
        Assert.True(model.History.Epochs[^1].TrainingLoss < model.History.Epochs[0].TrainingLoss, "it trained");
        lock (log)
            return (Assert.Single(log, m => m.Message.Contains("data loading: streaming")).Message,
                log.Where(m => m.Kind == ChannelMessageKind.Warning && m.Message.Contains("Backprop")).Select(m => m.Message).ToList());
    }

    private static IDataView InOrder(MLContext ml, IDataView data, int[] order)
    {
        var features = data.GetColumn<float[]>("Features").ToArray();
        var labels = data.GetColumn<float>("Label").ToArray();
        // Cached, a view can shuffle itself (ML.NET's cache gives random cursors).
        return ml.Data.Cache(ml.Data.LoadFromEnumerable(order.Select(i => new Row { Features = features[i], Label = labels[i] }).ToList()));
    }

    [Fact]
    public void OnHousing_TheFilesOrderDrifts_SoAutoReadsTheViewShuffled_ARandomPermutationIsReadInOrder()
    {
        // The Boston housing file is ordered by town: its rows drift (tract after tract of one area). The rows are put in a
        // cached list (a view that can shuffle itself) in the file's order and in a seeded random order.
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.NormalizeMeanVariance("Features").Fit(Datasets.Housing(ml)).Transform(Datasets.Housing(ml));
        var fileOrder = Enumerable.Range(0, 506).ToArray();
        var randomOrder = fileOrder.ToArray();
        new Random(11).Shuffle(randomOrder);
        var inFileOrder = InOrder(ml, data, fileOrder);
        var permuted = InOrder(ml, data, randomOrder);
        Assert.True(inFileOrder.CanShuffle);

        var (drifting, _) = FitAndLog(new MLContext(seed: 1), inFileOrder, Options(StreamingShuffleMode.Auto));
        Assert.Contains("epochs read the view's shuffled cursor, and within blocks (StreamingShuffle = Auto: the row order drifts;", drifting);
        Assert.Contains("over 32 chunks of rows", drifting); // 506 rows in chunks of 16 (a block of 128 / 8), the last of 10
        var (random, _) = FitAndLog(new MLContext(seed: 1), permuted, Options(StreamingShuffleMode.Auto));
        Assert.Contains("epochs read the view's order, shuffled within blocks of 128 rows (StreamingShuffle = Auto: the row order looks random;", random);

        // Asked for explicitly, either way is taken on either order.
        Assert.Contains("epochs read the view's shuffled cursor, and within blocks (StreamingShuffle = View)",
            FitAndLog(new MLContext(seed: 1), permuted, Options(StreamingShuffleMode.View)).Loading);
        Assert.Contains("epochs read the view's order, shuffled within blocks (StreamingShuffle = WithinBlocks)",
            FitAndLog(new MLContext(seed: 1), inFileOrder, Options(StreamingShuffleMode.WithinBlocks)).Loading);
        var off = Options(StreamingShuffleMode.Auto);
        off.Shuffle = false;
        Assert.Contains("epochs read the view's order every epoch (Shuffle = false)", FitAndLog(new MLContext(seed: 1), inFileOrder, off).Loading);
    }

    [Fact]
    public void ADriftingViewThatCannotShuffleItselfGetsAWarningThatSaysWhatToDo()
    {
        // The text loader cannot shuffle: the housing file streamed as it is, in its drifting order.
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.NormalizeMeanVariance("Features").Fit(Datasets.Housing(ml)).Transform(Datasets.Housing(ml));
        Assert.False(data.CanShuffle);
        var (loading, warnings) = FitAndLog(ml, data, Options(StreamingShuffleMode.Auto));
        Assert.Contains("epochs read shuffled within blocks (the view cannot shuffle itself)", loading);
        var w = Assert.Single(warnings, m => m.Contains("the row order drifts"));
        Assert.Contains("the view cannot shuffle itself, so rows further apart than a block of 128 are never in one mini-batch", w);
        Assert.Contains("SaveAsBinary", w);
    }

    [Fact]
    public void AnUndefinedStreamingShuffleIsNamed()
    {
        var ml = new MLContext(seed: 1);
        var o = Options((StreamingShuffleMode)7);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.Backprop(o));
        Assert.Equal("StreamingShuffle", e.ParamName);
    }
}
