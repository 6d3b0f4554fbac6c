using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using MLNetBackprop.Core.Activations;
using MLNetBackprop.Core.Kernels;
using Xunit;

namespace MLNetBackprop.Core.Tests.Kernels;

/// <summary>
/// The batch's element-wise passes in chunks of rows shared among threads against the plain passes (the bias added row by
/// row over the whole batch, then f over the whole batch in one call; δ ⊙ f' over the whole batch): the same bits for
/// every activation, width, and thread count, with batches above the size where threads join.
/// </summary>
public class RowPassesTests
{
    public static TheoryData<Activation, int, int, int> Cases()
    {
        var data = new TheoryData<Activation, int, int, int>();
        foreach (var f in Enum.GetValues<Activation>())
            foreach (var (rows, width) in new[] { (1, 1), (3, 7), (50, 10), (1_100, 256), (70_001, 13) })
                foreach (int threads in new[] { 1, 2, 3 })
                    if (f != Activation.Softmax || width > 1)
                        data.Add(f, rows, width, threads);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FloatPassesGiveThePlainPassesBits(Activation f, int rows, int width, int threads) => Check<float>(f, rows, width, threads);

    [Theory]
    [MemberData(nameof(Cases))]
    public void DoublePassesGiveThePlainPassesBits(Activation f, int rows, int width, int threads) => Check<double>(f, rows, width, threads);

    [Fact]
    public void FullBatchGradientIsTheSameOnOneAndTwoThreads()
    {
        // 1,200 rows × 256 hidden units: the hidden layer's passes run in parallel parts on two threads.
        var rng = new Random(7);
        int rows = 1_200, d = 20, k = 3;
        var x = new float[rows * d];
        var y = new float[rows * k];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int r = 0; r < rows; r++) y[r * k + rng.Next(k)] = 1;
        var data = TrainingData<float>.FromDense(x, d, y, k);
        foreach (var hidden in new[] { Activation.Sigmoid, Activation.Relu, Activation.Silu })
        {
            var net = NeuralNetwork<float>.Create(d, [256], k, hidden, Activation.Softmax, seed: 3);
            var g1 = new float[net.ParameterCount];
            var g2 = new float[net.ParameterCount];
            var reg = new Regularization(L2: 1e-3);
            double j1 = Backpropagation.CostAndGradient(net, data, LossFunction.CrossEntropy, reg, g1, maxThreads: 1);
            double j2 = Backpropagation.CostAndGradient(net, data, LossFunction.CrossEntropy, reg, g2, maxThreads: 2);
            Assert.Equal(BitConverter.DoubleToInt64Bits(j1), BitConverter.DoubleToInt64Bits(j2));
            Assert.Equal(MemoryMarshal.Cast<float, int>(g1).ToArray(), MemoryMarshal.Cast<float, int>(g2).ToArray());
            Assert.Contains(g1, v => v != 0);
        }
    }

    private static void Check<T>(Activation f, int rows, int width, int threads) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(rows * 31 + width + (int)f);
        int n = rows * width;
        var z = new T[n];
        var b = new T[width];
        var delta = new T[n];
        // Values around the kinks and the saturation of every activation, exact zeros included.
        for (int i = 0; i < n; i++) z[i] = rng.Next(16) == 0 ? T.Zero : T.CreateTruncating((rng.NextDouble() * 2 - 1) * 12);
        for (int j = 0; j < width; j++) b[j] = T.CreateTruncating(rng.NextDouble() - 0.5);
        for (int i = 0; i < n; i++) delta[i] = T.CreateTruncating(rng.NextDouble() * 2 - 1);
        var kernel = ActivationTable.Get(f).Kernel;

        // The plain passes.
        var zPlain = (T[])z.Clone();
        for (int r = 0; r < rows; r++) TensorPrimitives.Add(zPlain.AsSpan(r * width, width), b, zPlain.AsSpan(r * width, width));
        var aPlain = new T[n];
        kernel.Apply<T>(zPlain, aPlain, width);
        // Softmax has no element-wise f' (its δ goes through the Jacobian, row by row, on one thread).
        bool derivative = f != Activation.Softmax;
        var dPlain = (T[])delta.Clone();
        if (derivative) kernel.MultiplyByDerivative<T>(zPlain, aPlain, dPlain);

        // Into a separate output, and in place.
        var zRows = (T[])z.Clone();
        var aRows = new T[n];
        RowPasses.BiasAndActivation<T>(zRows, b, aRows, width, kernel, threads);
        var inPlace = (T[])z.Clone();
        RowPasses.BiasAndActivation<T>(inPlace, b, inPlace, width, kernel, threads);
        var dRows = (T[])delta.Clone();
        if (derivative) RowPasses.MultiplyByDerivative<T>(zRows, aRows, dRows, width, kernel, threads);

        Assert.Equal(Bits(zPlain), Bits(zRows));
        Assert.Equal(Bits(aPlain), Bits(aRows));
        Assert.Equal(Bits(aPlain), Bits(inPlace));
        Assert.Equal(Bits(dPlain), Bits(dRows));
    }

    private static long[] Bits<T>(T[] values) where T : unmanaged, IFloatingPointIeee754<T> =>
        values.Select(v => BitConverter.DoubleToInt64Bits(double.CreateTruncating(v))).ToArray();
}
