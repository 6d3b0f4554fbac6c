using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Tests;

/// <summary>
/// Bad rows, one-class labels, wrong weight types, divergence, cancellation and concurrency never lose a model,
/// corrupt one, or crash.
/// </summary>
public sealed class ReliabilityTests
{
    public sealed class Row
    {
        public bool Label { get; set; }

        [VectorType(4)]
        public float[] Features { get; set; } = [];

        public float Weight { get; set; } = 1;
    }

    public sealed class Prediction
    {
        public float Score { get; set; }
        public float Probability { get; set; }
        public bool PredictedLabel { get; set; }
    }

    private static List<Row> Rows(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ =>
        {
            var f = new float[4];
            for (int j = 0; j < 4; j++) f[j] = (float)(rng.NextDouble() * 2 - 1);
            return new Row { Features = f, Label = f[0] * f[1] + 0.3f * f[2] > 0 };
        }).ToList();
    }

    private static BackpropTrainerOptions Small() => new() { HiddenLayers = [8], MaxEpochs = 40, Optimizer = OptimizerKind.Adam, BatchSize = 16, EarlyStopping = false, LearningRate = 0.01 };

    [Fact]
    public void InvalidRowsStopFitWithTheRowAndColumn_OrAreSkippedAndCountedInTheLog()
    {
        var rows = Rows(200, 1);
        var dirty = rows.Select(r => new Row { Features = (float[])r.Features.Clone(), Label = r.Label, Weight = r.Weight }).ToList();
        dirty[17].Features[2] = float.NaN;
        dirty[60].Features[0] = float.PositiveInfinity;
        dirty[61].Weight = float.NaN;
        var opts = Small();
        opts.ExampleWeightColumnName = "Weight";

        var ml = new MLContext(seed: 3);
        var e = Assert.Throws<InvalidOperationException>(() => ml.BinaryClassification.Trainers.Backprop(opts).Fit(ml.Data.LoadFromEnumerable(dirty)));
        Assert.Contains("Column 'Features' row 17 slot 2 is NaN", e.Message);
        Assert.Contains("SkipInvalidRows", e.Message);

        // Skipping: the model equals one trained on the clean rows alone, and the log says how many were dropped.
        var log = new List<string>();
        var mlSkip = new MLContext(seed: 3);
        mlSkip.Log += (_, m) => { if (m.Message.Contains("skipped", StringComparison.Ordinal)) log.Add(m.Message); };
        opts.SkipInvalidRows = true;
        var skipped = mlSkip.BinaryClassification.Trainers.Backprop(opts).Fit(mlSkip.Data.LoadFromEnumerable(dirty));
        var clean = dirty.Where((_, i) => i is not (17 or 60 or 61)).ToList();
        var mlClean = new MLContext(seed: 3);
        var reference = mlClean.BinaryClassification.Trainers.Backprop(opts).Fit(mlClean.Data.LoadFromEnumerable(clean));
        var probe = mlClean.Data.LoadFromEnumerable(clean);
        Assert.Equal(reference.Transform(probe).GetColumn<float>("Score").ToArray(), skipped.Transform(probe).GetColumn<float>("Score").ToArray());
        Assert.Single(log);
        Assert.Contains("skipped 3 invalid row(s) of the training data, kept 197", log[0]);
        Assert.Contains("row 17", log[0]);
    }

    [Fact]
    public void AllRowsInvalidWithSkippingIsAnEmptyDataError()
    {
        var rows = Rows(5, 2);
        foreach (var r in rows) r.Features[0] = float.NaN;
        var opts = Small();
        opts.SkipInvalidRows = true;
        var ml = new MLContext(1);
        var e = Assert.Throws<ArgumentException>(() => ml.BinaryClassification.Trainers.Backprop(opts).Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("All 5 rows of the training data were invalid", e.Message);
    }

    [Fact]
    public void BinaryLabelWithOneClassIsRefusedByName()
    {
        var rows = Rows(30, 3);
        foreach (var r in rows) r.Label = true;
        var ml = new MLContext(1);
        var e = Assert.Throws<ArgumentException>(() => ml.BinaryClassification.Trainers.Backprop(Small()).Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("Column 'Label'", e.Message);
        Assert.Contains("only one class", e.Message);
    }

    public sealed class KeyRow
    {
        public string Label { get; set; } = "";

        [VectorType(2)]
        public float[] Features { get; set; } = [];
    }

    [Fact]
    public void KeyLabelWithOneClassIsRefusedAtSchemaAndFitTime()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 10).Select(i => new KeyRow { Label = "only", Features = [i, -i] }).ToList());
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        var trainer = ml.MulticlassClassification.Trainers.Backprop(Small());
        var e1 = Assert.Throws<ArgumentException>(() => trainer.Fit(keyed));
        Assert.Contains("Column 'Label'", e1.Message);
        Assert.Contains("1 values", e1.Message);
    }

    public sealed class DoubleWeightRow
    {
        public bool Label { get; set; }

        [VectorType(2)]
        public float[] Features { get; set; } = [];

        public double Weight { get; set; }
    }

    [Fact]
    public void WeightColumnOfTheWrongTypeIsNamedWithTheExpectedType()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(new[] { new DoubleWeightRow { Label = true, Features = [1, 2], Weight = 1 } });
        var opts = Small();
        opts.ExampleWeightColumnName = "Weight";
        var e = Assert.Throws<ArgumentException>(() => ml.BinaryClassification.Trainers.Backprop(opts).Fit(data));
        Assert.Contains("Column 'Weight' (the example weight column)", e.Message);
        Assert.Contains("expected Single", e.Message);
        Assert.Throws<ArgumentException>(() => ml.BinaryClassification.Trainers.Backprop(opts).GetOutputSchema(SchemaShapes.FromSchema(data.Schema)));
    }

    public sealed class RegressionRow
    {
        public float Label { get; set; }

        [VectorType(3)]
        public float[] Features { get; set; } = [];
    }

    [Fact]
    public void ExplodingLearningRateThrowsWithoutBackoffAndYieldsAFiniteModelWithIt()
    {
        var rng = new Random(4);
        var rows = Enumerable.Range(0, 100).Select(_ =>
        {
            var f = new[] { (float)rng.NextDouble() * 100, (float)rng.NextDouble() * 100, (float)rng.NextDouble() * 100 };
            return new RegressionRow { Features = f, Label = 3 * f[0] - 2 * f[1] + f[2] };
        }).ToList();
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var opts = new BackpropTrainerOptions
        {
            HiddenLayers = [16], Activation = Activation.Relu, Optimizer = OptimizerKind.Sgd, LearningRate = 5, MaxEpochs = 30,
            EarlyStopping = false, DivergenceBackoff = false, Tolerance = 0,
        };
        var e = Assert.Throws<TrainingDivergedException>(() => ml.Regression.Trainers.Backprop(opts).Fit(data));
        Assert.Contains("learning rate", e.Message);

        opts.DivergenceBackoff = true;
        var model = ml.Regression.Trainers.Backprop(opts).Fit(data);
        Assert.All(model.Transform(data).GetColumn<float>("Score"), s => Assert.True(float.IsFinite(s)));
        for (int l = 0; l < model.Model.LayerSizes.Count - 1; l++)
            Assert.All(model.Model.GetWeights(l), w => Assert.True(float.IsFinite(w)));
    }

    private static (MLContext Ml, IDataView Data, List<string> Warnings) NormalizedHousing()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.NormalizeMeanVariance("Features").Fit(Datasets.Housing(ml)).Transform(Datasets.Housing(ml));
        var warnings = new List<string>();
        ml.Log += (_, m) => { if (m.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Warning) warnings.Add(m.Message); };
        return (ml, data, warnings);
    }

    [Fact]
    public void LearningRateTooLargeForEveryBackoffStopsAsDivergedWithAMeasuredModelAndAWarning()
    {
        // α = 1e30 cut by 4 ten times is still ~1e24: every epoch explodes. The model handed back must be one whose loss
        // was measured (finite, sane predictions on O(1) targets), and the stop reason must say it diverged.
        var (ml, data, warnings) = NormalizedHousing();
        var opts = new BackpropTrainerOptions { HiddenLayers = [16], Optimizer = OptimizerKind.GradientDescent, LearningRate = 1e30, Seed = 1 };
        Assert.True(opts.DivergenceBackoff);
        var model = ml.Regression.Trainers.Backprop(opts).Fit(data);

        Assert.Equal(StopReason.Diverged, model.History.StopReason);
        var scores = model.Transform(data).GetColumn<float>("Score").ToArray();
        Assert.All(scores, s => Assert.True(float.IsFinite(s) && Math.Abs(s) < 1e4, $"score {s}"));
        var metrics = ml.Regression.Evaluate(model.Transform(data));
        Assert.True(metrics.RSquared > -10, $"R² = {metrics.RSquared}");
        Assert.Contains(warnings, m => m.Contains("training diverged even after 10 learning-rate back-off(s)", StringComparison.Ordinal));

        // The new stop reason survives saving and loading (it is stored by name).
        string folder = Directory.CreateTempSubdirectory("backprop-diverged-").FullName;
        try
        {
            string path = Path.Combine(folder, "model.zip");
            ml.Backprop().SaveModel(model, data.Schema, path);
            var loaded = new MLContext().Backprop().LoadModel(path, out _);
            var rebuilt = Assert.IsType<BackpropTransformer>(loaded);
            Assert.Equal(StopReason.Diverged, rebuilt.History.StopReason);
            Assert.Equal(model.History.BestEpoch, rebuilt.History.BestEpoch);
            Assert.Equal(scores, rebuilt.Transform(data).GetColumn<float>("Score").ToArray());
            (loaded as IDisposable)?.Dispose();
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }

        opts.DivergenceBackoff = false;
        var e = Assert.Throws<TrainingDivergedException>(() => ml.Regression.Trainers.Backprop(opts).Fit(data));
        Assert.Contains("learning rate", e.Message);
    }

    [Fact]
    public void LearningRateTheBackoffsCanTameTrainsAModelInsteadOfStoppingAtTheFirstRestarts()
    {
        // α = 1e3 explodes, but a few cuts by 4 reach a rate that trains. The epochs re-run after each back-off repeat an
        // already measured loss; they must not count as "no improvement" and stop the run as converged before it trains.
        var (ml, data, warnings) = NormalizedHousing();
        var opts = new BackpropTrainerOptions { HiddenLayers = [16], Optimizer = OptimizerKind.GradientDescent, LearningRate = 1e3, Seed = 1 };
        var model = ml.Regression.Trainers.Backprop(opts).Fit(data);

        var h = model.History;
        Assert.NotEqual(StopReason.Diverged, h.StopReason);
        Assert.True(h.Epochs[^1].LearningRate < 1e3);
        var metrics = ml.Regression.Evaluate(model.Transform(data));
        Assert.True(metrics.RSquared > 0.3, $"R² = {metrics.RSquared} ({h.StopReason} after {h.Epochs.Count} epochs)");
        Assert.DoesNotContain(warnings, m => m.Contains("diverged", StringComparison.Ordinal));

        opts.DivergenceBackoff = false;
        Assert.Throws<TrainingDivergedException>(() => ml.Regression.Trainers.Backprop(opts).Fit(data));
    }

    private static List<RegressionRow> ScaledLinearRows(double scale, int n = 200)
    {
        var rng = new Random(9);
        return Enumerable.Range(0, n).Select(_ =>
        {
            var f = new[] { (float)(rng.NextDouble() * 2 - 1), (float)(rng.NextDouble() * 2 - 1), (float)(rng.NextDouble() * 2 - 1) };
            return new RegressionRow { Features = f, Label = (float)(scale * (0.6 * f[0] - 0.3 * f[1] + 0.1 * f[2])) };
        }).ToList();
    }

    private static BackpropTrainerOptions SmallRegression() => new() { HiddenLayers = [8], MaxEpochs = 50, Seed = 1 };

    [Fact]
    public void RegressionTargetsTooCloseToFloatsRangeAreRefusedByColumnAndRow()
    {
        // Targets of ±3e38 (float's limit is 3.4e38), a step in the first feature. Before this was refused, the model
        // trained and then 56 of these 200 ordinary rows scored ±∞: output × scale + mean overflows as soon as the
        // network overshoots a target by 13 %. The first three rows are ordinary (±3e30), so the first refused is row 3.
        var rng = new Random(9);
        var rows = Enumerable.Range(0, 200).Select(i =>
        {
            var f = new[] { (float)(rng.NextDouble() * 2 - 1), (float)(rng.NextDouble() * 2 - 1), (float)(rng.NextDouble() * 2 - 1) };
            return new RegressionRow { Features = f, Label = (f[0] > 0 ? 1 : -1) * (i < 3 ? 3e30f : 3e38f) };
        }).ToList();
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var e = Assert.Throws<InvalidOperationException>(() => ml.Regression.Trainers.Backprop(SmallRegression()).Fit(data));
        Assert.Contains("Column 'Label' (the label) row 3 is", e.Message);
        Assert.Contains("3.4E+35", e.Message);
        Assert.Contains("SkipInvalidRows", e.Message);

        // With SkipInvalidRows such rows are dropped like any other invalid label, and the model scores finitely.
        var opts = SmallRegression();
        opts.SkipInvalidRows = true;
        var tamed = rows.Select((r, i) => new RegressionRow { Features = r.Features, Label = i % 4 == 0 ? r.Label : r.Label / 1e4f }).ToList();
        var model = ml.Regression.Trainers.Backprop(opts).Fit(ml.Data.LoadFromEnumerable(tamed));
        Assert.All(model.Transform(data).GetColumn<float>("Score"), s => Assert.True(float.IsFinite(s), $"score {s}"));
    }

    [Fact]
    public void LargeButSafeRegressionTargetsStillTrainAndScoreFinitely()
    {
        // 1e20 is far inside the bound: standardization makes it an ordinary problem.
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(ScaledLinearRows(1e20));
        var model = ml.Regression.Trainers.Backprop(SmallRegression()).Fit(data);
        var scored = model.Transform(data);
        Assert.All(scored.GetColumn<float>("Score"), s => Assert.True(float.IsFinite(s), $"score {s}"));
        Assert.True(ml.Regression.Evaluate(scored).RSquared > 0.99);
    }

    [Fact]
    public void SixteenThreadsScoringTenThousandRowsGetExactlyTheSingleThreadedResults()
    {
        var ml = new MLContext(seed: 5);
        var train = ml.Data.LoadFromEnumerable(Rows(500, 5));
        var model = ml.BinaryClassification.Trainers.Backprop(Small()).Fit(train);
        var probeRows = Rows(10_000, 6);
        var probe = ml.Data.LoadFromEnumerable(probeRows);
        var expected = model.Transform(probe).GetColumn<float>("Probability").ToArray();

        var results = new float[16][];
        var errors = new List<Exception>();
        var threads = Enumerable.Range(0, 16).Select(t => new Thread(() =>
        {
            try
            {
                // Half the threads share one transform cursor source, half use their own prediction engine.
                if (t % 2 == 0)
                    results[t] = model.Transform(probe).GetColumn<float>("Probability").ToArray();
                else
                {
                    var engine = ml.Model.CreatePredictionEngine<Row, Prediction>(model);
                    results[t] = probeRows.Select(r => engine.Predict(r).Probability).ToArray();
                }
            }
            catch (Exception ex)
            {
                lock (errors) errors.Add(ex);
            }
        })).ToList();
        threads.ForEach(th => th.Start());
        threads.ForEach(th => th.Join());
        Assert.Empty(errors);
        Assert.All(results, r => Assert.Equal(expected, r));
    }

    [Fact]
    public void TwoModelsTrainedInParallelMatchTheSameModelsTrainedOneAfterTheOther()
    {
        float[] Train(int seed)
        {
            var ml = new MLContext(seed);
            var data = ml.Data.LoadFromEnumerable(Rows(400, seed));
            var opts = Small();
            opts.HiddenLayers = [64];
            return ml.BinaryClassification.Trainers.Backprop(opts).Fit(data).Transform(data).GetColumn<float>("Score").ToArray();
        }
        var a = Train(11);
        var b = Train(12);
        float[]? pa = null, pb = null;
        Parallel.Invoke(() => pa = Train(11), () => pb = Train(12));
        Assert.Equal(a, pa);
        Assert.Equal(b, pb);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void CancellationWithEarlyStoppingHandsBackTheBestValidationModel()
    {
        using var cts = new CancellationTokenSource();
        var opts = Small();
        opts.MaxEpochs = 10_000;
        opts.EarlyStopping = true;
        opts.EarlyStoppingPatience = 10_000;
        opts.CancellationToken = cts.Token;
        opts.EpochCompleted = r => { if (r.Epoch == 8) cts.Cancel(); };
        var ml = new MLContext(7);
        var data = ml.Data.LoadFromEnumerable(Rows(300, 7));
        var ex = Assert.Throws<BackpropCanceledException>(() => ml.BinaryClassification.Trainers.Backprop(opts).Fit(data));
        var h = ex.PartialModel.History;
        Assert.Equal(8, h.Epochs.Count);
        Assert.Equal(h.Epochs.Min(e => e.ValidationLoss!.Value), h.Epochs[h.BestEpoch - 1].ValidationLoss);
        Assert.All(ex.PartialModel.Transform(data).GetColumn<float>("Probability"), p => Assert.InRange(p, 0f, 1f));
    }

    [Fact]
    public void HiddenLayersTooLargeForAnArrayAreRejectedByNameWithTheParameterCount()
    {
        var ml = new MLContext(1);
        // 46341² > int.MaxValue: even with one feature and one output the network cannot exist, so the trainer refuses
        // the option itself (before any data is seen), like every other invalid option.
        var opts = new BackpropTrainerOptions { HiddenLayers = [46341, 46341] };
        var e = Assert.ThrowsAny<ArgumentException>(() => ml.Regression.Trainers.Backprop(opts));
        Assert.Equal("HiddenLayers", e.ParamName);
        Assert.Contains("HiddenLayers = [46341, 46341]", e.Message);
        Assert.Contains("at least 2147673646 parameters", e.Message);

        // [46341] is fine on its own but not with 46341 features: Fit knows the widths and says so by name too.
        var rows = Enumerable.Range(0, 2).Select(i => new WideRow { Label = i, Features = new float[46341] }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        opts.HiddenLayers = [46341];
        var fit = Assert.ThrowsAny<ArgumentException>(() => ml.Regression.Trainers.Backprop(opts).Fit(data));
        Assert.Equal("HiddenLayers", fit.ParamName);
        Assert.Contains("HiddenLayers = [46341]", fit.Message);
        Assert.Contains("46341 features", fit.Message);
        Assert.Contains("2147580964 parameters", fit.Message);
    }

    public sealed class WideRow
    {
        public float Label { get; set; }

        [VectorType(46341)]
        public float[] Features { get; set; } = [];
    }

    public static TheoryData<string, Action<BackpropTrainerOptions>> BadOptions() => new()
    {
        { "HiddenLayers", o => o.HiddenLayers = [3, -1] },
        { "Activation", o => o.Activation = Activation.Softmax },
        { "L2Regularization", o => o.L2Regularization = -0.1 },
        { "L1Regularization", o => o.L1Regularization = double.NaN },
        { "LearningRate", o => o.LearningRate = 0 },
        { "Momentum", o => o.Momentum = 1.2 },
        { "BatchSize", o => o.BatchSize = 0 },
        { "MaxEpochs", o => o.MaxEpochs = -3 },
        { "Tolerance", o => o.Tolerance = -1 },
        { "ValidationFraction", o => o.ValidationFraction = 0 },
        { "EarlyStoppingPatience", o => o.EarlyStoppingPatience = 0 },
        { "NumberOfThreads", o => o.NumberOfThreads = 0 },
        { "Beta2", o => o.Beta2 = 1 },
        { "LbfgsMemory", o => o.LbfgsMemory = 0 },
        { "LbfgsMaxRows", o => o.LbfgsMaxRows = -1 },
        { "Task", o => o.Task = (BackpropTask)99 },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void EveryInvalidOptionIsRejectedBeforeTrainingWithItsName(string option, Action<BackpropTrainerOptions> spoil)
    {
        var opts = new BackpropTrainerOptions();
        spoil(opts);
        var ml = new MLContext(1);
        var e = Assert.ThrowsAny<ArgumentException>(() => ml.Backprop().Trainer(opts));
        Assert.Equal(option, e.ParamName);
        Assert.Contains(option, e.Message);
    }
}
