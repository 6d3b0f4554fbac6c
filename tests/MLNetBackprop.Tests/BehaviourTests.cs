using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Tests;

/// <summary>Sparse input, example weights, seeding, logging, validation data and cancellation.</summary>
public sealed class BehaviourTests
{
    public sealed class SparseRow
    {
        public bool Label { get; set; }

        [VectorType(50)]
        public VBuffer<float> Features { get; set; }
    }

    public sealed class DenseRow50
    {
        public bool Label { get; set; }

        [VectorType(50)]
        public float[] Features { get; set; } = [];
    }

    private static List<(bool Label, float[] X)> SparseProblem(int rows, int seed)
    {
        var rng = new Random(seed);
        var list = new List<(bool, float[])>();
        for (int i = 0; i < rows; i++)
        {
            var x = new float[50];
            for (int k = 0; k < 4; k++) x[rng.Next(50)] = (float)(rng.NextDouble() * 2);
            list.Add((x[0] + x[1] + x[2] - x[3] - x[4] - x[5] > 0, x));
        }
        return list;
    }

    private static SparseRow ToSparse((bool Label, float[] X) r)
    {
        var idx = Enumerable.Range(0, 50).Where(j => r.X[j] != 0).ToArray();
        return new SparseRow { Label = r.Label, Features = new VBuffer<float>(50, idx.Length, idx.Select(j => r.X[j]).ToArray(), idx) };
    }

    [Fact]
    public void SparseAndDenseInput_GiveTheSameModel_AndSparseRowsStaySparse()
    {
        var rows = SparseProblem(300, 1);
        var ml = new MLContext(seed: 5);
        var sparse = ml.Data.LoadFromEnumerable(rows.Select(ToSparse).ToList());
        var dense = ml.Data.LoadFromEnumerable(rows.Select(r => new DenseRow50 { Label = r.Label, Features = r.X }).ToList());
        var options = new BackpropTrainerOptions { HiddenLayers = [8], Seed = 3, MaxEpochs = 10 };

        var cols = ColumnBinding.Resolve(sparse.Schema, options);
        var read = TrainingSetReader.Read(sparse, cols, "training data", default);
        Assert.True(read.IsSparse);
        Assert.Equal(rows.Sum(r => r.X.Count(v => v != 0)), read.Values!.Length);
        Assert.False(TrainingSetReader.Read(dense, ColumnBinding.Resolve(dense.Schema, options), "training data", default).IsSparse);

        var fromSparse = ml.Backprop().Trainer(options).Fit(sparse);
        var fromDense = ml.Backprop().Trainer(options).Fit(dense);
        Assert.Equal(fromDense.History.Epochs.Count, fromSparse.History.Epochs.Count);
        var a = fromSparse.Model.GetWeights(0);
        var b = fromDense.Model.GetWeights(0);
        for (int i = 0; i < a.Length; i++) Assert.Equal(b[i], a[i], 1e-3f);

        // Scoring sparse rows with either model gives the same probabilities as scoring the dense rows.
        var p1 = fromSparse.Transform(sparse).GetColumn<float>("Probability").ToArray();
        var p2 = fromDense.Transform(dense).GetColumn<float>("Probability").ToArray();
        var p3 = fromDense.Transform(sparse).GetColumn<float>("Probability").ToArray();
        for (int i = 0; i < p1.Length; i++)
        {
            Assert.Equal(p2[i], p1[i], 1e-3f);
            Assert.Equal(p2[i], p3[i], 1e-5f);
        }
    }

    public sealed class HousingRow
    {
        public float Label { get; set; }

        [VectorType(13)]
        public float[] Features { get; set; } = [];
    }

    public sealed class WeightedRow
    {
        public float Label { get; set; }

        [VectorType(13)]
        public float[] Features { get; set; } = [];

        public float Weight { get; set; }
    }

    [Fact]
    public void ExampleWeights_ZeroWeightRowsAreIgnored_AndDoublingEqualsDuplicating()
    {
        var ml = new MLContext(seed: 2);
        var housing = ml.Transforms.NormalizeMeanVariance("Features").Fit(Datasets.Housing(ml)).Transform(Datasets.Housing(ml));
        var rows = ml.Data.CreateEnumerable<HousingRow>(housing, reuseRowObject: false).Take(200).ToList();
        var all = ml.Data.LoadFromEnumerable(rows);
        // A fixed λ: the automatic one's folds are dealt over rows, so dropped or duplicated rows would change them.
        var options = new BackpropTrainerOptions { HiddenLayers = [8], Seed = 1, MaxEpochs = 30, Tolerance = 0, Optimizer = OptimizerKind.Lbfgs, L2Regularization = 1e-3 };

        var weighted = rows.Select((r, i) => new WeightedRow { Label = r.Label, Features = r.Features, Weight = i % 2 == 0 ? 1 : 0 }).ToList();
        var kept = weighted.Where(r => r.Weight > 0).ToList();
        var withWeights = ml.Backprop().Trainer(Weighted(options)).Fit(ml.Data.LoadFromEnumerable(weighted));
        var withoutRows = ml.Backprop().Trainer(options).Fit(ml.Data.LoadFromEnumerable(kept.Select(r => new HousingRow { Label = r.Label, Features = r.Features }).ToList()));
        AssertSameScores(ml, withWeights, withoutRows, housing, 0.01f);

        var doubled = rows.Select((r, i) => new WeightedRow { Label = r.Label, Features = r.Features, Weight = i < 50 ? 2 : 1 }).ToList();
        var duplicated = rows.Concat(rows.Take(50)).Select(r => new HousingRow { Label = r.Label, Features = r.Features }).ToList();
        AssertSameScores(ml, ml.Backprop().Trainer(Weighted(options)).Fit(ml.Data.LoadFromEnumerable(doubled)),
            ml.Backprop().Trainer(options).Fit(ml.Data.LoadFromEnumerable(duplicated)), housing, 0.01f);

        // And the weights matter: the same rows with all weights 1 give another model.
        var unweighted = ml.Backprop().Trainer(options).Fit(ml.Data.LoadFromEnumerable(rows));
        var s1 = withWeights.Transform(housing).GetColumn<float>("Score").ToArray();
        var s2 = unweighted.Transform(housing).GetColumn<float>("Score").ToArray();
        Assert.True(s1.Zip(s2).Max(p => Math.Abs(p.First - p.Second)) > 0.5);

        static BackpropTrainerOptions Weighted(BackpropTrainerOptions o)
        {
            var c = o.Clone();
            c.ExampleWeightColumnName = "Weight";
            return c;
        }
    }

    private static void AssertSameScores(MLContext ml, ITransformer a, ITransformer b, IDataView data, float tolerance)
    {
        var s1 = a.Transform(data).GetColumn<float>("Score").ToArray();
        var s2 = b.Transform(data).GetColumn<float>("Score").ToArray();
        // Relative: the two trainings see the same J up to rounding, but 30 L-BFGS iterations amplify rounding
        // differences in the sums (the data are in a different order), so the models agree to a fraction of a percent.
        for (int i = 0; i < s1.Length; i++)
            Assert.True(Math.Abs(s1[i] - s2[i]) <= tolerance * Math.Max(1, Math.Abs(s2[i])), $"row {i}: {s1[i]} vs {s2[i]}");
    }

    private static (IDataView Data, IEstimator<ITransformer> Pipeline) IrisPipeline(MLContext ml, BackpropTrainerOptions? options = null) =>
        (Datasets.Iris(ml), ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(ml.Backprop().Trainer(options ?? new BackpropTrainerOptions { HiddenLayers = [16], MaxEpochs = 30 })));

    private static float[][] IrisScores(int seed, BackpropTrainerOptions? options = null)
    {
        var ml = new MLContext(seed);
        var (data, pipeline) = IrisPipeline(ml, options);
        return pipeline.Fit(data).Transform(data).GetColumn<float[]>("Score").ToArray();
    }

    [Fact]
    public void MLContextSeed_SameSeedGivesIdenticalModels_DifferentSeedDifferentModels()
    {
        var a = IrisScores(7);
        var b = IrisScores(7);
        var c = IrisScores(8);
        Assert.Equal(a.SelectMany(s => s), b.SelectMany(s => s));
        Assert.NotEqual(a.SelectMany(s => s), c.SelectMany(s => s));

        // The mini-batch path too (Adam, shuffling, a held-out validation split).
        var adam = new BackpropTrainerOptions { HiddenLayers = [16], MaxEpochs = 20, Optimizer = OptimizerKind.Adam };
        Assert.Equal(IrisScores(7, adam).SelectMany(s => s), IrisScores(7, adam).SelectMany(s => s));
        Assert.NotEqual(IrisScores(7, adam).SelectMany(s => s), IrisScores(9, adam).SelectMany(s => s));
    }

    [Fact]
    public void MLContextLog_GetsOneLinePerEpochWithLossAndValidationMetric()
    {
        var ml = new MLContext(seed: 1);
        var lines = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("Backprop epoch", StringComparison.Ordinal)) lock (lines) lines.Add(e.Message); };
        var (data, pipeline) = IrisPipeline(ml, new BackpropTrainerOptions { HiddenLayers = [8], MaxEpochs = 25, Optimizer = OptimizerKind.Adam });
        var model = ((TransformerChain<BackpropTransformer>)pipeline.Fit(data)).LastTransformer;
        Assert.Equal(model.History.Epochs.Count, lines.Count);
        Assert.Contains("Backprop epoch 1: training loss ", lines[0]);
        Assert.Contains("validation loss", lines[0]);
        Assert.Contains("validation accuracy", lines[0]);
    }

    [Fact]
    public void FitWithValidationData_StopsEarlyOnThatSetAndRecordsItsLoss()
    {
        var ml = new MLContext(seed: 1);
        var prep = ml.Transforms.NormalizeMeanVariance("Features").Fit(Datasets.Housing(ml));
        var split = ml.Data.TrainTestSplit(prep.Transform(Datasets.Housing(ml)), testFraction: 0.25, seed: 1);
        var trainer = ml.Regression.Trainers.Backprop(new BackpropTrainerOptions
        {
            HiddenLayers = [64], Optimizer = OptimizerKind.Adam, LearningRate = 0.01, MaxEpochs = 500, EarlyStoppingPatience = 5,
        });
        var model = trainer.Fit(split.TrainSet, split.TestSet);
        Assert.Equal(StopReason.EarlyStopped, model.History.StopReason);
        Assert.All(model.History.Epochs, e => Assert.NotNull(e.ValidationLoss));
        var best = model.History.Epochs.MinBy(e => e.ValidationLoss!.Value)!;
        Assert.Equal(best.Epoch, model.History.BestEpoch);
        Assert.True(model.Options.EarlyStopping);
    }

    /// <summary>
    /// MLContext.CancelExecution() is internal in ML.NET 5.0.1 (AutoML and other ML.NET components call it); the test
    /// calls it the same way they reach it.
    /// </summary>
    private static void CancelExecution(MLContext ml) =>
        typeof(MLContext).GetMethod("CancelExecution", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public)!
            .Invoke(ml, null);

    [Fact]
    public void CancelExecution_BeforeOrDuringFit_Throws()
    {
        var ml = new MLContext(seed: 1);
        var (data, pipeline) = IrisPipeline(ml);
        CancelExecution(ml);
        Assert.ThrowsAny<OperationCanceledException>(() => pipeline.Fit(data));

        // During training: cancel from the log handler after the third epoch.
        var ml2 = new MLContext(seed: 1);
        var (data2, pipeline2) = IrisPipeline(ml2, new BackpropTrainerOptions { MaxEpochs = 100_000, Optimizer = OptimizerKind.Adam, Tolerance = 0, EarlyStopping = false });
        int epochs = 0;
        ml2.Log += (_, e) => { if (e.Message.Contains("Backprop epoch", StringComparison.Ordinal) && ++epochs == 3) CancelExecution(ml2); };
        var ex = Assert.ThrowsAny<OperationCanceledException>(() => pipeline2.Fit(data2));
        Assert.Equal(3, epochs);
        Assert.Equal(3, Assert.IsType<BackpropCanceledException>(ex).PartialModel.History.Epochs.Count);
    }

    [Fact]
    public void CancellationTokenOption_CancelsTraining()
    {
        using var cts = new CancellationTokenSource();
        var options = new BackpropTrainerOptions
        {
            MaxEpochs = 100_000, Optimizer = OptimizerKind.Adam, Tolerance = 0, EarlyStopping = false, CancellationToken = cts.Token,
            EpochCompleted = r => { if (r.Epoch == 5) cts.Cancel(); },
        };
        var ml = new MLContext(seed: 1);
        var (data, pipeline) = IrisPipeline(ml, options);
        var ex = Assert.ThrowsAny<OperationCanceledException>(() => pipeline.Fit(data));
        var partial = Assert.IsType<BackpropCanceledException>(ex).PartialModel;
        Assert.Equal(5, partial.History.Epochs.Count);
        // The partial model is usable: it scores every row with finite values.
        var featurized = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.NormalizeMeanVariance("Features")).Fit(data).Transform(data);
        var scores = partial.Transform(featurized).GetColumn<float[]>("Score").ToArray();
        Assert.Equal(150, scores.Length);
        Assert.All(scores, row => Assert.All(row, v => Assert.True(float.IsFinite(v))));
    }
}
