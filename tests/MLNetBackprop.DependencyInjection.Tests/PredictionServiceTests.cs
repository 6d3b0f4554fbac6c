using Microsoft.Extensions.DependencyInjection;
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

    private static async Task WaitFor(Func<bool> condition)
    {
        for (int i = 0; i < 100 && !condition(); i++) await Task.Delay(100);
        Assert.True(condition(), "the model was not reloaded within 10 s");
    }
}
