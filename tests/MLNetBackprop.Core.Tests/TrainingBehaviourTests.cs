using MLNetBackprop.Core;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Core.Tests;

/// <summary>Determinism, stopping rules, schedules, divergence and cancellation.</summary>
public class TrainingBehaviourTests
{
    private static TrainingData<float> Moons(int seed, int n = 400)
    {
        var rng = new Random(seed);
        var x = new float[2 * n];
        var classes = new int[n];
        for (int i = 0; i < n; i++)
        {
            int c = i % 2;
            double t = rng.NextDouble() * Math.PI;
            x[2 * i] = (float)(c == 0 ? Math.Cos(t) : 1 - Math.Cos(t));
            x[2 * i + 1] = (float)((c == 0 ? Math.Sin(t) : 0.5 - Math.Sin(t)) + 0.3 * (rng.NextDouble() - 0.5));
            classes[i] = c;
        }
        return TrainingData<float>.FromDense(x, 2, TrainingData<float>.OneHot(classes, 2), 2);
    }

    private static TrainingOptions Sgd(int seed = 0, int epochs = 5, int? threads = 1) => new()
    {
        Optimizer = OptimizerKind.Sgd, Loss = LossFunction.CrossEntropy, BatchSize = 16, MaxEpochs = epochs, Seed = seed,
        NumberOfThreads = threads, Tolerance = 0,
    };

    [Fact]
    public void SameSeedGivesBitwiseIdenticalWeights()
    {
        var data = Moons(1);
        var a = NeuralNetwork<float>.Create(2, [16, 8], 2, Activation.Relu, Activation.Softmax, seed: 5);
        var b = NeuralNetwork<float>.Create(2, [16, 8], 2, Activation.Relu, Activation.Softmax, seed: 5);
        Assert.Equal(a.Parameters.ToArray(), b.Parameters.ToArray());
        NetworkTrainer.Train(a, data, Sgd(seed: 9));
        NetworkTrainer.Train(b, data, Sgd(seed: 9));
        Assert.Equal(a.Parameters.ToArray(), b.Parameters.ToArray());
    }

    [Fact]
    public void DifferentSeedsGiveDifferentWeights()
    {
        var data = Moons(1);
        var a = NeuralNetwork<float>.Create(2, [16], 2, Activation.Relu, Activation.Softmax, seed: 5);
        var b = NeuralNetwork<float>.Create(2, [16], 2, Activation.Relu, Activation.Softmax, seed: 6);
        Assert.NotEqual(a.Parameters.ToArray(), b.Parameters.ToArray());
        // Same initial weights, different shuffling seeds: the trained weights differ too.
        var c = a.Clone();
        NetworkTrainer.Train(a, data, Sgd(seed: 1));
        NetworkTrainer.Train(c, data, Sgd(seed: 2));
        Assert.NotEqual(a.Parameters.ToArray(), c.Parameters.ToArray());
    }

    [Fact]
    public void ResultsDoNotDependOnTheThreadCount()
    {
        // Wide enough that the matrix products are split across threads.
        var rng = new Random(3);
        int n = 512, f = 96;
        var x = new float[n * f];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        var classes = Enumerable.Range(0, n).Select(i => (x[i * f] + x[i * f + 1] > 1 ? 1 : 0) + (x[i * f + 2] > 0.5 ? 1 : 0)).ToArray();
        var data = TrainingData<float>.FromDense(x, f, TrainingData<float>.OneHot(classes, 3), 3);
        var one = NeuralNetwork<float>.Create(f, [128], 3, Activation.Relu, Activation.Softmax, seed: 1);
        var two = one.Clone();
        var opts = new TrainingOptions { Optimizer = OptimizerKind.Adam, Loss = LossFunction.CrossEntropy, BatchSize = 128, MaxEpochs = 3, Tolerance = 0 };
        opts.NumberOfThreads = 1;
        NetworkTrainer.Train(one, data, opts);
        opts.NumberOfThreads = 2;
        NetworkTrainer.Train(two, data, opts);
        Assert.Equal(one.Parameters.ToArray(), two.Parameters.ToArray());
    }

    [Fact]
    public void SparseAndDenseInputsTrainTheSameModel()
    {
        var rng = new Random(4);
        int n = 60, f = 10;
        var x = new double[n * f];
        for (int i = 0; i < x.Length; i++) x[i] = rng.Next(3) == 0 ? rng.NextDouble() : 0;
        var y = TestData.Uniform(rng, n, 0, 1);
        var dense = TrainingData<double>.FromDense(x, f, y, 1);
        var sparse = TestData.ToSparse(x, f, y, 1, null);
        Assert.True(sparse.IsSparse);
        var a = NeuralNetwork<double>.Create(f, [6], 1, seed: 2);
        var b = a.Clone();
        var opts = new TrainingOptions { Optimizer = OptimizerKind.Sgd, BatchSize = 7, MaxEpochs = 4, NumberOfThreads = 1, Tolerance = 0 };
        NetworkTrainer.Train(a, dense, opts);
        NetworkTrainer.Train(b, sparse, opts);
        var pa = a.Parameters.ToArray();
        var pb = b.Parameters.ToArray();
        for (int i = 0; i < pa.Length; i++) Assert.Equal(pa[i], pb[i], 12);
    }

    [Fact]
    public void HistoryRecordsEveryEpochAndTheCallbackSeesEachOne()
    {
        var seen = new List<int>();
        var opts = Sgd(epochs: 7);
        opts.EpochCompleted = e => seen.Add(e.Epoch);
        var net = NeuralNetwork<float>.Create(2, [8], 2, Activation.Tanh, Activation.Softmax, seed: 1);
        var result = NetworkTrainer.Train(net, Moons(2), opts, validation: Moons(3, 100));
        Assert.Equal([1, 2, 3, 4, 5, 6, 7], seen);
        Assert.Equal(7, result.History.Epochs.Count);
        Assert.All(result.History.Epochs, e => Assert.NotNull(e.ValidationLoss));
        Assert.All(result.History.Epochs, e => Assert.InRange(e.ValidationAccuracy!.Value, 0, 1));
        Assert.True(result.History.Epochs[^1].TrainingLoss < result.History.Epochs[0].TrainingLoss);
        Assert.Equal(7 * 25, result.History.Epochs[^1].GradientEvaluations); // 400 rows / 16 per batch
    }

    [Fact]
    public void EarlyStoppingRestoresTheWeightsOfTheBestValidationEpoch()
    {
        // A large network on few noisy rows overfits: the validation loss turns up and training stops early.
        var rng = new Random(8);
        int n = 60;
        var x = TestData.Uniform(rng, n, -1, 1);
        var y = x.Select(v => Math.Sin(3 * v) + 0.5 * (rng.NextDouble() - 0.5)).ToArray();
        var train = TrainingData<double>.FromDense(x, 1, y, 1);
        var vx = TestData.Uniform(rng, 200, -1, 1);
        var validation = TrainingData<double>.FromDense(vx, 1, vx.Select(v => Math.Sin(3 * v)).ToArray(), 1);
        var net = NeuralNetwork<double>.Create(1, [64, 64], 1, Activation.Tanh, Activation.Identity, seed: 1);
        var result = NetworkTrainer.Train(net, train, new TrainingOptions
        {
            Optimizer = OptimizerKind.Adam, LearningRate = 0.01, BatchSize = 10, MaxEpochs = 2000, L2Regularization = 0,
            EarlyStopping = true, EarlyStoppingPatience = 20, Tolerance = 1e-4, NumberOfThreads = 1,
        }, validation);
        Assert.Equal(StopReason.EarlyStopped, result.History.StopReason);
        Assert.True(result.History.Epochs.Count < 2000);
        double best = result.History.Epochs.Min(e => e.ValidationLoss!.Value);
        Assert.Equal(best, result.History.Epochs[result.History.BestEpoch - 1].ValidationLoss!.Value, 12);
        Assert.True(result.History.BestEpoch < result.History.Epochs.Count);
        // The model holds the best epoch's weights, not the last ones.
        Assert.Equal(best, Backpropagation.DataLoss(net, validation, LossFunction.SquaredError, 1), 10);
    }

    [Fact]
    public void EarlyStoppingWithoutAValidationSetHoldsOutAFractionOfTheTrainingRows()
    {
        var net = NeuralNetwork<float>.Create(2, [8], 2, Activation.Tanh, Activation.Softmax, seed: 1);
        var opts = Sgd(epochs: 3);
        opts.EarlyStopping = true;
        opts.ValidationFraction = 0.25;
        var result = NetworkTrainer.Train(net, Moons(2), opts);
        // 300 of the 400 rows are trained on: 19 batches of 16 per epoch.
        Assert.Equal(3 * 19, result.History.Epochs[^1].GradientEvaluations);
        Assert.All(result.History.Epochs, e => Assert.NotNull(e.ValidationLoss));
    }

    [Fact]
    public void ToleranceStopsTrainingWhenTheLossNoLongerImproves()
    {
        var net = NeuralNetwork<float>.Create(2, [8], 2, Activation.Tanh, Activation.Softmax, seed: 1);
        var opts = Sgd(epochs: 1000);
        opts.Tolerance = 1e-2;
        opts.NoImprovementEpochs = 3;
        var result = NetworkTrainer.Train(net, Moons(2), opts);
        Assert.Equal(StopReason.Converged, result.History.StopReason);
        Assert.True(result.History.Epochs.Count < 1000);
    }

    [Fact]
    public void InverseScalingDividesTheRateBySqrtOfTheEpoch()
    {
        var opts = Sgd(epochs: 4);
        opts.LearningRate = 0.2;
        opts.LearningRateSchedule = LearningRateSchedule.InverseScaling;
        var net = NeuralNetwork<float>.Create(2, [4], 2, Activation.Tanh, Activation.Softmax, seed: 1);
        var rates = NetworkTrainer.Train(net, Moons(2), opts).History.Epochs.Select(e => e.LearningRate).ToArray();
        Assert.Equal([0.2, 0.2 / Math.Sqrt(2), 0.2 / Math.Sqrt(3), 0.1], rates, (a, b) => Math.Abs(a - b) < 1e-12);
    }

    [Fact]
    public void AdaptiveScheduleDividesTheRateOnAPlateau()
    {
        var opts = Sgd(epochs: 40);
        opts.LearningRate = 0.05;
        opts.LearningRateSchedule = LearningRateSchedule.Adaptive;
        opts.Tolerance = 0.05; // a plateau is reached quickly
        opts.NoImprovementEpochs = 2;
        var net = NeuralNetwork<float>.Create(2, [4], 2, Activation.Tanh, Activation.Softmax, seed: 1);
        var rates = NetworkTrainer.Train(net, Moons(2), opts).History.Epochs.Select(e => e.LearningRate).Distinct().ToArray();
        Assert.True(rates.Length >= 2, "the rate was never cut");
        Assert.Equal(0.05, rates[0], 12);
        Assert.Equal(0.01, rates[1], 12);
    }

    [Fact]
    public void ExplodingLossStopsWithAClearExceptionAndNoNaNWeights()
    {
        var (net, data) = ExplodingRegression();
        var before = net.Parameters.ToArray();
        var ex = Assert.Throws<TrainingDivergedException>(() => NetworkTrainer.Train(net, data, new TrainingOptions
        {
            Optimizer = OptimizerKind.GradientDescent, LearningRate = 50, MaxEpochs = 100, NumberOfThreads = 1,
        }));
        Assert.InRange(ex.Epoch, 1, 100);
        Assert.Contains("learning rate", ex.Message);
        Assert.Contains($"epoch {ex.Epoch}", ex.Message);
        Assert.True(net.IsFinite(), "the network was left with non-finite weights");
        // It diverged from the very first step, so the last good weights are the initial ones.
        Assert.Equal(before, net.Parameters.ToArray());
    }

    [Fact]
    public void DivergenceBackoffCutsTheRateAndFinishesWithFiniteWeights()
    {
        var (net, data) = ExplodingRegression();
        var result = NetworkTrainer.Train(net, data, new TrainingOptions
        {
            Optimizer = OptimizerKind.GradientDescent, LearningRate = 50, MaxEpochs = 100, NumberOfThreads = 1, DivergenceBackoff = true,
        });
        Assert.True(result.LearningRateBackoffs > 0);
        Assert.True(net.IsFinite());
        Assert.True(result.History.Epochs[^1].LearningRate < 50);
        Assert.True(result.History.Epochs[^1].TrainingLoss < result.History.Epochs[0].TrainingLoss);
    }

    [Fact]
    public void AFinalStepThatExplodesIsNeverReturned_WithoutBackoffItThrows()
    {
        // One epoch: J is measured at the initial weights, then a step with α = 1e30 makes every weight ~1e30 (finite in
        // float). Those weights were never evaluated; returning them as a trained model would be returning garbage.
        var (net, data) = ExplodingRegression();
        var before = net.Parameters.ToArray();
        var ex = Assert.Throws<TrainingDivergedException>(() => NetworkTrainer.Train(net, data, new TrainingOptions
        {
            Optimizer = OptimizerKind.GradientDescent, LearningRate = 1e30, MaxEpochs = 1, NumberOfThreads = 1,
        }));
        Assert.Equal(1, ex.Epoch);
        Assert.Equal(1e30, ex.LearningRate);
        Assert.Contains("learning rate", ex.Message);
        Assert.Equal(before, net.Parameters.ToArray());
    }

    [Fact]
    public void BackoffsThatCannotTameTheRateStopAsDivergedWithTheLowestMeasuredLossWeights()
    {
        // α = 1e30 cut by 4 ten times is still ~1e24: every epoch explodes. The run must not be reported as converged,
        // and the weights it returns must be ones whose loss was measured: here the initial weights, the lowest.
        var (net, data) = ExplodingRegression();
        var before = net.Parameters.ToArray();
        var opts = new TrainingOptions
        {
            Optimizer = OptimizerKind.GradientDescent, LearningRate = 1e30, MaxEpochs = 100, NumberOfThreads = 1, DivergenceBackoff = true,
        };
        var result = NetworkTrainer.Train(net, data, opts);
        Assert.Equal(StopReason.Diverged, result.History.StopReason);
        Assert.Equal(10, result.LearningRateBackoffs);
        Assert.Equal(before, net.Parameters.ToArray());
        Assert.Equal(0, result.History.BestEpoch);
        double j = Backpropagation.Cost(net, data, opts.Loss, new Regularization(opts.L2Regularization), 1);
        Assert.Equal(result.History.Epochs.Min(e => e.TrainingLoss), j, 1e-9 * j);

        // One epoch and no room for a back-off after the step: the unevaluated step is discarded the same way.
        var once = NetworkTrainer.Train(net, data, new TrainingOptions
        {
            Optimizer = OptimizerKind.GradientDescent, LearningRate = 1e30, MaxEpochs = 1, NumberOfThreads = 1, DivergenceBackoff = true,
        });
        Assert.Equal(StopReason.Diverged, once.History.StopReason);
        Assert.Equal(before, net.Parameters.ToArray());
        Assert.Equal(0, once.History.BestEpoch);
    }

    [Fact]
    public void BackoffGivesEachCutRateAFullPatienceBeforeDeclaringConvergence()
    {
        // α = 1e4 explodes, and so do the first cuts; a rate near 1 trains. Each back-off re-runs the epoch from the last
        // good weights and so re-measures the old loss by construction: that is no evidence of convergence, and must
        // not use up NoImprovementEpochs before any cut rate has had a chance to train.
        var (net, data) = SmoothRegression();
        var reg = new Regularization(1e-4);
        double initial = Backpropagation.Cost(net, data, LossFunction.SquaredError, reg, 1);
        var result = NetworkTrainer.Train(net, data, new TrainingOptions
        {
            Optimizer = OptimizerKind.GradientDescent, LearningRate = 1e4, MaxEpochs = 300, NumberOfThreads = 1, DivergenceBackoff = true,
        });
        Assert.True(result.LearningRateBackoffs > 0);
        Assert.NotEqual(StopReason.Diverged, result.History.StopReason);
        double final = Backpropagation.Cost(net, data, LossFunction.SquaredError, reg, 1);
        Assert.True(final < 0.5 * initial, $"J went from {initial} to {final} ({result.History.StopReason} after {result.History.Epochs.Count} epochs)");
    }

    /// <summary>100 rows of y = sin(2x₀) + x₁x₂ on features in ±1.7, and a 5-16-1 tanh network.</summary>
    private static (NeuralNetwork<float>, TrainingData<float>) SmoothRegression()
    {
        var rng = new Random(1);
        int n = 100, f = 5;
        var x = new float[n * f];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * 1.7f;
        var y = Enumerable.Range(0, n).Select(i => (float)Math.Sin(2 * x[f * i]) + x[f * i + 1] * x[f * i + 2]).ToArray();
        return (NeuralNetwork<float>.Create(f, [16], 1, Activation.Tanh, Activation.Identity, seed: 1), TrainingData<float>.FromDense(x, f, y, 1));
    }

    [Theory]
    [InlineData(OptimizerKind.GradientDescent)]
    [InlineData(OptimizerKind.Sgd)]
    public void AModelThatEndsFarWorseThanItsInitialWeightsIsNotReturnedAsTrained(OptimizerKind optimizer)
    {
        // α = 1e3 on a softmax classifier: the loss rises from ln 2 to tens without ever passing the 1e4 explosion factor,
        // and the run used to end as Converged with those weights (the reliability campaign's case).
        var data = Moons(1);
        var net = NeuralNetwork<float>.Create(2, [16], 2, Activation.Tanh, Activation.Softmax, seed: 5);
        var initial = net.Parameters.ToArray();
        var opts = new TrainingOptions
        {
            Optimizer = optimizer, Loss = LossFunction.CrossEntropy, LearningRate = 1e3, BatchSize = optimizer == OptimizerKind.Sgd ? 16 : null,
            MaxEpochs = 30, NumberOfThreads = 1, DivergenceBackoff = true, Seed = 2,
        };
        double initialCost = Backpropagation.Cost(net, data, LossFunction.CrossEntropy, new Regularization(opts.L2Regularization), 1);
        var result = NetworkTrainer.Train(net, data, opts);
        double finalCost = Backpropagation.Cost(net, data, LossFunction.CrossEntropy, new Regularization(opts.L2Regularization), 1);
        Assert.True(result.History.StopReason == StopReason.Diverged || finalCost <= 2 * initialCost,
            $"{result.History.StopReason}: J {initialCost:G4} → {finalCost:G4}");
        Assert.True(finalCost <= 2 * initialCost, $"J {initialCost:G4} → {finalCost:G4}");

        initial.CopyTo(net.Parameters);
        opts.DivergenceBackoff = false;
        var ex = Record.Exception(() => NetworkTrainer.Train(net, data, opts));
        Assert.IsType<TrainingDivergedException>(ex);
    }

    [Fact]
    public void AnOverflowingWeightPenaltyIsNamedAsTheRegularizationNotTheFeatures()
    {
        // λ = 1e30: (λ/2)ΣW² is past 1e30 at the initial weights, so L-BFGS cannot start. The message must point at the
        // regularization option, not at the features as it once did.
        var (net, data) = ExplodingRegression();
        var ex = Assert.Throws<TrainingDivergedException>(() => NetworkTrainer.Train(net, data, new TrainingOptions
        {
            Optimizer = OptimizerKind.Lbfgs, L2Regularization = 1e30, MaxEpochs = 5, NumberOfThreads = 1,
        }));
        Assert.Contains("weight penalty overflows", ex.Message);
        Assert.Contains("L2Regularization = 1E+30", ex.Message);
    }

    private static (NeuralNetwork<float>, TrainingData<float>) ExplodingRegression()
    {
        var rng = new Random(1);
        int n = 50;
        var x = new float[n * 3];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 20 - 10);
        var y = Enumerable.Range(0, n).Select(i => 5 * x[3 * i] - 3 * x[3 * i + 1]).ToArray();
        return (NeuralNetwork<float>.Create(3, [8], 1, Activation.Relu, Activation.Identity, seed: 1), TrainingData<float>.FromDense(x, 3, y, 1));
    }

    [Fact]
    public void CancellationStopsBeforeTheNextMiniBatchAndCarriesTheModelSoFar()
    {
        using var cts = new CancellationTokenSource();
        var opts = Sgd(epochs: 50);
        opts.EpochCompleted = e => { if (e.Epoch == 3) cts.Cancel(); };
        var net = NeuralNetwork<float>.Create(2, [8], 2, Activation.Tanh, Activation.Softmax, seed: 1);
        var ex = Assert.Throws<TrainingCanceledException<float>>(() => NetworkTrainer.Train(net, Moons(2), opts, cancellationToken: cts.Token));
        Assert.Equal(cts.Token, ex.CancellationToken);
        Assert.Equal(3, ex.PartialResult.History.Epochs.Count);
        Assert.Equal(StopReason.Canceled, ex.PartialResult.History.StopReason);
        Assert.True(ex.PartialResult.Network.IsFinite());
        Assert.Same(net, ex.PartialResult.Network);
        Assert.IsAssignableFrom<OperationCanceledException>(ex);
    }

    [Fact]
    public void CancellationWithEarlyStoppingReturnsTheBestValidationWeights()
    {
        using var cts = new CancellationTokenSource();
        var opts = Sgd(epochs: 50);
        opts.EarlyStopping = true;
        opts.EpochCompleted = e => { if (e.Epoch == 6) cts.Cancel(); };
        var net = NeuralNetwork<float>.Create(2, [8], 2, Activation.Tanh, Activation.Softmax, seed: 1);
        var validation = Moons(5, 100);
        var ex = Assert.Throws<TrainingCanceledException<float>>(() => NetworkTrainer.Train(net, Moons(2), opts, validation, cts.Token));
        var h = ex.PartialResult.History;
        double best = h.Epochs.Min(e => e.ValidationLoss!.Value);
        Assert.Equal(best, h.Epochs[h.BestEpoch - 1].ValidationLoss!.Value);
        Assert.Equal(best, Backpropagation.DataLoss(ex.PartialResult.Network, validation, LossFunction.CrossEntropy, 1), 5);
    }

    [Fact]
    public void LbfgsHonoursCancellation()
    {
        using var cts = new CancellationTokenSource();
        var opts = new TrainingOptions { Optimizer = OptimizerKind.Lbfgs, Loss = LossFunction.CrossEntropy, MaxEpochs = 100, Tolerance = 0, NumberOfThreads = 1 };
        opts.EpochCompleted = e => { if (e.Epoch == 2) cts.Cancel(); };
        var net = NeuralNetwork<float>.Create(2, [8], 2, Activation.Tanh, Activation.Softmax, seed: 1);
        var ex = Assert.Throws<TrainingCanceledException<float>>(() => NetworkTrainer.Train(net, Moons(2), opts, cancellationToken: cts.Token));
        Assert.Equal(2, ex.PartialResult.History.Epochs.Count);
        Assert.True(net.IsFinite());
    }
}
