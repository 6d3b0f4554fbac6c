using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Tests;

namespace MLNetBackprop.Tests;

/// <summary>
/// Data-parallel training through ML.NET (<see cref="BackpropTrainerOptions.GradientAllreduce"/>), the ranks as threads
/// that sum in the MPI ring's order; the MPI transport is tested in MLNetBackprop.Distributed.Tests.
/// </summary>
public class DistributedPipelineTests
{
    private sealed record RankResult(float[] Weights, float[] Mean, float[] Scale, double RSquared, string Log);

    [Fact]
    public void TwoRanksFitOneHousingModel_TheSameOnBothRanks_AndAsGoodAsOneProcess()
    {
        var options = new BackpropTrainerOptions { HiddenLayers = [32], NumberOfThreads = 1 };
        var ranks = ThreadAllreduce.Run(2, comm =>
        {
            // Different MLContext seeds and no Seed option: the ranks must still agree on rank 0's seed.
            var ml = new MLContext(seed: 1 + comm.Rank);
            var log = new System.Text.StringBuilder();
            ml.Log += (_, e) => { if (e.Message.Contains("Backprop", StringComparison.Ordinal)) lock (log) log.AppendLine(e.Message); };
            var split = ml.Data.TrainTestSplit(Datasets.Housing(ml), testFraction: 0.2, seed: 1);
            // The normalizer sees every training row on every rank, so that every rank's features are scaled alike.
            var featurizer = ml.Transforms.NormalizeMeanVariance("Features").Fit(split.TrainSet);
            var shard = ml.Backprop().Shard(featurizer.Transform(split.TrainSet), comm.Rank, comm.Size);
            var o = options.Clone();
            o.GradientAllreduce = comm;
            var trained = ml.Regression.Trainers.Backprop(o).Fit(shard);
            var model = featurizer.Append(trained);
            double r2 = ml.Regression.Evaluate(model.Transform(split.TestSet)).RSquared;
            var m = trained.Model;
            return new RankResult(m.CloneNetwork().Parameters.ToArray(), m.Mean, m.Scale, r2, log.ToString());
        });

        Assert.Equal(ranks[0].Weights, ranks[1].Weights);
        Assert.Equal(ranks[0].Mean, ranks[1].Mean);
        Assert.Equal(ranks[0].RSquared, ranks[1].RSquared);
        Assert.Contains("rank 0 of 2 holds its shard", ranks[0].Log);
        Assert.Contains("rank 1 of 2 holds its shard", ranks[1].Log);
        Assert.Contains("not searched: the training is data-parallel", ranks[0].Log);

        // One process on the same training rows with the λ the ranks used: the same target scaling (to float rounding of
        // two partial sums), and a held-out R² within noise of it. SDCA reaches about 0.7 on this set.
        var ml1 = new MLContext(seed: 1);
        var split1 = ml1.Data.TrainTestSplit(Datasets.Housing(ml1), testFraction: 0.2, seed: 1);
        var single = ml1.Transforms.NormalizeMeanVariance("Features")
            .Append(ml1.Regression.Trainers.Backprop(new BackpropTrainerOptions { HiddenLayers = [32], NumberOfThreads = 1, L2Regularization = 1e-3 }))
            .Fit(split1.TrainSet);
        double r2Single = ml1.Regression.Evaluate(single.Transform(split1.TestSet)).RSquared;
        var m1 = single.LastTransformer.Model;
        Assert.Equal(m1.Mean[0], ranks[0].Mean[0], 1e-5f * Math.Abs(m1.Mean[0]));
        Assert.Equal(m1.Scale[0], ranks[0].Scale[0], 1e-5f * m1.Scale[0]);
        Assert.True(ranks[0].RSquared > 0.75, $"two ranks: held-out R² {ranks[0].RSquared:F3}");
        Assert.True(Math.Abs(ranks[0].RSquared - r2Single) < 0.06, $"two ranks R² {ranks[0].RSquared:F3}, one process {r2Single:F3}");
    }

    [Fact]
    public void BalancedClassWeightsFollowTheClassCountsOfEveryShard()
    {
        // Rank 0's shard holds the first half of the rows, rank 1's the second, and their class mixes differ: weights from
        // one shard's counts would give another cost than one process's. Full-batch L-BFGS sums both shards' gradients,
        // so the two ranks must follow one process's losses epoch by epoch (to float rounding).
        static BackpropTrainerOptions Options() => new()
        {
            HiddenLayers = [8], NumberOfThreads = 1, BalanceClasses = true, SkipInvalidRows = true, Seed = 5,
            Optimizer = Core.Optimizers.OptimizerKind.Lbfgs, L2Regularization = 1e-3, MaxEpochs = 10,
        };
        static IDataView Data(MLContext ml) =>
            ml.Transforms.NormalizeMinMax("Features").Fit(Datasets.BreastCancer(ml)).Transform(Datasets.BreastCancer(ml));
        var ranks = ThreadAllreduce.Run(2, comm =>
        {
            var ml = new MLContext(seed: 1);
            var o = Options();
            o.GradientAllreduce = comm;
            return ml.BinaryClassification.Trainers.Backprop(o).Fit(ml.Backprop().Shard(Data(ml), comm.Rank, comm.Size)).History;
        });
        var ml1 = new MLContext(seed: 1);
        var single = ml1.BinaryClassification.Trainers.Backprop(Options()).Fit(Data(ml1)).History;
        Assert.Equal(single.Epochs.Count, ranks[0].Epochs.Count);
        for (int e = 0; e < single.Epochs.Count; e++)
            Assert.Equal(single.Epochs[e].TrainingLoss, ranks[0].Epochs[e].TrainingLoss, 1e-4 * single.Epochs[e].TrainingLoss);
        Assert.Equal(ranks[0].Epochs.Select(e => e.TrainingLoss), ranks[1].Epochs.Select(e => e.TrainingLoss));
    }

    [Fact]
    public void ClassesNumberedDifferentlyByTheShardsAreRefusedOnEveryRank()
    {
        // Iris is sorted by class: the first half holds classes 0 and 1, the second 1 and 2. A key mapping fitted on each
        // shard numbers them 0, 1 on both ranks, for different classes.
        var errors = ThreadAllreduce.Run(2, comm =>
        {
            var ml = new MLContext(seed: 1);
            var shard = ml.Backprop().Shard(Datasets.Iris(ml), comm.Rank, comm.Size);
            var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
                .Append(ml.MulticlassClassification.Trainers.Backprop(new BackpropTrainerOptions { GradientAllreduce = comm, Seed = 1 }));
            return Assert.Throws<ArgumentException>(() => pipeline.Fit(shard));
        });
        Assert.All(errors, e => Assert.Equal("LabelColumnName", e.ParamName));
        Assert.All(errors, e => Assert.Contains("differently on rank(s) 1 than on rank 0", e.Message));
        Assert.Contains("ByValue", errors[0].Message);
    }

    [Fact]
    public void StreamingIsRefusedByName()
    {
        var ml = new MLContext(seed: 1);
        var ex = ThreadAllreduce.Run(2, comm => Assert.Throws<ArgumentException>(() =>
            ml.Regression.Trainers.Backprop(new BackpropTrainerOptions { DataLoading = DataLoadingMode.Streaming, GradientAllreduce = comm })
                .Fit(new MLContext(1).Transforms.NormalizeMeanVariance("Features").Fit(Datasets.Housing(ml)).Transform(Datasets.Housing(ml)))));
        Assert.Equal("DataLoading", ex[0].ParamName);
        Assert.Contains("GradientAllreduce", ex[0].Message);
    }

    [Fact]
    public void ShardsHoldEveryRowOnce()
    {
        var ml = new MLContext(seed: 1);
        var data = Datasets.Housing(ml);
        var all = data.GetColumn<float>("Label").ToArray();
        var parts = Enumerable.Range(0, 3).Select(r => ml.Backprop().Shard(data, r, 3).GetColumn<float>("Label").ToArray()).ToArray();
        Assert.Equal([168, 169, 169], parts.Select(p => p.Length));
        Assert.Equal(all, parts.SelectMany(p => p));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Backprop().Shard(data, 3, 3));
    }
}
