using System.Globalization;
using System.Numerics;
using System.Reflection;
using System.Runtime.InteropServices;

namespace MLNetBackprop.Core.Distributed;

/// <summary>
/// Before the first step of a data-parallel run, the ranks compare what must be the same on all of them: a rank with
/// another network, other initial weights (another seed), other options or other data widths would send gradients of
/// another model, and the sum would silently train nonsense. Every rank gathers every rank's fingerprint and throws the
/// same error, naming the ranks that differ from rank 0 and in what.
/// </summary>
internal static class RankAgreement
{
    private static readonly string[] Fields =
    [
        "its element type", "its layer sizes or activations", "its initial weights", "its training options",
        "whether it has validation rows", "its shard's row count",
    ];

    public static void Check<T>(NeuralNetwork<T> network, TrainingData<T> shard, TrainingOptions options, TrainingData<T>? validation,
        IGradientAllreduce comm) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int k = Fields.Length;
        Span<long> mine =
        [
            Marshal.SizeOf<T>(),
            Fnv(string.Join(",", network.LayerSizes) + "|" + string.Join(",", network.Activations)),
            Fnv(MemoryMarshal.AsBytes<T>(network.Parameters)),
            Fnv(Describe(options)),
            validation is null ? 0 : 1,
            shard.Count,
        ];
        var all = new long[k * comm.Size];
        comm.Allgather(mine, all);
        var problems = new List<string>();
        for (int r = 1; r < comm.Size; r++)
            for (int f = 0; f < k - 1; f++)
                if (all[r * k + f] != all[f])
                    problems.Add(string.Create(CultureInfo.InvariantCulture, $"rank {r} differs from rank 0 in {Fields[f]}"));
        for (int r = 0; r < comm.Size; r++)
            if (all[r * k + k - 1] < 1)
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"rank {r}'s shard has no rows"));
        if (problems.Count > 0)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"The {comm.Size} ranks cannot train one model: {string.Join("; ", problems)}. Every rank must build the same network with the same seed and options, on rows of the same columns."));
    }

    /// <summary>Every option that changes the arithmetic, invariantly formatted (threads and the epoch callback may differ by rank).</summary>
    private static string Describe(TrainingOptions o)
    {
        var parts = new List<string>();
        foreach (var p in typeof(TrainingOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            if (p.Name is nameof(TrainingOptions.NumberOfThreads) || typeof(Delegate).IsAssignableFrom(p.PropertyType) || !p.CanWrite) continue;
            object? v = p.GetValue(o);
            parts.Add(p.Name + "=" + (v is IFormattable f ? f.ToString(v is double or float ? "R" : null, CultureInfo.InvariantCulture) : v?.ToString()));
        }
        return string.Join(";", parts);
    }

    private static long Fnv(string s) => Fnv(MemoryMarshal.AsBytes(s.AsSpan()));

    /// <summary>64-bit FNV-1a: a fingerprint, not a security hash (the ranks trust each other).</summary>
    private static long Fnv(ReadOnlySpan<byte> bytes)
    {
        ulong h = 14695981039346656037;
        foreach (byte b in bytes) h = (h ^ b) * 1099511628211;
        return unchecked((long)h);
    }
}
