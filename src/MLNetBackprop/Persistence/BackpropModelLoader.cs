using System.Buffers.Binary;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Onnx;
using MLNetBackprop.Core;
using MLNetBackprop.Heads;
using MLNetBackprop.Interop;
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

    /// <summary>Loads a model that must hold at least one of the library's networks (the public LoadModel).</summary>
    public static ITransformer Load(MLContext ml, Stream stream, string source, TimeSpan timeout, out DataViewSchema inputSchema) =>
        Load(ml, ReadAll(stream, source), source, requireNetwork: true, timeout, out inputSchema);

    /// <summary>How long ML.NET's part of a load may take by default (LoadModel and the DI prediction service).</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    /// <summary>
    /// ML.NET's Model.Load, bounded in time: ML.NET's loader spins forever on some damaged files (a schema whose VBuffer
    /// codec claims more values than it holds), and no check of ours can see every such case, since those entries are
    /// ML.NET's to parse. A load past the timeout is abandoned on its own thread (it cannot be stopped); if it ever
    /// finishes, its model is disposed.
    /// </summary>
    private static (ITransformer Model, DataViewSchema Schema) LoadWithin(MLContext ml, byte[] bytes, string source, TimeSpan timeout)
    {
        (ITransformer, DataViewSchema) Run()
        {
            var model = ml.Model.Load(new MemoryStream(bytes, writable: false), out var schema);
            return (model, schema);
        }
        if (timeout == Timeout.InfiniteTimeSpan) return Run();
        var loading = Task.Factory.StartNew(Run, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        bool finished;
        try
        {
            finished = loading.Wait(timeout);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            throw;
        }
        if (finished) return loading.Result;
        loading.ContinueWith(t => (t.Result.Item1 as IDisposable)?.Dispose(), CancellationToken.None,
            TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        throw new TimeoutException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{source}: ML.NET's loader did not finish within {timeout.TotalSeconds:G4} s (a model of a few MB loads in well under a second); the file is probably damaged. The load was abandoned."));
    }

    /// <summary>Reads a model file or stream to its end.</summary>
    /// <exception cref="InvalidDataException">It could not be read or is empty.</exception>
    public static byte[] ReadAll(Stream stream, string source)
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
        return bytes;
    }

    /// <summary>
    /// Verifies and loads a saved model. Before ML.NET sees the bytes: the archive is read within a bounded inflate
    /// budget, checked against its manifest when it has one, and every network of ours is rebuilt from its ONNX entry,
    /// checked against its SHA-256 and written again, which must give the entry's bytes exactly — so ONNX Runtime is only
    /// ever handed graphs this library wrote. Then ML.NET loads the pipeline and each network's ONNX chain is replaced
    /// by the rebuilt <see cref="BackpropTransformer"/>.
    /// </summary>
    /// <param name="ml">The context ML.NET loads the pipeline in.</param>
    /// <param name="bytes">The whole file.</param>
    /// <param name="source">The file's name (or "the stream"), the start of every error message.</param>
    /// <param name="requireNetwork">Throw when the model holds no network of ours (false: load it as ML.NET would).</param>
    /// <param name="inputSchema">The input schema the model was saved with.</param>
    /// <param name="timeout">How long ML.NET's parsing may take (it runs on a thread of its own; infinite: on this thread).</param>
    /// <exception cref="InvalidDataException">Anything wrong with the file; the message starts with <paramref name="source"/>.</exception>
    /// <exception cref="TimeoutException">ML.NET's parsing did not finish within <paramref name="timeout"/>; it is abandoned.</exception>
    internal static ITransformer Load(MLContext ml, byte[] bytes, string source, bool requireNetwork, TimeSpan timeout, out DataViewSchema inputSchema)
    {
        if (bytes.Length == 0) throw new InvalidDataException($"{source}: the file is empty; expected an ML.NET model (a zip archive).");
        var archive = ModelArchive.Read(bytes, source);
        var networks = ReadNetworks(archive, source);
        if (requireNetwork && networks.Count(n => n is not null) == 0)
            throw new InvalidDataException($"{source}: the ML.NET model contains no MLNetBackprop network (it was not saved from a pipeline with a BackpropTransformer).");
        if (!archive.Verified)
            Log(ml, $"{source} has no MLNetBackprop manifest (it was saved with mlContext.Model.Save rather than " +
                "mlContext.Backprop().SaveModel): " + (networks.Any(n => n is not null)
                    ? "the networks are verified, the pipeline's other transforms are not."
                    : "it holds no backprop network, and nothing in it is verified."));

        ITransformer loaded;
        try
        {
            (loaded, inputSchema) = LoadWithin(ml, bytes, source, timeout);
        }
        catch (Exception e) when (e is not (OutOfMemoryException or TimeoutException))
        {
            var inner = e;
            while (inner is System.Reflection.TargetInvocationException { InnerException: { } next }) inner = next;
            throw new InvalidDataException($"{source}: ML.NET could not load the model: {inner.Message}", e);
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
        catch (Exception e) when (e is not (InvalidDataException or OutOfMemoryException))
        {
            // ML.NET loaded every transform, but they do not fit together (a column a transform needs is missing, a
            // type changed): only a damaged file does that, as one without the manifest can be.
            (loaded as IDisposable)?.Dispose();
            throw new InvalidDataException($"{source}: the loaded pipeline does not fit together, so the file is damaged: {e.Message}", e);
        }
        catch
        {
            (loaded as IDisposable)?.Dispose();
            throw;
        }
    }

    private static void Log(MLContext ml, string message)
    {
        var host = ((IHostEnvironment)ml).Register("MLNetBackprop.LoadModel");
        using var ch = host.Start("LoadModel");
        ch.Info(MessageSensitivity.None, message);
    }

    /// <summary>
    /// The ONNX models in the file in the order ML.NET loads them (entry-name order), each of ours rebuilt and verified;
    /// null where the ONNX model is not ours.
    /// </summary>
    private static List<Saved?> ReadNetworks(ModelArchive archive, string source)
    {
        var result = new List<Saved?>();
        foreach (var (name, content) in archive.Entries)
        {
            if (!OnnxTransformerEntry.Is(name)) continue;
            var (onnxMemory, trailing) = OnnxTransformerEntry.Read(content, name, source);
            var onnxBytes = onnxMemory.Span;
            OnnxModelReader onnx;
            try
            {
                onnx = OnnxModelReader.Read(onnxBytes);
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"{source}: the ONNX model in {name} is corrupt: {e.Message}", e);
            }
            if (!onnx.Metadata.TryGetValue(SavedModelInfo.Key, out var json))
            {
                result.Add(null);
                continue;
            }
            if (trailing != 0)
                throw new InvalidDataException($"{source}: the entry {name} has {trailing} bytes after its ONNX model; the file is corrupt.");
            SavedModelInfo info;
            try
            {
                info = SavedModelInfo.Parse(json);
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"{source}: {name}: {e.Message}", e);
            }
            var model = CreateModel(info, onnx, $"{source}: {name}");
            // Written again from what was read, the graph must be the entry's bytes: nothing else is hidden in it.
            var rewritten = OnnxExport.Write(model, NativePipeline.RowNames(info.FeatureColumnName), OnnxLayout.Row,
                new Dictionary<string, string> { [SavedModelInfo.Key] = json });
            if (onnx.Metadata.Count != 1 || !onnxBytes.SequenceEqual(rewritten))
                throw new InvalidDataException($"{source}: the ONNX graph in {name} is not the one MLNetBackprop writes for its network; the file is corrupt or was changed after saving.");
            result.Add(new Saved(info, model));
        }
        return result;
    }

    private sealed record Saved(SavedModelInfo Info, BackpropModelParameters Model);

    private static ITransformer Rebuild(ITransformer t, ref DataViewSchema schema, List<Saved?> networks,
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
            var rebuilt = Create(ours, schema, output);
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

    private static BackpropTransformer Create(Saved saved, DataViewSchema input, DataViewSchema nativeOutput)
    {
        string[]? featureNames = input.GetColumnOrNull(saved.Info.FeatureColumnName) is { } features ? ModelSummary.SlotNames(features) : null;
        DataViewSchema.Annotations? labelAnnotations = null;
        if (saved.Model.Head.KeyedClasses && nativeOutput.GetColumnOrNull(OutputSchema.PredictedLabel) is { } predicted)
            labelAnnotations = predicted.Annotations;
        return new BackpropTransformer(saved.Model, saved.Info.ToOptions(), saved.Info.ToHistory(), saved.Info.FeatureColumnName,
            saved.Info.LabelColumnName, labelAnnotations, featureNames);
    }

    /// <summary>
    /// The network and its scaling from the metadata and the initializers. The sizes are checked against the
    /// initializers before anything is allocated, so a description claiming a huge network costs nothing.
    /// </summary>
    private static BackpropModelParameters CreateModel(SavedModelInfo info, OnnxModelReader onnx, string source)
    {
        string Bad(string what) => $"{source}: the saved network is inconsistent: {what}.";
        if (!Enum.IsDefined(info.Task) || info.Task == BackpropTask.Auto) throw new InvalidDataException(Bad($"task {info.Task}"));
        var sizes = info.LayerSizes ?? [];
        if (sizes.Length < 2 || info.Activations is null || info.Activations.Length != sizes.Length - 1 || sizes.Any(s => s < 1))
            throw new InvalidDataException(Bad($"layer sizes [{string.Join(", ", sizes)}] with {info.Activations?.Length ?? 0} activations"));
        for (int l = 0; l + 1 < sizes.Length; l++)
        {
            long weights = (long)sizes[l] * sizes[l + 1];
            if (!onnx.Initializers.TryGetValue($"W{l}", out var w) || w.Values.LongLength != weights
                || !onnx.Initializers.TryGetValue($"B{l}", out var b) || b.Values.LongLength != sizes[l + 1])
                throw new InvalidDataException(Bad($"layer {l} ({sizes[l]} → {sizes[l + 1]}) needs {weights:N0} weights and {sizes[l + 1]:N0} biases, " +
                    $"the file holds {(onnx.Initializers.TryGetValue($"W{l}", out var w2) ? w2.Values.LongLength : 0):N0} and " +
                    $"{(onnx.Initializers.TryGetValue($"B{l}", out var b2) ? b2.Values.LongLength : 0):N0}"));
        }
        NeuralNetwork<float> network;
        try
        {
            network = new NeuralNetwork<float>(sizes, info.Activations);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException(Bad(e.Message), e);
        }
        for (int l = 0; l < network.WeightLayerCount; l++)
        {
            onnx.Initializers[$"W{l}"].Values.CopyTo(network.Weights(l));
            onnx.Initializers[$"B{l}"].Values.CopyTo(network.Biases(l));
        }
        if (!string.Equals(SavedModelInfo.Hash(network), info.ParametersSha256, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException(Bad("the weights do not match their checksum (the file is corrupt)"));
        int k = network.OutputSize;
        var mean = info.TargetMean ?? [];
        var scale = info.TargetScale ?? [];
        if (TaskHead.For(info.Task, info.VectorOutput).ScalesTargets && (mean.Length != k || scale.Length != k))
            throw new InvalidDataException(Bad($"{mean.Length} target means and {scale.Length} scales for {k} outputs"));
        return new BackpropModelParameters(info.Task, network, mean, scale, info.ClassNames ?? [], info.VectorOutput);
    }
}
