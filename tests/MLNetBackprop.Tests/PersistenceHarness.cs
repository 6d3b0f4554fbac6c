using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop.Tests;

/// <summary>
/// Trained pipelines for the four tasks (trained once per test class), the flattening of their outputs into numbers,
/// and the runner of the stand-alone loader (tests/MLNetBackprop.ModelLoader) in a separate process.
/// </summary>
public sealed class PersistenceHarness
{
    /// <summary>The persistence test classes share the trained models and run one at a time (the temp-folder check needs it).</summary>
    public const string Collection = "Persistence";

    public sealed class VectorLabelRow
    {
        [VectorType(2)]
        public float[] Label { get; set; } = [];

        [VectorType(13)]
        public float[] Features { get; set; } = [];
    }

    public sealed record Case(string Task, MLContext Ml, ITransformer Model, IDataView Data);

    private readonly Dictionary<string, Case> _cases = [];

    public Case Get(string task)
    {
        lock (_cases)
        {
            if (!_cases.TryGetValue(task, out var c)) _cases[task] = c = Train(task);
            return c;
        }
    }

    private static Case Train(string task)
    {
        var ml = new MLContext(seed: 1);
        switch (task)
        {
            case "binary":
            {
                var data = ml.Data.TakeRows(Datasets.BreastCancer(ml), 300);
                var pipeline = ml.Transforms.ReplaceMissingValues("Features")
                    .Append(ml.Transforms.NormalizeMeanVariance("Features"))
                    .Append(ml.BinaryClassification.Trainers.Backprop(hiddenLayers: [12], maxEpochs: 40));
                return new Case(task, ml, pipeline.Fit(data), data);
            }
            case "multiclass":
            {
                var data = Datasets.Iris(ml);
                var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
                    .Append(ml.Transforms.NormalizeMeanVariance("Features"))
                    .Append(ml.MulticlassClassification.Trainers.Backprop(hiddenLayers: [10], maxEpochs: 40))
                    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"));
                return new Case(task, ml, pipeline.Fit(data), data);
            }
            case "regression":
            {
                var data = Datasets.Housing(ml);
                var pipeline = ml.Transforms.NormalizeMeanVariance("Features")
                    .Append(ml.Regression.Trainers.Backprop(new BackpropTrainerOptions { HiddenLayers = [16], MaxEpochs = 40, Activation = Core.Activation.Relu }));
                return new Case(task, ml, pipeline.Fit(data), data);
            }
            case "multiregression":
            {
                var housing = ml.Data.CreateEnumerable<Datasets.DenseRow>(Datasets.Housing(ml), reuseRowObject: false)
                    .Select(r => new VectorLabelRow { Label = [r.Label, MathF.Log(r.Label)], Features = r.Features }).ToList();
                var data = ml.Data.LoadFromEnumerable(housing);
                var pipeline = ml.Transforms.NormalizeMeanVariance("Features")
                    .Append(ml.Regression.Trainers.Backprop(new BackpropTrainerOptions { HiddenLayers = [8, 8], MaxEpochs = 40, Activation = Core.Activation.Sigmoid }));
                return new Case(task, ml, pipeline.Fit(data), data);
            }
            default: throw new ArgumentOutOfRangeException(nameof(task));
        }
    }

    /// <summary>Each row's outputs flattened as the loader program flattens them (the same code, linked in).</summary>
    public static List<double[]> Rows(IDataView scored, string task) => ModelLoader.ScoredRows.Read(scored, task);

    public static Dictionary<string, double> Metrics(MLContext ml, IDataView scored, string task) => task switch
    {
        "binary" => ml.BinaryClassification.Evaluate(scored) is var m
            ? new() { ["Auc"] = m.AreaUnderRocCurve, ["Accuracy"] = m.Accuracy, ["LogLoss"] = m.LogLoss, ["F1"] = m.F1Score }
            : [],
        "multiclass" => ml.MulticlassClassification.Evaluate(scored) is var m
            ? new() { ["MicroAccuracy"] = m.MicroAccuracy, ["MacroAccuracy"] = m.MacroAccuracy, ["LogLoss"] = m.LogLoss }
            : [],
        "regression" => ml.Regression.Evaluate(scored) is var m
            ? new() { ["Rmse"] = m.RootMeanSquaredError, ["Mae"] = m.MeanAbsoluteError, ["RSquared"] = m.RSquared }
            : [],
        _ => [],
    };

    /// <summary>|a − b| ≤ tol · max(|a|, |b|, floor): relative, with an absolute floor for values near zero.</summary>
    public static void AssertClose(IReadOnlyList<double[]> expected, IReadOnlyList<double[]> actual, double tol, string what, double floor = 1e-2)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Length, actual[i].Length);
            for (int j = 0; j < expected[i].Length; j++)
            {
                double a = expected[i][j], b = actual[i][j];
                double scale = Math.Max(Math.Max(Math.Abs(a), Math.Abs(b)), floor);
                Assert.True(Math.Abs(a - b) <= tol * scale, $"{what}: row {i} value {j}: expected {a:R}, got {b:R} (relative {Math.Abs(a - b) / scale:G3}).");
            }
        }
    }

    public static double MaxRelative(IReadOnlyList<double[]> expected, IReadOnlyList<double[]> actual, double floor = 1e-2)
    {
        double max = 0;
        for (int i = 0; i < expected.Count; i++)
            for (int j = 0; j < expected[i].Length; j++)
                max = Math.Max(max, Math.Abs(expected[i][j] - actual[i][j]) / Math.Max(Math.Max(Math.Abs(expected[i][j]), Math.Abs(actual[i][j])), floor));
        return max;
    }

    /// <summary>The loader program's output.</summary>
    public sealed class LoaderResult
    {
        public string ModelType { get; set; } = "";
        public List<double[]> Transform { get; set; } = [];
        public List<double[]> Engine { get; set; } = [];
        public Dictionary<string, double> Metrics { get; set; } = [];
        public string? MappedLabels { get; set; }
        public double LoadMs { get; set; }
        public double EngineMs { get; set; }
        public double FirstPredictionMs { get; set; }
        public double SteadyUsPerRow { get; set; }
        public double ProcessMs { get; set; }
    }

    public static string LoaderDll()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string tfm = dir.Name, config = dir.Parent!.Name;
        var testsDir = dir.Parent!.Parent!.Parent!.Parent!.FullName;
        string dll = Path.Combine(testsDir, "MLNetBackprop.ModelLoader", "bin", config, tfm, "MLNetBackprop.ModelLoader.dll");
        Assert.True(File.Exists(dll), $"The loader program was not built: {dll}");
        return dll;
    }

    /// <summary>Runs the loader in a new process (at most 90 s) and parses its JSON.</summary>
    public static LoaderResult RunLoader(string mode, string modelPath, string dataPath, string task, string? resavePath = null)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { LoaderDll(), mode, modelPath, dataPath, task }) psi.ArgumentList.Add(a);
        if (resavePath is not null) psi.ArgumentList.Add(resavePath);
        var sw = Stopwatch.StartNew();
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(90_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"The loader did not finish in 90 s ({mode} {task}).");
        }
        process.WaitForExit();
        double ms = sw.Elapsed.TotalMilliseconds;
        Assert.True(process.ExitCode == 0, $"The loader failed ({mode} {task}, exit {process.ExitCode}):\n{stderr.Result}\n{stdout.Result}");
        var result = JsonSerializer.Deserialize<LoaderResult>(stdout.Result.Trim().Split('\n')[^1], new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;
        result.ProcessMs = ms;
        return result;
    }

    /// <summary>A fresh folder under the temp folder, deleted by the caller.</summary>
    public static string NewFolder()
    {
        string path = Path.Combine(Path.GetTempPath(), "mlnetbackprop-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }
}

/// <summary>The xUnit collection of the persistence tests.</summary>
[CollectionDefinition(PersistenceHarness.Collection)]
public sealed class PersistenceCollection : ICollectionFixture<PersistenceHarness>;
