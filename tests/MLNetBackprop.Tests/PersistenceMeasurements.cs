using System.Diagnostics;
using Microsoft.ML;
using Xunit.Abstractions;

namespace MLNetBackprop.Tests;

/// <summary>
/// Save time, cold load time in a new process, file size, first-prediction and steady per-row latency for the MNIST
/// 784-128-10 network, saved-and-loaded (plain ML.NET and the library's loader) and in memory. Prints the numbers.
/// </summary>
[Collection(PersistenceHarness.Collection)]
public sealed class PersistenceMeasurements(ITestOutputHelper output) : IDisposable
{
    private readonly string _folder = PersistenceHarness.NewFolder();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Mnist784_128_10_SaveLoadAndLatency()
    {
        var ml = new MLContext(seed: 1);
        var train = Datasets.Mnist(ml, "mnist10k-train.csv.gz", maxRows: 3000);
        var test = Datasets.Mnist(ml, "mnist10k-test.csv.gz", maxRows: 1000);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.Backprop(new BackpropTrainerOptions
            {
                HiddenLayers = [128], MaxEpochs = 3, Optimizer = Core.Optimizers.OptimizerKind.Adam, EarlyStopping = false,
            }));
        var model = pipeline.Fit(train);
        string path = Path.Combine(_folder, "mnist.zip"), data = Path.Combine(_folder, "mnist.idv");
        using (var f = File.Create(data)) ml.Data.SaveAsBinary(test, f);

        ml.Model.Save(model, train.Schema, Path.Combine(_folder, "warmup.zip"));
        var sw = Stopwatch.StartNew();
        ml.Model.Save(model, train.Schema, path);
        double saveMs = sw.Elapsed.TotalMilliseconds;
        sw.Restart();
        ml.Backprop().SaveModel(model, train.Schema, path);
        double atomicSaveMs = sw.Elapsed.TotalMilliseconds;
        long size = new FileInfo(path).Length;

        // In memory: a fresh prediction engine's first prediction, then the steady per-row cost.
        sw.Restart();
        var definition = Microsoft.ML.Data.SchemaDefinition.Create(typeof(Datasets.DenseRow));
        definition["Features"].ColumnType = new Microsoft.ML.Data.VectorDataViewType(Microsoft.ML.Data.NumberDataViewType.Single, 784);
        var engine = ml.Model.CreatePredictionEngine<Datasets.DenseRow, MnistOutput>(model, inputSchemaDefinition: definition);
        double engineMs = sw.Elapsed.TotalMilliseconds;
        var rows = ml.Data.CreateEnumerable<Datasets.DenseRow>(test, reuseRowObject: false).ToList();
        sw.Restart();
        engine.Predict(rows[0]);
        double firstMs = sw.Elapsed.TotalMilliseconds;
        sw.Restart();
        for (int rep = 0; rep < 20; rep++)
            foreach (var r in rows) engine.Predict(r);
        double steadyUs = sw.Elapsed.TotalMilliseconds * 1000 / (20 * rows.Count);

        var plain = PersistenceHarness.RunLoader("mlnet", path, data, "multiclass");
        var library = PersistenceHarness.RunLoader("library", path, data, "multiclass");
        var expected = PersistenceHarness.Rows(model.Transform(test), "multiclass");
        PersistenceHarness.AssertClose(expected, plain.Transform, 1e-6, "MNIST Model.Load", floor: 1);
        PersistenceHarness.AssertClose(expected, library.Transform, 1e-6, "MNIST LoadModel", floor: 1);

        output.WriteLine($"MNIST 784-128-10 ({model.Transform(test).Schema["Score"].Type}), file {size / 1024.0:F0} KiB");
        output.WriteLine($"save: mlContext.Model.Save {saveMs:F0} ms, Backprop().SaveModel (atomic) {atomicSaveMs:F0} ms");
        output.WriteLine("| | load (cold, new process) | whole process | engine creation | first prediction | steady per row |");
        output.WriteLine("| --- | --- | --- | --- | --- | --- |");
        output.WriteLine($"| saved + new MLContext().Model.Load | {plain.LoadMs:F0} ms | {plain.ProcessMs:F0} ms | {plain.EngineMs:F1} ms | {plain.FirstPredictionMs:F2} ms | {plain.SteadyUsPerRow:F1} µs |");
        output.WriteLine($"| saved + Backprop().LoadModel | {library.LoadMs:F0} ms | {library.ProcessMs:F0} ms | {library.EngineMs:F1} ms | {library.FirstPredictionMs:F2} ms | {library.SteadyUsPerRow:F1} µs |");
        output.WriteLine($"| in memory (this process) | – | – | {engineMs:F1} ms | {firstMs:F2} ms | {steadyUs:F1} µs |");
    }

    public sealed class MnistOutput
    {
        public float[] Score { get; set; } = [];
        public uint PredictedLabel { get; set; }
    }
}
