using System.Buffers.Binary;

namespace MLNetBackprop.Onnx;

/// <summary>Reads back what <see cref="OnnxExport"/> wrote: the metadata_props and the float initializers.</summary>
internal sealed class OnnxModelReader
{
    private OnnxModelReader(Dictionary<string, string> metadata, Dictionary<string, (long[] Dims, float[] Values)> initializers)
    {
        Metadata = metadata;
        Initializers = initializers;
    }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    public IReadOnlyDictionary<string, (long[] Dims, float[] Values)> Initializers { get; }

    /// <exception cref="InvalidDataException">The bytes are not a well-formed ONNX model.</exception>
    public static OnnxModelReader Read(ReadOnlySpan<byte> model)
    {
        var metadata = new Dictionary<string, string>();
        var initializers = new Dictionary<string, (long[], float[])>();
        bool hasGraph = false;
        var r = new ProtoReader(model);
        while (r.Next())
        {
            if (r.Field == OnnxFields.Model.MetadataProps && r.WireType == 2)
            {
                var entry = new ProtoReader(r.Bytes());
                string key = "", value = "";
                while (entry.Next())
                {
                    if (entry.Field == OnnxFields.StringStringEntry.Key && entry.WireType == 2) key = entry.String();
                    else if (entry.Field == OnnxFields.StringStringEntry.Value && entry.WireType == 2) value = entry.String();
                    else entry.Skip();
                }
                metadata[key] = value;
            }
            else if (r.Field == OnnxFields.Model.Graph && r.WireType == 2)
            {
                hasGraph = true;
                var graph = new ProtoReader(r.Bytes());
                while (graph.Next())
                {
                    if (graph.Field == OnnxFields.Graph.Initializer && graph.WireType == 2)
                    {
                        var (name, dims, values) = ReadTensor(graph.Bytes());
                        if (values is not null) initializers[name] = (dims, values);
                    }
                    else graph.Skip();
                }
            }
            else r.Skip();
        }
        if (!hasGraph) throw new InvalidDataException("The ONNX model has no graph.");
        return new OnnxModelReader(metadata, initializers);
    }

    private static (string Name, long[] Dims, float[]? Values) ReadTensor(ReadOnlySpan<byte> bytes)
    {
        var t = new ProtoReader(bytes);
        var dims = new List<long>();
        string name = "";
        long type = 0;
        float[]? raw = null;
        var floats = new List<float>();
        while (t.Next())
        {
            switch (t.Field, t.WireType)
            {
                case (OnnxFields.Tensor.Dims, 0): dims.Add(t.Int64()); break;
                case (OnnxFields.Tensor.DataType, 0): type = t.Int64(); break;
                case (OnnxFields.Tensor.Name, 2): name = t.String(); break;
                case (OnnxFields.Tensor.RawData, 2):
                {
                    var data = t.Bytes();
                    if (data.Length % 4 != 0) throw new InvalidDataException($"Tensor '{name}' has {data.Length} raw bytes, not a multiple of 4.");
                    raw = new float[data.Length / 4];
                    for (int i = 0; i < raw.Length; i++) raw[i] = BinaryPrimitives.ReadSingleLittleEndian(data.Slice(i * 4));
                    break;
                }
                case (OnnxFields.Tensor.FloatData, 2):
                {
                    var packed = t.Bytes();
                    for (int i = 0; i + 4 <= packed.Length; i += 4) floats.Add(BinaryPrimitives.ReadSingleLittleEndian(packed.Slice(i)));
                    break;
                }
                default: t.Skip(); break;
            }
        }
        return (name, dims.ToArray(), type == 1 ? raw ?? floats.ToArray() : null);
    }
}
