using System.Globalization;
using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace QuickStart;

/// <summary>
/// Loads the bundled datasets (samples/data, copied next to the program) into IDataViews with two columns: Label and
/// Features (a known-size vector of Single). Parsed by hand to avoid TextLoader's pitfalls listed in samples/data/README.md.
/// </summary>
internal static class BundledData
{
    private sealed class Row
    {
        public float Label { get; set; }

        public float[] Features { get; set; } = [];
    }

    private sealed class BinaryRow
    {
        public bool Label { get; set; }

        public float[] Features { get; set; } = [];
    }

    private static string PathOf(string file) => Path.Combine(AppContext.BaseDirectory, "data", file);

    private static float Parse(string s) =>
        s.Trim() == "?" ? float.NaN : float.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>Iris: 150 rows, label 0/1/2 (Single), 4 features.</summary>
    public static IDataView Iris(MLContext ml) => Dense(ml, File.ReadLines(PathOf("iris.txt"))
        .Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.Split('\t')), 4);

    /// <summary>Wisconsin breast cancer: 699 rows, Boolean label, 9 features with 16 missing values (NaN).</summary>
    public static IDataView BreastCancer(MLContext ml)
    {
        var rows = File.ReadLines(PathOf("breast-cancer.txt"))
            .Where(l => l.Trim().Length > 0 && !l.StartsWith("//", StringComparison.Ordinal))
            .Select(l => l.Split('\t'))
            .Select(p => new BinaryRow { Label = Parse(p[0]) > 0, Features = p.Skip(1).Take(9).Select(Parse).ToArray() })
            .ToList();
        return ml.Data.LoadFromEnumerable(rows, Schema<BinaryRow>(9));
    }

    /// <summary>Boston housing: 506 rows, label MedianHomeValue (Single), 13 features.</summary>
    public static IDataView Housing(MLContext ml) => Dense(ml, File.ReadLines(PathOf("housing.txt")).Skip(1)
        .Where(l => l.Trim().Length > 0).Select(l => l.Split('\t')), 13);

    /// <summary>The MNIST subset: label 0–9 (Single), 784 pixels in [0, 1]. Files: mnist10k-train.csv.gz (8,000) and mnist10k-test.csv.gz (2,000).</summary>
    public static IDataView Mnist(MLContext ml, string file)
    {
        using var gz = new GZipStream(File.OpenRead(PathOf(file)), CompressionMode.Decompress);
        using var reader = new StreamReader(gz);
        reader.ReadLine();
        var lines = new List<string[]>();
        for (string? line; (line = reader.ReadLine()) is not null;)
            if (line.Length > 0) lines.Add(line.Split(','));
        return Dense(ml, lines, 784);
    }

    private static IDataView Dense(MLContext ml, IEnumerable<string[]> lines, int featureCount)
    {
        var rows = lines.Select(p => new Row { Label = Parse(p[0]), Features = p.Skip(1).Take(featureCount).Select(Parse).ToArray() }).ToList();
        return ml.Data.LoadFromEnumerable(rows, Schema<Row>(featureCount));
    }

    private static SchemaDefinition Schema<T>(int featureCount)
    {
        var schema = SchemaDefinition.Create(typeof(T));
        schema["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, featureCount);
        return schema;
    }
}
