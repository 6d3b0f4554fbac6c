using System.Globalization;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Distributed;
using MLNetBackprop.Core.Optimizers;
using MLNetBackprop.Core.Tests;
using MLNetBackprop.Distributed;

namespace MLNetBackprop.Distributed.Worker;

/// <summary>
/// The training modes: a small network trained data-parallel on rank r's shard (rows r, r + N, …) of a seeded synthetic
/// set, over MPI (<c>train</c>) or with the ranks as threads summing in the same ring order (<c>train-threads</c>).
/// Each prints "rank R: train &lt;weights hash&gt; &lt;final training loss&gt;", so a test can compare the bits.
/// </summary>
public static partial class Program
{
    private const int Rows = 1200, Features = 20, Classes = 3;

    private static int Train(string optimizer)
    {
        using var mpi = MpiAllreduce.Initialize(TimeSpan.FromSeconds(30));
        var result = TrainRank(optimizer, mpi);
        Console.WriteLine(Line(mpi.Rank, result));
        Console.WriteLine(Transport(mpi));
        return 0;
    }

    private static int TrainThreads(string optimizer, int ranks, bool split)
    {
        var results = ThreadAllreduce.Run(ranks, comm => TrainRank(optimizer, comm), split);
        for (int r = 0; r < ranks; r++) Console.WriteLine(Line(r, results[r]));
        return 0;
    }

    private static TrainingResult<float> TrainRank(string optimizer, IGradientAllreduce comm)
    {
        // Every rank draws the whole set from the same seed and keeps its rows: the shards of one data set.
        var rng = new Random(7);
        var x = new float[Rows * Features];
        var labels = new int[Rows];
        for (int i = 0; i < Rows; i++)
        {
            double s = 0;
            for (int j = 0; j < Features; j++) s += Math.Sin(3 * (x[i * Features + j] = (float)(rng.NextDouble() * 4 - 2))) * (j % 3 - 1);
            labels[i] = s < -1 ? 0 : s < 1 ? 1 : 2;
        }
        var all = TrainingData<float>.FromDense(x, Features, TrainingData<float>.OneHot(labels, Classes), Classes);
        var shard = comm.Size == 1 ? all : all.Subset(Enumerable.Range(0, Rows).Where(i => i % comm.Size == comm.Rank).ToArray());
        var net = new NeuralNetwork<float>([Features, 16, Classes], [Activation.Tanh, Activation.Softmax]);
        net.Initialize(3);
        var options = new TrainingOptions
        {
            Loss = LossFunction.CrossEntropy,
            Optimizer = optimizer == "lbfgs" ? OptimizerKind.Lbfgs : OptimizerKind.Adam,
            LearningRate = optimizer == "lbfgs" ? null : 1e-2,
            BatchSize = optimizer == "lbfgs" ? null : 60,
            MaxEpochs = optimizer == "lbfgs" ? 20 : 5,
            Tolerance = 0,
            Shuffle = optimizer != "adam-inorder",
            Dropout = optimizer == "adam" ? 0.1 : 0,
            Seed = 5,
            NumberOfThreads = 1,
        };
        return NetworkTrainer.TrainDistributed(net, shard, options, comm);
    }

    private static string Line(int rank, TrainingResult<float> r) => string.Create(CultureInfo.InvariantCulture,
        $"rank {rank}: train {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(r.Network.Parameters)))[..16]} {r.History.Epochs[^1].TrainingLoss:R}");
}
