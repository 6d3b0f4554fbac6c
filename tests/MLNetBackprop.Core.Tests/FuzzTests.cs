using System.Diagnostics;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Optimizers;
using Xunit.Abstractions;

namespace MLNetBackprop.Core.Tests;

/// <summary>
/// Seeded random networks, data (NaN, huge values, sparse rows, empty rows) and options: every failure must be a
/// documented exception with a message, and every returned model must have finite weights.
/// Set MLNETBACKPROP_FUZZ_CASES to run more cases (the closing note reports a 10,000-case run).
/// </summary>
public class FuzzTests(ITestOutputHelper output)
{
    private static readonly Type[] Documented =
    [
        typeof(ArgumentException), typeof(ArgumentOutOfRangeException), typeof(TrainingDivergedException),
    ];

    [Fact]
    public void RandomInputsFailOnlyWithDocumentedExceptionsAndNeverYieldNonFiniteWeights()
    {
        int cases = int.TryParse(Environment.GetEnvironmentVariable("MLNETBACKPROP_FUZZ_CASES"), out int n) ? n : 400;
        var budget = Stopwatch.StartNew();
        int trained = 0, rejected = 0, diverged = 0, run = 0;
        for (int c = 0; c < cases && (cases > 400 || budget.Elapsed < TimeSpan.FromSeconds(20)); c++, run++)
        {
            var rng = new Random(c);
            try
            {
                var result = RunCase(rng);
                trained++;
                Assert.True(result.Network.IsFinite(), $"case {c}: a model with non-finite weights was returned");
                Assert.All(result.History.Epochs, e => Assert.True(double.IsFinite(e.TrainingLoss), $"case {c}: non-finite loss in the history"));
            }
            catch (Exception ex) when (Documented.Contains(ex.GetType()))
            {
                Assert.False(string.IsNullOrWhiteSpace(ex.Message), $"case {c}: {ex.GetType().Name} without a message");
                if (ex is TrainingDivergedException) diverged++; else rejected++;
            }
            catch (Exception ex)
            {
                Assert.Fail($"case {c}: undocumented {ex.GetType().Name}: {ex.Message}\n{ex.StackTrace}");
            }
        }
        output.WriteLine($"{run} cases: {trained} trained, {rejected} rejected as bad input, {diverged} diverged");
        Assert.True(trained > run / 10, $"only {trained} of {run} cases trained; the generator is too hostile to test training");
        Assert.True(rejected > 0);
    }

    private static TrainingResult<float> RunCase(Random rng)
    {
        int inputs = rng.Next(1, 12), outputs = rng.Next(1, 5), rows = rng.Next(0, 10) == 0 ? 0 : rng.Next(1, 40);
        var hidden = Enumerable.Range(0, rng.Next(0, 3)).Select(_ => rng.Next(1, 9)).ToArray();
        var hiddenAct = (Activation)rng.Next(0, 5);
        var outAct = (Activation)rng.Next(0, 6);
        if (outAct == Activation.Softmax && outputs == 1) outputs = 2;
        var net = NeuralNetwork<float>.Create(inputs, hidden, outputs, hiddenAct, outAct, rng.Next());

        // About a third of the cases get hostile values; the rest must train.
        bool hostile = rng.Next(3) == 0;
        var x = new float[rows * inputs];
        for (int i = 0; i < x.Length; i++)
            x[i] = (hostile ? rng.Next(50) : rng.Next(4, 50)) switch
            {
                0 => float.NaN,
                1 => float.PositiveInfinity,
                2 => 1e30f,
                3 => -1e30f,
                < 20 => 0,
                _ => (float)(rng.NextDouble() * 4 - 2),
            };
        var y = new float[rows * outputs];
        for (int i = 0; i < y.Length; i++) y[i] = hostile && rng.Next(50) == 0 ? float.NaN : (float)rng.NextDouble();
        float[]? w = rng.Next(4) == 0 ? Enumerable.Range(0, rows).Select(_ => hostile && rng.Next(10) == 0 ? -1f : (float)rng.NextDouble() + 0.01f).ToArray() : null;

        TrainingData<float> data;
        if (rng.Next(2) == 0)
            data = TrainingData<float>.FromDense(x, inputs, y, outputs, w);
        else
        {
            var start = new List<int> { 0 };
            var idx = new List<int>();
            var val = new List<float>();
            for (int r = 0; r < rows; r++)
            {
                for (int j = 0; j < inputs; j++) if (x[r * inputs + j] != 0) { idx.Add(j); val.Add(x[r * inputs + j]); }
                start.Add(idx.Count);
            }
            data = TrainingData<float>.FromSparse(start.ToArray(), idx.ToArray(), val.ToArray(), inputs, y, outputs, w);
        }

        var opts = new TrainingOptions
        {
            Loss = (LossFunction)rng.Next(0, 2),
            Optimizer = (OptimizerKind)rng.Next(0, 4),
            LearningRate = rng.Next(5) == 0 ? Math.Pow(10, rng.Next(-4, 4)) * (rng.Next(10) == 0 ? -1 : 1) : null,
            BatchSize = rng.Next(3) == 0 ? rng.Next(-1, 50) : null,
            Momentum = rng.Next(20) == 0 ? 1.5 : 0.9,
            MaxEpochs = rng.Next(1, 8),
            L2Regularization = rng.Next(4) == 0 ? rng.NextDouble() : 1e-4,
            L1Regularization = rng.Next(4) == 0 ? rng.NextDouble() * 0.1 : 0,
            EarlyStopping = rng.Next(4) == 0,
            DivergenceBackoff = rng.Next(2) == 0,
            LearningRateSchedule = (LearningRateSchedule)rng.Next(0, 3),
            Nesterov = rng.Next(2) == 0,
            NumberOfThreads = rng.Next(1, 3),
            Seed = rng.Next(),
        };
        return NetworkTrainer.Train(net, data, opts);
    }
}
