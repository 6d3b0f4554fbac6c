using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MLNetBackprop.Persistence;

/// <summary>
/// The zip archive of a saved ML.NET model, read with bounded memory, and the library's manifest in it: a list of every
/// other entry with its length and SHA-256, written by <see cref="BackpropCatalog.SaveModel"/> and checked by
/// <see cref="BackpropCatalog.LoadModel(string, out Microsoft.ML.DataViewSchema, TimeSpan?)"/>, so that a change anywhere in the
/// saved pipeline — the network or any other transform — is caught, not only a change in the network's weights.
/// </summary>
/// <remarks>
/// ML.NET's own loader reads entries by name and ignores others, so the extra entry does not disturb
/// <c>mlContext.Model.Load</c> (which does not check it: ML.NET offers third-party code no hook into its loading).
/// </remarks>
internal sealed class ModelArchive
{
    /// <summary>The manifest's entry name, at the root of the archive.</summary>
    public const string ManifestName = "MLNetBackprop.Manifest.json";

    /// <summary>Most entries an archive may have (an ML.NET model has a few per transform).</summary>
    internal const int MaxEntries = 10_000;

    /// <summary>Largest manifest read.</summary>
    internal const int MaxManifestBytes = 4 << 20;

    /// <summary>Inflated bytes always allowed, whatever the archive's size.</summary>
    internal const long InflateAllowance = 64L << 20;

    /// <summary>
    /// Inflated bytes allowed per byte of archive on top of <see cref="InflateAllowance"/>. A saved model inflates to
    /// about 1.1 times its size (trained float weights hardly compress); deflate reaches ratios near 1000 only on
    /// repetitive data, which is what a zip bomb is made of.
    /// </summary>
    internal const int InflateRatio = 16;

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private ModelArchive(Dictionary<string, byte[]> entries, bool verified)
    {
        Entries = entries;
        Verified = verified;
    }

    /// <summary>Every entry's content by full name (the manifest excluded), in ordinal name order.</summary>
    public IReadOnlyDictionary<string, byte[]> Entries { get; }

    /// <summary>True when the archive has a manifest and every entry matched it.</summary>
    public bool Verified { get; }

    /// <summary>The most bytes the entries of an archive of <paramref name="archiveLength"/> bytes may inflate to.</summary>
    public static long InflateBudget(long archiveLength) => InflateAllowance + InflateRatio * archiveLength;

    /// <summary>
    /// Opens the archive, reads every entry within the inflate budget and checks the manifest when there is one.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a zip archive, not an ML.NET model, over the budget, or not what the
    /// manifest lists; the message starts with <paramref name="source"/>.</exception>
    public static ModelArchive Read(byte[] bytes, string source)
    {
        var entries = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        byte[]? manifest = null;
        long budget = InflateBudget(bytes.Length);
        try
        {
            using var zip = new ZipArchive(new MemoryStream(bytes, writable: false), ZipArchiveMode.Read);
            if (zip.Entries.Count > MaxEntries)
                throw new InvalidDataException($"{source}: the archive has {zip.Entries.Count} entries, more than the {MaxEntries} a model may have.");
            foreach (var entry in zip.Entries)
            {
                if (entry.FullName.EndsWith('/')) continue; // a folder
                if (entry.FullName == ManifestName)
                {
                    manifest = ReadEntry(entry, MaxManifestBytes, source, "the manifest's limit");
                    continue;
                }
                if (entries.ContainsKey(entry.FullName))
                    throw new InvalidDataException($"{source}: the archive has two entries named {entry.FullName}.");
                var content = ReadEntry(entry, budget, source, $"the {InflateBudget(bytes.Length):N0} bytes an archive of {bytes.Length:N0} bytes may inflate to");
                budget -= content.Length;
                entries.Add(entry.FullName, content);
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException && !(e is InvalidDataException && e.Message.StartsWith(source, StringComparison.Ordinal)))
        {
            // System.IO.Compression reports damage as InvalidDataException, IOException, NotSupportedException (an
            // unknown compression method) or ArgumentException, depending on where the damage is.
            throw new InvalidDataException($"{source}: not a readable ML.NET model (zip archive): {e.Message}", e);
        }
        if (!entries.Keys.Any(name => name.EndsWith("Model.key", StringComparison.Ordinal)))
            throw new InvalidDataException($"{source}: the zip archive is not an ML.NET model (it has no Model.key entry).");
        var sorted = entries.OrderBy(e => e.Key, StringComparer.Ordinal).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
        if (manifest is not null) Check(ParseManifest(manifest, source), sorted, source);
        return new ModelArchive(sorted, manifest is not null);
    }

    /// <summary>Adds the manifest to a saved model held in <paramref name="archive"/> (read and rewritten in place).</summary>
    public static void AddManifest(MemoryStream archive)
    {
        var listed = new List<ManifestEntry>();
        archive.Position = 0;
        using (var zip = new ZipArchive(archive, ZipArchiveMode.Read, leaveOpen: true))
        {
            foreach (var entry in zip.Entries.Where(e => !e.FullName.EndsWith('/')).OrderBy(e => e.FullName, StringComparer.Ordinal))
            {
                using var s = entry.Open();
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[81920];
                long length = 0;
                int n;
                while ((n = s.Read(buffer)) > 0)
                {
                    hash.AppendData(buffer, 0, n);
                    length += n;
                }
                listed.Add(new ManifestEntry(entry.FullName, length, Convert.ToHexString(hash.GetHashAndReset())));
            }
        }
        var manifest = new Manifest(Manifest.CurrentFormat, listed.ToArray());
        archive.Position = 0;
        using (var zip = new ZipArchive(archive, ZipArchiveMode.Update, leaveOpen: true))
        {
            var entry = zip.CreateEntry(ManifestName, CompressionLevel.Optimal);
            using var s = entry.Open();
            s.Write(JsonSerializer.SerializeToUtf8Bytes(manifest, Json));
        }
        archive.Position = 0;
    }

    private static byte[] ReadEntry(ZipArchiveEntry entry, long limit, string source, string limitText)
    {
        if (entry.Length > limit)
            throw new InvalidDataException($"{source}: the entry {entry.FullName} declares {entry.Length:N0} bytes, more than {limitText}.");
        using var s = entry.Open();
        using var m = new MemoryStream((int)Math.Min(entry.Length, 1 << 20));
        var buffer = new byte[81920];
        int n;
        while ((n = s.Read(buffer)) > 0)
        {
            if (m.Length + n > limit)
                throw new InvalidDataException($"{source}: the entry {entry.FullName} inflates to more than {limitText} (a crafted or corrupt archive).");
            m.Write(buffer, 0, n);
        }
        return m.ToArray();
    }

    private static Manifest ParseManifest(byte[] bytes, string source)
    {
        Manifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<Manifest>(bytes, Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: the MLNetBackprop manifest is not valid ({e.Message}); the file is corrupt.", e);
        }
        if (manifest?.Entries is null) throw new InvalidDataException($"{source}: the MLNetBackprop manifest is empty; the file is corrupt.");
        if (manifest.Format != Manifest.CurrentFormat)
            throw new InvalidDataException($"{source}: the manifest is in format {manifest.Format}; this version of MLNetBackprop reads format {Manifest.CurrentFormat}.");
        return manifest;
    }

    private static void Check(Manifest manifest, Dictionary<string, byte[]> entries, string source)
    {
        var listed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in manifest.Entries)
        {
            if (e?.Name is null || !listed.Add(e.Name)) throw new InvalidDataException($"{source}: the MLNetBackprop manifest is malformed; the file is corrupt.");
            if (!entries.TryGetValue(e.Name, out var content))
                throw new InvalidDataException($"{source}: the entry {e.Name} listed in the manifest is missing; the file is corrupt.");
            if (content.Length != e.Length)
                throw new InvalidDataException($"{source}: the entry {e.Name} has {content.Length:N0} bytes, the manifest lists {e.Length:N0}; the file is corrupt.");
            if (!string.Equals(Convert.ToHexString(SHA256.HashData(content)), e.Sha256, StringComparison.OrdinalIgnoreCase))
                throw new InvalidDataException($"{source}: the entry {e.Name} does not match its SHA-256 in the manifest; the file is corrupt.");
        }
        foreach (var name in entries.Keys)
            if (!listed.Contains(name))
                throw new InvalidDataException($"{source}: the entry {name} is not listed in the manifest; the file is corrupt or was changed after saving.");
    }

    /// <summary>The manifest as stored (JSON, camelCase).</summary>
    private sealed record Manifest(int Format, ManifestEntry[] Entries)
    {
        public const int CurrentFormat = 1;

        [JsonPropertyName("library")]
        public string Library { get; init; } = "MLNetBackprop";
    }

    private sealed record ManifestEntry(string Name, long Length, string Sha256);
}
