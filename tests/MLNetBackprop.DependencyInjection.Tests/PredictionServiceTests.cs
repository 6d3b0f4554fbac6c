using System.IO.Compression;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.DependencyInjection;

namespace MLNetBackprop.DependencyInjection.Tests;

/// <summary>The pooled prediction service: concurrent scoring and reloading when the model file changes.</summary>
public sealed class PredictionServiceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mlnetbackprop-di-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public sealed class House
    {
        [LoadColumn(0)] public float Label { get; set; }
        [LoadColumn(1, 13), VectorType(13)] public float[] Features { get; set; } = [];
    }

    public sealed class Price
    {
        public float Score { get; set; }
    }

    private static (MLContext Ml, IDataView Data, List<House> Rows) Housing()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromTextFile<House>(Path.Combine(AppContext.BaseDirectory, "data", "housing.txt"), hasHeader: true);
        return (ml, data, ml.Data.CreateEnumerable<House>(data, false).ToList());
    }

    /// <summary>Saves a small model: a normalizer and a backprop regressor trained for <paramref name="epochs"/> L-BFGS iterations.</summary>
    private static void SaveModel(MLContext ml, IDataView data, string path, int epochs)
    {
        var model = ml.Transforms.NormalizeMeanVariance("Features")
            .Append(ml.Regression.Trainers.Backprop(hiddenLayers: [8], maxEpochs: epochs))
            .Fit(data);
        ml.Backprop().SaveModel(model, data.Schema, path);
    }

    [Fact]
    public void SixteenThreadsPredictingTenThousandRowsGetExactlyTheSingleThreadedResults()
    {
        var (ml, data, rows) = Housing();
        string path = Path.Combine(_dir, "model.zip");
        SaveModel(ml, data, path, 20);
        var services = new ServiceCollection();
        services.AddBackprop().AddPredictionService<House, Price>(path);
        using var sp = services.BuildServiceProvider();
        var service = sp.GetRequiredService<IBackpropPredictionService<House, Price>>();
        var probe = Enumerable.Range(0, 10_000).Select(i => rows[i % rows.Count]).ToArray();
        var expected = probe.Select(r => service.Predict(r).Score).ToArray();
        var results = new float[16][];
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 16 }, t =>
            results[t] = probe.Select(r => service.Predict(r).Score).ToArray());
        Assert.All(results, r => Assert.Equal(expected, r));
        Assert.Equal(1, service.ModelVersion);
    }

    [Fact]
    public async Task ChangingTheFileReloadsTheModelAndACorruptFileKeepsTheCurrentOne()
    {
        var (ml, data, rows) = Housing();
        string path = Path.Combine(_dir, "model.zip");
        SaveModel(ml, data, path, 1);
        var services = new ServiceCollection();
        services.AddBackprop().AddPredictionService<House, Price>(path, reloadOnChange: true);
        using var sp = services.BuildServiceProvider();
        var service = sp.GetRequiredService<IBackpropPredictionService<House, Price>>();
        float before = service.Predict(rows[0]).Score;

        SaveModel(ml, data, path, 50);
        await WaitFor(() => service.ModelVersion == 2);
        float after = service.Predict(rows[0]).Score;
        Assert.NotEqual(before, after);

        await File.WriteAllTextAsync(path, "not a model");
        await Task.Delay(1500);
        Assert.Equal(2, service.ModelVersion);
        Assert.Equal(after, service.Predict(rows[0]).Score);
    }

    /// <summary>
    /// Engines over one loaded model can share native state; the old pool disposed surplus engines while others were
    /// scoring, which crashed the process (ONNX Runtime's session disposed under a running engine). Sixteen threads on
    /// two cores, many more callers than cores: every prediction must equal the in-memory model's, bit for bit (the
    /// service scores with the library's own transformer, not through ONNX Runtime), and no engine is disposed early.
    /// </summary>
    [Fact]
    public void SixteenThreadsGetTheInMemoryModelsExactScoresFromTheVerifiedFastTransformer()
    {
        var (ml, data, rows) = Housing();
        string path = Path.Combine(_dir, "model.zip");
        var model = ml.Transforms.NormalizeMeanVariance("Features")
            .Append(ml.Regression.Trainers.Backprop(hiddenLayers: [8], maxEpochs: 20))
            .Fit(data);
        ml.Backprop().SaveModel(model, data.Schema, path);
        var inMemory = ml.Model.CreatePredictionEngine<House, Price>(model);
        var expected = rows.Select(r => inMemory.Predict(r).Score).ToArray();

        using var service = new BackpropPredictionService<House, Price>(new MLContext(3), path, reloadOnChange: false, logger: null);
        Assert.Contains(((IEnumerable<ITransformer>)service.CurrentModel), t => t is BackpropTransformer);
        var results = new float[16][];
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 16 }, t =>
        {
            var mine = new float[rows.Count * 5];
            for (int i = 0; i < mine.Length; i++) mine[i] = service.Predict(rows[(i + t) % rows.Count]).Score;
            results[t] = mine;
        });
        for (int t = 0; t < 16; t++)
            for (int i = 0; i < results[t].Length; i++)
                Assert.Equal(expected[(i + t) % rows.Count], results[t][i]);
        Assert.InRange(service.EnginesCreated, 1, 17); // one per concurrent caller at most, plus the one built at load
    }

    /// <summary>A model without a backprop network (SDCA) is served as ML.NET loads it, from many threads.</summary>
    [Fact]
    public void AModelWithoutABackpropNetworkIsServedAsModelLoadWouldFromManyThreads()
    {
        var (ml, data, rows) = Housing();
        string path = Path.Combine(_dir, "sdca.zip");
        var model = ml.Transforms.NormalizeMeanVariance("Features").Append(ml.Regression.Trainers.Sdca(maximumNumberOfIterations: 5)).Fit(data);
        ml.Model.Save(model, data.Schema, path);
        var reference = ml.Model.CreatePredictionEngine<House, Price>(ml.Model.Load(path, out _));
        var expected = rows.Select(r => reference.Predict(r).Score).ToArray();
        using var service = new BackpropPredictionService<House, Price>(new MLContext(3), path, reloadOnChange: false, logger: null);
        var results = new float[16][];
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 16 }, t => results[t] = rows.Select(r => service.Predict(r).Score).ToArray());
        Assert.All(results, r => Assert.Equal(expected, r));
    }

    /// <summary>
    /// A half-written file makes ML.NET's Model.Load throw TargetInvocationException, which the old reload let escape
    /// from a timer callback (ending the process). A reload of any bad file must return false, log why, and keep
    /// serving the current model.
    /// </summary>
    [Fact]
    public void ReloadingATruncatedOrCorruptFileKeepsTheCurrentModelAndLogsWhy()
    {
        var (ml, data, rows) = Housing();
        string path = Path.Combine(_dir, "model.zip");
        SaveModel(ml, data, path, 5);
        var bytes = File.ReadAllBytes(path);
        var log = new ListLogger();
        using var service = new BackpropPredictionService<House, Price>(new MLContext(3), path, reloadOnChange: false, log);
        float before = service.Predict(rows[0]).Score;

        var bad = new List<(string What, byte[] Bytes)>
        {
            ("half written", bytes.AsSpan(0, bytes.Length / 2).ToArray()),
            ("cut before the central directory", bytes.AsSpan(0, bytes.Length - 30).ToArray()),
            ("empty", []),
            ("not a zip", "not a model"u8.ToArray()),
            ("a transform changed after saving", ChangeEntry(bytes, e => e.Contains("Normalize") && e.EndsWith("Model.key") is false)),
        };
        foreach (var (what, content) in bad)
        {
            File.WriteAllBytes(path, content);
            Assert.False(service.TryReload(), what);
            Assert.Equal(1, service.ModelVersion);
            Assert.Equal(before, service.Predict(rows[0]).Score);
        }
        Assert.Equal(bad.Count, log.Warnings.Count);
        Assert.All(log.Warnings, w => Assert.Contains(path, w));

        File.WriteAllBytes(path, bytes);
        Assert.True(service.TryReload());
        Assert.Equal(2, service.ModelVersion);
    }

    /// <summary>
    /// ML.NET's loader spins forever on a schema whose VBuffer codec claims more dimensions than it holds (found by the
    /// reliability campaign). A reload of such a file is abandoned after the load timeout: the current model stays in
    /// service, and no second load is started while the first still spins.
    /// </summary>
    [Fact]
    public void AFileOnWhichMLNetsLoaderSpinsIsAbandonedAfterTheTimeoutAndTheCurrentModelStays()
    {
        var (ml, data, rows) = Housing();
        string path = Path.Combine(_dir, "model.zip");
        var model = ml.Transforms.NormalizeMeanVariance("Features").Append(ml.Regression.Trainers.Backprop(hiddenLayers: [4], maxEpochs: 5)).Fit(data);
        ml.Model.Save(model, data.Schema, path); // no manifest: the file reaches ML.NET's loader as it is
        var good = File.ReadAllBytes(path);
        var log = new ListLogger();
        using var service = new BackpropPredictionService<House, Price>(new MLContext(3), path, reloadOnChange: false, log, TimeSpan.FromSeconds(2));
        float before = service.Predict(rows[0]).Score;

        File.WriteAllBytes(path, SchemaClaimingDimensions(good, 1000));
        Assert.False(service.TryReload());
        Assert.False(service.TryReload());
        Assert.Equal(1, service.ModelVersion);
        Assert.Equal(before, service.Predict(rows[0]).Score);
        Assert.Contains(log.Warnings, w => w.Contains("did not finish within", StringComparison.Ordinal));
        Assert.Contains(log.Warnings, w => w.Contains("has still not finished", StringComparison.Ordinal));
    }

    /// <summary>
    /// The same file through LoadModel directly: it gives up after its timeout with an error naming the file instead of
    /// hanging its caller (the spinning load is abandoned: .NET cannot stop a thread; it lives in this short test process).
    /// </summary>
    [Fact]
    public void LoadModelGivesUpOnAFileOnWhichMLNetsLoaderSpins()
    {
        var (ml, data, _) = Housing();
        string path = Path.Combine(_dir, "model.zip");
        var model = ml.Transforms.NormalizeMeanVariance("Features").Append(ml.Regression.Trainers.Backprop(hiddenLayers: [4], maxEpochs: 5)).Fit(data);
        ml.Model.Save(model, data.Schema, path);
        Assert.NotNull(new MLContext().Backprop().LoadModel(path, out _, TimeSpan.FromSeconds(30)));
        File.WriteAllBytes(path, SchemaClaimingDimensions(File.ReadAllBytes(path), 1000));
        var e = Assert.Throws<TimeoutException>(() => new MLContext().Backprop().LoadModel(path, out _, TimeSpan.FromSeconds(1)));
        Assert.Contains(path, e.Message);
        Assert.Contains("did not finish within 1 s", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext().Backprop().LoadModel(path, out _, TimeSpan.Zero));
    }

    /// <summary>The archive with the first VBuffer-of-Single codec in its Schema entry claiming <paramref name="dimensions"/>.</summary>
    private static byte[] SchemaClaimingDimensions(byte[] archive, int dimensions)
    {
        using var buffer = new MemoryStream();
        buffer.Write(archive);
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Update, leaveOpen: true))
        {
            var entry = zip.Entries.First(e => e.FullName == "Schema");
            byte[] content;
            using (var s = entry.Open())
            using (var m = new MemoryStream())
            {
                s.CopyTo(m);
                content = m.ToArray();
            }
            byte[] pattern = [.. "VBuffer"u8, 0x10, 0x06, .. "Single"u8, 0x00];
            int at = content.AsSpan().IndexOf(pattern);
            Assert.True(at >= 0, "the Schema entry has no VBuffer codec of Single");
            BitConverter.TryWriteBytes(content.AsSpan(at + pattern.Length), dimensions);
            entry.Delete();
            using var w = zip.CreateEntry("Schema").Open();
            w.Write(content);
        }
        return buffer.ToArray();
    }

    /// <summary>The archive with one byte changed in the first entry whose name matches (a valid zip, different content).</summary>
    private static byte[] ChangeEntry(byte[] archive, Func<string, bool> which)
    {
        using var buffer = new MemoryStream();
        buffer.Write(archive);
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Update, leaveOpen: true))
        {
            var entry = zip.Entries.First(e => which(e.FullName) && e.Length > 16);
            byte[] content;
            using (var s = entry.Open())
            using (var m = new MemoryStream())
            {
                s.CopyTo(m);
                content = m.ToArray();
            }
            content[content.Length - 3] ^= 0x01;
            entry.Delete();
            using var w = zip.CreateEntry(entry.FullName).Open();
            w.Write(content);
        }
        return buffer.ToArray();
    }

    private sealed class ListLogger : ILogger
    {
        public List<string> Warnings { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Warning)
                lock (Warnings)
                    Warnings.Add(formatter(state, exception));
        }
    }

    [Fact]
    public void AMissingModelFileIsReportedWithItsPath()
    {
        var services = new ServiceCollection();
        string path = Path.Combine(_dir, "nope.zip");
        services.AddBackprop().AddPredictionService<House, Price>(path);
        using var sp = services.BuildServiceProvider();
        var e = Assert.Throws<FileNotFoundException>(() => sp.GetRequiredService<IBackpropPredictionService<House, Price>>());
        Assert.Contains(path, e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void ANonPositiveLoadTimeoutIsRefusedByItsName(int seconds)
    {
        var services = new ServiceCollection();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            services.AddBackprop().AddPredictionService<House, Price>(Path.Combine(_dir, "m.zip"), loadTimeout: TimeSpan.FromSeconds(seconds)));
        Assert.Equal("loadTimeout", e.ParamName);
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        for (int i = 0; i < 100 && !condition(); i++) await Task.Delay(100);
        Assert.True(condition(), "the model was not reloaded within 10 s");
    }
}
