using System.Globalization;
using System.IO.Compression;
using System.Text;
using Microsoft.ML;
using MLNetBackprop.Onnx;
using MLNetBackprop.Persistence;

namespace MLNetBackprop.Campaign.Categories;

/// <summary>
/// Category 3: a saved model (breast cancer: imputation, normalizer and our binary trainer; iris: our multiclass
/// trainer between key mappings), truncated at random offsets, with one random byte or one random bit changed, and
/// crafted (a zip bomb entry, a description claiming a huge network, protobuf lengths and tensor shapes claiming
/// gigabytes, a lying length prefix, a changed graph), each through every load path. Correct: every score equals the
/// reference load of the unmodified file through the same path, bit for bit (within 1e-5 relative for ML.NET's
/// Model.Load, which runs the network in ONNX Runtime). Crafted files get a freshly computed, valid manifest.
/// </summary>
public sealed class ModelFiles : Category
{
    private const string LoadPath = "LoadModel(path)";
    private const string LoadStream = "LoadModel(stream)";
    private const string Service = "DI prediction service";
    private const string MLNetLoad = "Model.Load";

    private static readonly string[] Kinds = ["truncated", "byte flip", "bit flip", "crafted"];
    private static readonly string[] Paths = [LoadPath, LoadStream, Service, MLNetLoad];

    private static readonly Type[] Documented = [typeof(InvalidDataException), typeof(FileNotFoundException), typeof(TimeoutException)]; // TimeoutException: the DI service's load timeout

    /// <summary>A load and scoring of a model file of a few KB takes well under a second (about 50 ms); 10 s is a hang.</summary>
    private static readonly TimeSpan LoadTimeout = TimeSpan.FromSeconds(10);

    /// <inheritdoc/>
    public override string Name => "files";

    /// <inheritdoc/>
    public override string Title => "Model files truncated, flipped (one byte, one bit) and crafted, through every load path";

    /// <inheritdoc/>
    public override IReadOnlyList<RowSpec> Rows { get; } =
        [.. Kinds.SelectMany(k => Paths.Select(p => new RowSpec(Row(k, p), p == MLNetLoad ? Owner.MLNet : Owner.Library)))];

    private static string Row(string kind, string path) => $"{kind}: {path}";

    /// <summary>A model file's reference scores through each path, from the unmodified file.</summary>
    private sealed record References(List<double[]> Library, List<double[]> Service, List<double[]> MLNet);

    /// <inheritdoc/>
    public override IReadOnlyList<Trial> Prepare(CampaignContext context)
    {
        var trials = new List<Trial>();
        foreach (var c in new[] { ModelCase.Binary(), ModelCase.Multiclass() })
        {
            string basePath = Path.Combine(context.WorkFolder, $"{c.Task}.zip");
            if (!File.Exists(basePath)) c.Save(basePath); // kept across restarts, so every offset means the same byte
            var original = File.ReadAllBytes(basePath);
            var refs = ReferencesOf(c, basePath);
            CampaignContext.Log($"files: {c.Task} model, {original.Length:N0} bytes.");
            string file = Path.Combine(context.WorkFolder, $"trial-{c.Task}.zip");

            void Add(string kind, string description, Func<byte[]> make, bool measure = false)
            {
                var bytes = new Lazy<byte[]>(make);
                foreach (var path in Paths)
                {
                    string row = Row(kind, path);
                    string what = $"{c.Task} model, {description}, {path}";
                    trials.Add(new Trial(row, what, () => Load(c, refs, path, file, bytes.Value, row, what, measure), LoadTimeout));
                }
            }

            var rng = context.Random($"files/{c.Task}");
            for (int i = 0; i < context.Count(100, 8); i++)
            {
                int length = rng.Next(original.Length);
                Add("truncated", $"cut to {length:N0} of {original.Length:N0} bytes", () => original[..length]);
            }
            for (int i = 0; i < context.Count(300, 20); i++)
            {
                int at = rng.Next(original.Length);
                byte mask = (byte)rng.Next(1, 256);
                Add("byte flip", $"byte {at:N0} xor 0x{mask:X2}", () => Flip(original, at, mask));
            }
            for (int i = 0; i < context.Count(300, 20); i++)
            {
                int at = rng.Next(original.Length);
                int bit = rng.Next(8);
                Add("bit flip", $"bit {bit} of byte {at:N0}", () => Flip(original, at, (byte)(1 << bit)));
            }
            foreach (var (description, make) in Crafted(original))
                Add("crafted", description, make, measure: true);
            if (c.Task == "binary") // one file is enough: ML.NET spins on it until the timeout, through every path
                Add("crafted", "the input schema's VBuffer codec claiming 1000 dimensions over the 1 written", () => SchemaClaimingDimensions(original), measure: true);
        }
        return trials;
    }

    private static byte[] Flip(byte[] original, int at, byte mask)
    {
        var copy = (byte[])original.Clone();
        copy[at] ^= mask;
        return copy;
    }

    private static References ReferencesOf(ModelCase c, string path)
    {
        var ml = new MLContext(0);
        var library = ml.Backprop().LoadModel(path, out _);
        var libraryRows = Data.Scores(library.Transform(c.Probe), c.Task);
        (library as IDisposable)?.Dispose();
        var inMemory = Data.Scores(c.Model.Transform(c.Probe), c.Task);
        if (Compare.Bitwise(inMemory, libraryRows) is { } d)
            CampaignContext.Log($"files: note: LoadModel of the unmodified {c.Task} file differs from the in-memory model: {d}");
        var service = c.ServiceScores(path);
        if (Compare.Bitwise(libraryRows, service) is { } d2)
            CampaignContext.Log($"files: note: the DI service differs from LoadModel on the unmodified {c.Task} file: {d2}");
        var plain = new MLContext(0).Model.Load(path, out _);
        var mlnetRows = Data.Scores(plain.Transform(c.Probe), c.Task);
        (plain as IDisposable)?.Dispose();
        return new References(libraryRows, service, mlnetRows);
    }

    /// <summary>Writes the variant, loads it through one path, scores it and classifies the result.</summary>
    private static TrialOutput Load(ModelCase c, References refs, string path, string file, byte[] bytes, string row, string what, bool measure)
    {
        File.WriteAllBytes(file, bytes);
        var (outcome, detail, allocated) = path switch
        {
            LoadPath => Library(c, refs, file, stream: false),
            LoadStream => Library(c, refs, file, stream: true),
            Service => ThroughService(c, refs, file),
            _ => PlainLoad(c, refs, file),
        };
        var output = TrialOutput.Of(row, outcome, $"{what}: {detail}");
        if (measure) output.With($"allocated {path}", allocated).With("file bytes", bytes.Length);
        return output;
    }

    private static long Allocated() => GC.GetAllocatedBytesForCurrentThread();

    private static (Outcome, string, long) Library(ModelCase c, References refs, string file, bool stream)
    {
        var ml = new MLContext(0);
        long before = Allocated();
        ITransformer model;
        try
        {
            if (stream)
            {
                using var s = File.OpenRead(file);
                model = ml.Backprop().LoadModel(s, out _, timeout: TimeSpan.FromSeconds(5));
            }
            else
            {
                model = ml.Backprop().LoadModel(file, out _, timeout: TimeSpan.FromSeconds(5));
            }
        }
        catch (Exception e)
        {
            long failed = Allocated() - before;
            var (o, d) = Errors.Classify(e, Documented, stream ? "Model stream" : file);
            return (o, d, failed);
        }
        long allocated = Allocated() - before;
        try
        {
            var diff = Compare.Bitwise(refs.Library, Data.Scores(model.Transform(c.Probe), c.Task));
            return diff is null ? (Outcome.Correct, "scores equal the reference", allocated) : (Outcome.SilentlyWrong, "loaded, but " + diff, allocated);
        }
        catch (Exception e)
        {
            return (Outcome.UnclearError, "loaded as fine, then scoring threw " + Errors.Describe(e), allocated);
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    private static (Outcome, string, long) ThroughService(ModelCase c, References refs, string file)
    {
        long before = Allocated();
        List<double[]> rows;
        try
        {
            rows = c.ServiceScores(file);
        }
        catch (Exception e)
        {
            long failed = Allocated() - before;
            var (o, d) = Errors.Classify(e, Documented, file);
            return (o, d, failed);
        }
        long allocated = Allocated() - before;
        var diff = Compare.Bitwise(refs.Service, rows);
        return diff is null ? (Outcome.Correct, "scores equal the reference", allocated) : (Outcome.SilentlyWrong, "served, but " + diff, allocated);
    }

    private static (Outcome, string, long) PlainLoad(ModelCase c, References refs, string file)
    {
        var ml = new MLContext(0);
        long before = Allocated();
        ITransformer model;
        try
        {
            model = ml.Model.Load(file, out _);
        }
        catch (Exception e)
        {
            long failed = Allocated() - before;
            var (o, d) = MLNetErrors.Classify(e, file);
            return (o, d, failed);
        }
        long allocated = Allocated() - before;
        try
        {
            var diff = Compare.Within(refs.MLNet, Data.Scores(model.Transform(c.Probe), c.Task), 1e-5);
            return diff is null ? (Outcome.Correct, "scores equal the reference", allocated) : (Outcome.SilentlyWrong, "loaded, but " + diff, allocated);
        }
        catch (Exception e)
        {
            var (o, d) = MLNetErrors.Classify(e, file);
            return (o == Outcome.ClearError ? o : Outcome.UnclearError, "loaded as fine, then scoring threw " + d, allocated);
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    /// <summary>The crafted variants of a saved model, each with a valid manifest computed anew.</summary>
    private static IEnumerable<(string, Func<byte[]>)> Crafted(byte[] original)
    {
        var (content, onnxName) = Archive.Entry(original, n => n.EndsWith("/OnnxModel", StringComparison.Ordinal));
        var onnx = content.AsSpan(4).ToArray();
        string json = OnnxModelReader.Read(onnx).Metadata[SavedModelInfo.Key];

        yield return ("a zip bomb entry (512 MiB of zeros)", () => Archive.WithEntry(original, "Bomb/Model.key", s =>
        {
            var zeros = new byte[1 << 20];
            for (int i = 0; i < 512; i++) s.Write(zeros);
        }, CompressionLevel.SmallestSize));

        yield return ("a description claiming a 100000 x 100000 x 100000 network", () =>
        {
            int at = json.IndexOf("\"LayerSizes\":[", StringComparison.Ordinal);
            string claimed = json[..at] + "\"LayerSizes\":[100000,100000,100000]" + json[(json.IndexOf(']', at) + 1)..];
            return Archive.WithEntry(original, onnxName, s => s.Write(Archive.OnnxEntry(WithMetadata(onnx, claimed))));
        });

        // The graph field claims 2 GiB: field 7, wire type 2, length varint 0x80000000, then a few bytes.
        yield return ("a protobuf graph length claiming 2 GiB", () =>
            Archive.WithEntry(original, onnxName, s => s.Write(Archive.OnnxEntry([0x3A, 0x80, 0x80, 0x80, 0x80, 0x08, 1, 2, 3]))));

        yield return ("a W0 tensor shape claiming 2^40 x 2^40 floats over 16 bytes", () =>
        {
            var tensor = new ProtoWriter().Int(1, 1L << 40).Int(1, 1L << 40).Int(2, 1).String(8, "W0").Bytes(9, new byte[16]);
            var graph = new ProtoWriter().String(2, "mlnetbackprop").Message(5, tensor);
            var model = new ProtoWriter().Int(1, 7).Message(7, graph)
                .Message(14, new ProtoWriter().String(1, SavedModelInfo.Key).String(2, json));
            return Archive.WithEntry(original, onnxName, s => s.Write(Archive.OnnxEntry(model.ToArray())));
        });

        yield return ("an OnnxModel length prefix claiming 2 GiB", () =>
        {
            var lying = (byte[])content.Clone();
            BitConverter.TryWriteBytes(lying, int.MaxValue);
            return Archive.WithEntry(original, onnxName, s => s.Write(lying));
        });

        yield return ("the graph's Tanh node changed to Relu (weights and description intact)", () =>
        {
            var text = Encoding.Latin1.GetString(content);
            return Archive.WithEntry(original, onnxName, s => s.Write(Encoding.Latin1.GetBytes(text.Replace("\x22\x04Tanh", "\x22\x04Relu"))));
        });
    }

    /// <summary>
    /// The model with its input-schema entry (a binary IDV, read by ML.NET's BinaryLoader) changed in one place: the
    /// feature column's VBuffer codec claims 1000 dimensions where it wrote 1 (the vector's size, 9 or 4, follows), and
    /// a valid manifest. A random byte flip of the compressed entry found this (the inflated entry then claimed 59).
    /// </summary>
    private static byte[] SchemaClaimingDimensions(byte[] original)
    {
        var (schema, name) = Archive.Entry(original, n => n == "Schema");
        byte[] pattern = [.. "VBuffer"u8, 0x10, 0x06, .. "Single"u8, 0x00];
        int at = schema.AsSpan().IndexOf(pattern);
        if (at < 0) throw new InvalidOperationException("The Schema entry has no VBuffer codec of Single.");
        var changed = (byte[])schema.Clone();
        BitConverter.TryWriteBytes(changed.AsSpan(at + pattern.Length), 1000);
        return Archive.WithEntry(original, name, s => s.Write(changed));
    }

    /// <summary>The ONNX model with its metadata_props replaced by our description <paramref name="json"/>.</summary>
    private static byte[] WithMetadata(byte[] onnx, string json)
    {
        var w = new ProtoWriter();
        var r = new ProtoReader(onnx);
        while (r.Next())
        {
            if (r.Field == 14)
            {
                r.Skip();
                continue;
            }
            if (r.WireType == 0) w.Int(r.Field, r.Int64());
            else w.Bytes(r.Field, r.Bytes());
        }
        w.Message(14, new ProtoWriter().String(1, SavedModelInfo.Key).String(2, json));
        return w.ToArray();
    }

    /// <inheritdoc/>
    public override IEnumerable<string> Summarize(IReadOnlyList<IReadOnlyDictionary<string, double>> metrics)
    {
        foreach (var path in Paths)
        {
            string key = $"allocated {path}";
            var loads = metrics.Where(m => m.ContainsKey(key)).ToList();
            if (loads.Count == 0) continue;
            var worst = loads.MaxBy(m => m[key] / m["file bytes"])!;
            double mostMiB = loads.Max(m => m[key]) / (1 << 20), ratio = worst[key] / worst["file bytes"], kib = worst["file bytes"] / 1024;
            string native = path == MLNetLoad ? " (ONNX Runtime's native allocations are not counted)" : "";
            yield return string.Create(CultureInfo.InvariantCulture,
                $"crafted files, {path}: at most {mostMiB:F1} MiB allocated by one load (managed, on the loading thread); at most {ratio:F1} x the file's size ({kib:F0} KiB){native}.");
        }
    }
}
