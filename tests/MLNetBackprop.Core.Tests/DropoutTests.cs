using MLNetBackprop.Core;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Core.Tests;

/// <summary>Inverted dropout: the δ rule with a mask, checked against finite differences; seeded; off at scoring.</summary>
public sealed class DropoutTests
{
    [Theory]
    [InlineData(Activation.Tanh)]
    [InlineData(Activation.Sigmoid)]
    [InlineData(Activation.Relu)]
    public void WithAFixedMaskTheGradientMatchesFiniteDifferences(Activation hidden)
    {
        var rng = new Random(5);
        int rows = 7;
        var net = new NeuralNetwork<double>([4, 6, 5, 3], [hidden, hidden, Activation.Softmax]);
        net.Initialize(3);
        var x = TestData.Uniform(rng, rows * 4, -1, 1);
        var y = TestData.Targets(rng, rows, 3, LossFunction.CrossEntropy, Activation.Softmax);
        var batch = MiniBatch<double>.Whole(TrainingData<double>.FromDense(x, 4, y, 3));
        var ws = new NetworkWorkspace<double>(net, rows);
        // A mask with both dropped (0) and kept (1/(1 − p) = 2) units in every hidden layer.
        foreach (int l in new[] { 1, 2 })
            ws.SetDropoutMask(l, Enumerable.Range(0, rows * net.LayerSizes[l]).Select(i => (i * 7 + l) % 3 == 0 ? 0.0 : 2.0).ToArray());
        ws.DropoutActive = true;
        var reg = new Regularization(1e-3, 0);
        var gradient = new double[net.ParameterCount];
        double j0 = Backpropagation.CostAndGradient(net, batch, LossFunction.CrossEntropy, reg, ws, gradient, 1);
        var scratch = new double[net.ParameterCount];
        double diff2 = 0, sum2 = 0;
        for (int i = 0; i < net.ParameterCount; i++)
        {
            double keep = net.Parameters[i], h = 1e-6;
            net.Parameters[i] = keep + h;
            double plus = Backpropagation.CostAndGradient(net, batch, LossFunction.CrossEntropy, reg, ws, scratch, 1);
            net.Parameters[i] = keep - h;
            double minus = Backpropagation.CostAndGradient(net, batch, LossFunction.CrossEntropy, reg, ws, scratch, 1);
            net.Parameters[i] = keep;
            double numeric = (plus - minus) / (2 * h);
            diff2 += (numeric - gradient[i]) * (numeric - gradient[i]);
            sum2 += (numeric + gradient[i]) * (numeric + gradient[i]);
        }
        // UFLDL's measure ‖numeric − analytic‖ / ‖numeric + analytic‖, as the core's gradient-check tests use.
        double relative = Math.Sqrt(diff2) / Math.Sqrt(sum2);
        Assert.True(relative < 1e-7, $"relative difference {relative:E2}");

        // The mask really acts: without it J differs, and dropped units pass nothing on.
        ws.DropoutActive = false;
        double j = Backpropagation.CostAndGradient(net, batch, LossFunction.CrossEntropy, reg, ws, scratch, 1);
        Assert.NotEqual(j0, j, 6);
    }

    private static TrainingData<double> Noisy(int rows, int seed)
    {
        var rng = new Random(seed);
        var x = TestData.Uniform(rng, rows * 3, -1, 1);
        var y = new double[rows];
        for (int i = 0; i < rows; i++) y[i] = Math.Sin(2 * x[i * 3]) + 0.5 * (rng.NextDouble() - 0.5);
        return TrainingData<double>.FromDense(x, 3, y, 1);
    }

    private static TrainingOptions Adam(double dropout, int seed = 1) => new()
    {
        Optimizer = OptimizerKind.Adam, LearningRate = 0.01, BatchSize = 16, MaxEpochs = 20, Seed = seed, Dropout = dropout, L2Regularization = 0,
    };

    [Fact]
    public void DropoutIsSeeded_ChangesTraining_AndIsValidatedByName()
    {
        NeuralNetwork<double> Train(double p, int seed)
        {
            var net = new NeuralNetwork<double>([3, 16, 1], [Activation.Tanh, Activation.Identity]);
            net.Initialize(2);
            return NetworkTrainer.Train(net, Noisy(80, 1), Adam(p, seed)).Network;
        }
        Assert.Equal(Train(0.3, 1).Parameters.ToArray(), Train(0.3, 1).Parameters.ToArray());
        Assert.NotEqual(Train(0.3, 1).Parameters.ToArray(), Train(0.3, 2).Parameters.ToArray());
        Assert.NotEqual(Train(0.3, 1).Parameters.ToArray(), Train(0, 1).Parameters.ToArray());

        foreach (double bad in new[] { -0.1, 1.0, double.NaN })
            Assert.Equal("Dropout", Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions { Dropout = bad }.Validate()).ParamName);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions { Dropout = 0.2, Optimizer = OptimizerKind.Lbfgs }.Validate());
        Assert.Equal("Dropout", e.ParamName);
        Assert.Contains("L-BFGS", e.Message);
    }
}
