using MLNetBackprop.Core.Optimizers;
using Xunit;

namespace MLNetBackprop.Core.Tests;

/// <summary>
/// Sparse rows (and mostly-zero dense features, through a compressed-row copy) go through the first layer's sparse
/// products, which give the dense products' bits: a network trained on the same rows given as sparse data, as dense
/// data with the copy, or as dense data without it must be bitwise the same.
/// </summary>
public class SparsePathTrainingTests
{
    private static readonly Lazy<(float[] X, int[] Labels)> Mnist = new(() => TestData.ReadMnist("mnist10k-train.csv.gz"));

    public static TheoryData<string> Setups => new() { "sgd-momentum", "adam-weighted", "full-batch-gd", "lbfgs-l1" };

    [Theory]
    [MemberData(nameof(Setups))]
    public void DenseSparseCopyAndSparseDataTrainBitwiseTheSameNetwork(string setup)
    {
        const int rows = 600, d = 784, k = 10;
        var (allX, allLabels) = Mnist.Value;
        var x = allX.AsSpan(0, rows * d).ToArray();
        // Keep every second non-zero pixel: about 9.5 % non-zero, under the copy's 10 % threshold.
        int seen = 0;
        for (int i = 0; i < x.Length; i++)
            if (x[i] != 0 && seen++ % 2 == 1) x[i] = 0;
        var y = TrainingData<float>.OneHot(allLabels.AsSpan(0, rows), k);
        float[]? w = setup == "adam-weighted" ? Enumerable.Range(0, rows).Select(i => 0.5f + i % 3).ToArray() : null;

        var withCopy = TrainingData<float>.FromDense(x, d, y, k, w);
        var denseOnly = withCopy.WithoutSparseCopy();
        var sparse = withCopy.ToSparse();
        Assert.True(withCopy.HasSparseRows);
        Assert.False(withCopy.IsSparse);
        Assert.False(denseOnly.HasSparseRows);
        Assert.True(sparse.IsSparse);

        var options = setup switch
        {
            "sgd-momentum" => new TrainingOptions { Loss = LossFunction.CrossEntropy, Optimizer = OptimizerKind.Sgd, LearningRate = 0.1, BatchSize = 64, MaxEpochs = 2 },
            "adam-weighted" => new TrainingOptions { Loss = LossFunction.CrossEntropy, Optimizer = OptimizerKind.Adam, LearningRate = 1e-3, BatchSize = 128, MaxEpochs = 2 },
            // 600 rows in one batch: the weight gradient's k (= rows) runs as two slices.
            "full-batch-gd" => new TrainingOptions { Loss = LossFunction.SquaredError, Optimizer = OptimizerKind.GradientDescent, LearningRate = 0.5, MaxEpochs = 5 },
            _ => new TrainingOptions { Loss = LossFunction.CrossEntropy, Optimizer = OptimizerKind.Lbfgs, L1Regularization = 1e-5, MaxEpochs = 5 },
        };
        options.Tolerance = 0;
        options.Seed = 3;
        options.NumberOfThreads = 2;

        float[] Train(TrainingData<float> data)
        {
            var net = NeuralNetwork<float>.Create(d, [32], k, Activation.Sigmoid, options.Loss == LossFunction.CrossEntropy ? Activation.Softmax : Activation.Sigmoid, seed: 1);
            NetworkTrainer.Train(net, data, options);
            return net.Parameters.ToArray();
        }

        var reference = Train(denseOnly);
        var initial = NeuralNetwork<float>.Create(d, [32], k, Activation.Sigmoid, Activation.Softmax, seed: 1).Parameters.ToArray();
        Assert.NotEqual(initial, reference); // it trained
        Assert.Equal(reference, Train(withCopy));
        Assert.Equal(reference, Train(sparse));
    }

    [Fact]
    public void OnlyMostlyZeroWideDataGetsTheCopy()
    {
        var rng = new Random(1);
        float[] Make(int rows, int d, double density) =>
            Enumerable.Range(0, rows * d).Select(_ => rng.NextDouble() < density ? (float)rng.NextDouble() + 0.1f : 0f).ToArray();
        var y = new float[100];
        Assert.True(TrainingData<float>.FromDense(Make(100, 64, 0.05), 64, y, 1).HasSparseRows);
        Assert.False(TrainingData<float>.FromDense(Make(100, 64, 0.2), 64, y, 1).HasSparseRows); // MNIST's density: dense is as fast
        Assert.False(TrainingData<float>.FromDense(Make(100, 8, 0.05), 8, y, 1).HasSparseRows); // too narrow to gain
        // A subset of mostly-zero data keeps the copy.
        var data = TrainingData<float>.FromDense(Make(100, 64, 0.05), 64, y, 1);
        Assert.True(data.Subset([3, 1, 4, 1, 5]).HasSparseRows);
        // ToSparse keeps every non-zero where it was.
        var dense = TrainingData<float>.FromDense(Make(10, 40, 0.5), 40, new float[10], 1);
        var sparse = dense.ToSparse();
        Assert.True(sparse.IsSparse);
        Assert.Same(sparse, sparse.ToSparse());
        for (int r = 0; r < 10; r++)
            for (int t = sparse.RowStart![r]; t < sparse.RowStart[r + 1]; t++)
                Assert.Equal(dense.DenseFeatures![r * 40 + sparse.Indices![t]], sparse.Values![t]);
        Assert.Equal(dense.DenseFeatures!.Count(v => v != 0), sparse.Values!.Length);
    }
}
