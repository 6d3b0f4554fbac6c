using System.Numerics;
using MLNetBackprop.Core.Activations;

namespace MLNetBackprop.Core.Tests;

/// <summary>
/// Issue #15: each activation is one operator struct. Its vector and scalar forms do the same operations per element, its
/// table entry is complete, and SiLU (added as the demonstration) has the values and the derivative of its definition.
/// </summary>
public class ActivationOperatorTests
{
    [Fact]
    public void EveryDefinedActivationHasItsEntry_AndOnlySoftmaxIsOutputOnly()
    {
        foreach (var f in Enum.GetValues<Activation>())
        {
            var info = ActivationTable.Get(f);
            Assert.Equal(f, info.Kind);
            Assert.Equal(f != Activation.Softmax, info.Hidden);
            Assert.False(string.IsNullOrEmpty(info.Onnx.Operator));
        }
        Assert.False(ActivationTable.IsDefined((Activation)Enum.GetValues<Activation>().Length));
        Assert.Throws<ArgumentOutOfRangeException>(() => ActivationTable.Get((Activation)(-1)));
        // He's rule for the rectifier-like units, Glorot's for the rest.
        Assert.Equal(Math.Sqrt(6.0 / 10), ActivationTable.Get(Activation.Silu).InitBound(10, 5));
        Assert.Equal(Math.Sqrt(6.0 / 16), ActivationTable.Get(Activation.Tanh).InitBound(10, 5));
    }

    public static TheoryData<Activation> Differentiable() => new(Enum.GetValues<Activation>().Where(f => f != Activation.Softmax));

    [Theory]
    [MemberData(nameof(Differentiable))]
    public void TheVectorLoopAndTheScalarTailGiveEveryElementTheSameBits(Activation f)
    {
        // The same values at every position of a span one vector long plus a tail: the first Vector<T>.Count elements
        // go through the vector form, the rest through the scalar form. Both must agree bit for bit, for float and double.
        Check<float>(f);
        Check<double>(f);
    }

    private static void Check<T>(Activation f) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var kernel = ActivationTable.Get(f).Kernel;
        int w = Vector<T>.Count;
        var rng = new Random(7);
        for (int trial = 0; trial < 50; trial++)
        {
            var zs = Enumerable.Range(0, w).Select(i => trial == 0 && i == 0 ? T.Zero : T.CreateTruncating((rng.NextDouble() - 0.5) * 12)).ToArray();
            var deltas = Enumerable.Range(0, w).Select(_ => T.CreateTruncating(rng.NextDouble() * 2 - 1)).ToArray();
            // z's w values, then its first w − 1 again: a span of 2w − 1, whose last w − 1 elements are the scalar tail.
            var z = zs.Concat(zs.Take(w - 1)).ToArray();
            var a = new T[z.Length];
            kernel.Apply<T>(z, a, z.Length);
            var delta = deltas.Concat(deltas.Take(w - 1)).ToArray();
            kernel.MultiplyByDerivative<T>(z, a, delta);
            for (int i = 0; i < w - 1; i++)
            {
                Assert.Equal(a[i], a[w + i]);
                Assert.Equal(delta[i], delta[w + i]);
            }
        }
    }

    [Theory]
    [InlineData(Activation.Sigmoid)]
    [InlineData(Activation.Tanh)]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.LeakyRelu)]
    [InlineData(Activation.Identity)]
    [InlineData(Activation.Softmax)]
    [InlineData(Activation.Silu)]
    public void InPlaceGivesTheBitsOfASeparateBuffer(Activation f)
    {
        // The batch scorer applies activations in place; rows of 300 (beyond SiLU's stack scratch) and of 5.
        foreach (int width in new[] { 5, 300 })
        {
            var rng = new Random(width);
            var z = Enumerable.Range(0, 3 * width).Select(_ => (float)((rng.NextDouble() - 0.5) * 10)).ToArray();
            var apart = new float[z.Length];
            ActivationTable.Get(f).Kernel.Apply<float>(z, apart, width);
            var inPlace = z.ToArray();
            ActivationTable.Get(f).Kernel.Apply<float>(inPlace, inPlace, width);
            Assert.Equal(apart, inPlace);
        }
    }

    [Fact]
    public void Silu_IsZTimesTheSigmoid_WithTheDerivativeOfItsDefinition()
    {
        double[] zs = [-30, -6, -2.5, -1, -1e-3, 0, 1e-8, 0.5, 1, 3, 12, 40];
        var z = zs.ToArray();
        var a = new double[z.Length];
        ActivationTable.Get(Activation.Silu).Kernel.Apply<double>(z, a, z.Length);
        var delta = Enumerable.Repeat(1.0, z.Length).ToArray();
        ActivationTable.Get(Activation.Silu).Kernel.MultiplyByDerivative<double>(z, a, delta);
        for (int i = 0; i < z.Length; i++)
        {
            double s = 1 / (1 + Math.Exp(-z[i]));
            Assert.Equal(z[i] * s, a[i], 1e-15 * Math.Max(1, Math.Abs(a[i])));
            // f'(z) = σ(z)(1 + z(1 − σ(z))), recovered in the backward pass from a and z alone.
            double expected = s * (1 + z[i] * (1 - s));
            Assert.True(Math.Abs(delta[i] - expected) <= 1e-12 * Math.Max(1, Math.Abs(expected)), $"z = {z[i]}: {delta[i]} against {expected}");
        }
        // Known values: f(1) = 0.7310585786, f(−1) = −0.2689414214, the minimum f(−1.2784645) = −0.2784645428.
        Assert.Equal(0.7310585786300049, a[Array.IndexOf(zs, 1.0)], 12);
        Assert.Equal(-0.2689414213699951, a[Array.IndexOf(zs, -1.0)], 12);
        var min = new double[1];
        ActivationTable.Get(Activation.Silu).Kernel.Apply<double>([-1.2784645427610738], min, 1);
        Assert.Equal(-0.2784645427610738, min[0], 12);
    }

    [Fact]
    public void Silu_LearnsXor_WhichNoLinearModelCan()
    {
        // A 2-4-1 SiLU network with a sigmoid output, cross-entropy, textbook full-batch gradient descent.
        double[] x = [0, 0, 0, 1, 1, 0, 1, 1];
        double[] y = [0, 1, 1, 0];
        var data = TrainingData<double>.FromDense(x, 2, y, 1);
        var net = NeuralNetwork<double>.Create(2, [4], 1, Activation.Silu, Activation.Sigmoid, seed: 1);
        var result = NetworkTrainer.Train(net, data, new TrainingOptions
        {
            Loss = LossFunction.CrossEntropy, L2Regularization = 0, Optimizer = Optimizers.OptimizerKind.GradientDescent,
            LearningRate = 1.0, MaxEpochs = 5_000, Tolerance = 0, NumberOfThreads = 1,
        });
        for (int i = 0; i < 4; i++)
        {
            double h = net.Predict(x.AsSpan(2 * i, 2))[0];
            Assert.True(Math.Abs(h - y[i]) < 0.1, $"XOR({x[2 * i]}, {x[2 * i + 1]}) = {h} is not within 0.1 of {y[i]}; final loss {result.History.Epochs[^1].TrainingLoss}");
        }
    }
}
