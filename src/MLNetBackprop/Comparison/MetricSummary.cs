namespace MLNetBackprop;

/// <summary>One metric of one candidate over the folds: its values, mean and standard deviation.</summary>
public sealed class MetricSummary
{
    internal MetricSummary(string name, IReadOnlyList<double> values)
    {
        Name = name;
        Values = values.ToArray();
        Mean = Values.Average();
        if (Values.Count > 1)
        {
            double mean = Mean;
            StandardDeviation = Math.Sqrt(Values.Sum(v => (v - mean) * (v - mean)) / (Values.Count - 1));
        }
    }

    /// <summary>The metric's name, e.g. "AUC", "MicroAccuracy", "RSquared".</summary>
    public string Name { get; }

    /// <summary>The value of every fold, in fold order (one value for a train/test split).</summary>
    public IReadOnlyList<double> Values { get; }

    /// <summary>The mean over the folds.</summary>
    public double Mean { get; }

    /// <summary>The sample standard deviation over the folds (divisor n − 1); null with a single fold.</summary>
    public double? StandardDeviation { get; }
}
