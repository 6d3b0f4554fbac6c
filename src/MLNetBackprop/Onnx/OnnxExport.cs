using MLNetBackprop.Core;
using MLNetBackprop.Core.Activations;

namespace MLNetBackprop.Onnx;

/// <summary>
/// Writes a trained network as an ONNX model (opset 13, IR version 7): per layer a Gemm (transB = 1) with the float
/// weights and biases as initializers, then the layer's activation (Sigmoid, Tanh, Relu, LeakyRelu alpha 0.01,
/// Identity, Softmax axis −1), then the task's post-processing. Only copies parameters into the graph: no arithmetic on
/// weights.
/// </summary>
/// <remarks>
/// Two layouts. <see cref="OnnxLayout.Batch"/> (the public export): input [N, D], outputs [N, ·]. <see cref="OnnxLayout.Row"/>
/// (embedded in saved ML.NET pipelines, which score one row per run): input [D] reshaped to [1, D], every float
/// output reshaped to a 1-D [k] so that ML.NET sees known-size vectors.
/// </remarks>
internal static class OnnxExport
{
    public const int Opset = 13;
    public const long IrVersion = 7;

    private const int Float = 1, Int64 = 7, Bool = 9;

    /// <summary>Output names of a model.</summary>
    public sealed record Names(string Input, string Score, string Probability, string PredictedLabel);

    /// <summary>The standard names of <see cref="OnnxLayout.Batch"/> exports.</summary>
    public static Names Standard(string featureColumnName) =>
        new(featureColumnName, OutputSchema.Score, OutputSchema.Probability, OutputSchema.PredictedLabel);

    /// <summary>The oldest opset <see cref="Write"/> can target: every operator it uses has had its present meaning since 9.</summary>
    public const int OldestOpset = 9;

    /// <summary>The network as an ONNX model.</summary>
    /// <param name="model">The trained network and its scaling.</param>
    /// <param name="names">The graph's input and output names.</param>
    /// <param name="layout">Batch or one-row shapes.</param>
    /// <param name="metadata">Metadata properties to store in the model.</param>
    /// <param name="opset">The default opset version to declare (and to write ReduceSum for: its axes became an input in
    /// 13); between <see cref="OldestOpset"/> and <see cref="Opset"/>. Older than 13 only when composed with ML.NET's own
    /// export, which writes at most opset 12.</param>
    public static byte[] Write(BackpropModelParameters model, Names names, OnnxLayout layout, IReadOnlyDictionary<string, string>? metadata = null,
        int opset = Opset)
    {
        if (opset is < OldestOpset or > Opset) throw new ArgumentOutOfRangeException(nameof(opset), opset, $"The opset must be {OldestOpset} to {Opset}.");
        var net = model.Network;
        int d = net.InputSize;
        bool row = layout == OnnxLayout.Row;
        var graph = new ProtoWriter();
        graph.String(OnnxFields.Graph.Name, "mlnetbackprop");
        var nodes = new List<ProtoWriter>();
        var initializers = new List<ProtoWriter>();
        int counter = 0;
        string Fresh(string stem) => $"{stem}_{counter++}";

        string x = names.Input;
        if (row)
        {
            initializers.Add(Int64Tensor("row_shape", [1, d]));
            string reshaped = Fresh("input_2d");
            nodes.Add(Node("Reshape", [x, "row_shape"], [reshaped]));
            x = reshaped;
        }

        string? logit = null;
        // The forward pass's layer list (the one training and scoring walk, see ForwardPass): per layer the product and the
        // bias as one Gemm, then the activation.
        foreach (var layer in net.Layers)
        {
            int l = layer.Index;
            string w = $"W{l}", b = $"B{l}";
            initializers.Add(FloatTensor(w, [layer.OutputSize, layer.InputSize], net.Weights(l)));
            initializers.Add(FloatTensor(b, [layer.OutputSize], net.Biases(l)));
            string z = Fresh($"z{l + 1}");
            nodes.Add(Node("Gemm", [x, w, b], [z], Attr.Int("transB", 1)));
            logit = z;
            var f = layer.Activation;
            string a = Fresh($"a{l + 1}");
            if (layer.IsOutput && f is Activation.Sigmoid or Activation.Softmax)
            {
                // The outputs are compared with the library's own to 1e-6 relative; ONNX Runtime's Sigmoid and Softmax
                // kernels use approximations that are off by up to ~1e-5 relative on small probabilities, its Exp is not.
                PreciseOutputActivation(f, z, a, nodes, initializers, Fresh, opset);
                x = a;
                continue;
            }
            // The activation's ONNX form from the core's table: one operator (softmax over the last axis, leaky ReLU with
            // its slope), times z for SiLU.
            var form = layer.Function.Onnx;
            string fa = form.TimesInput ? Fresh($"s{l + 1}") : a;
            nodes.Add(form switch
            {
                { Operator: "Softmax" } => Node("Softmax", [z], [fa], Attr.Int("axis", -1)),
                { Alpha: { } alpha } => Node(form.Operator, [z], [fa], Attr.Float("alpha", alpha)),
                _ => Node(form.Operator, [z], [fa]),
            });
            if (form.TimesInput) nodes.Add(Node("Mul", [z, fa], [a]));
            x = a;
        }

        var outputs = new List<ProtoWriter>();
        if (row) initializers.Add(Int64Tensor("flat_shape", [-1]));
        model.Head.WriteOnnxTail(new Tail(nodes, initializers, outputs, Fresh, row, names), model, logit!, x);

        foreach (var n in nodes) graph.Message(OnnxFields.Graph.Node, n);
        foreach (var t in initializers) graph.Message(OnnxFields.Graph.Initializer, t);
        graph.Message(OnnxFields.Graph.Input, ValueInfo(names.Input, Float, row ? [d] : ["N", d]));
        foreach (var o in outputs) graph.Message(OnnxFields.Graph.Output, o);

        var modelProto = new ProtoWriter()
            .Int(OnnxFields.Model.IrVersion, IrVersion)
            .String(OnnxFields.Model.ProducerName, "MLNetBackprop")
            .String(OnnxFields.Model.ProducerVersion, typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "1.0.0")
            .String(OnnxFields.Model.Domain, "mlnetbackprop")
            .Int(OnnxFields.Model.ModelVersion, 1)
            .String(OnnxFields.Model.DocString, $"Multi-layer perceptron {string.Join("-", net.LayerSizes)} ({model.Task}) trained by backpropagation.")
            .Message(OnnxFields.Model.Graph, graph)
            .Message(OnnxFields.Model.OpsetImport, new ProtoWriter().String(OnnxFields.OperatorSetId.Domain, "").Int(OnnxFields.OperatorSetId.Version, opset));
        if (metadata is not null)
            foreach (var (key, value) in metadata)
                modelProto.Message(OnnxFields.Model.MetadataProps, new ProtoWriter().String(OnnxFields.StringStringEntry.Key, key).String(OnnxFields.StringStringEntry.Value, value));
        return modelProto.ToArray();
    }

    /// <summary>
    /// The graph after the last layer, for the task's head to append its outputs to
    /// (<see cref="Heads.TaskHead.WriteOnnxTail"/>): Score, and Probability and PredictedLabel where the task has them.
    /// </summary>
    internal sealed class Tail(List<ProtoWriter> nodes, List<ProtoWriter> initializers, List<ProtoWriter> outputs, Func<string, string> fresh,
        bool row, Names names)
    {
        public Names Names => names;

        /// <summary>A value name not used before in the graph.</summary>
        public string Fresh(string stem) => fresh(stem);

        public void Node(string op, string[] inputs, string output) => nodes.Add(OnnxExport.Node(op, inputs, [output]));

        public void FloatConstant(string name, long[] dims, ReadOnlySpan<float> values) => initializers.Add(FloatTensor(name, dims, values));

        /// <summary>Emits <paramref name="value"/> (a [1|N, width] tensor) as the graph output <paramref name="name"/>.</summary>
        public void FloatOutput(string value, string name, int width) => Output(value, name, Float, width);

        /// <summary>Emits the Boolean [1|N, 1] tensor <paramref name="value"/> as the graph output <paramref name="name"/>.</summary>
        public void BoolOutput(string value, string name) => Output(value, name, Bool, 1);

        // One row per run: reshaped to 1-D [width]; a batch: [N, width] as it is.
        private void Output(string value, string name, int elemType, int width)
        {
            if (row)
            {
                nodes.Add(OnnxExport.Node("Reshape", [value, "flat_shape"], [name]));
                outputs.Add(ValueInfo(name, elemType, [width]));
            }
            else
            {
                nodes.Add(OnnxExport.Node("Identity", [value], [name]));
                outputs.Add(ValueInfo(name, elemType, ["N", width]));
            }
        }

        /// <summary>Emits the index of the largest of each row of <paramref name="value"/> (Int64) as the graph output <paramref name="name"/>.</summary>
        public void ArgMaxOutput(string value, string name)
        {
            nodes.Add(OnnxExport.Node("ArgMax", [value], [name], Attr.Int("axis", 1), Attr.Int("keepdims", 0)));
            outputs.Add(ValueInfo(name, Int64, row ? [1] : ["N"]));
        }
    }

    /// <summary>Sigmoid as 1 / (1 + exp(−z)); softmax as exp(z − max z) / Σ exp(z − max z) over the last axis.</summary>
    private static void PreciseOutputActivation(Activation f, string z, string a, List<ProtoWriter> nodes, List<ProtoWriter> initializers,
        Func<string, string> fresh, int opset)
    {
        if (f == Activation.Sigmoid)
        {
            initializers.Add(FloatTensor("one", [], [1f]));
            string neg = fresh("neg"), exp = fresh("exp"), denominator = fresh("denominator");
            nodes.Add(Node("Neg", [z], [neg]));
            nodes.Add(Node("Exp", [neg], [exp]));
            nodes.Add(Node("Add", [exp, "one"], [denominator]));
            nodes.Add(Node("Reciprocal", [denominator], [a]));
        }
        else
        {
            string max = fresh("max"), shifted = fresh("shifted"), exp = fresh("exp"), sum = fresh("sum");
            nodes.Add(Node("ReduceMax", [z], [max], Attr.Ints("axes", [-1]), Attr.Int("keepdims", 1)));
            nodes.Add(Node("Sub", [z, max], [shifted]));
            nodes.Add(Node("Exp", [shifted], [exp]));
            if (opset >= 13)
            {
                initializers.Add(Int64Tensor("last_axis", [-1]));
                nodes.Add(Node("ReduceSum", [exp, "last_axis"], [sum], Attr.Int("keepdims", 1)));
            }
            else
            {
                // Before opset 13 ReduceSum takes its axes as an attribute, as ReduceMax still does.
                nodes.Add(Node("ReduceSum", [exp], [sum], Attr.Ints("axes", [-1]), Attr.Int("keepdims", 1)));
            }
            nodes.Add(Node("Div", [exp, sum], [a]));
        }
    }

    private static ProtoWriter Node(string op, string[] inputs, string[] outputs, params ProtoWriter[] attributes)
    {
        var n = new ProtoWriter();
        foreach (var i in inputs) n.String(OnnxFields.Node.Input, i);
        foreach (var o in outputs) n.String(OnnxFields.Node.Output, o);
        n.String(OnnxFields.Node.Name, $"{op}_{outputs[0]}");
        n.String(OnnxFields.Node.OpType, op);
        foreach (var a in attributes) n.Message(OnnxFields.Node.Attribute, a);
        return n;
    }

    private static class Attr
    {
        public static ProtoWriter Int(string name, long value) => new ProtoWriter().String(OnnxFields.Attribute.Name, name).Int(OnnxFields.Attribute.I, value).Int(OnnxFields.Attribute.Type, OnnxFields.Attribute.TypeInt);
        public static ProtoWriter Float(string name, float value) => new ProtoWriter().String(OnnxFields.Attribute.Name, name).Float(OnnxFields.Attribute.F, value).Int(OnnxFields.Attribute.Type, OnnxFields.Attribute.TypeFloat);

        public static ProtoWriter Ints(string name, long[] values)
        {
            var w = new ProtoWriter().String(OnnxFields.Attribute.Name, name);
            foreach (var v in values) w.Int(OnnxFields.Attribute.Ints, v);
            return w.Int(OnnxFields.Attribute.Type, OnnxFields.Attribute.TypeInts);
        }
    }

    private static ProtoWriter FloatTensor(string name, long[] dims, ReadOnlySpan<float> values)
    {
        var t = new ProtoWriter();
        foreach (var d in dims) t.Int(OnnxFields.Tensor.Dims, d);
        t.Int(OnnxFields.Tensor.DataType, Float).String(OnnxFields.Tensor.Name, name);
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return t.Bytes(OnnxFields.Tensor.RawData, bytes);
    }

    private static ProtoWriter Int64Tensor(string name, long[] values)
    {
        var t = new ProtoWriter().Int(OnnxFields.Tensor.Dims, values.Length).Int(OnnxFields.Tensor.DataType, Int64).String(OnnxFields.Tensor.Name, name);
        var bytes = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++)
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 8), values[i]);
        return t.Bytes(OnnxFields.Tensor.RawData, bytes);
    }

    /// <summary>A tensor-typed value: each dimension an int (fixed size) or a string (symbolic, e.g. the batch "N").</summary>
    private static ProtoWriter ValueInfo(string name, int elemType, object[] dims)
    {
        var shape = new ProtoWriter();
        foreach (var dim in dims)
            shape.Message(OnnxFields.ValueInfo.ShapeDim, dim is string p
                ? new ProtoWriter().String(OnnxFields.ValueInfo.DimParam, p)
                : new ProtoWriter().Int(OnnxFields.ValueInfo.DimValue, Convert.ToInt64(dim)));
        var tensor = new ProtoWriter().Int(OnnxFields.ValueInfo.TensorElemType, elemType).Message(OnnxFields.ValueInfo.TensorShape, shape);
        return new ProtoWriter().String(OnnxFields.ValueInfo.Name, name)
            .Message(OnnxFields.ValueInfo.Type, new ProtoWriter().Message(OnnxFields.ValueInfo.TypeTensorType, tensor));
    }
}

/// <summary>How an exported graph lays out rows.</summary>
internal enum OnnxLayout
{
    /// <summary>Input [N, D]; outputs [N, ·].</summary>
    Batch,

    /// <summary>One row per run: input [D]; outputs 1-D.</summary>
    Row,
}
