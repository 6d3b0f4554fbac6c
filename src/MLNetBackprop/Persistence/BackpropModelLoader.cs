using System.Buffers.Binary;
using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Onnx;
using MLNetBackprop.Core;
using MLNetBackprop.Onnx;

namespace MLNetBackprop.Persistence;

/// <summary>
/// Loads a model file written by <c>mlContext.Model.Save</c> and puts the library's own <see cref="BackpropTransformer"/>
/// back in place of each saved network: ML.NET loads the whole pipeline (so any other transforms come back as usual),
/// then every flat chain that starts with an OnnxTransformer holding one of our networks is replaced by the transformer
/// rebuilt from the ONNX bytes in the file (weights from the initializers, the rest from the metadata).
/// </summary>
internal static class BackpropModelLoader
{
    private const string OnnxEntryName = "OnnxModel";

    public static ITransformer Load(MLContext ml, Stream stream, string source, out DataViewSchema inputSchema)
    {
        byte[] bytes;
        try
        {
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            bytes = copy.ToArray();
        }
        catch (IOException e)
        {
            throw new InvalidDataException($"{source}: the model could not be read: {e.Message}", e);
        }
        if (bytes.Length == 0) throw new InvalidDataException($"{source}: the file is empty; expected an ML.NET model (a zip archive).");

        var networks = ReadNetworks(bytes, source);
        if (networks.Count(n => n is not null) == 0)
            throw new InvalidDataException($"{source}: the ML.NET model contains no MLNetBackprop network (it was not saved from a pipeline with a BackpropTransformer).");

        ITransformer loaded;
        try
        {
            loaded = ml.Model.Load(new MemoryStream(bytes, writable: false), out inputSchema);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{source}: ML.NET could not load the model: {e.Message}", e);
        }

        int onnxIndex = 0;
        var replaced = new List<IDisposable>();
        try
        {
            var schema = inputSchema;
            var result = Rebuild(loaded, ref schema, networks, ref onnxIndex, replaced, source);
            if (onnxIndex != networks.Count)
                throw new InvalidDataException(
                    $"{source}: the file holds {networks.Count} ONNX models but the loaded pipeline has {onnxIndex} ONNX transformers; cannot match them.");
            foreach (var d in replaced) d.Dispose();
            return result;
        }
        catch
        {
            (loaded as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>The ONNX models in the file in the order ML.NET loads them (directory order); null where not ours.</summary>
    private static List<(SavedModelInfo Info, OnnxModelReader Onnx)?> ReadNetworks(byte[] bytes, string source)
    {
        try
        {
            using var zip = new ZipArchive(new MemoryStream(bytes, writable: false), ZipArchiveMode.Read);
            if (zip.GetEntry("TransformerChain/Model.key") is null && !zip.Entries.Any(e => e.FullName.EndsWith("/Model.key", StringComparison.Ordinal)))
                throw new InvalidDataException($"{source}: the zip archive is not an ML.NET model (it has no Model.key entry).");
            var result = new List<(SavedModelInfo, OnnxModelReader)?>();
            foreach (var entry in zip.Entries
                         .Where(e => e.Name == OnnxEntryName)
                         .OrderBy(e => e.FullName, StringComparer.Ordinal))
            {
                byte[] content;
                using (var s = entry.Open())
                using (var m = new MemoryStream())
                {
                    s.CopyTo(m);
                    content = m.ToArray();
                }
                if (content.Length < 4) throw new InvalidDataException($"{source}: the entry {entry.FullName} is truncated.");
                int length = BinaryPrimitives.ReadInt32LittleEndian(content);
                if (length < 0 || length > content.Length - 4)
                    throw new InvalidDataException($"{source}: the entry {entry.FullName} is truncated ({content.Length - 4} of {length} bytes).");
                OnnxModelReader onnx;
                try
                {
                    onnx = OnnxModelReader.Read(content.AsSpan(4, length));
                }
                catch (InvalidDataException e)
                {
                    throw new InvalidDataException($"{source}: the ONNX model in {entry.FullName} is corrupt: {e.Message}", e);
                }
                if (!onnx.Metadata.TryGetValue(SavedModelInfo.Key, out var json))
                {
                    result.Add(null);
                    continue;
                }
                try
                {
                    result.Add((SavedModelInfo.Parse(json), onnx));
                }
                catch (InvalidDataException e)
                {
                    throw new InvalidDataException($"{source}: {entry.FullName}: {e.Message}", e);
                }
            }
            return result;
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(source, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{source}: not a readable ML.NET model (zip archive): {e.Message}", e);
        }
    }

    private static ITransformer Rebuild(ITransformer t, ref DataViewSchema schema, List<(SavedModelInfo Info, OnnxModelReader Onnx)?> networks,
        ref int onnxIndex, List<IDisposable> replaced, string source)
    {
        if (t is OnnxTransformer)
        {
            onnxIndex++;
            schema = t.GetOutputSchema(schema);
            return t;
        }
        if (t is not TransformerChain<ITransformer> chain)
        {
            schema = t.GetOutputSchema(schema);
            return t;
        }
        var items = chain.ToList();
        if (items.Count > 0 && items[0] is OnnxTransformer && onnxIndex < networks.Count && networks[onnxIndex] is { } ours)
        {
            onnxIndex++;
            var output = chain.GetOutputSchema(schema);
            var rebuilt = Create(ours.Info, ours.Onnx, output, source);
            replaced.Add(chain);
            schema = rebuilt.GetOutputSchema(schema);
            return rebuilt;
        }
        var rebuiltItems = new ITransformer[items.Count];
        bool changed = false;
        for (int i = 0; i < items.Count; i++)
        {
            rebuiltItems[i] = Rebuild(items[i], ref schema, networks, ref onnxIndex, replaced, source);
            changed |= !ReferenceEquals(rebuiltItems[i], items[i]);
        }
        return changed ? new TransformerChain<ITransformer>(rebuiltItems) : chain;
    }

    private static BackpropTransformer Create(SavedModelInfo info, OnnxModelReader onnx, DataViewSchema nativeOutput, string source)
    {
        string Bad(string what) => $"{source}: the saved network is inconsistent: {what}.";
        if (!Enum.IsDefined(info.Task) || info.Task == BackpropTask.Auto) throw new InvalidDataException(Bad($"task {info.Task}"));
        if (info.LayerSizes.Length < 2 || info.Activations.Length != info.LayerSizes.Length - 1 || info.LayerSizes.Any(s => s < 1))
            throw new InvalidDataException(Bad($"layer sizes [{string.Join(", ", info.LayerSizes)}] with {info.Activations.Length} activations"));
        NeuralNetwork<float> network;
        try
        {
            network = new NeuralNetwork<float>(info.LayerSizes, info.Activations);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException(Bad(e.Message), e);
        }
        for (int l = 0; l < network.WeightLayerCount; l++)
        {
            CopyInitializer(onnx, $"W{l}", network.Weights(l), Bad);
            CopyInitializer(onnx, $"B{l}", network.Biases(l), Bad);
        }
        if (!string.Equals(SavedModelInfo.Hash(network), info.ParametersSha256, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException(Bad("the weights do not match their checksum (the file is corrupt)"));
        int k = network.OutputSize;
        if (info.Task == BackpropTask.Regression && (info.TargetMean.Length != k || info.TargetScale.Length != k))
            throw new InvalidDataException(Bad($"{info.TargetMean.Length} target means and {info.TargetScale.Length} scales for {k} outputs"));

        DataViewSchema.Annotations? labelAnnotations = null;
        if (info.Task == BackpropTask.MulticlassClassification && nativeOutput.GetColumnOrNull(OutputSchema.PredictedLabel) is { } predicted)
            labelAnnotations = predicted.Annotations;
        var model = new BackpropModelParameters(info.Task, network, info.TargetMean, info.TargetScale, info.ClassNames ?? [], info.VectorOutput);
        return new BackpropTransformer(model, info.ToOptions(), info.ToHistory(), info.FeatureColumnName, info.LabelColumnName, labelAnnotations);
    }

    private static void CopyInitializer(OnnxModelReader onnx, string name, Span<float> target, Func<string, string> bad)
    {
        if (!onnx.Initializers.TryGetValue(name, out var tensor)) throw new InvalidDataException(bad($"initializer {name} is missing"));
        if (tensor.Values.Length != target.Length)
            throw new InvalidDataException(bad($"initializer {name} has {tensor.Values.Length} values, the layer needs {target.Length}"));
        tensor.Values.CopyTo(target);
    }
}
