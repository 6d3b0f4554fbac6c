using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core;

namespace MLNetBackprop.Benchmarks;

/// <summary>
/// Issue #18's benchmark: a large synthetic table in ML.NET's binary format on disk, trained on with the streamed path
/// (and, on a part that fits, with the in-memory path), one child process per run so that each run's peak RSS is its own.
/// </summary>
/// <remarks>
/// <code>
/// streaming [--rows 20000000] [--subset 2000000] [--features 50] [--dir path] [--budget-mib 1024] [--epochs 2] [--out file.md] [--subset-only] [--cold]
///   generates &lt;dir&gt;/synthetic-{rows}x{features}.idv and the subset's file (once; kept for the next run), then runs:
///   the in-memory path on the subset, the streamed path on the subset (file in the page cache; twice each, alternating),
///   the streamed path on the subset with StreamingShuffle = View (the cost of the view's shuffled cursor), and, unless
///   --subset-only, the streamed path on the whole file with the budget (with --cold also with the page cache dropped
///   before every epoch, as root), and the whole file in a process whose GC heap is capped at the budget
///   (DOTNET_GCHeapHardLimit) with the default options, Auto loading included.
/// streaming-run-one --data file --test file --mode InMemory|Streaming|Auto [--shuffle Auto|View|WithinBlocks] [--budget-mib N] [--epochs 2] [--threads N] [--drop-caches]
///   one run, one JSON line
/// </code>
/// The data: x ~ U(−2, 2)^features as float32, label = [Σ_j sin(x_j·u_j) + x_0·x_1 + 0.3·noise &gt; 0], with u_j fixed by
/// the seed: non-linear, so that the network (the default [128] hidden units) has something to learn.
/// </remarks>
internal static class StreamingHarness
{
    private sealed class Row
    {
        [VectorType(0)]
        public float[] Features { get; set; } = [];

        public bool Label { get; set; }
    }

    /// <summary>A lazy, repeatable sequence of rows: each enumeration regenerates the same rows from the seed.</summary>
    private sealed class Synthetic(long rows, int features, int seed) : IEnumerable<Row>
    {
        public IEnumerator<Row> GetEnumerator()
        {
            var rng = new Random(seed);
            var u = new double[features];
            for (int j = 0; j < features; j++) u[j] = 0.5 + rng.NextDouble();
            var row = new Row { Features = new float[features] };
            for (long i = 0; i < rows; i++)
            {
                double s = 0;
                for (int j = 0; j < features; j++)
                {
                    float x = (float)(rng.NextDouble() * 4 - 2);
                    row.Features[j] = x;
                    s += Math.Sin(x * u[j]);
                }
                s += row.Features[0] * row.Features[1] + 0.3 * (rng.NextDouble() * 2 - 1) * Math.Sqrt(features);
                row.Label = s > 0;
                yield return row;
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    private static string? Arg(string[] args, string name) =>
        Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

    /// <summary>Writes the rows to an .idv file (through a temporary name, so that a cut-short run leaves no file that looks whole).</summary>
    private static void Generate(string path, long rows, int features, int seed)
    {
        if (File.Exists(path)) return;
        var ml = new MLContext(seed);
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, features);
        var view = ml.Data.LoadFromEnumerable(new Synthetic(rows, features, seed), schema);
        var sw = Stopwatch.StartNew();
        string tmp = path + ".tmp";
        using (var f = File.Create(tmp)) ml.Data.SaveAsBinary(view, f);
        File.Move(tmp, path);
        Console.Error.WriteLine(FormattableString.Invariant(
            $"generated {path}: {rows:N0} rows × {features}, {new FileInfo(path).Length / 1048576.0:F0} MiB in {sw.Elapsed.TotalSeconds:F0} s"));
    }

    public static int Run(string[] args)
    {
        long rows = long.Parse(Arg(args, "--rows") ?? "20000000", CultureInfo.InvariantCulture);
        long subset = long.Parse(Arg(args, "--subset") ?? "2000000", CultureInfo.InvariantCulture);
        int features = int.Parse(Arg(args, "--features") ?? "50", CultureInfo.InvariantCulture);
        int budgetMiB = int.Parse(Arg(args, "--budget-mib") ?? "1024", CultureInfo.InvariantCulture);
        int epochs = int.Parse(Arg(args, "--epochs") ?? "3", CultureInfo.InvariantCulture);
        string dir = Arg(args, "--dir") ?? Path.Combine(Path.GetTempPath(), "mlnetbackprop-streaming");
        string? outPath = Arg(args, "--out");
        Directory.CreateDirectory(dir);
        string big = Path.Combine(dir, FormattableString.Invariant($"synthetic-{rows}x{features}.idv"));
        string small = Path.Combine(dir, FormattableString.Invariant($"synthetic-{subset}x{features}.idv"));
        string testFile = Path.Combine(dir, FormattableString.Invariant($"synthetic-test-50000x{features}.idv"));
        Generate(small, subset, features, seed: 18);
        Generate(big, rows, features, seed: 18); // the same seed: the subset is the big file's first rows
        Generate(testFile, 50_000, features, seed: 19);

        var results = new List<Dictionary<string, JsonElement>>();
        bool wholeFile = !args.Contains("--subset-only");
        bool cold = args.Contains("--cold");
        void One(string label, string data, string mode, int? budget, int? heapLimitMiB, string shuffle = "Auto", bool dropCaches = false)
        {
            var psi = new ProcessStartInfo(Environment.ProcessPath!)
            {
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            string self = typeof(StreamingHarness).Assembly.Location;
            if (!Environment.ProcessPath!.EndsWith("MLNetBackprop.Benchmarks", StringComparison.Ordinal)) psi.ArgumentList.Add(self);
            foreach (var a in new[] { "streaming-run-one", "--data", data, "--test", testFile, "--mode", mode, "--shuffle", shuffle, "--epochs", epochs.ToString(CultureInfo.InvariantCulture) })
                psi.ArgumentList.Add(a);
            if (budget is { } b)
            {
                psi.ArgumentList.Add("--budget-mib");
                psi.ArgumentList.Add(b.ToString(CultureInfo.InvariantCulture));
            }
            if (dropCaches) psi.ArgumentList.Add("--drop-caches");
            if (heapLimitMiB is { } h) psi.Environment["DOTNET_GCHeapHardLimit"] = "0x" + ((long)h << 20).ToString("X", CultureInfo.InvariantCulture);
            using var p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            string? json = output.Split('\n').LastOrDefault(l => l.StartsWith('{'));
            if (p.ExitCode != 0 || json is null)
            {
                Console.Error.WriteLine($"{label}: exit code {p.ExitCode}\n{output}");
                return;
            }
            var r = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json)!;
            r["run"] = JsonSerializer.SerializeToElement(label);
            results.Add(r);
            Console.Error.WriteLine($"{label}: {json}");
        }

        One("in memory, subset", small, "InMemory", null, null);
        One("streamed, subset (page cache)", small, "Streaming", null, null);
        One("in memory, subset (again)", small, "InMemory", null, null);
        One("streamed, subset (again)", small, "Streaming", null, null);
        // The view's shuffled cursor on every epoch, what Auto picks for a drifting row order: its cost in CPU.
        One("streamed, subset, StreamingShuffle = View", small, "Streaming", null, null, "View");
        if (wholeFile)
        {
            One($"streamed, whole file, budget {budgetMiB} MiB", big, "Auto", budgetMiB, null);
            One($"whole file, defaults, GC heap capped at {budgetMiB} MiB", big, "Auto", null, budgetMiB);
            // The OS page cache emptied before every epoch (root only): the file is read from the device each time.
            if (cold) One($"streamed, whole file, budget {budgetMiB} MiB, page cache dropped before every epoch", big, "Auto", budgetMiB, null, dropCaches: true);
        }

        var inv = CultureInfo.InvariantCulture;
        var md = new System.Text.StringBuilder();
        md.AppendLine(FormattableString.Invariant($"Streaming benchmark, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {Describe()}"));
        md.AppendLine();
        md.AppendLine("| run | rows | file MiB | loading | epochs read | budget MiB | epochs | fit s | epoch s (median) | rows/s per epoch | MB/s read per epoch | peak RSS MiB | managed heap peak MiB | test accuracy |");
        md.AppendLine("|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            string S(string k) => r.TryGetValue(k, out var v) ? v.ToString() : "";
            double D(string k) => r.TryGetValue(k, out var v) ? v.GetDouble() : double.NaN;
            md.AppendLine(string.Create(inv,
                $"| {S("run")} | {D("rows"):N0} | {D("fileMiB"):F0} | {S("loading")} | {S("order")} | {S("budgetMiB")} | {D("epochs")} | {D("fitSeconds"):F1} | {D("epochSeconds"):F2} | {D("rowsPerSecond"):N0} | {D("megabytesPerSecond"):F0} | {D("peakRssMiB"):F0} | {D("peakHeapMiB"):F0} | {D("accuracy"):F4} |"));
        }
        var mem = results.Where(r => r["run"].GetString()!.StartsWith("in memory", StringComparison.Ordinal)).Select(r => r["rowsPerSecond"].GetDouble()).ToArray();
        var str = results.Where(r => r["run"].GetString()!.StartsWith("streamed, subset", StringComparison.Ordinal) && !r["run"].GetString()!.Contains("= View", StringComparison.Ordinal)).Select(r => r["rowsPerSecond"].GetDouble()).ToArray();
        if (mem.Length > 0 && str.Length > 0)
        {
            md.AppendLine();
            md.AppendLine(string.Create(inv, $"Streamed (defaults) / in-memory throughput per epoch on the subset (best of each): {str.Max() / mem.Max():P0}."));
            var view = results.Where(r => r["run"].GetString()!.Contains("= View", StringComparison.Ordinal)).Select(r => r["rowsPerSecond"].GetDouble()).ToArray();
            if (view.Length > 0)
                md.AppendLine(string.Create(inv, $"Streamed with the view's shuffled cursor every epoch / in-memory: {view.Max() / mem.Max():P0}."));
        }
        Console.WriteLine(md);
        if (outPath is not null) File.WriteAllText(outPath, md.ToString());
        return 0;
    }

    private static string Describe()
    {
        string cpu = "";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "";
        }
        catch (IOException)
        {
        }
        return $"{cpu}; AVX-512: {System.Runtime.Intrinsics.X86.Avx512F.IsSupported}; {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1073741824.0:F1} GiB available to the GC";
    }

    /// <summary>How fast ML.NET's cursor alone reads the file: in order and shuffled (the file's own block shuffle).</summary>
    public static int ReadSpeed(string[] args)
    {
        string data = Arg(args, "--data") ?? throw new ArgumentException("--data is required");
        var ml = new MLContext(seed: 1);
        var view = ml.Data.LoadFromBinary(data);
        var cols = new[] { view.Schema["Features"], view.Schema["Label"] };
        long bytes = new FileInfo(data).Length;
        for (int round = 0; round < 2; round++)
            foreach (bool shuffle in new[] { false, true })
            {
                var sw = Stopwatch.StartNew();
                using var cursor = shuffle ? view.GetRowCursor(cols, new Random(round)) : view.GetRowCursor(cols);
                var g = cursor.GetGetter<VBuffer<float>>(cols[0]);
                var lg = cursor.GetGetter<bool>(cols[1]);
                VBuffer<float> v = default;
                bool l = false;
                long n = 0;
                double sum = 0;
                while (cursor.MoveNext())
                {
                    g(ref v);
                    lg(ref l);
                    sum += v.GetValues()[0];
                    n++;
                }
                double sec = sw.Elapsed.TotalSeconds;
                Console.WriteLine(FormattableString.Invariant(
                    $"{(shuffle ? "shuffled" : "in order")}: {n:N0} rows in {sec:F2} s, {n / sec:N0} rows/s, {bytes / sec / 1e6:F0} MB/s (checksum {sum:F1})"));
            }
        // The same file through the trainer's stream (the cursor, the row checks, the block building, the read-ahead thread).
        var o = new BackpropTrainerOptions();
        var binding = ColumnBinding.Resolve(view.Schema, o, "training data");
        var stream = DataViewTrainingStream.Open(view, binding, o, 1, 0, default);
        for (int round = 0; round < 2; round++)
            foreach (bool shuffle in new[] { false, true })
            {
                var sw = Stopwatch.StartNew();
                var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
                long n = 0;
                foreach (var block in stream.ReadBlocks(65536, 1 + round, shuffle)) n += block.Count;
                double sec = sw.Elapsed.TotalSeconds;
                double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
                Console.WriteLine(FormattableString.Invariant(
                    $"trainer's stream, {(shuffle ? "shuffled" : "in order")}: {n:N0} rows in {sec:F2} s ({cpu:F2} s of CPU), {n / sec:N0} rows/s, {bytes / sec / 1e6:F0} MB/s"));
            }
        return 0;
    }

    /// <summary>One training run in this process; prints one JSON line.</summary>
    public static int RunOne(string[] args)
    {
        var inv = CultureInfo.InvariantCulture;
        string data = Arg(args, "--data") ?? throw new ArgumentException("--data is required");
        string testFile = Arg(args, "--test") ?? throw new ArgumentException("--test is required");
        var mode = Enum.Parse<DataLoadingMode>(Arg(args, "--mode") ?? "Auto");
        int epochs = int.Parse(Arg(args, "--epochs") ?? "3", inv);
        long? budget = Arg(args, "--budget-mib") is { } b ? long.Parse(b, inv) << 20 : null;
        var ml = new MLContext(seed: 1);
        string? loading = null;
        ml.Log += (_, e) =>
        {
            if (e.Message.Contains("Backprop: data loading: ", StringComparison.Ordinal)) loading = e.Message;
        };
        // The file itself is the training view (a binary loader, which can shuffle itself by blocks), as a user would
        // pass it; the accuracy is measured on a separate file. Early stopping is off so that every run does the same
        // number of epochs (the throughput is per epoch).
        var train = ml.Data.LoadFromBinary(data);
        var test = ml.Data.LoadFromBinary(testFile);
        long rows = train.GetRowCount() ?? -1;
        long peakManaged = 0;
        using var sampler = new Timer(_ =>
        {
            long now = GC.GetTotalMemory(false);
            if (now > Interlocked.Read(ref peakManaged)) Interlocked.Exchange(ref peakManaged, now);
        }, null, 0, 50);
        var options = new BackpropTrainerOptions
        {
            DataLoading = mode,
            MemoryBudgetBytes = budget,
            MaxEpochs = epochs,
            EarlyStopping = false,
            Seed = 1,
            NumberOfThreads = Arg(args, "--threads") is { } th ? int.Parse(th, inv) : null,
            StreamingShuffle = Enum.Parse<StreamingShuffleMode>(Arg(args, "--shuffle") ?? "Auto"),
        };
        var epochTimes = new List<double>();
        var clock = Stopwatch.StartNew();
        double last = 0;
        bool dropCaches = args.Contains("--drop-caches");
        options.EpochCompleted = r =>
        {
            double now = clock.Elapsed.TotalSeconds;
            epochTimes.Add(now - last);
            if (dropCaches)
            {
                // Writing 3 to drop_caches (after a sync) empties the page cache; its own time is not the next epoch's.
                Process.Start("sync")!.WaitForExit();
                File.WriteAllText("/proc/sys/vm/drop_caches", "3");
            }
            last = clock.Elapsed.TotalSeconds;
        };
        clock.Restart();
        var model = ml.Backprop().Trainer(options).Fit(train);
        double fit = clock.Elapsed.TotalSeconds;
        // The first epoch record comes after the reading (in memory) or the scan (streamed): only later epochs time an epoch alone.
        var steady = epochTimes.Skip(1).DefaultIfEmpty(epochTimes[0]).Order().ToArray();
        double epochSeconds = steady[steady.Length / 2];
        var metrics = ml.BinaryClassification.Evaluate(model.Transform(test));
        long fileBytes = new FileInfo(data).Length;
        double bytesPerEpoch = fileBytes;
        var result = new Dictionary<string, object?>
        {
            ["rows"] = rows,
            ["fileMiB"] = fileBytes / 1048576.0,
            ["loading"] = loading is null ? null : loading[(loading.IndexOf("data loading: ", StringComparison.Ordinal) + 14)..].Split(" (")[0].TrimEnd('.'),
            ["order"] = loading is null || !loading.Contains("epochs read ", StringComparison.Ordinal) ? ""
                : loading.Contains("shuffled cursor", StringComparison.Ordinal) ? "view shuffled, and within blocks"
                : loading.Contains("within blocks", StringComparison.Ordinal) ? "view's order, shuffled within blocks" : "view's order",
            ["budgetMiB"] = budget is { } bb ? (bb >> 20).ToString(inv) : $"default {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4 >> 20}",
            ["epochs"] = model.History.Epochs.Count,
            ["fitSeconds"] = fit,
            ["epochSeconds"] = epochSeconds,
            ["rowsPerSecond"] = (rows) / epochSeconds,
            ["megabytesPerSecond"] = bytesPerEpoch / epochSeconds / 1e6,
            ["peakRssMiB"] = Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0,
            ["peakHeapMiB"] = Interlocked.Read(ref peakManaged) / 1048576.0,
            ["accuracy"] = metrics.Accuracy,
            ["log"] = loading,
        };
        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }
}
