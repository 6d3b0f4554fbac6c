using MLNetBackprop.Core;

namespace MLNetBackprop.Core.Tests;

/// <summary>Random networks and data for property-style tests.</summary>
internal static class TestData
{
    public static double[] Uniform(Random rng, int n, double lo, double hi)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = lo + (hi - lo) * rng.NextDouble();
        return v;
    }

    /// <summary>Targets that suit the loss and output activation.</summary>
    public static double[] Targets(Random rng, int rows, int k, LossFunction loss, Activation output)
    {
        var y = new double[rows * k];
        for (int r = 0; r < rows; r++)
        {
            var row = y.AsSpan(r * k, k);
            if (output == Activation.Softmax)
            {
                double sum = 0;
                for (int j = 0; j < k; j++) sum += row[j] = rng.NextDouble() + 0.05;
                for (int j = 0; j < k; j++) row[j] /= sum;
            }
            else if (loss == LossFunction.CrossEntropy || output == Activation.Sigmoid)
                for (int j = 0; j < k; j++) row[j] = rng.NextDouble();
            else
                for (int j = 0; j < k; j++) row[j] = rng.NextDouble() * 2 - 1;
        }
        return y;
    }

    /// <summary>Dense rows converted to compressed sparse rows (zeros dropped).</summary>
    public static TrainingData<double> ToSparse(double[] x, int features, double[] y, int k, double[]? w)
        => TrainingData<double>.FromDense(x, features, y, k, w).ToSparse();

    /// <summary>Reads a bundled MNIST subset: label first, then 784 pixels in [0, 1].</summary>
    public static (float[] X, int[] Labels) ReadMnist(string file)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "data", file);
        using var gz = new System.IO.Compression.GZipStream(File.OpenRead(path), System.IO.Compression.CompressionMode.Decompress);
        using var reader = new StreamReader(gz);
        reader.ReadLine(); // header
        var x = new List<float>();
        var labels = new List<int>();
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            var parts = line.Split(',');
            labels.Add(int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture));
            for (int j = 1; j < parts.Length; j++) x.Add(float.Parse(parts[j], System.Globalization.CultureInfo.InvariantCulture));
        }
        return (x.ToArray(), labels.ToArray());
    }
}
