using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace MLNetBackprop.Onnx;

/// <summary>
/// Exports a whole fitted pipeline ending in a <see cref="BackpropTransformer"/> as one ONNX graph: the transforms before
/// the network exported by ML.NET's own converter (asked for the feature column only), composed with the network's graph
/// (<see cref="OnnxExport"/>) whose input is wired to the converter's output for that column. Only whole protobuf fields
/// are moved: the converter's nodes, initializers and inputs are copied as they are (less what the feature column does not
/// need); the network's get names of their own.
/// </summary>
internal static class PipelineOnnxExport
{
    // Field numbers of the ONNX messages this file reads and writes (onnx.proto).
    private static class ModelField
    {
        public const int IrVersion = 1, ProducerName = 2, ProducerVersion = 3, Domain = 4, ModelVersion = 5, DocString = 6,
            Graph = 7, OpsetImport = 8, MetadataProps = 14;
    }

    private static class GraphField
    {
        public const int Node = 1, Name = 2, Initializer = 5, Input = 11, Output = 12;
    }

    private static class NodeField
    {
        public const int Input = 1, Output = 2, Name = 3;
    }

    private static class TensorField
    {
        public const int Name = 8;
    }

    private static class ValueInfoField
    {
        public const int Name = 1;
    }

    private static class OpsetField
    {
        public const int Domain = 1, Version = 2;
    }

    private const int LengthDelimited = 2;

    /// <summary>The converter names the graph output of column C "C.output" (Microsoft.ML.OnnxConverter 0.23).</summary>
    private const string ConverterOutputSuffix = ".output";

    /// <summary>The converter's warning when it meets a transform it cannot export (it then leaves it out, silently).</summary>
    private const string ConverterStopWarning = "Had to stop walkback of pipeline";

    public static byte[] Export(ITransformer model, IDataView inputData)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputData);
        var steps = new List<ITransformer>();
        Flatten(model, steps);
        var networks = steps.Select((t, i) => (t, i)).Where(p => p.t is BackpropTransformer).Select(p => p.i).ToList();
        if (networks.Count == 0)
            throw new ArgumentException(
                "The model holds no BackpropTransformer, so there is no network to export. A model read back with " +
                "MLContext.Model.Load holds ML.NET's ONNX-based chain instead of ours: read it with mlContext.Backprop().LoadModel, " +
                "then export.", nameof(model));
        if (networks.Count > 1)
            throw new NotSupportedException(
                $"The model holds {networks.Count} BackpropTransformers (steps {string.Join(", ", networks)}); whole-pipeline ONNX " +
                "export supports exactly one. Export each network with ExportOnnx(BackpropTransformer, Stream).");
        int at = networks[0];
        var network = (BackpropTransformer)steps[at];
        var after = steps.Skip(at + 1).ToList();
        if (after.Count > 0)
            throw new NotSupportedException(
                $"The model has {Describe(after)} after the BackpropTransformer. ML.NET's ONNX converter cannot read this " +
                "library's output columns, so a transform after the network cannot be exported with it. Export the part of the " +
                "chain that ends with the BackpropTransformer and apply the rest to the graph's outputs where you serve it (for " +
                "multiclass, PredictedLabel in the graph is the 0-based class index: the key's value is the label's " +
                "KeyValues at that index).");
        var prefix = steps.Take(at).ToArray();

        // The network must accept what the transforms before it produce: this throws naming the column if not.
        var featurized = prefix.Length == 0 ? inputData.Schema : new TransformerChain<ITransformer>(prefix).GetOutputSchema(inputData.Schema);
        network.GetOutputSchema(featurized);

        var metadata = new Dictionary<string, string> { [Persistence.SavedModelInfo.Key] = Persistence.SavedModelInfo.From(network).ToJson() };
        var composed = prefix.Length == 0
            ? OnnxExport.Write(network.Model, OnnxExport.Standard(network.FeatureColumnName), OnnxLayout.Batch, metadata)
            : Compose(ConvertPrefix(prefix, inputData, network.FeatureColumnName), network, metadata);
        PipelineOnnxCheck.Check(composed, model, network.Task, inputData);
        return composed;
    }

    /// <summary>Steps of <paramref name="model"/> in order, nested chains opened.</summary>
    private static void Flatten(ITransformer model, List<ITransformer> steps)
    {
        if (model is IEnumerable<ITransformer> chain)
            foreach (var t in chain) Flatten(t, steps);
        else
            steps.Add(model);
    }

    private static string Describe(IEnumerable<ITransformer> steps) => string.Join(", ", steps.Select(t => t.GetType().Name));

    /// <summary>ML.NET's export of the transforms before the network, with the feature column as its only wanted output.</summary>
    private static byte[] ConvertPrefix(ITransformer[] prefix, IDataView inputData, string featureColumnName)
    {
        // A context of our own, so that the converter's warnings can be read without touching the caller's log.
        var converter = new MLContext();
        var warnings = new List<string>();
        converter.Log += (_, e) =>
        {
            if (e.Kind == ChannelMessageKind.Warning)
                lock (warnings) warnings.Add(e.RawMessage);
        };
        byte[] bytes;
        try
        {
            using var stream = new MemoryStream();
            converter.Model.ConvertToOnnx(new TransformerChain<ITransformer>(prefix), inputData, stream, featureColumnName);
            bytes = stream.ToArray();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new NotSupportedException(
                $"ML.NET's ONNX converter could not export the transforms before the BackpropTransformer ({Describe(prefix)}): " +
                $"{e.Message}", e);
        }
        string? stop;
        lock (warnings) stop = warnings.FirstOrDefault(w => w.Contains(ConverterStopWarning, StringComparison.Ordinal));
        if (stop is not null)
            throw new NotSupportedException(
                $"ML.NET's ONNX converter cannot export every transform before the BackpropTransformer ({Describe(prefix)}): it " +
                $"says \"{stop}\" and would leave that transform out, so the graph would compute different features than " +
                "Transform does. Nothing was written.");
        return bytes;
    }

    private sealed record Node(byte[] Bytes, string[] Inputs, string[] Outputs);

    private sealed record Named(byte[] Bytes, string Name);

    /// <summary>The parts of a ModelProto and its GraphProto that composition needs (everything else is not carried over).</summary>
    private sealed class Parsed
    {
        public long IrVersion;
        public readonly List<(string Domain, long Version)> Opsets = [];
        public readonly List<Node> Nodes = [];
        public readonly List<Named> Initializers = [];
        public readonly List<Named> Inputs = [];
        public readonly List<Named> Outputs = [];
        public readonly List<byte[]> Metadata = [];
    }

    private static Parsed Parse(byte[] model)
    {
        var p = new Parsed();
        var r = new ProtoReader(model);
        while (r.Next())
        {
            switch (r.Field)
            {
                case ModelField.IrVersion when r.WireType == 0: p.IrVersion = r.Int64(); break;
                case ModelField.OpsetImport when r.WireType == LengthDelimited:
                {
                    var o = new ProtoReader(r.Bytes());
                    string domain = "";
                    long version = 0;
                    while (o.Next())
                    {
                        if (o.Field == OpsetField.Domain && o.WireType == LengthDelimited) domain = o.String();
                        else if (o.Field == OpsetField.Version && o.WireType == 0) version = o.Int64();
                        else o.Skip();
                    }
                    p.Opsets.Add((domain, version));
                    break;
                }
                case ModelField.MetadataProps when r.WireType == LengthDelimited: p.Metadata.Add(r.Bytes().ToArray()); break;
                case ModelField.Graph when r.WireType == LengthDelimited: ParseGraph(r.Bytes(), p); break;
                default: r.Skip(); break;
            }
        }
        return p;
    }

    private static void ParseGraph(ReadOnlySpan<byte> graph, Parsed p)
    {
        var g = new ProtoReader(graph);
        while (g.Next())
        {
            if (g.WireType != LengthDelimited)
            {
                g.Skip();
                continue;
            }
            switch (g.Field)
            {
                case GraphField.Node:
                {
                    var bytes = g.Bytes();
                    var inputs = new List<string>();
                    var outputs = new List<string>();
                    var n = new ProtoReader(bytes);
                    while (n.Next())
                    {
                        if (n.Field == NodeField.Input && n.WireType == LengthDelimited) inputs.Add(n.String());
                        else if (n.Field == NodeField.Output && n.WireType == LengthDelimited) outputs.Add(n.String());
                        else n.Skip();
                    }
                    p.Nodes.Add(new Node(bytes.ToArray(), [.. inputs], [.. outputs]));
                    break;
                }
                case GraphField.Initializer:
                {
                    var bytes = g.Bytes();
                    p.Initializers.Add(new Named(bytes.ToArray(), NameOf(bytes, TensorField.Name)));
                    break;
                }
                case GraphField.Input:
                case GraphField.Output:
                {
                    var field = g.Field;
                    var bytes = g.Bytes();
                    (field == GraphField.Input ? p.Inputs : p.Outputs).Add(new Named(bytes.ToArray(), NameOf(bytes, ValueInfoField.Name)));
                    break;
                }
                default: g.Skip(); break;
            }
        }
    }

    private static string NameOf(ReadOnlySpan<byte> message, int field)
    {
        var r = new ProtoReader(message);
        string name = "";
        while (r.Next())
        {
            if (r.Field == field && r.WireType == LengthDelimited) name = r.String();
            else r.Skip();
        }
        return name;
    }

    /// <summary>Copies <paramref name="message"/> with each string of the given fields passed through <paramref name="rename"/>.</summary>
    private static ProtoWriter Rename(ReadOnlySpan<byte> message, Func<string, string> rename, params int[] fields)
    {
        var w = new ProtoWriter();
        var r = new ProtoReader(message);
        while (r.Next())
        {
            if (r.WireType == LengthDelimited && fields.Contains(r.Field)) w.String(r.Field, rename(r.String()));
            else r.CopyTo(w);
        }
        return w;
    }

    private static byte[] Compose(byte[] featurizerBytes, BackpropTransformer network, IReadOnlyDictionary<string, string> metadata)
    {
        var featurizer = Parse(featurizerBytes);
        string feature = network.FeatureColumnName;
        string wired = featurizer.Outputs.Select(o => o.Name).FirstOrDefault(n => n == feature + ConverterOutputSuffix)
            ?? throw new InvalidOperationException(
                $"ML.NET's ONNX converter wrote no graph output for the feature column '{feature}' (its outputs: " +
                $"{string.Join(", ", featurizer.Outputs.Select(o => o.Name))}), so the network cannot be wired to it.");

        // Keep only what the feature column needs (the converter also exports e.g. the label's mapping).
        var needed = new HashSet<string> { wired };
        var kept = new List<Node>();
        for (int i = featurizer.Nodes.Count - 1; i >= 0; i--)
        {
            var node = featurizer.Nodes[i];
            if (!node.Outputs.Any(needed.Contains)) continue;
            kept.Add(node);
            foreach (var input in node.Inputs) if (input.Length > 0) needed.Add(input);
        }
        kept.Reverse();
        var keptInputs = featurizer.Inputs.Where(v => needed.Contains(v.Name)).ToList();
        var keptInitializers = featurizer.Initializers.Where(t => needed.Contains(t.Name)).ToList();
        var used = new HashSet<string>(needed);
        foreach (var node in kept) foreach (var o in node.Outputs) used.Add(o);

        var outputNames = network.Model.Head.ColumnNames;
        foreach (var name in outputNames)
            if (used.Contains(name))
                throw new NotSupportedException(
                    $"The featurization's ONNX graph already has a value named '{name}' (an input column of that name?), the " +
                    $"name of the network's output column; rename that column before the BackpropTransformer.");

        long defaultOpset = featurizer.Opsets.Where(o => o.Domain == "").Select(o => o.Version).DefaultIfEmpty(OnnxExport.Opset).Max();
        if (defaultOpset > OnnxExport.Opset)
            throw new NotSupportedException(
                $"ML.NET's ONNX converter wrote opset {defaultOpset}; the network's graph is written for opsets {OnnxExport.OldestOpset} to {OnnxExport.Opset}.");
        int opset = (int)Math.Max(defaultOpset, OnnxExport.OldestOpset);
        var networkModel = Parse(OnnxExport.Write(network.Model, OnnxExport.Standard(wired), OnnxLayout.Batch, metadata, opset));

        // The network's own values get a prefix that no name of the featurization starts with.
        var allNames = new HashSet<string>(used);
        foreach (var v in featurizer.Inputs.Concat(featurizer.Initializers)) allNames.Add(v.Name);
        string stem = "mlnetbackprop/";
        for (int k = 1; allNames.Any(n => n.StartsWith(stem, StringComparison.Ordinal)); k++) stem = $"mlnetbackprop{k}/";
        var keep = new HashSet<string>(outputNames) { wired };
        string Local(string name) => name.Length == 0 || keep.Contains(name) ? name : stem + name;

        var graph = new ProtoWriter();
        foreach (var node in kept) graph.Bytes(GraphField.Node, node.Bytes);
        foreach (var node in networkModel.Nodes)
            graph.Message(GraphField.Node, Rename(node.Bytes, Local, NodeField.Input, NodeField.Output, NodeField.Name));
        graph.String(GraphField.Name, "mlnetbackprop");
        foreach (var t in keptInitializers) graph.Bytes(GraphField.Initializer, t.Bytes);
        foreach (var t in networkModel.Initializers) graph.Message(GraphField.Initializer, Rename(t.Bytes, Local, TensorField.Name));
        foreach (var v in keptInputs) graph.Bytes(GraphField.Input, v.Bytes);
        foreach (var v in networkModel.Outputs) graph.Bytes(GraphField.Output, v.Bytes);

        var result = new ProtoWriter()
            .Int(ModelField.IrVersion, Math.Max(featurizer.IrVersion, OnnxExport.IrVersion))
            .String(ModelField.ProducerName, "MLNetBackprop")
            .String(ModelField.ProducerVersion, typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "1.0.0")
            .String(ModelField.Domain, "mlnetbackprop")
            .Int(ModelField.ModelVersion, 1)
            .String(ModelField.DocString,
                $"The featurization as exported by ML.NET's ONNX converter, then a multi-layer perceptron " +
                $"{string.Join("-", network.Model.Network.LayerSizes)} ({network.Task}) trained by backpropagation.")
            .Message(ModelField.Graph, graph);
        foreach (var (domain, version) in featurizer.Opsets.Where(o => o.Domain != ""))
            result.Message(ModelField.OpsetImport, new ProtoWriter().String(OpsetField.Domain, domain).Int(OpsetField.Version, version));
        result.Message(ModelField.OpsetImport, new ProtoWriter().String(OpsetField.Domain, "").Int(OpsetField.Version, opset));
        foreach (var entry in networkModel.Metadata) result.Bytes(ModelField.MetadataProps, entry);
        return result.ToArray();
    }
}
