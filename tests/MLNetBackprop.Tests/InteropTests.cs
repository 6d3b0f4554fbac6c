using System.Reflection;
using Microsoft.ML;

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
