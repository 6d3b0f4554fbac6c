using MLNetBackprop.Core.Distributed;
using MLNetBackprop.Core.Optimizers;
using Xunit;

namespace MLNetBackprop.Core.Tests;

/// <summary>
/// Data-parallel training (<see cref="NetworkTrainer.TrainDistributed{T}"/>) with the ranks as threads
/// (<see cref="ThreadAllreduce"/>, which sums in the MPI ring's order). The MPI transport itself is tested in
/// MLNetBackprop.Distributed.Tests; here: the ranks hold the same weights, the run is reproducible, N ranks train what one
/// process trains on the same global batches (to float rounding), and disagreements and cancellation reach every rank.
/// </summary>
public class DistributedTrainingTests
{
    private const int D = 784, K = 10;
    private static readonly Lazy<(float[] X, int[] Labels)> Mnist = new(() => TestData.ReadMnist("mnist10k-train.csv.gz"));

    private static TrainingData<float> Rows(int count)
    {
        var (x, labels) = Mnist.Value;
        return TrainingData<float>.FromDense(x.AsSpan(0, count * D).ToArray(), D, TrainingData<float>.OneHot(labels.AsSpan(0, count), K), K);
    }

    /// <summary>Rank r's shard: rows r, r + N, r + 2N, … (so that rank shares of a global batch interleave).</summary>
    private static TrainingData<float> Shard(TrainingData<float> all, int rank, int size) =>
        all.Subset(Enumerable.Range(0, all.Count).Where(i => i % size == rank).ToArray());

    private static NeuralNetwork<float> Network(int seed = 3)
    {
        var net = new NeuralNetwork<float>([D, 32, K], [Activation.Relu, Activation.Softmax]);
        net.Initialize(seed);
        return net;
    }

    private static TrainingOptions Options(OptimizerKind optimizer, bool shuffle) => new()
    {
        Loss = LossFunction.CrossEntropy,
        Optimizer = optimizer,
        BatchSize = optimizer == OptimizerKind.Lbfgs ? null : 64,
        LearningRate = optimizer == OptimizerKind.Adam ? 1e-3 : null,
        MaxEpochs = optimizer == OptimizerKind.Lbfgs ? 15 : 3,
        Tolerance = 0,
        Shuffle = shuffle,
        Seed = 11,
        NumberOfThreads = 1,
    };

    [Fact]
    public void RingOrderStartsEachChunkAtItsOwnRank_HandComputed()
    {
        // float: 1e8 + 1 rounds to 1e8, so which value a sum starts from decides the result.
        float[][] parts = [[1e8f, 1e8f, 1f], [1f, -1e8f, 1e8f], [-1e8f, 1f, -1e8f]];
        var sum = new float[3];
        RingOrder.Sum(parts, sum);
        // chunk c is element c here: (g_c + g_{c+1}) + g_{c+2}
        Assert.Equal([(1e8f + 1f) + -1e8f, (-1e8f + 1f) + 1e8f, (-1e8f + 1f) + 1e8f], sum);
        Assert.Equal([0f, 0f, 0f], sum);
        // summed in rank order the middle element would be 1, not 0: the order is part of the contract
        Assert.Equal(1f, (1e8f + -1e8f) + 1f);
        Assert.Equal([(0, 4), (4, 3), (7, 3)], Enumerable.Range(0, 3).Select(c => RingOrder.Chunk(10, 3, c)));
        Assert.Equal([(0, 1), (1, 0), (1, 0)], Enumerable.Range(0, 3).Select(c => RingOrder.Chunk(1, 3, c)));
    }

    [Theory]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.Lbfgs)]
    public void TwoRanksTrainWhatOneProcessTrainsOnTheSameGlobalBatches(OptimizerKind optimizer)
    {
        var all = Rows(1024);
        var options = Options(optimizer, shuffle: false);
        var single = NetworkTrainer.Train(Network(), all, options);

        // In order, rank 0's rows 0, 2, 4, … and rank 1's rows 1, 3, 5, … of each 32-row share make up the one-process
        // batch of 64 consecutive rows; L-BFGS sums the whole of both shards.
        var ranks = ThreadAllreduce.Run(2, comm => NetworkTrainer.TrainDistributed(Network(), Shard(all, comm.Rank, 2), options.Clone(), comm));

        Assert.Equal(ranks[0].Network.Parameters.ToArray(), ranks[1].Network.Parameters.ToArray());
        Assert.Equal(single.History.Epochs.Count, ranks[0].History.Epochs.Count);
        Assert.Equal(single.History.Epochs[^1].GradientEvaluations, ranks[0].History.Epochs[^1].GradientEvaluations);
        // Not bitwise: one process sums each batch's rows in one product, two ranks sum two halves and then add them.
        // The difference is float rounding (seen: max 4e-7 against max weights 0.8), which 3 epochs carry but do not amplify.
        double maxDiff = MaxAbsDifference(single.Network.Parameters, ranks[0].Network.Parameters);
        double scale = MaxAbs(single.Network.Parameters);
        Assert.True(maxDiff < 1e-5 * scale, $"max |Δθ| = {maxDiff:G3} against max |θ| = {scale:G3}");
        for (int e = 0; e < single.History.Epochs.Count; e++)
            Assert.Equal(single.History.Epochs[e].TrainingLoss, ranks[0].History.Epochs[e].TrainingLoss, 1e-4 * single.History.Epochs[e].TrainingLoss);
        Assert.True(ranks[0].History.Epochs[^1].TrainingLoss < 0.6 * ranks[0].History.Epochs[0].TrainingLoss,
            $"training loss {ranks[0].History.Epochs[0].TrainingLoss:G4} → {ranks[0].History.Epochs[^1].TrainingLoss:G4}");
    }

    [Theory]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.GradientDescent)]
    public void ShardedStepsGiveTheAllreduceStepsWeightsAndOptimizerStateBitForBit(OptimizerKind optimizer)
    {
        // Two ranks: a sum of two values is the same in either order, so splitting the sum (each rank updates its own
        // chunk, then the chunks are gathered) must give exactly what summing everything on every rank gives.
        var all = Rows(999); // an odd shard: the last step of rank 1 is one row short
        var options = Options(optimizer, shuffle: true);
        options.MaxEpochs = optimizer == OptimizerKind.GradientDescent ? 20 : 3;
        options.LearningRate = optimizer == OptimizerKind.GradientDescent ? 0.5 : options.LearningRate;
        var sharded = ThreadAllreduce.Run(2, comm => NetworkTrainer.TrainDistributed(Network(), Shard(all, comm.Rank, 2), options.Clone(), comm));
        var summed = ThreadAllreduce.Run(2, comm => NetworkTrainer.TrainDistributed(Network(), Shard(all, comm.Rank, 2), options.Clone(), new Unsharded(comm)));
        Assert.Equal(sharded[0].Network.Parameters.ToArray(), sharded[1].Network.Parameters.ToArray());
        for (int r = 0; r < 2; r++)
        {
            var expected = summed[r].State!.OptimizerArrays;
            var actual = sharded[r].State!.OptimizerArrays;
            Assert.Equal(optimizer == OptimizerKind.GradientDescent ? 0 : optimizer == OptimizerKind.Adam ? 2 : 1, actual.Count);
            Assert.Equal(summed[r].History.Epochs.Count, sharded[r].History.Epochs.Count);
            if (optimizer != OptimizerKind.Adam)
            {
                Assert.Equal(summed[r].Network.Parameters.ToArray(), sharded[r].Network.Parameters.ToArray());
                for (int a = 0; a < expected.Count; a++) Assert.Equal(expected[a], actual[a]);
                continue;
            }
            // Adam's scalar form rounds (c₂·g)·g where its vector form rounds (g·g)·c₂. The elements just short of a chunk's
            // end take the scalar form when the chunk is updated alone and the vector form in the whole update, so the
            // runs part at the last bit there and drift apart by rounding; the state is still complete on every rank.
            double maxDiff = MaxAbsDifference(summed[r].Network.Parameters, sharded[r].Network.Parameters);
            double scale = MaxAbs(summed[r].Network.Parameters);
            Assert.True(maxDiff < 1e-5 * scale, $"max |Δθ| = {maxDiff:G3} against max |θ| = {scale:G3}");
            for (int a = 0; a < expected.Count; a++)
                Assert.True(MaxAbsDifference(expected[a], actual[a]) <= 1e-4 * MaxAbs(expected[a]),
                    $"state {a}: max difference {MaxAbsDifference(expected[a], actual[a]):G3} against max {MaxAbs(expected[a]):G3}");
        }
        Assert.True(sharded[0].History.Epochs[^1].TrainingLoss < 0.8 * sharded[0].History.Epochs[0].TrainingLoss,
            $"training loss {sharded[0].History.Epochs[0].TrainingLoss:G4} → {sharded[0].History.Epochs[^1].TrainingLoss:G4}");
    }

    [Fact]
    public void ShardedStepsThatDivergeBackOffOnEveryRankAlike()
    {
        // A learning rate far too large: the gradient and the weights blow up, the epochs are run again with a smaller
        // rate. Each rank sees only its own chunk of the gradient, so the verdict must travel: every rank backs off at
        // the same step, and the ranks end with one model, the one the summed steps give.
        var all = Rows(512);
        var options = Options(OptimizerKind.Sgd, shuffle: false);
        options.LearningRate = 50;
        options.DivergenceBackoff = true;
        options.MaxEpochs = 4;
        var sharded = ThreadAllreduce.Run(2, comm => NetworkTrainer.TrainDistributed(Network(), Shard(all, comm.Rank, 2), options.Clone(), comm));
        var summed = ThreadAllreduce.Run(2, comm => NetworkTrainer.TrainDistributed(Network(), Shard(all, comm.Rank, 2), options.Clone(), new Unsharded(comm)));
        Assert.True(sharded[0].LearningRateBackoffs > 0, "the run did not diverge, so nothing was tested");
        for (int r = 0; r < 2; r++)
        {
            Assert.Equal(summed[r].LearningRateBackoffs, sharded[r].LearningRateBackoffs);
            Assert.Equal(summed[r].Network.Parameters.ToArray(), sharded[r].Network.Parameters.ToArray());
            Assert.True(sharded[r].Network.IsFinite());
        }
    }

    [Fact]
    public void CollectivesThatDeclineTheSplitGetTheWholeSum()
    {
        // Three ranks: the split and the whole sum cut the chunks differently (n values against n + 3), so their bits
        // differ; a PrepareSplit of false must give exactly the whole sum's run.
        var all = Rows(600);
        var options = Options(OptimizerKind.Adam, shuffle: true);
        var declined = ThreadAllreduce.Run(3, comm => NetworkTrainer.TrainDistributed(Network(), Shard(all, comm.Rank, 3), options.Clone(), comm), split: false);
        var whole = ThreadAllreduce.Run(3, comm => NetworkTrainer.TrainDistributed(Network(), Shard(all, comm.Rank, 3), options.Clone(), new Unsharded(comm)));
        var split = ThreadAllreduce.Run(3, comm => NetworkTrainer.TrainDistributed(Network(), Shard(all, comm.Rank, 3), options.Clone(), comm));
        for (int r = 0; r < 3; r++) Assert.Equal(whole[r].Network.Parameters.ToArray(), declined[r].Network.Parameters.ToArray());
        Assert.NotEqual(whole[0].Network.Parameters.ToArray(), split[0].Network.Parameters.ToArray()); // the two paths were both taken
    }

    /// <summary>The same collectives without the split sum: the trainer then sums the whole gradient on every rank.</summary>
    private sealed class Unsharded(IGradientAllreduce inner) : IGradientAllreduce
    {
        public int Rank => inner.Rank;

        public int Size => inner.Size;

        public void Sum<T>(Span<T> values) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> => inner.Sum(values);

        public void Allgather(ReadOnlySpan<long> mine, Span<long> all) => inner.Allgather(mine, all);
    }

    [Fact]
    public void ThreeRanksWithShufflingDropoutAndUnevenShardsAreReproducibleBitForBit()
    {
        var all = Rows(1001); // shards of 334, 334 and 333 rows: the last step of rank 2 is one row short
        var options = Options(OptimizerKind.Adam, shuffle: true);
        options.Dropout = 0.1;
        options.EarlyStopping = true;
        options.MaxEpochs = 4;
        TrainingResult<float>[] Once() =>
            ThreadAllreduce.Run(3, comm => NetworkTrainer.TrainDistributed(Network(), Shard(all, comm.Rank, 3), options.Clone(), comm));
        var first = Once();
        var second = Once();
        for (int r = 0; r < 3; r++)
        {
            Assert.Equal(first[0].Network.Parameters.ToArray(), first[r].Network.Parameters.ToArray());
            Assert.Equal(first[r].Network.Parameters.ToArray(), second[r].Network.Parameters.ToArray());
            Assert.Equal(first[0].History.Epochs.Select(e => e.ValidationLoss), first[r].History.Epochs.Select(e => e.ValidationLoss));
        }
        Assert.All(first[0].History.Epochs, e => Assert.NotNull(e.ValidationAccuracy));
        Assert.True(first[0].History.Epochs[^1].ValidationAccuracy > 0.8, $"validation accuracy {first[0].History.Epochs[^1].ValidationAccuracy:F3}");
    }

    [Fact]
    public void RanksThatDifferAreRefusedOnEveryRankNamingTheRank()
    {
        var all = Rows(200);
        var errors = ThreadAllreduce.Run(3, comm =>
        {
            var options = Options(OptimizerKind.Adam, shuffle: true);
            if (comm.Rank == 2) options.LearningRate = 1e-2;
            var net = Network(seed: comm.Rank == 1 ? 4 : 3);
            return Assert.Throws<ArgumentException>(() => NetworkTrainer.TrainDistributed(net, Shard(all, comm.Rank, 3), options, comm)).Message;
        });
        Assert.All(errors, m => Assert.Equal(errors[0], m));
        Assert.Contains("rank 1 differs from rank 0 in its initial weights", errors[0]);
        Assert.Contains("rank 2 differs from rank 0 in its training options", errors[0]);
        Assert.DoesNotContain("rank 1 differs from rank 0 in its training options", errors[0]);
    }

    [Fact]
    public void CancelingOneRankStopsEveryRankWithTheSameModel()
    {
        var all = Rows(600);
        using var cts = new CancellationTokenSource();
        var results = ThreadAllreduce.Run(2, comm =>
        {
            var options = Options(OptimizerKind.Adam, shuffle: true);
            options.MaxEpochs = 50;
            if (comm.Rank == 1) options.EpochCompleted = r => { if (r.Epoch == 2) cts.Cancel(); };
            var ex = Assert.Throws<TrainingCanceledException<float>>(() =>
                NetworkTrainer.TrainDistributed(Network(), Shard(all, comm.Rank, 2), options, comm, cancellationToken: comm.Rank == 1 ? cts.Token : default));
            return ex.PartialResult;
        });
        Assert.Equal(2, results[0].History.Epochs.Count);
        Assert.Equal(results[0].Network.Parameters.ToArray(), results[1].Network.Parameters.ToArray());
    }

    [Fact]
    public void OneRankIsTheOneProcessRunBitForBit()
    {
        var all = Rows(300);
        var options = Options(OptimizerKind.Adam, shuffle: true);
        var single = NetworkTrainer.Train(Network(), all, options);
        var one = ThreadAllreduce.Run(1, comm => NetworkTrainer.TrainDistributed(Network(), all, options, comm))[0];
        Assert.Equal(single.Network.Parameters.ToArray(), one.Network.Parameters.ToArray());
    }

    private static double MaxAbsDifference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    private static double MaxAbs(ReadOnlySpan<float> a)
    {
        double m = 0;
        foreach (float v in a) m = Math.Max(m, Math.Abs(v));
        return m;
    }
}
