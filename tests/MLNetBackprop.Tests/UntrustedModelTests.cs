using System.IO.Compression;
using System.Text;
using Microsoft.ML;
using MLNetBackprop.Onnx;
using MLNetBackprop.Persistence;

namespace MLNetBackprop.Tests;

/// <summary>
/// The whole saved pipeline is verified (not only the network), and crafted files fail fast with bounded memory:
/// sizes claimed in a file are checked against the data present before anything is allocated.
/// </summary>
[Collection(PersistenceHarness.Collection)]
public sealed class UntrustedModelTests(PersistenceHarness harness) : IDisposable
{
    private readonly string _folder = PersistenceHarness.NewFolder();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string SaveWithManifest(string task = "binary")
    {
        var c = harness.Get(task);
        string path = Path.Combine(_folder, $"{task}.zip");
        c.Ml.Backprop().SaveModel(c.Model, c.Data.Schema, path);
        return path;
    }

    private static byte[] EntryOf(string path, Func<string, bool> which, out string name)
    {
        using var zip = ZipFile.OpenRead(path);
        var entry = zip.Entries.First(e => which(e.FullName));
        name = entry.FullName;
        using var s = entry.Open();
        using var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    }

    /// <summary>
    /// A copy of the model at <paramref name="source"/> with one entry replaced (or added). With
    /// <paramref name="validManifest"/> the manifest is written anew for the changed archive, as a crafter would: the
    /// manifest catches corruption, not intent, so the checks behind it must hold on their own.
    /// </summary>
    private string WithEntry(string source, string copyName, string entryName, Action<Stream> write,
        CompressionLevel level = CompressionLevel.Optimal, bool validManifest = false)
    {
        string path = Path.Combine(_folder, copyName);
        File.Copy(source, path);
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Update))
        {
            zip.GetEntry(entryName)?.Delete();
            using var w = zip.CreateEntry(entryName, level).Open();
            write(w);
        }
        if (validManifest) RewriteManifest(path);
        return path;
    }

    private static void RewriteManifest(string path)
    {
        var archive = new MemoryStream();
        archive.Write(File.ReadAllBytes(path));
        using (var zip = new ZipArchive(archive, ZipArchiveMode.Update, leaveOpen: true))
            zip.GetEntry(ModelArchive.ManifestName)?.Delete();
        ModelArchive.AddManifest(archive);
        File.WriteAllBytes(path, archive.ToArray());
    }

    private static InvalidDataException AssertRejected(string path, string because)
    {
        var e = Assert.Throws<InvalidDataException>(() => new MLContext().Backprop().LoadModel(path, out _));
        Assert.Contains(path, e.Message);
        Assert.Contains(because, e.Message, StringComparison.OrdinalIgnoreCase);
        return e;
    }

    /// <summary>Bytes this thread allocated while <paramref name="load"/> ran.</summary>
    private static long Allocated(Action load)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        load();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void SaveModel_WritesAManifestThatPlainModelLoadIgnores()
    {
        var c = harness.Get("multiclass");
        string path = SaveWithManifest("multiclass");
        var manifest = Encoding.UTF8.GetString(EntryOf(path, n => n == ModelArchive.ManifestName, out _));
        using (var zip = ZipFile.OpenRead(path))
            foreach (var entry in zip.Entries.Where(e => e.FullName != ModelArchive.ManifestName && !e.FullName.EndsWith('/')))
                Assert.Contains($"\"{entry.FullName}\"", manifest);

        // ML.NET's own loader reads the file as before: same outputs as the in-memory model (within ONNX Runtime's arithmetic).
        var plain = new MLContext().Model.Load(path, out _);
        var expected = PersistenceHarness.Rows(c.Model.Transform(c.Data), "multiclass");
        var actual = PersistenceHarness.Rows(plain.Transform(c.Data), "multiclass");
        Assert.Equal(expected.Count, actual.Count);
        (plain as IDisposable)?.Dispose();
        var verified = new MLContext().Backprop().LoadModel(path, out _);
        Assert.Equal(expected, PersistenceHarness.Rows(verified.Transform(c.Data), "multiclass"));
        (verified as IDisposable)?.Dispose();
    }

    /// <summary>A file saved with plain Model.Save has no manifest: it loads, and the log says what was not verified.</summary>
    [Fact]
    public void AFileWithoutTheManifest_Loads_AndTheLogSaysItsOtherTransformsAreNotVerified()
    {
        var c = harness.Get("binary");
        string plainSaved = Path.Combine(_folder, "plain.zip");
        c.Ml.Model.Save(c.Model, c.Data.Schema, plainSaved);
        string withManifest = SaveWithManifest();
        foreach (var (path, expectNote) in new[] { (plainSaved, true), (withManifest, false) })
        {
            var ml = new MLContext();
            var messages = new List<string>();
            ml.Log += (_, e) => { lock (messages) messages.Add(e.Message); };
            var loaded = ml.Backprop().LoadModel(path, out _);
            Assert.Equal(PersistenceHarness.Rows(c.Model.Transform(c.Data), "binary"), PersistenceHarness.Rows(loaded.Transform(c.Data), "binary"));
            Assert.Equal(expectNote, messages.Any(m => m.Contains("no MLNetBackprop manifest", StringComparison.Ordinal) && m.Contains(path, StringComparison.Ordinal)));
        }
    }

    /// <summary>
    /// One bit changed in the normalizer (outside the network, so the weights' SHA-256 cannot see it): ML.NET's
    /// Model.Load serves the changed pipeline silently; LoadModel refuses it by the manifest and names the entry.
    /// </summary>
    [Fact]
    public void AChangeOutsideTheNetwork_IsRefusedByLoadModel_ThoughPlainModelLoadServesIt()
    {
        var c = harness.Get("binary");
        string good = SaveWithManifest();
        var normalizer = EntryOf(good, n => n.Contains("Normaliz", StringComparison.OrdinalIgnoreCase) && n.EndsWith("Model.key"), out var name);
        var original = PersistenceHarness.Rows(c.Model.Transform(c.Data), "binary");
        // The first bit flip, scanning from the middle of the entry, that ML.NET loads without complaint (the model file
        // is the same on every run, so this is the same flip every time).
        string? path = null;
        for (int at = normalizer.Length / 2; at < normalizer.Length && path is null; at++)
        {
            var changed = (byte[])normalizer.Clone();
            changed[at] ^= 0x10;
            string candidate = WithEntry(good, $"changed-{at}.zip", name, s => s.Write(changed));
            ITransformer plain;
            try
            {
                plain = new MLContext().Model.Load(candidate, out _);
            }
            catch (Exception)
            {
                continue;
            }
            var scored = PersistenceHarness.Rows(plain.Transform(c.Data), "binary");
            if (!original.Zip(scored).All(p => p.First.SequenceEqual(p.Second))) path = candidate;
            (plain as IDisposable)?.Dispose();
        }
        Assert.NotNull(path); // ML.NET's own loader served a changed pipeline silently

        var e = AssertRejected(path, "does not match its SHA-256");
        Assert.Contains(name, e.Message);
    }

    [Fact]
    public void AnEntryAddedOrRemovedAfterSaving_IsRefused()
    {
        string good = SaveWithManifest();
        AssertRejected(WithEntry(good, "added.zip", "Extra/Model.key", s => s.Write("x"u8)), "not listed in the manifest");

        string removed = Path.Combine(_folder, "removed.zip");
        File.Copy(good, removed);
        using (var zip = ZipFile.Open(removed, ZipArchiveMode.Update))
            zip.Entries.First(e => e.FullName.EndsWith("Schema", StringComparison.Ordinal) || e.FullName.EndsWith("Model.key", StringComparison.Ordinal)
                && !e.FullName.Contains("Onnx", StringComparison.OrdinalIgnoreCase) && e.FullName.Contains('/')).Delete();
        AssertRejected(removed, "is missing");
    }

    /// <summary>
    /// A zip bomb: an entry of 512 MiB of zeros deflates to half a megabyte. The loader stops at its inflate budget
    /// (64 MiB + 16 × the file size) with a clear error, having allocated far less than the bomb's size.
    /// </summary>
    [Fact]
    public void AZipBombEntry_FailsAtTheInflateBudget_WithBoundedMemory()
    {
        string good = SaveWithManifest();
        var zeros = new byte[1 << 20];
        string bomb = WithEntry(good, "bomb.zip", "Bomb/Model.key", s =>
        {
            for (int i = 0; i < 512; i++) s.Write(zeros);
        }, CompressionLevel.SmallestSize, validManifest: true);
        long fileLength = new FileInfo(bomb).Length;
        Assert.True(fileLength < 8 << 20, $"the bomb file is {fileLength} bytes");
        long allocated = Allocated(() => AssertRejected(bomb, "inflate"));
        Assert.True(allocated < 4 * fileLength + ModelArchive.InflateBudget(fileLength) * 2,
            $"allocated {allocated:N0} bytes for a {fileLength:N0}-byte file");
        Assert.True(allocated < 300L << 20, $"allocated {allocated:N0} bytes");
    }

    /// <summary>
    /// A description that claims a network of 10⁵ × 10⁵ × 10⁵ units (4·10¹⁰ bytes of weights) over the real, small
    /// initializers: refused from the sizes before the network is allocated.
    /// </summary>
    [Fact]
    public void ADescriptionClaimingAHugeNetwork_IsRefusedBeforeAllocating()
    {
        string good = SaveWithManifest();
        var content = EntryOf(good, n => n.EndsWith("/OnnxModel", StringComparison.Ordinal), out var name);
        var onnx = content.AsSpan(4).ToArray();
        string json = OnnxModelReader.Read(onnx).Metadata[SavedModelInfo.Key];
        int at = json.IndexOf("\"LayerSizes\":[", StringComparison.Ordinal);
        string claimed = json[..at] + "\"LayerSizes\":[100000,100000,100000]" + json[(json.IndexOf(']', at) + 1)..];
        string path = WithEntry(good, "huge.zip", name, s => s.Write(Entry(WithMetadata(onnx, claimed))), validManifest: true);
        long allocated = Allocated(() => AssertRejected(path, "needs 10,000,000,000 weights"));
        Assert.True(allocated < 64L << 20, $"allocated {allocated:N0} bytes");
    }

    /// <summary>An OnnxModel entry: the ONNX bytes after their length, as ML.NET writes them.</summary>
    private static byte[] Entry(byte[] onnx)
    {
        var bytes = new byte[onnx.Length + 4];
        BitConverter.TryWriteBytes(bytes, onnx.Length);
        onnx.CopyTo(bytes, 4);
        return bytes;
    }

    /// <summary>The ONNX model with its metadata_props replaced by our description <paramref name="json"/>.</summary>
    private static byte[] WithMetadata(byte[] onnx, string json)
    {
        var w = new ProtoWriter();
        var r = new ProtoReader(onnx);
        while (r.Next())
        {
            if (r.Field == 14) { r.Skip(); continue; }
            if (r.WireType == 0) w.Int(r.Field, r.Int64());
            else w.Bytes(r.Field, r.Bytes());
        }
        w.Message(14, new ProtoWriter().String(1, SavedModelInfo.Key).String(2, json));
        return w.ToArray();
    }

    /// <summary>Protobuf lengths and tensor shapes that claim gigabytes the file does not hold.</summary>
    [Fact]
    public void ProtobufLengthsAndTensorShapesClaimingGigabytes_AreRefusedWithBoundedMemory()
    {
        string good = SaveWithManifest();
        var content = EntryOf(good, n => n.EndsWith("/OnnxModel", StringComparison.Ordinal), out var name);
        string json = OnnxModelReader.Read(content.AsSpan(4)).Metadata[SavedModelInfo.Key];

        // 1. The graph field claims 2 GiB: field 7, wire type 2, length varint 0x80000000, then a few bytes.
        byte[] longGraph = [0x3A, 0x80, 0x80, 0x80, 0x80, 0x08, 1, 2, 3];
        string p1 = WithEntry(good, "length.zip", name, s => s.Write(Entry(longGraph)), validManifest: true);
        long a1 = Allocated(() => AssertRejected(p1, "runs past the end"));

        // 2. A W0 initializer whose shape claims 2⁴⁰ × 2⁴⁰ floats over 16 bytes of data, and the real description.
        var tensor = new ProtoWriter().Int(1, 1L << 40).Int(1, 1L << 40).Int(2, 1).String(8, "W0").Bytes(9, new byte[16]);
        var graph = new ProtoWriter().String(2, "mlnetbackprop").Message(5, tensor);
        var model = new ProtoWriter().Int(1, 7).Message(7, graph)
            .Message(14, new ProtoWriter().String(1, SavedModelInfo.Key).String(2, json));
        string p2 = WithEntry(good, "shape.zip", name, s => s.Write(Entry(model.ToArray())), validManifest: true);
        long a2 = Allocated(() => AssertRejected(p2, "the file holds 4 and"));

        // 3. The entry's own length prefix claims more than the entry holds.
        var lying = (byte[])content.Clone();
        BitConverter.TryWriteBytes(lying, int.MaxValue);
        string p3 = WithEntry(good, "prefix.zip", name, s => s.Write(lying), validManifest: true);
        long a3 = Allocated(() => AssertRejected(p3, "truncated"));

        foreach (var allocated in new[] { a1, a2, a3 })
            Assert.True(allocated < 64L << 20, $"allocated {allocated:N0} bytes");
    }

    /// <summary>
    /// The ONNX graph is rebuilt from the weights and the description and must equal the saved bytes: a graph changed
    /// in a way the weights' checksum cannot see (here an activation node's operator) never reaches ONNX Runtime.
    /// </summary>
    [Fact]
    public void AChangedGraphWithTheRightWeights_IsRefused()
    {
        string good = SaveWithManifest();
        var content = EntryOf(good, n => n.EndsWith("/OnnxModel", StringComparison.Ordinal), out var name);
        // The node's op_type (field 4, "Tanh"), not the description's "Activations":["Tanh", …].
        var text = Encoding.Latin1.GetString(content);
        Assert.Contains("\x22\x04Tanh", text);
        var crafted = Encoding.Latin1.GetBytes(text.Replace("\x22\x04Tanh", "\x22\x04Relu"));
        string path = WithEntry(good, "graph.zip", name, s => s.Write(crafted));
        // The manifest sees the change first; with a manifest made anew for the changed file, the graph check does.
        AssertRejected(path, "does not match its SHA-256");
        RewriteManifest(path);
        AssertRejected(path, "not the one MLNetBackprop writes");
    }
}
