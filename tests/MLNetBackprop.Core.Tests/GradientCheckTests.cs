using MLNetBackprop.Core;
using MLNetBackprop.Core.Diagnostics;

namespace MLNetBackprop.Core.Tests;

/// <summary>Backpropagation agrees with central finite differences for every activation × loss × regularizer.</summary>
public class GradientCheckTests(Xunit.Abstractions.ITestOutputHelper log)
{
    private static readonly Activation[] Hidden = [Activation.Sigmoid, Activation.Tanh, Activation.Relu, Activation.LeakyRelu, Activation.Silu, Activation.Identity];
    private static readonly Activation[] Outputs = [Activation.Sigmoid, Activation.Tanh, Activation.Relu, Activation.LeakyRelu, Activation.Silu, Activation.Identity, Activation.Softmax];
    private static readonly Regularization[] Regs = [Regularization.None, new(L2: 0.3), new(L1: 0.05), new(L2: 0.2, L1: 0.03)];

    public static TheoryData<Activation, Activation, LossFunction, int> Combinations()
    {
        var data = new TheoryData<Activation, Activation, LossFunction, int>();
        foreach (var h in Hidden)
            foreach (var o in Outputs)
                foreach (var loss in new[] { LossFunction.SquaredError, LossFunction.CrossEntropy })
                {
                    if (loss == LossFunction.CrossEntropy && o is not (Activation.Sigmoid or Activation.Softmax)) continue;
                    for (int r = 0; r < Regs.Length; r++) data.Add(h, o, loss, r);
                }
        return data;
    }

    [Theory]
    [MemberData(nameof(Combinations))]
    public void BackpropAgreesWithFiniteDifferencesToOneInTenMillion(Activation hidden, Activation output, LossFunction loss, int reg)
    {
        // A fixed seed per combination (HashCode.Combine is randomized per process, which made shapes change from run
        // to run and, rarely, put a ReLU pre-activation within ε of its kink, where finite differences do not apply).
        int seed = (((int)hidden * 31 + (int)output) * 31 + (int)loss) * 31 + reg + 1;
        var rng = new Random(seed);
        // Random shape: 1–2 hidden layers of 2–5 units, 1–6 inputs, 1–4 outputs (softmax needs 2), 1–7 rows.
        int inputs = rng.Next(1, 7), outputs = rng.Next(output == Activation.Softmax ? 2 : 1, 5), rows = rng.Next(1, 8);
        var hiddenSizes = Enumerable.Range(0, rng.Next(1, 3)).Select(_ => rng.Next(2, 6)).ToArray();
        var net = NeuralNetwork<double>.Create(inputs, hiddenSizes, outputs, hidden, output, seed);
        // Non-zero biases, so every path of the code is exercised.
        for (int l = 0; l < net.WeightLayerCount; l++)
            TestData.Uniform(rng, net.Biases(l).Length, -0.5, 0.5).CopyTo(net.Biases(l));
        // |W| is not differentiable at 0: keep weights clear of the kink so central differences are valid for L1.
        for (int l = 0; l < net.WeightLayerCount; l++)
        {
            var wl = net.Weights(l);
            for (int i = 0; i < wl.Length; i++) if (Math.Abs(wl[i]) < 1e-2) wl[i] = wl[i] < 0 ? -1e-2 : 1e-2;
        }
        // Inputs in [−1, 1], as after normalization. (Central differences err by about ε²/6 · ∂³J, which grows with the cube
        // of the activations; with ε = 1e-4 and inputs up to ±2 one case in 160 reached 1.9e-7 through truncation alone.)
        var x = TestData.Uniform(rng, rows * inputs, -1, 1);
        var y = TestData.Targets(rng, rows, outputs, loss, output);
        double[]? w = rng.Next(2) == 0 ? TestData.Uniform(rng, rows, 0.2, 3) : null;
        bool sparse = rng.Next(2) == 0;
        if (sparse) for (int i = 0; i < x.Length; i++) if (rng.Next(3) == 0) x[i] = 0;
        var data = sparse ? TestData.ToSparse(x, inputs, y, outputs, w) : TrainingData<double>.FromDense(x, inputs, y, outputs, w);

        var result = GradientCheck.Run(net, data, loss, Regs[reg]);
        log.WriteLine($"gradient check {hidden}/{output}/{loss}/reg{reg}: {result.RelativeError:E3}");

        Assert.True(result.RelativeError <= 1e-7,
            $"{hidden}/{output}/{loss}/{Regs[reg]} shape {inputs}-{string.Join("-", hiddenSizes)}-{outputs}, {rows} rows, sparse {sparse}, weighted {w is not null}: {result}");
    }

    [Fact]
    public void CheckDetectsAWrongGradient()
    {
        // The measure is meaningful: a gradient off by 1% in one entry gives an error far above the threshold.
        double[] analytic = [0.5, -0.25, 0.125];
        double[] numeric = [0.505, -0.25, 0.125];
        var r = GradientCheckResult.Compare(analytic, numeric);
        Assert.True(r.RelativeError > 1e-3);
        Assert.Equal(0, r.WorstParameter);
    }

    [Fact]
    public void GradientCheckLeavesTheNetworkUnchanged()
    {
        var net = NeuralNetwork<double>.Create(3, [4], 2, seed: 3);
        var before = net.Parameters.ToArray();
        var rng = new Random(1);
        var data = TrainingData<double>.FromDense(TestData.Uniform(rng, 12, -1, 1), 3, TestData.Uniform(rng, 8, 0, 1), 2);
        GradientCheck.Run(net, data, LossFunction.SquaredError, new Regularization(0.1));
        Assert.Equal(before, net.Parameters.ToArray());
    }
}
