using MLNetBackprop.Core;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Core.Tests;

/// <summary>Choosing λ by cross-validation, and averaging networks into one.</summary>
public sealed class WeightDecaySearchTests
{
    private static NeuralNetwork<double> Random(int seed, params int[] sizes)
    {
        var acts = Enumerable.Repeat(Activation.Tanh, sizes.Length - 2).Append(Activation.Identity).ToArray();
        var net = new NeuralNetwork<double>(sizes, acts);
        net.Initialize(seed);
        var rng = new Random(seed);
        foreach (ref var p in net.Parameters) p += rng.NextDouble() - 0.5; // biases too
        return net;
    }

    [Theory]
    [InlineData(new[] { 4, 2 })]          // no hidden layer: the weights themselves are averaged
    [InlineData(new[] { 4, 5, 2 })]
    [InlineData(new[] { 4, 5, 3, 2 })]    // a deeper hidden layer is laid block-diagonally
    public void TheAverageNetworkOutputsTheMeanOfItsMembersOutputs(int[] sizes)
    {
        var members = Enumerable.Range(1, 3).Select(s => Random(s, sizes)).ToArray();
        var avg = NeuralNetwork<double>.Average(members);
        Assert.Equal(sizes.Skip(1).SkipLast(1).Select(h => 3 * h), avg.LayerSizes.Skip(1).SkipLast(1));
        var rng = new Random(9);
        for (int t = 0; t < 20; t++)
        {
            var x = TestData.Uniform(rng, sizes[0], -2, 2);
            var expected = new double[sizes[^1]];
            foreach (var m in members)
            {
                var y = m.Predict(x);
                for (int j = 0; j < y.Length; j++) expected[j] += y[j] / 3;
            }
            var actual = avg.Predict(x);
            for (int j = 0; j < expected.Length; j++) Assert.Equal(expected[j], actual[j], 1e-12);
        }
    }

    [Fact]
    public void AveragingClassifiersAveragesTheirLogits()
    {
        var members = Enumerable.Range(1, 2).Select(s =>
        {
            var n = new NeuralNetwork<double>([3, 4, 1], [Activation.Tanh, Activation.Sigmoid]);
            n.Initialize(s);
            return n;
        }).ToArray();
        var avg = NeuralNetwork<double>.Average(members);
        var x = new[] { 0.5, -1.0, 2.0 };
        static double Logit(double p) => Math.Log(p / (1 - p));
        double expected = 1 / (1 + Math.Exp(-(Logit(members[0].Predict(x)[0]) + Logit(members[1].Predict(x)[0])) / 2));
        Assert.Equal(expected, avg.Predict(x)[0], 1e-12);
        Assert.Throws<ArgumentException>(() => NeuralNetwork<double>.Average([members[0], Random(1, 3, 4, 2)]));
    }

    [Fact]
    public void FoldsAreStratifiedByClass()
    {
        // 3 classes of 40, 25 and 7 rows: every fold gets each class's share to within one row.
        int[] classes = [.. Enumerable.Repeat(0, 40), .. Enumerable.Repeat(1, 25), .. Enumerable.Repeat(2, 7)];
        new Random(3).Shuffle(classes);
        var data = TrainingData<double>.FromDense(new double[classes.Length], 1, TrainingData<double>.OneHot(classes, 3), 3);
        var fold = WeightDecaySearch.AssignFolds(data, 5, seed: 11);
        for (int c = 0; c < 3; c++)
        {
            var perFold = Enumerable.Range(0, 5).Select(f => Enumerable.Range(0, classes.Length).Count(i => classes[i] == c && fold[i] == f)).ToArray();
            Assert.True(perFold.Max() - perFold.Min() <= 1, $"class {c}: {string.Join(", ", perFold)} rows per fold");
        }
        Assert.Equal(fold, WeightDecaySearch.AssignFolds(data, 5, seed: 11));
    }

    /// <summary>y = f(x) + noise on 5 features; <paramref name="noise"/> the noise's standard deviation.</summary>
    private static TrainingData<double> Regression(int rows, double noise, bool nonlinear, int seed)
    {
        var rng = new Random(seed);
        var x = TestData.Uniform(rng, rows * 5, -1.7, 1.7);
        var y = new double[rows];
        for (int i = 0; i < rows; i++)
        {
            double s = nonlinear ? Math.Sin(3 * x[i * 5]) + x[i * 5 + 1] * x[i * 5 + 2] : 0.3 * x[i * 5] + 0.2 * x[i * 5 + 1];
            double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
            y[i] = s + noise * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        }
        return TrainingData<double>.FromDense(x, 5, y, 1);
    }

    private static TrainingOptions Lbfgs(int seed = 1) => new() { Optimizer = OptimizerKind.Lbfgs, MaxEpochs = 100, Seed = seed };

    [Fact]
    public void NoiseLargerThanTheSignalGetsAStrongDecay_ACleanNonlinearSignalAWeakOne()
    {
        var net = new NeuralNetwork<double>([5, 32, 1], [Activation.Tanh, Activation.Identity]);
        var search = new WeightDecaySearchOptions { Candidates = [1, 0.1, 0.01, 0.001], Folds = 5, AverageFoldModels = true };
        var noisy = WeightDecaySearch.Run(net, Regression(120, 1.0, nonlinear: false, seed: 4), Lbfgs(), search);
        var clean = WeightDecaySearch.Run(net, Regression(300, 0.05, nonlinear: true, seed: 4), Lbfgs(), search);
        var n = noisy.History.WeightDecaySelection!;
        var c = clean.History.WeightDecaySelection!;
        Assert.True(n.ChosenL2Regularization >= 0.1, $"noisy linear data chose λ = {n.ChosenL2Regularization}");
        Assert.True(c.ChosenL2Regularization <= 0.01, $"clean nonlinear data chose λ = {c.ChosenL2Regularization}");
        Assert.Equal(4, n.Candidates.Count);
        Assert.Equal(n.Candidates.Min(x => x.ValidationLoss), n.Candidates.Single(x => x.L2Regularization == n.ChosenL2Regularization).ValidationLoss);
        // The chosen network explains the clean signal: held-out loss ½·MSE far below the signal's variance.
        Assert.True(c.Candidates.Min(x => x.ValidationLoss) < 0.05, $"held-out loss {c.Candidates.Min(x => x.ValidationLoss)}");
        Assert.Equal(5 * 32, clean.Network.LayerSizes[1]); // five fold networks side by side
    }

    [Fact]
    public void TheSearchIsDeterministicWhateverTheThreadCount()
    {
        var net = new NeuralNetwork<double>([5, 8, 1], [Activation.Tanh, Activation.Identity]);
        var data = Regression(80, 0.5, nonlinear: true, seed: 2);
        var search = new WeightDecaySearchOptions { Candidates = [0.1, 0.01], Folds = 3 };
        var one = Lbfgs(7);
        one.NumberOfThreads = 1;
        var two = Lbfgs(7);
        two.NumberOfThreads = 2;
        var a = WeightDecaySearch.Run(net, data, one, search).Network.Parameters.ToArray();
        var b = WeightDecaySearch.Run(net, data, two, search).Network.Parameters.ToArray();
        Assert.Equal(a, b);
        var other = WeightDecaySearch.Run(net, data, Lbfgs(8), search).Network.Parameters.ToArray();
        Assert.NotEqual(a, other);
    }

    [Fact]
    public void ByDefaultTheChosenLambdaIsRefitOnAllRowsAsOneNetworkOfTheOriginalShape()
    {
        var net = new NeuralNetwork<double>([5, 8, 1], [Activation.Tanh, Activation.Identity]);
        var data = Regression(60, 0.5, false, 3);
        var r = WeightDecaySearch.Run(net, data, Lbfgs(), new WeightDecaySearchOptions { Candidates = [1, 0.01] });
        Assert.Equal([5, 8, 1], r.Network.LayerSizes);
        var selection = r.History.WeightDecaySelection!;
        Assert.False(selection.AveragedFoldModels);
        Assert.Equal(3, selection.Folds);
        Assert.True(r.History.Epochs.Count > 0);
        // The refit is a network trained on every row with the chosen λ: no fold network equals it.
        var averaged = WeightDecaySearch.Run(net, data, Lbfgs(), new WeightDecaySearchOptions { Candidates = [1, 0.01], AverageFoldModels = true });
        Assert.Equal([5, 24, 1], averaged.Network.LayerSizes);
        Assert.Equal(selection.ChosenL2Regularization, averaged.History.WeightDecaySelection!.ChosenL2Regularization);
    }

    [Fact]
    public void InvalidSearchOptionsAreNamed()
    {
        var net = new NeuralNetwork<double>([5, 2, 1], [Activation.Tanh, Activation.Identity]);
        var data = Regression(30, 0.5, false, 1);
        Assert.Equal("Folds", Assert.Throws<ArgumentOutOfRangeException>(() =>
            WeightDecaySearch.Run(net, data, Lbfgs(), new WeightDecaySearchOptions { Folds = 1 })).ParamName);
        Assert.Equal("Candidates", Assert.Throws<ArgumentOutOfRangeException>(() =>
            WeightDecaySearch.Run(net, data, Lbfgs(), new WeightDecaySearchOptions { Candidates = [0.1, -1] })).ParamName);
        Assert.Equal("data", Assert.Throws<ArgumentOutOfRangeException>(() =>
            WeightDecaySearch.Run(net, Regression(5, 0.5, false, 1), Lbfgs(), new WeightDecaySearchOptions())).ParamName);
    }
}
