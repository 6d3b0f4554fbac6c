using MLNetBackprop.Core.Kernels;
using Xunit;

namespace MLNetBackprop.Core.Tests;

/// <summary>The per-step guard on the gradient: every non-finite value is seen wherever it sits, and finite data passes.</summary>
public class FiniteCheckTests
{
    public static TheoryData<int> Lengths => new() { 0, 1, 7, 31, 32, 33, 63, 64, 65, 100, 235_146 };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void A_nan_or_infinity_at_any_position_is_found_in_float_and_double(int length)
    {
        var rng = new Random(length);
        var f = new float[length];
        var d = new double[length];
        for (int i = 0; i < length; i++) d[i] = f[i] = (float)(rng.NextDouble() * 2 - 1);
        Assert.True(FiniteCheck.All<float>(f));
        Assert.True(FiniteCheck.All<double>(d));
        // Every position of the short spans, and a spread of positions (vector body and scalar tail) of the long one.
        var positions = length <= 100 ? Enumerable.Range(0, length) : new[] { 0, 1, 15, 16, 31, 32, length / 2, length - 33, length - 2, length - 1 };
        foreach (int p in positions)
        {
            foreach (double bad in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity })
            {
                float keepF = f[p];
                double keepD = d[p];
                f[p] = (float)bad;
                d[p] = bad;
                Assert.False(FiniteCheck.All<float>(f), $"float {bad} at {p} of {length} not seen");
                Assert.False(FiniteCheck.All<double>(d), $"double {bad} at {p} of {length} not seen");
                f[p] = keepF;
                d[p] = keepD;
            }
        }
    }

    [Fact]
    public void Finite_values_whose_sum_overflows_pass_and_opposite_infinities_are_still_caught()
    {
        var f = Enumerable.Repeat(float.MaxValue, 70).ToArray();
        Assert.False(float.IsFinite(FiniteCheck.Sum<float>(f)));
        Assert.True(FiniteCheck.All<float>(f));
        f[3] = float.PositiveInfinity;
        f[40] = float.NegativeInfinity; // +∞ + −∞ is NaN: still not finite
        Assert.False(FiniteCheck.All<float>(f));
    }

    [Fact]
    public void The_sum_equals_the_plain_sum_to_rounding()
    {
        var rng = new Random(5);
        var d = Enumerable.Range(0, 1001).Select(_ => rng.NextDouble()).ToArray();
        Assert.Equal(d.Sum(), FiniteCheck.Sum<double>(d), 1e-9);
    }
}
