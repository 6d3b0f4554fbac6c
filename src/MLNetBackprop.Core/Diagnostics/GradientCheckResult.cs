namespace MLNetBackprop.Core.Diagnostics;

/// <summary>The outcome of a <see cref="GradientCheck"/>.</summary>
public sealed class GradientCheckResult
{
    private GradientCheckResult(double[] analytic, double[] numeric, double relativeError, double maxAbsoluteDifference, int worstIndex)
    {
        Analytic = analytic;
        Numeric = numeric;
        RelativeError = relativeError;
        MaxAbsoluteDifference = maxAbsoluteDifference;
        WorstParameter = worstIndex;
    }

    /// <summary>The backpropagation gradient, laid out like the network's parameters.</summary>
    public IReadOnlyList<double> Analytic { get; }

    /// <summary>The central finite-difference estimate.</summary>
    public IReadOnlyList<double> Numeric { get; }

    /// <summary>‖g_backprop − g_numeric‖ / ‖g_backprop + g_numeric‖ (UFLDL's measure; 0 when both are zero).</summary>
    public double RelativeError { get; }

    /// <summary>The largest |g_backprop,i − g_numeric,i|.</summary>
    public double MaxAbsoluteDifference { get; }

    /// <summary>Index of the parameter with the largest difference.</summary>
    public int WorstParameter { get; }

    internal static GradientCheckResult Compare(double[] analytic, double[] numeric)
    {
        double diff = 0, sum = 0, max = 0;
        int worst = 0;
        for (int i = 0; i < analytic.Length; i++)
        {
            double d = analytic[i] - numeric[i], s = analytic[i] + numeric[i];
            diff += d * d;
            sum += s * s;
            if (Math.Abs(d) > max) { max = Math.Abs(d); worst = i; }
        }
        double rel = sum == 0 ? Math.Sqrt(diff) : Math.Sqrt(diff) / Math.Sqrt(sum);
        return new GradientCheckResult(analytic, numeric, rel, max, worst);
    }

    /// <inheritdoc />
    public override string ToString() => $"relative error {RelativeError:E2}, max |Δ| {MaxAbsoluteDifference:E2} at parameter {WorstParameter}";
}
