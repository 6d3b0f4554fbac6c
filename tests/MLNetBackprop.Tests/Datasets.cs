using System.Globalization;
using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop.Tests;

/// <summary>The bundled real datasets (samples/data, copied next to the tests), loaded without TextLoader's pitfalls.</summary>
public static class Datasets
{
    public static string PathOf(string file) => Path.Combine(AppContext.BaseDirectory, "data", file);

    private static float Parse(string s) =>
        s.Trim() == "?" ? float.NaN : float.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);

    public sealed class DenseRow
    {
        public float Label { get; set; }

        [VectorType]
        public float[] Features { get; set; } = [];
    }

    public sealed class BinaryRow
    {
        public bool Label { get; set; }

        [VectorType]
        public float[] Features { get; set; } = [];
    }

    /// <summary>Iris: 150 rows, label 0/1/2 (Single), 4 features. Tab separated, '#' header line.</summary>
    public static IDataView Iris(MLContext ml) => LoadDense(ml, File.ReadLines(PathOf("iris.txt"))
        .Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.Split('\t')), labelFirst: true, 4);

    /// <summary>Breast cancer: 699 rows, Boolean label, 9 features, 16 NaN ('?').</summary>
    public static IDataView BreastCancer(MLContext ml)
    {
        var rows = File.ReadLines(PathOf("breast-cancer.txt"))
            .Where(l => l.Trim().Length > 0 && !l.StartsWith("//", StringComparison.Ordinal))
            .Select(l => l.Split('\t'))
            .Select(p => new BinaryRow { Label = Parse(p[0]) > 0, Features = p.Skip(1).Take(9).Select(Parse).ToArray() })
            .ToList();
        return ml.Data.LoadFromEnumerable(rows, SchemaFor<BinaryRow>(ml, 9));
    }

    /// <summary>Boston housing: 506 rows, target MedianHomeValue (first), 13 features.</summary>
    public static IDataView Housing(MLContext ml) => LoadDense(ml, File.ReadLines(PathOf("housing.txt")).Skip(1)
        .Where(l => l.Trim().Length > 0).Select(l => l.Split('\t')), labelFirst: true, 13);

    public sealed class HousingTwoTargetsRow
    {
        public float MedianHomeValue { get; set; }

        public float NitricOxides { get; set; }

        [VectorType(12)]
        public float[] Features { get; set; } = [];
    }

    /// <summary>
    /// Boston housing for multi-output regression: 506 rows, two scalar targets (MedianHomeValue, the first column, and
    /// NitricOxides, the fifth feature) and the other 12 columns as Features. Concatenate the targets to get a vector label.
    /// </summary>
    public static IDataView HousingTwoTargets(MLContext ml) => ml.Data.LoadFromEnumerable(File.ReadLines(PathOf("housing.txt")).Skip(1)
        .Where(l => l.Trim().Length > 0)
        .Select(l => l.Split('\t').Select(Parse).ToArray())
        .Select(v => new HousingTwoTargetsRow { MedianHomeValue = v[0], NitricOxides = v[5], Features = [.. v[1..5], .. v[6..14]] })
        .ToList());

    /// <summary>Generated regression: 500 rows, 11 features, target last, ';' separated.</summary>
    public static IDataView GeneratedRegression(MLContext ml) => LoadDense(ml, File.ReadLines(PathOf("generated_regression_dataset.csv")).Skip(1)
        .Where(l => l.Trim().Length > 0).Select(l => l.Split(';')), labelFirst: false, 11);

    /// <summary>MNIST 10k: label 0–9 (Single), 784 pixels in [0, 1].</summary>
    public static IDataView Mnist(MLContext ml, string file, int? maxRows = null)
    {
        using var gz = new GZipStream(File.OpenRead(PathOf(file)), CompressionMode.Decompress);
        using var reader = new StreamReader(gz);
        reader.ReadLine();
        var rows = new List<DenseRow>();
        string? line;
        while ((line = reader.ReadLine()) is not null && (maxRows is null || rows.Count < maxRows))
        {
            if (line.Length == 0) continue;
            var p = line.Split(',');
            rows.Add(new DenseRow { Label = Parse(p[0]), Features = p.Skip(1).Select(Parse).ToArray() });
        }
        return ml.Data.LoadFromEnumerable(rows, SchemaFor<DenseRow>(ml, 784));
    }

    public sealed class AdultRow
    {
        public float Age { get; set; }
        public string Workclass { get; set; } = "";
        public float Fnlwgt { get; set; }
        public string Education { get; set; } = "";
        public float EducationNum { get; set; }
        public string MaritalStatus { get; set; } = "";
        public string Occupation { get; set; } = "";
        public string Relationship { get; set; } = "";
        public string Ethnicity { get; set; } = "";
        public string Sex { get; set; } = "";
        public float CapitalGain { get; set; }
        public float CapitalLoss { get; set; }
        public float HoursPerWeek { get; set; }
        public string NativeCountry { get; set; } = "";
        public bool Label { get; set; }
    }

    public static readonly string[] AdultCategorical =
        ["Workclass", "Education", "MaritalStatus", "Occupation", "Relationship", "Ethnicity", "Sex", "NativeCountry"];

    public static readonly string[] AdultNumeric = ["Age", "Fnlwgt", "EducationNum", "CapitalGain", "CapitalLoss", "HoursPerWeek"];

    /// <summary>Adult: 32,561 rows split 80/20, stratified by label with seed 0.</summary>
    public static (IDataView Train, IDataView Test) AdultSplit(MLContext ml)
    {
        var rows = File.ReadLines(PathOf("adult.txt")).Skip(1).Where(l => l.Trim().Length > 0).Select(l =>
        {
            var p = l.Split(", ");
            return new AdultRow
            {
                Age = Parse(p[0]), Workclass = p[1], Fnlwgt = Parse(p[2]), Education = p[3], EducationNum = Parse(p[4]),
                MaritalStatus = p[5], Occupation = p[6], Relationship = p[7], Ethnicity = p[8], Sex = p[9],
                CapitalGain = Parse(p[10]), CapitalLoss = Parse(p[11]), HoursPerWeek = Parse(p[12]), NativeCountry = p[13],
                Label = Parse(p[14]) > 0,
            };
        }).ToList();
        var (train, test) = StratifiedSplit(rows, r => r.Label, 0.2, seed: 0);
        return (ml.Data.LoadFromEnumerable(train), ml.Data.LoadFromEnumerable(test));
    }

    /// <summary>Standard featurization for adult: one-hot categoricals, concatenate, mean-variance normalize.</summary>
    public static IEstimator<ITransformer> AdultFeaturizer(MLContext ml) =>
        ml.Transforms.Categorical.OneHotEncoding(AdultCategorical.Select(c => new InputOutputColumnPair(c + "Hot", c)).ToArray())
            .Append(ml.Transforms.Concatenate("Features", AdultNumeric.Concat(AdultCategorical.Select(c => c + "Hot")).ToArray()))
            .Append(ml.Transforms.NormalizeMeanVariance("Features"));

    public static (List<T> Train, List<T> Test) StratifiedSplit<T>(List<T> rows, Func<T, bool> key, double testFraction, int seed)
    {
        var rng = new Random(seed);
        var train = new List<T>();
        var test = new List<T>();
        foreach (var group in rows.GroupBy(key).OrderBy(g => g.Key))
        {
            var items = group.ToArray();
            rng.Shuffle(items);
            int nTest = (int)Math.Round(items.Length * testFraction);
            test.AddRange(items.Take(nTest));
            train.AddRange(items.Skip(nTest));
        }
        return (train, test);
    }

    private static IDataView LoadDense(MLContext ml, IEnumerable<string[]> lines, bool labelFirst, int featureCount)
    {
        var rows = lines.Select(p =>
        {
            var values = p.Select(Parse).ToArray();
            return labelFirst
                ? new DenseRow { Label = values[0], Features = values.Skip(1).Take(featureCount).ToArray() }
                : new DenseRow { Label = values[featureCount], Features = values.Take(featureCount).ToArray() };
        }).ToList();
        return ml.Data.LoadFromEnumerable(rows, SchemaFor<DenseRow>(ml, featureCount));
    }

    internal static SchemaDefinition SchemaFor<T>(MLContext ml, int featureCount)
    {
        var schema = SchemaDefinition.Create(typeof(T));
        schema["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, featureCount);
        return schema;
    }
}
