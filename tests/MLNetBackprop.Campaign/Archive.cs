using System.IO.Compression;
using MLNetBackprop.Persistence;

namespace MLNetBackprop.Campaign;

/// <summary>Reads and edits saved models as zip archives in memory, for crafted files.</summary>
public static class Archive
{
    /// <summary>The content and full name of the first entry whose name matches.</summary>
    public static (byte[] Content, string Name) Entry(byte[] archive, Func<string, bool> which)
    {
        using var zip = new ZipArchive(new MemoryStream(archive, writable: false), ZipArchiveMode.Read);
        var entry = zip.Entries.First(e => which(e.FullName));
        using var s = entry.Open();
        using var m = new MemoryStream();
        s.CopyTo(m);
        return (m.ToArray(), entry.FullName);
    }

    /// <summary>
    /// A copy of the archive with entry <paramref name="name"/> replaced (or added) by what <paramref name="write"/> writes,
    /// and the library's manifest computed anew for the changed archive, as a crafter would: the manifest catches
    /// corruption, not intent, so the checks behind it must hold on their own.
    /// </summary>
    public static byte[] WithEntry(byte[] archive, string name, Action<Stream> write, CompressionLevel level = CompressionLevel.Optimal)
    {
        var buffer = new MemoryStream();
        buffer.Write(archive);
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Update, leaveOpen: true))
        {
            zip.GetEntry(name)?.Delete();
            zip.GetEntry(ModelArchive.ManifestName)?.Delete();
            using var w = zip.CreateEntry(name, level).Open();
            write(w);
        }
        ModelArchive.AddManifest(buffer);
        return buffer.ToArray();
    }

    /// <summary>An OnnxModel entry: the ONNX bytes after their length, as ML.NET writes them.</summary>
    public static byte[] OnnxEntry(byte[] onnx)
    {
        var bytes = new byte[onnx.Length + 4];
        BitConverter.TryWriteBytes(bytes, onnx.Length);
        onnx.CopyTo(bytes, 4);
        return bytes;
    }
}
