namespace MLNetBackprop.Onnx;

/// <summary>
/// The field numbers of onnx.proto (ONNX 1.x; IR version 7 and later keep them) that the export writes and the reader
/// reads, named as the .proto file names them, so that a line of the writer reads like the message it builds.
/// </summary>
internal static class OnnxFields
{
    /// <summary><c>ModelProto</c>.</summary>
    public static class Model
    {
        public const int IrVersion = 1, ProducerName = 2, ProducerVersion = 3, Domain = 4, ModelVersion = 5, DocString = 6,
            Graph = 7, OpsetImport = 8, MetadataProps = 14;
    }

    /// <summary><c>OperatorSetIdProto</c>.</summary>
    public static class OperatorSetId
    {
        public const int Domain = 1, Version = 2;
    }

    /// <summary><c>StringStringEntryProto</c> (a metadata entry).</summary>
    public static class StringStringEntry
    {
        public const int Key = 1, Value = 2;
    }

    /// <summary><c>GraphProto</c>.</summary>
    public static class Graph
    {
        public const int Node = 1, Name = 2, Initializer = 5, Input = 11, Output = 12;
    }

    /// <summary><c>NodeProto</c>.</summary>
    public static class Node
    {
        public const int Input = 1, Output = 2, Name = 3, OpType = 4, Attribute = 5;
    }

    /// <summary><c>AttributeProto</c>, with its <c>AttributeType</c> values.</summary>
    public static class Attribute
    {
        public const int Name = 1, F = 2, I = 3, Ints = 8, Type = 20;

        public const int TypeFloat = 1, TypeInt = 2, TypeInts = 7;
    }

    /// <summary><c>TensorProto</c>.</summary>
    public static class Tensor
    {
        public const int Dims = 1, DataType = 2, FloatData = 4, Name = 8, RawData = 9;
    }

    /// <summary><c>ValueInfoProto</c>, <c>TypeProto</c>, <c>TypeProto.Tensor</c>, <c>TensorShapeProto</c> and its <c>Dimension</c>.</summary>
    public static class ValueInfo
    {
        public const int Name = 1, Type = 2;

        public const int TypeTensorType = 1;

        public const int TensorElemType = 1, TensorShape = 2;

        public const int ShapeDim = 1;

        public const int DimValue = 1, DimParam = 2;
    }
}
