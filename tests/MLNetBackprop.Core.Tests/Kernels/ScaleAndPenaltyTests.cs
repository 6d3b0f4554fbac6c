using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using MLNetBackprop.Core.Activations;
using MLNetBackprop.Core.Kernels;
using Xunit;

namespace MLNetBackprop.Core.Tests.Kernels;

/// <summary>
/// The data-parallel step's one pass after the sum: g/Σw + the penalty's gradient. It must give the bits of the two
/// passes it replaces: TensorPrimitives.Multiply by the scale, then <see cref="Backpropagation.AddPenaltyGradient{T}"/>.
/// </summary>
public class ScaleAndPenaltyTests
{
    public static TheoryData<double, double, int[]> Cases()
    {
        var data = new TheoryData<double, double, int[]>();
        foreach (var (l2, l1) in new[] { (0.0, 0.0), (1e-4, 0.0), (0.3, 0.0), (0.0, 1e-3), (1e-2, 1e-3) })
            // Widths that leave scalar tails after the whole vectors, and one network as wide as W2.
            foreach (int[] sizes in new[] { new[] { 1, 1 }, new[] { 3, 7, 2 }, new[] { 13, 33, 17, 5 }, new[] { 784, 256, 128, 10 } })
                data.Add(l2, l1, sizes);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FloatGivesTheTwoPassesBits(double l2, double l1, int[] sizes) => Check<float>(l2, l1, sizes);

    [Theory]
    [MemberData(nameof(Cases))]
    public void DoubleGivesTheTwoPassesBits(double l2, double l1, int[] sizes) => Check<double>(l2, l1, sizes);

    private static void Check<T>(double l2, double l1, int[] sizes) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var activations = Enumerable.Repeat(Activation.Tanh, sizes.Length - 1).ToArray();
        var net = new NeuralNetwork<T>(sizes, activations);
        net.Initialize(11);
        // A zero weight, for sign(0) = 0 in the L1 part.
        net.Weights(0)[0] = T.Zero;
        var rng = new Random(5);
        // Sums of many rows' gradients: values of all sizes, so that the roundings of the two orders would differ.
        var source = new T[net.ParameterCount];
        for (int i = 0; i < source.Length; i++) source[i] = T.CreateTruncating((rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-6, 4)));
        T scale = T.CreateTruncating(1.0 / 377);
        var reg = new Regularization(L2: l2, L1: l1);

        var expected = new T[source.Length];
        TensorPrimitives.Multiply<T>(source, scale, expected);
        Backpropagation.AddPenaltyGradient(net, reg, expected);

        var actual = new T[source.Length];
        actual.AsSpan().Fill(T.NaN); // every element must be written
        Backpropagation.ScaleAndAddPenaltyGradient<T>(net, reg, source, scale, actual);

        for (int i = 0; i < actual.Length; i++)
            if (!MemoryMarshal.AsBytes(actual.AsSpan(i, 1)).SequenceEqual(MemoryMarshal.AsBytes(expected.AsSpan(i, 1))))
                Assert.Fail($"parameter {i} of {actual.Length}: {actual[i]} where the two passes give {expected[i]}");
    }

    [Fact]
    public void ScaledSumRoundsBothProductsThenTheirSum()
    {
        // x·a + y·b with values whose fused and unfused results differ: the loop must not fuse.
        // (1 + 2⁻¹³)(1 − 2⁻¹³) = 1 − 2⁻²⁶ rounds to 1 in float: unfused the sum is 0, fused it is −2⁻²⁶.
        float x = 1 + MathF.Pow(2, -13), a = 1 - MathF.Pow(2, -13), y = -1, b = 1;
        float unfused = x * a + y * b;
        Assert.NotEqual(MathF.FusedMultiplyAdd(x, a, y * b), unfused); // the data tells the two apart
        int n = Vector<float>.Count * 2 + 3; // vectors and a scalar tail
        var xs = Enumerable.Repeat(x, n).ToArray();
        var ys = Enumerable.Repeat(y, n).ToArray();
        var d = new float[n];
        ElementwiseLoop.ScaledSum<float>(xs, a, ys, b, d);
        Assert.All(d, v => Assert.Equal(unfused, v));
    }
}
