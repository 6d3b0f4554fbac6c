using System.Buffers.Binary;

namespace MLNetBackprop.Interop;

/// <summary>
/// How ML.NET's OnnxTransformer stores its model inside a saved ML.NET model, which ML.NET documents nowhere and the
/// loader reads by hand: an archive entry named <c>OnnxModel</c> (at the root, or under the transformer's folder in a
/// chain) holding the ONNX bytes behind a little-endian int32 length, as its SaveModel writes them with
/// <c>ctx.SaveBinaryStream("OnnxModel", w => w.WriteByteArray(...))</c>. Checked against ML.NET 5.0.1 and 6.0.0
/// (Microsoft.ML.OnnxTransformer, OnnxTransform.cs); the persistence tests and InteropTests pin it on the version in use.
/// The network goes through OnnxTransformer at all because a third-party transformer cannot save itself: ModelSaveContext's
/// members are internal (ML.NET issues #4911 and #6839, still open for 6.0.0); no issue documents the entry's layout.
/// </summary>
internal static class OnnxTransformerEntry
{
    /// <summary>The entry's name.</summary>
    public const string Name = "OnnxModel";

    /// <summary>Whether the archive entry <paramref name="entryName"/> is an OnnxTransformer's model.</summary>
    public static bool Is(string entryName) => entryName == Name || entryName.EndsWith("/" + Name, StringComparison.Ordinal);

    /// <summary>
    /// The ONNX bytes of the entry, and how many bytes follow them (none in a file ML.NET wrote); throws, naming the
    /// entry, when the length prefix is cut short or points past the end.
    /// </summary>
    public static (ReadOnlyMemory<byte> Onnx, int Trailing) Read(byte[] content, string entryName, string source)
    {
        if (content.Length < 4) throw new InvalidDataException($"{source}: the entry {entryName} is truncated.");
        int length = BinaryPrimitives.ReadInt32LittleEndian(content);
        if (length < 0 || length > content.Length - 4)
            throw new InvalidDataException($"{source}: the entry {entryName} is truncated ({content.Length - 4} of {length} bytes).");
        return (content.AsMemory(4, length), content.Length - 4 - length);
    }
}
