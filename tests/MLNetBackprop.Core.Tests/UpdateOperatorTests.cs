using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using MLNetBackprop.Core.Optimizers;
using Xunit;

namespace MLNetBackprop.Core.Tests;

/// <summary>
/// The optimizer rules, written as operator structs applied by the shared element-wise loop, against the hand-written
/// vector-plus-tail loops they replaced (kept here as the reference): the same bits for every element, vector body and
/// scalar tail alike, in float and double, for any thread count.
/// </summary>
public class UpdateOperatorTests
{
    public static TheoryData<string, int, int> Cases()
    {
        var data = new TheoryData<string, int, int>();
        foreach (string rule in new[] { "sgd", "adam", "momentum", "nesterov" })
        {
            foreach (int n in new[] { 0, 1, 7, 1_003 })
                data.Add(rule, n, 1);
            // Above the parallel threshold, with a scalar tail.
            data.Add(rule, 100_003, 1);
            data.Add(rule, 100_003, 3);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FloatRuleGivesTheHandWrittenLoopsBits(string rule, int n, int threads) => Check<float>(rule, n, threads);

    [Theory]
    [MemberData(nameof(Cases))]
    public void DoubleRuleGivesTheHandWrittenLoopsBits(string rule, int n, int threads) => Check<double>(rule, n, threads);

    private static void Check<T>(string rule, int n, int threads) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(n + rule.Length);
        T[] Draw() => Enumerable.Range(0, n).Select(_ => T.CreateTruncating(rng.NextDouble() - 0.5)).ToArray();
        T[] start = Draw();
        T[][] gradients = [Draw(), Draw(), Draw(), Draw()];
        const double lr = 0.01, mu = 0.9, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;

        IUpdateRule<T> subject = rule switch
        {
            "sgd" => new GradientDescentRule<T>(),
            "adam" => new AdamRule<T>(n, beta1, beta2, eps),
            _ => new MomentumRule<T>(n, mu, nesterov: rule == "nesterov"),
        };
        T[] p = (T[])start.Clone();
        foreach (var g in gradients) subject.Step(p, g, lr, threads);

        T[] q = (T[])start.Clone(), s0 = new T[n], s1 = new T[n];
        for (int t = 1; t <= gradients.Length; t++)
        {
            switch (rule)
            {
                case "sgd":
                    TensorPrimitives.MultiplyAdd(gradients[t - 1], T.CreateTruncating(-lr), q, q);
                    break;
                case "adam":
                    double stepSize = lr * Math.Sqrt(1 - Math.Pow(beta2, t)) / (1 - Math.Pow(beta1, t));
                    Reference.Adam(q, gradients[t - 1], s0, s1, T.CreateTruncating(beta1), T.CreateTruncating(beta2),
                        T.CreateTruncating(stepSize), T.CreateTruncating(eps));
                    break;
                default:
                    Reference.Momentum(q, gradients[t - 1], s0, T.CreateTruncating(mu), T.CreateTruncating(lr), rule == "nesterov");
                    break;
            }
        }

        Assert.Equal(Bits(q), Bits(p));
        Assert.Equal(Bits(s0), Bits(subject.StateArrays.Length > 0 ? subject.StateArrays[0] : s0));
        Assert.Equal(Bits(s1), Bits(subject.StateArrays.Length > 1 ? subject.StateArrays[1] : s1));
    }

    // Bit patterns, so that −0 against +0 (which compare equal as numbers) would fail too.
    private static byte[] Bits<T>(T[] values) where T : unmanaged => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    /// <summary>The loops of AdamRule and MomentumRule before their updates became operator structs, verbatim.</summary>
    private static class Reference
    {
        public static void Adam<T>(Span<T> parameters, ReadOnlySpan<T> gradient, Span<T> m, Span<T> v, T b1, T b2, T lr, T eps)
            where T : unmanaged, IFloatingPointIeee754<T>
        {
            T c1 = T.One - b1, c2 = T.One - b2;
            int n = parameters.Length, i = 0, w = Vector<T>.Count;
            for (; i <= n - w; i += w)
            {
                var g = new Vector<T>(gradient.Slice(i));
                var mi = new Vector<T>(m.Slice(i)) * b1 + g * c1;
                var vi = new Vector<T>(v.Slice(i)) * b2 + g * g * c2;
                mi.CopyTo(m.Slice(i));
                vi.CopyTo(v.Slice(i));
                (new Vector<T>(parameters.Slice(i)) - mi * lr / (Vector.SquareRoot(vi) + new Vector<T>(eps))).CopyTo(parameters.Slice(i));
            }
            for (; i < n; i++)
            {
                T g = gradient[i];
                m[i] = b1 * m[i] + c1 * g;
                v[i] = b2 * v[i] + c2 * g * g;
                parameters[i] -= lr * m[i] / (T.Sqrt(v[i]) + eps);
            }
        }

        public static void Momentum<T>(Span<T> parameters, ReadOnlySpan<T> gradient, Span<T> v, T mu, T lr, bool nesterov)
            where T : unmanaged, IFloatingPointIeee754<T>
        {
            int n = parameters.Length, i = 0, w = Vector<T>.Count;
            if (nesterov)
            {
                for (; i <= n - w; i += w)
                {
                    var step = new Vector<T>(gradient.Slice(i)) * lr;
                    var vi = new Vector<T>(v.Slice(i)) * mu - step;
                    vi.CopyTo(v.Slice(i));
                    (new Vector<T>(parameters.Slice(i)) + vi * mu - step).CopyTo(parameters.Slice(i));
                }
                for (; i < n; i++)
                {
                    T step = lr * gradient[i];
                    v[i] = mu * v[i] - step;
                    parameters[i] += mu * v[i] - step;
                }
            }
            else
            {
                for (; i <= n - w; i += w)
                {
                    var vi = new Vector<T>(v.Slice(i)) * mu - new Vector<T>(gradient.Slice(i)) * lr;
                    vi.CopyTo(v.Slice(i));
                    (new Vector<T>(parameters.Slice(i)) + vi).CopyTo(parameters.Slice(i));
                }
                for (; i < n; i++)
                {
                    v[i] = mu * v[i] - lr * gradient[i];
                    parameters[i] += v[i];
                }
            }
        }
    }
}
