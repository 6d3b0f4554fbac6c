using MLNetBackprop.Core;

namespace MLNetBackprop.Core.Tests;

/// <summary>
/// A 2-2-1 sigmoid network on two examples, with every quantity of the derivation worked out scalar by scalar
/// from the formulas (and cross-checked against values computed independently in double precision).
/// </summary>
public class HandComputedBackpropTests
{
    private const double Lambda = 0.1;
    private static readonly double[][] X = [[0.05, 0.10], [0.8, -0.3]];
    private static readonly double[] Y = [0.01, 0.9];

    private static NeuralNetwork<double> Network()
    {
        var net = new NeuralNetwork<double>([2, 2, 1], [Activation.Sigmoid, Activation.Sigmoid]);
        // W^(1) (code: Weights(0)) maps the input to the hidden layer; row j holds the weights into hidden unit j.
        double[] w1 = [0.15, 0.20, 0.25, 0.30];
        w1.CopyTo(net.Weights(0));
        net.Biases(0).Fill(0.35);
        double[] w2 = [0.40, 0.45];
        w2.CopyTo(net.Weights(1));
        net.Biases(1).Fill(0.60);
        return net;
    }

    private static TrainingData<double> Data() =>
        TrainingData<double>.FromDense([.. X[0], .. X[1]], 2, Y.ToArray(), 1);

    private static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

    /// <summary>The textbook quantities for one example, written out unit by unit.</summary>
    private static (double[] Z2, double[] A2, double Z3, double A3, double Delta3, double[] Delta2) ByHand(double[] x, double y)
    {
        double z21 = 0.15 * x[0] + 0.20 * x[1] + 0.35;
        double z22 = 0.25 * x[0] + 0.30 * x[1] + 0.35;
        double a21 = Sigmoid(z21), a22 = Sigmoid(z22);
        double z3 = 0.40 * a21 + 0.45 * a22 + 0.60;
        double a3 = Sigmoid(z3);
        // δ^(3) = −(y − a^(3)) · f'(z^(3)),  f'(z) = a(1 − a)
        double d3 = -(y - a3) * a3 * (1 - a3);
        // δ^(2) = (W^(2))ᵀ δ^(3) ⊙ f'(z^(2))
        double d21 = 0.40 * d3 * a21 * (1 - a21);
        double d22 = 0.45 * d3 * a22 * (1 - a22);
        return ([z21, z22], [a21, a22], z3, a3, d3, [d21, d22]);
    }

    [Fact]
    public void ForwardPassMatchesTheFormulasUnitByUnit()
    {
        var net = Network();
        var ws = new NetworkWorkspace<double>(net, 2);
        Backpropagation.CostAndGradient(net, Data(), LossFunction.SquaredError, new Regularization(Lambda), new double[net.ParameterCount], ws);
        for (int i = 0; i < 2; i++)
        {
            var h = ByHand(X[i], Y[i]);
            Assert.Equal(h.Z2[0], ws.Z(1)[2 * i], 12);
            Assert.Equal(h.Z2[1], ws.Z(1)[2 * i + 1], 12);
            Assert.Equal(h.A2[0], ws.A(1)[2 * i], 12);
            Assert.Equal(h.A2[1], ws.A(1)[2 * i + 1], 12);
            Assert.Equal(h.Z3, ws.Z(2)[i], 12);
            Assert.Equal(h.A3, ws.A(2)[i], 12);
        }
        // Independent double-precision values for the first example (the well-known 0.05/0.10 worked example).
        Assert.Equal(1.10590596705977, ws.Z(2)[0], 12);
        Assert.Equal(0.7513650695523157, ws.A(2)[0], 12);
    }

    [Fact]
    public void DeltasFollowTheOutputAndHiddenRules()
    {
        var net = Network();
        var ws = new NetworkWorkspace<double>(net, 2);
        Backpropagation.CostAndGradient(net, Data(), LossFunction.SquaredError, new Regularization(Lambda), new double[net.ParameterCount], ws);
        for (int i = 0; i < 2; i++)
        {
            var h = ByHand(X[i], Y[i]);
            Assert.Equal(h.Delta3, ws.Delta(2)[i], 12);
            Assert.Equal(h.Delta2[0], ws.Delta(1)[2 * i], 12);
            Assert.Equal(h.Delta2[1], ws.Delta(1)[2 * i + 1], 12);
        }
        Assert.Equal(0.13849856162855695, ws.Delta(2)[0], 12);
        Assert.Equal(-0.027262549113515593, ws.Delta(2)[1], 12);
        Assert.Equal(0.013367920422887458, ws.Delta(1)[0], 12);
        Assert.Equal(-0.002910345497689777, ws.Delta(1)[3], 12);
    }

    [Fact]
    public void CostIsTheMeanHalfSquaredErrorPlusHalfLambdaSumOfSquaredWeights()
    {
        var net = Network();
        double j = Backpropagation.CostAndGradient(net, Data(), LossFunction.SquaredError, new Regularization(Lambda), new double[net.ParameterCount]);
        double dataTerm = 0;
        for (int i = 0; i < 2; i++) dataTerm += 0.5 * Math.Pow(ByHand(X[i], Y[i]).A3 - Y[i], 2);
        double weights = 0.15 * 0.15 + 0.20 * 0.20 + 0.25 * 0.25 + 0.30 * 0.30 + 0.40 * 0.40 + 0.45 * 0.45;
        double expected = dataTerm / 2 + Lambda / 2 * weights; // biases 0.35 and 0.60 are not in the penalty
        Assert.Equal(expected, j, 12);
        Assert.Equal(0.17166075046352866, j, 12);
        Assert.Equal(j, Backpropagation.Cost(net, Data(), LossFunction.SquaredError, new Regularization(Lambda)), 12);
    }

    [Fact]
    public void GradientIsTheAverageOfDeltaTimesActivationPlusLambdaW()
    {
        var net = Network();
        var g = new double[net.ParameterCount];
        Backpropagation.CostAndGradient(net, Data(), LossFunction.SquaredError, new Regularization(Lambda), g);
        var h0 = ByHand(X[0], Y[0]);
        var h1 = ByHand(X[1], Y[1]);
        double[] w1 = [0.15, 0.20, 0.25, 0.30];
        double[] w2 = [0.40, 0.45];
        // ∂J/∂W^(1)_ji = (1/m) Σ δ^(2)_j x_i + λ W_ji
        int k = 0;
        for (int j = 0; j < 2; j++)
            for (int i = 0; i < 2; i++, k++)
            {
                double expected = (h0.Delta2[j] * X[0][i] + h1.Delta2[j] * X[1][i]) / 2 + Lambda * w1[k];
                Assert.Equal(expected, g[k], 12);
            }
        // ∂J/∂b^(1)_j = (1/m) Σ δ^(2)_j  (no λ term)
        Assert.Equal((h0.Delta2[0] + h1.Delta2[0]) / 2, g[4], 12);
        Assert.Equal((h0.Delta2[1] + h1.Delta2[1]) / 2, g[5], 12);
        // ∂J/∂W^(2)_j = (1/m) Σ δ^(3) a^(2)_j + λ W_j
        Assert.Equal((h0.Delta3 * h0.A2[0] + h1.Delta3 * h1.A2[0]) / 2 + Lambda * w2[0], g[6], 12);
        Assert.Equal((h0.Delta3 * h0.A2[1] + h1.Delta3 * h1.A2[1]) / 2 + Lambda * w2[1], g[7], 12);
        Assert.Equal((h0.Delta3 + h1.Delta3) / 2, g[8], 12);
        // Independently computed values.
        double[] reference = [0.014288270354181006, 0.02106061889229107, 0.02421076368814651, 0.031186355599098308,
            0.0053765506409547545, 0.006042864995603537, 0.0728899263727941, 0.07797764938162666, 0.055618006257520676];
        for (int i = 0; i < reference.Length; i++) Assert.Equal(reference[i], g[i], 12);
    }

    [Fact]
    public void OneGradientDescentStepIsWMinusAlphaGradient()
    {
        var net = Network();
        var before = net.Parameters.ToArray();
        var g = new double[net.ParameterCount];
        Backpropagation.CostAndGradient(net, Data(), LossFunction.SquaredError, new Regularization(Lambda), g);
        var options = new TrainingOptions { Optimizer = Optimizers.OptimizerKind.GradientDescent, LearningRate = 0.7, MaxEpochs = 1, L2Regularization = Lambda, NumberOfThreads = 1 };
        NetworkTrainer.Train(net, Data(), options);
        for (int i = 0; i < before.Length; i++) Assert.Equal(before[i] - 0.7 * g[i], net.Parameters[i], 14);
    }
}
