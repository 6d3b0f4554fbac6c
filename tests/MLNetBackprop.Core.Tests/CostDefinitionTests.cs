using MLNetBackprop.Core;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Core.Tests;

/// <summary>The ½ factor, the 1/m average and the λ term behave as the derivation says.</summary>
public class CostDefinitionTests
{
    private static (NeuralNetwork<double> Net, TrainingData<double> Data) Problem(int seed, int rows = 20)
    {
        var rng = new Random(seed);
        var net = NeuralNetwork<double>.Create(3, [4], 2, seed: seed);
        var data = TrainingData<double>.FromDense(TestData.Uniform(rng, rows * 3, -1, 1), 3, TestData.Uniform(rng, rows * 2, 0, 1), 2);
        return (net, data);
    }

    [Fact]
    public void DuplicatingTheTrainingSetLeavesCostAndGradientUnchanged()
    {
        var (net, data) = Problem(1);
        var rng = new Random(1);
        var x = TestData.Uniform(rng, 20 * 3, -1, 1);
        var y = TestData.Uniform(rng, 20 * 2, 0, 1);
        var once = TrainingData<double>.FromDense(x, 3, y, 2);
        var twice = TrainingData<double>.FromDense([.. x, .. x], 3, [.. y, .. y], 2);
        var g1 = new double[net.ParameterCount];
        var g2 = new double[net.ParameterCount];
        double j1 = Backpropagation.CostAndGradient(net, once, LossFunction.SquaredError, new Regularization(0.01), g1);
        double j2 = Backpropagation.CostAndGradient(net, twice, LossFunction.SquaredError, new Regularization(0.01), g2);
        Assert.Equal(j1, j2, 12);
        for (int i = 0; i < g1.Length; i++) Assert.Equal(g1[i], g2[i], 12);
        Assert.NotNull(data);
    }

    [Fact]
    public void ExampleWeightOfTwoEqualsDuplicatingTheRow()
    {
        var rng = new Random(2);
        var net = NeuralNetwork<double>.Create(3, [5], 1, seed: 2);
        var x = TestData.Uniform(rng, 6 * 3, -1, 1);
        var y = TestData.Uniform(rng, 6, 0, 1);
        var weighted = TrainingData<double>.FromDense(x, 3, y, 1, [2, 1, 1, 1, 1, 1]);
        var duplicated = TrainingData<double>.FromDense([.. x, .. x.AsSpan(0, 3)], 3, [.. y, y[0]], 1);
        var g1 = new double[net.ParameterCount];
        var g2 = new double[net.ParameterCount];
        double j1 = Backpropagation.CostAndGradient(net, weighted, LossFunction.SquaredError, new Regularization(0.05), g1);
        double j2 = Backpropagation.CostAndGradient(net, duplicated, LossFunction.SquaredError, new Regularization(0.05), g2);
        Assert.Equal(j2, j1, 12);
        for (int i = 0; i < g1.Length; i++) Assert.Equal(g2[i], g1[i], 12);
    }

    [Fact]
    public void ScalingTheCostByAConstantLeavesTheMinimiserUnchanged()
    {
        // Minimise J and c·J (c = 2 undoes the ½; c = 1000 is arbitrary) from the same start with L-BFGS, using the
        // real backprop gradient. The minimisers agree, and the gradient of J vanishes there.
        var (net0, data) = Problem(3);
        var reg = new Regularization(0.1);
        double[] Minimise(double c)
        {
            var net = net0.Clone();
            var g = new double[net.ParameterCount];
            double F(ReadOnlySpan<double> x, Span<double> grad)
            {
                x.CopyTo(net.Parameters);
                double j = Backpropagation.CostAndGradient(net, data, LossFunction.SquaredError, reg, g);
                for (int i = 0; i < g.Length; i++) grad[i] = c * g[i];
                return c * j;
            }
            var solver = new Lbfgs(F, net0.Parameters.ToArray(), 10);
            for (int it = 0; it < 500 && solver.Iterate(); it++) { }
            return solver.X;
        }
        var a = Minimise(1);
        var b = Minimise(2);
        var c = Minimise(1000);
        for (int i = 0; i < a.Length; i++)
        {
            Assert.Equal(a[i], b[i], 5);
            Assert.Equal(a[i], c[i], 5);
        }
        var at = net0.Clone();
        a.CopyTo(at.Parameters);
        var grad = new double[at.ParameterCount];
        Backpropagation.CostAndGradient(at, data, LossFunction.SquaredError, reg, grad);
        Assert.True(grad.Max(Math.Abs) < 1e-6, $"max |∂J/∂θ| at the minimiser = {grad.Max(Math.Abs)}");
    }

    [Fact]
    public void AveragingOverMMakesTheGradientScaleIndependentOfDataSize()
    {
        // Data sets of 2,000 and 20,000 rows drawn from the same distribution have gradients of the same size, so
        // one α suits both: the 1/m average at work (a summed cost would make the second gradient 10 times larger).
        var net = NeuralNetwork<double>.Create(3, [4], 1, seed: 4);
        double Norm(int rows)
        {
            var rng = new Random(rows);
            var x = TestData.Uniform(rng, rows * 3, -1, 1);
            var y = new double[rows];
            for (int i = 0; i < rows; i++) y[i] = x[3 * i] > -0.5 ? 0.9 : 0.1;
            var g = new double[net.ParameterCount];
            Backpropagation.CostAndGradient(net, TrainingData<double>.FromDense(x, 3, y, 1), LossFunction.SquaredError, Regularization.None, g);
            return Math.Sqrt(g.Sum(v => v * v));
        }
        double small = Norm(2000), large = Norm(20000);
        Assert.InRange(large / small, 0.85, 1.15);
    }

    [Fact]
    public void LargerLambdaGivesMonotonicallySmallerWeights()
    {
        var (net0, data) = Problem(5, rows: 30);
        double previous = double.PositiveInfinity;
        foreach (double lambda in new[] { 0.0, 1e-3, 1e-2, 0.1, 1.0 })
        {
            var net = net0.Clone();
            NetworkTrainer.Train(net, data, new TrainingOptions
            {
                Optimizer = OptimizerKind.Lbfgs, L2Regularization = lambda, MaxEpochs = 300, Tolerance = 0, NumberOfThreads = 1,
            });
            double norm = 0;
            for (int l = 0; l < net.WeightLayerCount; l++) foreach (double w in net.Weights(l)) norm += w * w;
            norm = Math.Sqrt(norm);
            Assert.True(norm < previous, $"λ = {lambda}: ‖W‖ = {norm} is not below {previous}");
            previous = norm;
        }
    }

    [Fact]
    public void LambdaAddsExactlyLambdaWToWeightGradientsAndNothingToBiases()
    {
        var (net, data) = Problem(6);
        var g0 = new double[net.ParameterCount];
        var g1 = new double[net.ParameterCount];
        Backpropagation.CostAndGradient(net, data, LossFunction.SquaredError, Regularization.None, g0);
        Backpropagation.CostAndGradient(net, data, LossFunction.SquaredError, new Regularization(0.7), g1);
        for (int l = 0; l < net.WeightLayerCount; l++)
        {
            var w = net.Weights(l);
            int wo = net.WeightOffset(l), bo = net.BiasOffset(l);
            for (int i = 0; i < w.Length; i++) Assert.Equal(g0[wo + i] + 0.7 * w[i], g1[wo + i], 12);
            for (int i = 0; i < net.Biases(l).Length; i++) Assert.Equal(g0[bo + i], g1[bo + i], 15);
        }
    }

    [Fact]
    public void HugeLambdaShrinksWeightsButLeavesBiasesFreeToFitTheMean()
    {
        // With λ so large that every weight is driven to ~0, the output can still match the targets' mean through
        // the bias alone, which is only possible because biases are not decayed.
        var rng = new Random(7);
        int rows = 40;
        var x = TestData.Uniform(rng, rows * 2, -1, 1);
        var y = Enumerable.Repeat(0.8, rows).ToArray();
        var net = NeuralNetwork<double>.Create(2, [3], 1, Activation.Sigmoid, Activation.Sigmoid, seed: 7);
        NetworkTrainer.Train(net, TrainingData<double>.FromDense(x, 2, y, 1), new TrainingOptions
        {
            Optimizer = OptimizerKind.Lbfgs, L2Regularization = 100, MaxEpochs = 200, Tolerance = 0, NumberOfThreads = 1,
        });
        for (int l = 0; l < net.WeightLayerCount; l++) Assert.All(net.Weights(l).ToArray(), w => Assert.True(Math.Abs(w) < 0.01, $"weight {w}"));
        Assert.Equal(0.8, net.Predict([0.3, -0.2])[0], 2);
    }
}
