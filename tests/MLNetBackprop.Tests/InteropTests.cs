using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
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

    private sealed class KeyRow
    {
        public string Label { get; set; } = "";
        public uint Code { get; set; }
    }

    private readonly struct TypeName : ItemTypeDispatch.IFunc<string>
    {
        public string Invoke<T>() => typeof(T).Name;
    }

    private readonly struct Throws : ItemTypeDispatch.IFunc<int>
    {
        public int Invoke<T>() => throw new InvalidOperationException(typeof(T).Name);
    }

    [Fact]
    public void TheItemTypeDispatchCallsTheCodeWithTheRunTimeType_AndLetsItsExceptionsThrough()
    {
        Assert.Equal("Single", ItemTypeDispatch.Invoke(typeof(float), new TypeName()));
        Assert.Equal("ReadOnlyMemory`1", ItemTypeDispatch.Invoke(TextDataViewType.Instance.RawType, new TypeName()));
        // Not wrapped in a TargetInvocationException: callers see what the typed code threw.
        Assert.Equal("UInt32", Assert.Throws<InvalidOperationException>(() => ItemTypeDispatch.Invoke(typeof(uint), new Throws())).Message);
    }

    [Fact]
    public void KeyValuesOfAnyItemTypeAreReadAsTextAndStoodInForByAnEmptyGetter()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new KeyRow { Label = "b", Code = 7 }, new KeyRow { Label = "a", Code = 3 } });
        var keyed = ml.Transforms.Conversion.MapValueToKey("TextKey", "Label")
            .Append(ml.Transforms.Conversion.MapValueToKey("UIntKey", "Code")).Fit(data).Transform(data);
        foreach (var (column, expected) in new[] { ("TextKey", new[] { "b", "a" }), ("UIntKey", new[] { "7", "3" }) })
        {
            var annotations = keyed.Schema[column].Annotations;
            var kv = annotations.Schema[KeyValues.Name];
            Assert.Equal(expected, KeyValues.ReadAsText(annotations, kv));

            var item = (PrimitiveDataViewType)((VectorDataViewType)kv.Type).ItemType;
            var getter = KeyValues.EmptyGetter(item);
            Assert.Equal(typeof(ValueGetter<>).MakeGenericType(typeof(VBuffer<>).MakeGenericType(item.RawType)), getter.GetType());
        }
    }

    [Fact]
    public void AppendingToAnEstimatorChainExtendsItInsteadOfNestingIt()
    {
        // ML.NET's IEstimator extension Append nests a chain (and drops its cache checkpoints, ML.NET issue #4926);
        // EstimatorChains.Append reaches the chain's own Append by reflection, so the fitted chain stays flat.
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new KeyRow { Label = "a", Code = 1 } });
        IEstimator<ITransformer> featurization = ml.Transforms.CopyColumns("A", "Label").AppendCacheCheckpoint(ml)
            .Append(ml.Transforms.CopyColumns("B", "Label"));
        IEstimator<ITransformer> next = ml.Transforms.CopyColumns("C", "Label");

        var flat = EstimatorChains.Append(featurization, next);
        Assert.IsType<EstimatorChain<ITransformer>>(flat);
        Assert.Equal(3, ((IEnumerable<ITransformer>)flat.Fit(data)).Count());
        Assert.Equal(2, ((IEnumerable<ITransformer>)featurization.Append(next).Fit(data)).Count()); // what the extension does

        // Not a chain: the extension Append, as before.
        Assert.Equal(2, ((IEnumerable<ITransformer>)EstimatorChains.Append(next, featurization).Fit(data)).Count());
    }
}
