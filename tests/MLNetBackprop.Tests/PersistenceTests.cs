using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit.Abstractions;

namespace MLNetBackprop.Tests;

/// <summary>
/// Save and load: mlContext.Model.Save of pipelines with a backpropagation model, loaded in a separate process by a plain
/// new MLContext and by the library's loader, saved again and loaded again, with the same outputs.
/// </summary>
[Collection(PersistenceHarness.Collection)]
public sealed class PersistenceTests(PersistenceHarness harness, ITestOutputHelper output) : IDisposable
{
    private readonly string _folder = PersistenceHarness.NewFolder();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    public static TheoryData<string> Tasks => new() { "binary", "multiclass", "regression", "multiregression" };

    [Theory]
    [MemberData(nameof(Tasks))]
    public void SavedPipeline_LoadsInAnotherProcess_WithTheSameOutputs_AndSavesAndLoadsAgain(string task)
    {
        var c = harness.Get(task);
        string model = Path.Combine(_folder, "model.zip"), data = Path.Combine(_folder, "data.idv");
        c.Ml.Model.Save(c.Model, c.Data.Schema, model);
        using (var f = File.Create(data)) c.Ml.Data.SaveAsBinary(c.Data, f);
        var scored = c.Model.Transform(c.Data);
        var expected = PersistenceHarness.Rows(scored, task);
        var expectedMetrics = PersistenceHarness.Metrics(c.Ml, scored, task);
        string? expectedMapped = task == "multiclass"
            ? string.Join("|", c.Ml.Data.CreateEnumerable<MappedLabel>(scored, reuseRowObject: false).Select(r => r.PredictedLabelValue.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))
            : null;

        void Check(PersistenceHarness.LoaderResult r, string what)
        {
            output.WriteLine($"{what}: {r.ModelType}; largest difference relative to max(|value|, 1): {PersistenceHarness.MaxRelative(expected, r.Transform, floor: 1):G3}, to max(|value|, 0.01): {PersistenceHarness.MaxRelative(expected, r.Transform):G3}");
            // 1e-6 relative to max(|value|, 1): relative for values of magnitude ≥ 1, 1e-6 absolute below (a logit near 0
            // or a probability near 0 cannot be matched relatively by another engine's float arithmetic).
            PersistenceHarness.AssertClose(expected, r.Transform, 1e-6, $"{what} Transform", floor: 1);
            PersistenceHarness.AssertClose(expected, r.Engine, 1e-6, $"{what} prediction engine", floor: 1);
            Assert.Equal(expectedMetrics.Keys.Order(), r.Metrics.Keys.Order());
            foreach (var (name, value) in expectedMetrics)
                Assert.True(Math.Abs(value - r.Metrics[name]) <= 1e-6 * Math.Max(1, Math.Abs(value)), $"{what} {name}: {value} vs {r.Metrics[name]}");
            Assert.Equal(expectedMapped, r.MappedLabels);
        }

        // A plain new MLContext().Model.Load, in a new process; then that process saves the loaded model again.
        string resaved = Path.Combine(_folder, "resaved.zip");
        var plain = PersistenceHarness.RunLoader("mlnet", model, data, task, resaved);
        Assert.DoesNotContain("BackpropTransformer", plain.ModelType);
        Check(plain, "Model.Load");
        Check(PersistenceHarness.RunLoader("mlnet", resaved, data, task), "Model.Load of the re-saved model");

        // The library's loader gives our transformer back; what it saves loads again in both ways.
        string resaved2 = Path.Combine(_folder, "resaved2.zip");
        var library = PersistenceHarness.RunLoader("library", model, data, task, resaved2);
        Assert.Contains("BackpropTransformer", library.ModelType);
        Check(library, "Backprop().LoadModel");
        Check(PersistenceHarness.RunLoader("mlnet", resaved2, data, task), "Model.Load of the library-loaded, re-saved model");
    }

    public sealed class MappedLabel
    {
        public float PredictedLabelValue { get; set; }
    }

    [Theory]
    [MemberData(nameof(Tasks))]
    public void LibraryLoader_RebuildsTheTransformer_WithNetworkOptionsAndHistory(string task)
    {
        var c = harness.Get(task);
        string path = Path.Combine(_folder, "model.zip");
        c.Ml.Backprop().SaveModel(c.Model, c.Data.Schema, path);
        var original = ((IEnumerable<ITransformer>)c.Model).OfType<BackpropTransformer>().Single();

        var ml = new MLContext();
        var loaded = ml.Backprop().LoadModel(path, out var schema);
        var rebuilt = Assert.Single(((IEnumerable<ITransformer>)loaded).OfType<BackpropTransformer>());
        Assert.Equal(c.Data.Schema.Select(col => col.Name), schema.Select(col => col.Name));
        Assert.Equal(original.Task, rebuilt.Task);
        Assert.Equal(original.FeatureColumnName, rebuilt.FeatureColumnName);
        Assert.Equal(original.LabelColumnName, rebuilt.LabelColumnName);
        Assert.Equal(original.Model.LayerSizes, rebuilt.Model.LayerSizes);
        Assert.Equal(original.Model.Activations, rebuilt.Model.Activations);
        for (int l = 0; l < original.Model.WeightLayerCount; l++)
        {
            Assert.Equal(original.Model.GetWeights(l), rebuilt.Model.GetWeights(l));
            Assert.Equal(original.Model.GetBiases(l), rebuilt.Model.GetBiases(l));
        }
        Assert.Equal(original.Model.TargetMean, rebuilt.Model.TargetMean);
        Assert.Equal(original.Model.TargetScale, rebuilt.Model.TargetScale);
        Assert.Equal(original.Model.ClassNames, rebuilt.Model.ClassNames);
        Assert.Equal(original.Options.HiddenLayers, rebuilt.Options.HiddenLayers);
        Assert.Equal(original.Options.Seed, rebuilt.Options.Seed);
        Assert.Equal(original.Options.Optimizer, rebuilt.Options.Optimizer);
        Assert.Equal(original.Options.Activation, rebuilt.Options.Activation);
        Assert.Equal(original.Options.L2Regularization, rebuilt.Options.L2Regularization);
        Assert.Equal(original.History.BestEpoch, rebuilt.History.BestEpoch);
        Assert.Equal(original.History.StopReason, rebuilt.History.StopReason);
        Assert.Equal(original.History.Epochs, rebuilt.History.Epochs);

        // Same outputs, bit for bit: it is the same network scored by the same code.
        Assert.Equal(PersistenceHarness.Rows(c.Model.Transform(c.Data), task), PersistenceHarness.Rows(loaded.Transform(c.Data), task));
        if (task == "multiclass")
        {
            var key = loaded.Transform(c.Data).Schema["PredictedLabel"];
            Assert.NotNull(key.Annotations.Schema.GetColumnOrNull("KeyValues"));
        }
        (loaded as IDisposable)?.Dispose();
    }

    /// <summary>
    /// Saving writes a temporary ONNX file and ML.NET's loading another; both must be gone afterwards. Only files this
    /// test made are watched (its own temp folder for the save and for the loading MLContext), so another test process
    /// running, or one that crashed, cannot make it fail.
    /// </summary>
    [Fact]
    public void SavingAndLibraryLoading_LeaveNoTempFiles()
    {
        var c = harness.Get("binary");
        var m = harness.Get("multiclass");
        string temp = Path.Combine(_folder, "temp");
        Directory.CreateDirectory(temp);
        string models = Path.Combine(_folder, "models");
        Directory.CreateDirectory(models);
        MLNetBackprop.Persistence.NativePipeline.TemporaryFolder.Value = temp;
        try
        {
            c.Ml.Model.Save(c.Model, c.Data.Schema, Path.Combine(models, "a.zip"));
            Assert.Empty(Directory.EnumerateFileSystemEntries(temp));
            var loading = new MLContext { TempFilePath = temp };
            var loaded = loading.Backprop().LoadModel(Path.Combine(models, "a.zip"), out _);
            (loaded as IDisposable)?.Dispose();
            c.Ml.Backprop().SaveModel(c.Model, c.Data.Schema, Path.Combine(models, "b.zip"));
            m.Ml.Model.Save(m.Model, m.Data.Schema, Path.Combine(models, "c.zip"));
            (loading.Backprop().LoadModel(Path.Combine(models, "c.zip"), out _) as IDisposable)?.Dispose();
            Assert.Empty(Directory.EnumerateFileSystemEntries(temp));
        }
        finally
        {
            MLNetBackprop.Persistence.NativePipeline.TemporaryFolder.Value = null;
        }
        Assert.Equal(["a.zip", "b.zip", "c.zip"], Directory.GetFiles(models).Select(Path.GetFileName).Order());
    }

    /// <summary>
    /// A process killed during SaveModel leaves its temporary file; the next save of the same file removes such files,
    /// except one a live save holds open (exclusively locked), and leaves files that are not its own alone.
    /// </summary>
    [Fact]
    public void SaveModel_RemovesTemporaryFilesOfKilledSaves_ButNotOfALiveOne()
    {
        var c = harness.Get("binary");
        string path = Path.Combine(_folder, "model.zip");
        string Stale() => Path.Combine(_folder, $".model.zip.{Guid.NewGuid():N}.tmp");
        var stale = new[] { Stale(), Stale(), Stale() };
        foreach (var s in stale) File.WriteAllBytes(s, [1, 2, 3]);
        string live = Stale();
        string foreign = Path.Combine(_folder, ".model.zip.backup.tmp");
        string otherModel = Path.Combine(_folder, $".other.zip.{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(foreign, [1]);
        File.WriteAllBytes(otherModel, [1]);
        using (var held = new FileStream(live, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            c.Ml.Backprop().SaveModel(c.Model, c.Data.Schema, path);
            Assert.True(File.Exists(live));
        }
        Assert.All(stale, s => Assert.False(File.Exists(s), s));
        Assert.True(File.Exists(foreign));
        Assert.True(File.Exists(otherModel));
        c.Ml.Backprop().SaveModel(c.Model, c.Data.Schema, path);
        Assert.False(File.Exists(live));
        (new MLContext().Backprop().LoadModel(path, out _) as IDisposable)?.Dispose();
    }

    private sealed class Unsavable : ITransformer
    {
        public bool IsRowToRowMapper => true;
        public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => inputSchema;
        public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => throw new NotSupportedException();
        public IDataView Transform(IDataView input) => input;
        public void Save(ModelSaveContext ctx) => throw new IOException("Simulated failure while writing.");
    }

    [Fact]
    public void FailedSave_LeavesNoPartialFile_AndKeepsTheOldOne()
    {
        var c = harness.Get("binary");
        var failing = new TransformerChain<ITransformer>(c.Model, new Unsavable());
        string path = Path.Combine(_folder, "model.zip");

        Assert.Throws<IOException>(() => c.Ml.Backprop().SaveModel(failing, c.Data.Schema, path));
        Assert.Empty(Directory.GetFiles(_folder));

        c.Ml.Backprop().SaveModel(c.Model, c.Data.Schema, path);
        var good = File.ReadAllBytes(path);
        Assert.Throws<IOException>(() => c.Ml.Backprop().SaveModel(failing, c.Data.Schema, path));
        Assert.Equal(good, File.ReadAllBytes(path));
        Assert.Equal(["model.zip"], Directory.GetFiles(_folder).Select(Path.GetFileName));
    }
}
