using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop.Campaign;

/// <summary>A breast-cancer row: Boolean label, 9 features (16 values missing, NaN).</summary>
public sealed class CancerRow
{
    /// <summary>Malignant.</summary>
    public bool Label { get; set; }

    /// <summary>The 9 cell measurements.</summary>
    [VectorType(9)]
    public float[] Features { get; set; } = [];
}

/// <summary>An iris row: class 0, 1 or 2 (Single), 4 features.</summary>
public sealed class IrisRow
{
    /// <summary>The class.</summary>
    public float Label { get; set; }

    /// <summary>Sepal and petal length and width.</summary>
    [VectorType(4)]
    public float[] Features { get; set; } = [];
}

/// <summary>A Boston housing row: the median home value, 13 features.</summary>
public sealed class HouseRow
{
    /// <summary>The median home value.</summary>
    public float Label { get; set; }

    /// <summary>The 13 features.</summary>
    [VectorType(13)]
    public float[] Features { get; set; } = [];
}

/// <summary>A binary classifier's outputs.</summary>
public sealed class BinaryScore
{
    /// <summary>The logit.</summary>
    public float Score { get; set; }

    /// <summary>The probability of the positive class.</summary>
    public float Probability { get; set; }

    /// <summary>Probability above one half.</summary>
    public bool PredictedLabel { get; set; }

    /// <summary>As <see cref="ModelLoader.ScoredRows"/> flattens a binary row.</summary>
    public double[] Flatten() => [Score, Probability, PredictedLabel ? 1 : 0];
}

/// <summary>A multiclass classifier's outputs.</summary>
public sealed class MulticlassScore
{
    /// <summary>The class probabilities.</summary>
    public float[] Score { get; set; } = [];

    /// <summary>The predicted class's key (1-based).</summary>
    public uint PredictedLabel { get; set; }

    /// <summary>As <see cref="ModelLoader.ScoredRows"/> flattens a multiclass row.</summary>
    public double[] Flatten() => [.. Score.Select(x => (double)x), PredictedLabel];
}

/// <summary>A regressor's output.</summary>
public sealed class RegressionScore
{
    /// <summary>The predicted value.</summary>
    public float Score { get; set; }
}

/// <summary>The bundled data sets (copied from samples/data next to the executable).</summary>
public static class Data
{
    private static string PathOf(string file) => Path.Combine(AppContext.BaseDirectory, "data", file);

    private static float Parse(string s) =>
        s.Trim() == "?" ? float.NaN : float.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>Wisconsin breast cancer: 699 rows.</summary>
    public static List<CancerRow> BreastCancer() => File.ReadLines(PathOf("breast-cancer.txt"))
        .Where(l => l.Trim().Length > 0 && !l.StartsWith("//", StringComparison.Ordinal))
        .Select(l => l.Split('\t'))
        .Select(p => new CancerRow { Label = Parse(p[0]) > 0, Features = p.Skip(1).Take(9).Select(Parse).ToArray() })
        .ToList();

    /// <summary>Iris: 150 rows.</summary>
    public static List<IrisRow> Iris() => File.ReadLines(PathOf("iris.txt"))
        .Where(l => l.Length > 0 && !l.StartsWith('#'))
        .Select(l => l.Split('\t').Select(Parse).ToArray())
        .Select(v => new IrisRow { Label = v[0], Features = v[1..5] })
        .ToList();

    /// <summary>Boston housing: 506 rows.</summary>
    public static List<HouseRow> Housing() => File.ReadLines(PathOf("housing.txt")).Skip(1)
        .Where(l => l.Trim().Length > 0)
        .Select(l => l.Split('\t').Select(Parse).ToArray())
        .Select(v => new HouseRow { Label = v[0], Features = v[1..14] })
        .ToList();

    /// <summary>Housing with every feature standardized to mean 0 and variance 1 (for the trainer on its own).</summary>
    public static List<HouseRow> HousingStandardized()
    {
        var rows = Housing();
        for (int j = 0; j < 13; j++)
        {
            double mean = rows.Average(r => r.Features[j]);
            double sd = Math.Sqrt(rows.Average(r => (r.Features[j] - mean) * (r.Features[j] - mean)));
            foreach (var r in rows) r.Features[j] = (float)((r.Features[j] - mean) / (sd > 0 ? sd : 1));
        }
        return rows;
    }

    /// <summary>Each row's outputs flattened to numbers, as the persistence tests flatten them.</summary>
    public static List<double[]> Scores(IDataView scored, string task) => ModelLoader.ScoredRows.Read(scored, task);
}
