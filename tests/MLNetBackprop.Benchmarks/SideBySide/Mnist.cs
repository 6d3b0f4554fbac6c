using System.Globalization;
using System.IO.Compression;

namespace MLNetBackprop.Benchmarks.SideBySide;

/// <summary>The bundled MNIST subset (8,000 train / 2,000 test rows, 784 pixels in [0, 1]), copied next to the binary.</summary>
public sealed class Mnist
{
    /// <summary>Pixels per image.</summary>
    public const int Features = 784;

    /// <summary>Digit classes.</summary>
    public const int Classes = 10;

    /// <summary>Rows of the bundled test file (the reports turn accuracy differences into images with it).</summary>
    public const int TestRows = 2000;

    private Mnist(float[] trainX, int[] trainLabels, float[] testX, int[] testLabels)
    {
        TrainX = trainX;
        TrainLabels = trainLabels;
        TestX = testX;
        TestLabels = testLabels;
    }

    /// <summary>Training pixels, row-major (rows × 784).</summary>
    public float[] TrainX { get; }

    /// <summary>Training digits 0..9.</summary>
    public int[] TrainLabels { get; }

    /// <summary>Test pixels, row-major (rows × 784).</summary>
    public float[] TestX { get; }

    /// <summary>Test digits 0..9.</summary>
    public int[] TestLabels { get; }

    /// <summary>Training rows.</summary>
    public int TrainCount => TrainLabels.Length;

    /// <summary>Test rows.</summary>
    public int TestCount => TestLabels.Length;

    /// <summary>Reads both files from the data folder next to the binary.</summary>
    public static Mnist Load()
    {
        var (trainX, trainY) = Read("mnist10k-train.csv.gz");
        var (testX, testY) = Read("mnist10k-test.csv.gz");
        if (testY.Length != TestRows)
            throw new InvalidDataException($"mnist10k-test.csv.gz has {testY.Length} rows; the harness expects {TestRows}.");
        return new Mnist(trainX, trainY, testX, testY);
    }

    private static (float[] X, int[] Labels) Read(string file)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "data", file);
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var reader = new StreamReader(gz);
        string header = reader.ReadLine() ?? throw new InvalidDataException($"{path} is empty.");
        if (!header.StartsWith("Label,", StringComparison.Ordinal))
            throw new InvalidDataException($"{path}: unexpected header.");
        var x = new List<float>(8000 * Features);
        var labels = new List<int>(8000);
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            var rest = line.AsSpan();
            int field = 0;
            while (true)
            {
                int comma = rest.IndexOf(',');
                var token = comma < 0 ? rest : rest[..comma];
                if (field == 0) labels.Add(int.Parse(token, CultureInfo.InvariantCulture));
                else x.Add(float.Parse(token, CultureInfo.InvariantCulture));
                field++;
                if (comma < 0) break;
                rest = rest[(comma + 1)..];
            }
            if (field != Features + 1)
                throw new InvalidDataException($"{path}: a row has {field} fields, expected {Features + 1}.");
        }
        return (x.ToArray(), labels.ToArray());
    }

    /// <summary>Index of the largest of each row's <paramref name="k"/> outputs, compared with the labels.</summary>
    public static double Accuracy(ReadOnlySpan<float> outputs, int k, ReadOnlySpan<int> labels)
    {
        int correct = 0;
        for (int r = 0; r < labels.Length; r++)
        {
            var row = outputs.Slice(r * k, k);
            int best = 0;
            for (int j = 1; j < k; j++) if (row[j] > row[best]) best = j;
            if (best == labels[r]) correct++;
        }
        return (double)correct / labels.Length;
    }
}
