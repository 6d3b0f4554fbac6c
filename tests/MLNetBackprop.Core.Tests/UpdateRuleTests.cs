using MLNetBackprop.Core.Optimizers;
using Xunit;

namespace MLNetBackprop.Core.Tests;

public class UpdateRuleTests
{
    public static TheoryData<string> Rules => new() { "adam", "momentum", "nesterov" };

    [Theory]
    [MemberData(nameof(Rules))]
    public void ALargeUpdateIsSharedAmongThreadsWithTheSameBitsAsOneThread(string name)
    {
        // 100,003 parameters: above the parallel threshold, and not a whole number of vectors (a scalar tail).
        const int n = 100_003;
        var rng = new Random(n);
        float[] start = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        float[][] gradients = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray()).ToArray();

        float[] Run(int threads)
        {
            IUpdateRule<float> rule = name switch
            {
                "adam" => new AdamRule<float>(n, 0.9, 0.999, 1e-8),
                "momentum" => new MomentumRule<float>(n, 0.9, nesterov: false),
                _ => new MomentumRule<float>(n, 0.9, nesterov: true),
            };
            var p = (float[])start.Clone();
            foreach (var g in gradients) rule.Step(p, g, 0.01, threads);
            return p;
        }

        var one = Run(1);
        Assert.NotEqual(start, one);
        Assert.Equal(one, Run(2));
        Assert.Equal(one, Run(3));

        // The element-wise formula, checked on a few elements (including the scalar tail) against double arithmetic.
        foreach (int i in new[] { 0, 4097, n - 1 })
        {
            double p = start[i], m = 0, v = 0;
            for (int t = 1; t <= gradients.Length; t++)
            {
                double g = gradients[t - 1][i];
                if (name == "adam")
                {
                    m = 0.9 * m + 0.1 * g;
                    v = 0.999 * v + 0.001 * g * g;
                    p -= 0.01 * Math.Sqrt(1 - Math.Pow(0.999, t)) / (1 - Math.Pow(0.9, t)) * m / (Math.Sqrt(v) + 1e-8);
                }
                else
                {
                    v = 0.9 * v - 0.01 * g;
                    p += name == "nesterov" ? 0.9 * v - 0.01 * g : v;
                }
            }
            Assert.Equal(p, one[i], 1e-5);
        }
    }
}
