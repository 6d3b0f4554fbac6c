using System.Globalization;

namespace MLNetBackprop.Campaign;

/// <summary>Compares scored rows (each row's outputs flattened to numbers) bit for bit or within a relative tolerance.</summary>
public static class Compare
{
    /// <summary>Null when <paramref name="actual"/> equals <paramref name="expected"/> bit for bit; else the first difference.</summary>
    public static string? Bitwise(IReadOnlyList<double[]> expected, IReadOnlyList<double[]> actual) =>
        FirstDifference(expected, actual, (a, b) => BitConverter.DoubleToInt64Bits(a) == BitConverter.DoubleToInt64Bits(b));

    /// <summary>
    /// Null when every value is within <paramref name="relative"/> of the expected one (relative to the larger magnitude,
    /// at least <paramref name="floor"/>), NaN where NaN is expected; else the first difference.
    /// </summary>
    public static string? Within(IReadOnlyList<double[]> expected, IReadOnlyList<double[]> actual, double relative, double floor = 1e-6) =>
        FirstDifference(expected, actual, (a, b) =>
            double.IsNaN(a) ? double.IsNaN(b)
            : a == b || Math.Abs(a - b) <= relative * Math.Max(Math.Max(Math.Abs(a), Math.Abs(b)), floor));

    private static string? FirstDifference(IReadOnlyList<double[]> expected, IReadOnlyList<double[]> actual, Func<double, double, bool> same)
    {
        if (expected.Count != actual.Count) return $"{actual.Count} rows scored, expected {expected.Count}";
        for (int i = 0; i < expected.Count; i++)
        {
            if (expected[i].Length != actual[i].Length) return $"row {i} has {actual[i].Length} outputs, expected {expected[i].Length}";
            for (int j = 0; j < expected[i].Length; j++)
                if (!same(expected[i][j], actual[i][j]))
                    return string.Create(CultureInfo.InvariantCulture,
                        $"row {i} output {j} is {actual[i][j]:R}, expected {expected[i][j]:R}{Count(expected, actual, same)}");
        }
        return null;
    }

    private static string Count(IReadOnlyList<double[]> expected, IReadOnlyList<double[]> actual, Func<double, double, bool> same)
    {
        int rows = 0;
        for (int i = 0; i < expected.Count; i++)
            if (expected[i].Where((e, j) => !same(e, actual[i][j])).Any()) rows++;
        return $" ({rows} of {expected.Count} rows differ)";
    }

    /// <summary>True when every value is finite.</summary>
    public static bool AllFinite(IEnumerable<double[]> rows) => rows.All(r => r.All(double.IsFinite));
}
