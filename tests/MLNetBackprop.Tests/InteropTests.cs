using System.Reflection;
using Microsoft.ML;
using MLNetBackprop.Interop;

namespace MLNetBackprop.Tests;

/// <summary>
/// Pins what the library reaches inside ML.NET by reflection on the ML.NET version in use, so that an upgrade that
/// renames those members fails here, by name, instead of degrading quietly (the cancellation check fails soft).
/// </summary>
public class InteropTests
{
    [Fact]
    public void TheMLNetVersionInUseIsTheOneTheShimsWereCheckedAgainst()
    {
        string? version = typeof(MLContext).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        Assert.NotNull(version);
        // Directory.Build.props sets MLNetVersion; the reflection below was checked on this version.
        Assert.StartsWith("6.0.0", version);
    }

    [Fact]
    public void TheInternalMembersBehindCatalogsAndCancellationExist()
    {
        Assert.True(CatalogEnvironment.MembersFound,
            "IInternalCatalog.Environment or ICancelable.IsCanceled is gone from this ML.NET version: see CatalogEnvironment.");
    }

    [Fact]
    public void OnnxTransformerStillStoresItsModelAsALengthPrefixedOnnxModelEntry()
    {
        // The loader reads the network back from the OnnxTransformer's entry by hand (Interop/OnnxTransformerEntry).
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.ReplaceMissingValues("Features").Fit(Datasets.BreastCancer(ml)).Transform(Datasets.BreastCancer(ml));
        var model = ml.BinaryClassification.Trainers.Backprop(hiddenLayers: [2], maxEpochs: 1).Fit(data);
        using var saved = new MemoryStream();
        ml.Model.Save(model, data.Schema, saved);
        using var zip = new System.IO.Compression.ZipArchive(new MemoryStream(saved.ToArray()));
        var entry = Assert.Single(zip.Entries, e => OnnxTransformerEntry.Is(e.FullName));
        using var content = new MemoryStream();
        using (var s = entry.Open()) s.CopyTo(content);
        var (onnx, trailing) = OnnxTransformerEntry.Read(content.ToArray(), entry.FullName, "test");
        Assert.Equal(0, trailing);
        var reader = Onnx.OnnxModelReader.Read(onnx.Span);
        Assert.True(reader.Metadata.ContainsKey(Persistence.SavedModelInfo.Key), "our description is in the ONNX metadata");
    }

    [Fact]
    public void ATrainerFromMLNetsOwnCatalogTrainsInThatCatalogsContext()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        ml.Log += (_, e) => { lock (messages) messages.Add(e.Message); };
        var data = ml.Transforms.ReplaceMissingValues("Features").Fit(Datasets.BreastCancer(ml)).Transform(Datasets.BreastCancer(ml));
        // The catalog's environment is reached by reflection; the trainer's log lines reaching this context's Log prove
        // it is this context (an MLContext of its own would log elsewhere).
        var model = ml.BinaryClassification.Trainers.Backprop(hiddenLayers: [2], maxEpochs: 1).Fit(data);
        Assert.Single(model.History.Epochs);
        lock (messages) Assert.Contains(messages, m => m.Contains("Backprop: BinaryClassification, layers [9, 2, 1]", StringComparison.Ordinal));
    }
}
