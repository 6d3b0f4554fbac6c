using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Microsoft.ML.Trainers.LightGbm;
using Microsoft.ML.Transforms;

namespace MLNetBackprop.Benchmarks.Panel;

/// <summary>
/// Issue #14's measuring instrument: `panel [--datasets a,b,c] [--folds 5] [--seed 0] [--out file.md] [--with-mnist]`.
/// Every dataset of <see cref="PanelDatasets"/> goes through one featurization and <c>mlContext.Backprop().Compare</c>
/// with five trainers at their defaults — ours, SDCA, L-BFGS, FastTree, LightGBM — on the same cross-validation folds.
/// The report gives each trainer's primary metric and fit time, our rank, our difference from the best linear trainer
/// with its fold-paired standard error, whether issue #14's floor holds, and the cost check; printed as Markdown and
/// written to --out. It measures and asserts nothing.
/// </summary>
public static class PanelRunner
{
    private const string Ours = "Backprop MLP";
    private static readonly string[] TrainerNames = [Ours, "SDCA", "L-BFGS", "FastTree", "LightGBM"];
    private static readonly string[] LinearNames = ["SDCA", "L-BFGS"];

    /// <summary>Below this many rows a dataset is small for the cost check; at or above <see cref="LargeRows"/> it is large.</summary>
    private const int SmallRows = 2_000;

    private const int LargeRows = 20_000;

    private const string Usage = "usage: panel [--datasets a,b,c] [--folds 5] [--seed 0] [--out path.md] [--with-mnist] [--ours \"Option=value;…\"] [--only-ours]";

    /// <summary>Runs the panel as the command line says; returns the process exit code (2 for a bad command line).</summary>
    public static int Run(string[] args)
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        var wall = Stopwatch.StartNew();
        int folds, seed;
        string? outPath;
        List<PanelDataset> datasets;
        try
        {
            (folds, seed, outPath, datasets) = Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }

        var head = new StringBuilder();
        head.Append($"# Panel benchmark (issue #14): default trainers on {datasets.Count} datasets, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC\n\n");
        head.Append($"- command: `dotnet run -c Release --project tests/MLNetBackprop.Benchmarks -- {string.Join(' ', args)}`\n");
        head.Append($"- machine: {Machine()}\n");
        head.Append($"- load average at start: {LoadAverage()}\n");
        head.Append(Protocol(folds, seed));
        Console.Write(head);
        Console.WriteLine();

        var results = new List<DatasetResult>();
        var sections = new StringBuilder();
        foreach (var dataset in datasets)
        {
            Console.WriteLine($"== {dataset.Name}");
            var result = RunDataset(dataset, folds, seed);
            results.Add(result);
            string section = Section(result);
            Console.WriteLine();
            Console.Write(section);
            Console.WriteLine();
            sections.Append(section).Append('\n');
        }

        var tail = new StringBuilder();
        tail.Append(Summary(results, wall.Elapsed));
        tail.Append($"- load average at the end: {LoadAverage()}\n");
        Console.Write(tail);
        if (outPath is not null)
        {
            string full = Path.GetFullPath(outPath);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, head + "\n" + tail + "\n## Datasets\n\n" + sections);
            Console.WriteLine($"Wrote {full}");
        }
        return 0;
    }

    private static (int Folds, int Seed, string? Out, List<PanelDataset> Datasets) Parse(string[] args)
    {
        int folds = 5, seed = 0;
        string? outPath = null, names = null;
        bool withMnist = false;
        for (int i = 1; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--folds":
                    folds = int.TryParse(Value(), CultureInfo.InvariantCulture, out int k) && k >= 2 ? k : throw new ArgumentException("--folds must be an integer ≥ 2.");
                    break;
                case "--seed":
                    seed = int.TryParse(Value(), CultureInfo.InvariantCulture, out int s) ? s : throw new ArgumentException("--seed must be an integer.");
                    break;
                case "--out":
                    outPath = Value();
                    break;
                case "--datasets":
                    names = Value();
                    break;
                case "--with-mnist":
                    withMnist = true;
                    break;
                case "--ours":
                    OursOptions = Value();
                    break;
                case "--only-ours":
                    OnlyOurs = true;
                    break;
                default:
                    throw new ArgumentException($"Unknown option '{args[i]}'.");
            }
        }
        var all = PanelDatasets.All;
        List<PanelDataset> chosen;
        if (names is null)
        {
            chosen = all.Where(d => !d.OnlyOnRequest || withMnist).ToList();
        }
        else
        {
            chosen = [];
            foreach (var name in names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var d = all.FirstOrDefault(x => string.Equals(x.Name, name, StringComparison.OrdinalIgnoreCase))
                    ?? throw new ArgumentException($"Unknown dataset '{name}'. Datasets: {string.Join(", ", all.Select(x => x.Name))}.");
                if (!chosen.Contains(d)) chosen.Add(d);
            }
            if (withMnist && !chosen.Any(d => d.OnlyOnRequest)) chosen.AddRange(all.Where(d => d.OnlyOnRequest));
        }
        if (chosen.Count == 0) throw new ArgumentException("No dataset chosen.");
        return (folds, seed, outPath, chosen);
    }

    /// <summary>
    /// One trainer on one dataset: the primary metric of every fold and the mean fit time per fold, or why there are none
    /// (<paramref name="Skipped"/>: not run, because the data does not suit it).
    /// </summary>
    private sealed record TrainerResult(string Name, IReadOnlyList<double> Folds, double FitSeconds, string? Error, bool Skipped = false)
    {
        public bool Ok => Error is null && Folds.Count > 0;

        public double Mean => Folds.Average();

        public double? Sd => Folds.Count > 1 ? StandardDeviation(Folds) : null;
    }

    /// <summary>One dataset's outcome: what was run, each trainer's result, and the Compare table with every metric.</summary>
    private sealed record DatasetResult(PanelDataset Dataset, string Description, long Rows, string Features, string Featurization,
        string Metric, IReadOnlyList<TrainerResult> Trainers, string Table, TimeSpan Elapsed)
    {
        /// <summary>" per fold" after a fit time under cross-validation; nothing for a given train/test split.</summary>
        public string PerFold => Trainers.Any(t => t.Folds.Count > 1) ? " per fold" : "";

        public TrainerResult Get(string name) => Trainers.Single(t => t.Name == name);

        /// <summary>The λ ours' weight-decay search chose in each fit (fold order), when it searched.</summary>
        public string? ChosenL2 { get; init; }
    }

    private static DatasetResult RunDataset(PanelDataset dataset, int folds, int seed)
    {
        var clock = Stopwatch.StartNew();
        var ml = new MLContext(seed);
        // Ours reports the weight decay its search chose (issue #14: what chooses λ reports it) in the MLContext log.
        var chosen = new List<string>();
        ml.Log += (_, e) =>
        {
            if (e.Message.Contains("weight decay chosen", StringComparison.Ordinal)
                && System.Text.RegularExpressions.Regex.Match(e.Message, @"λ = (\S+) \(") is { Success: true } m)
                lock (chosen) chosen.Add(m.Groups[1].Value);
        };
        var data = dataset.Load(ml);
        long rows = PanelDatasets.CountRows(data.Rows) + (data.Test is null ? 0 : PanelDatasets.CountRows(data.Test));
        var missing = MissingCounts(data);
        var withMissing = data.Numeric.Where(c => missing[c] > 0).ToArray();
        var featurize = Featurization(ml, dataset.Task, data, withMissing);

        // ML.NET's Poisson regression (its L-BFGS regression trainer) needs labels ≥ 0; with a negative label it is left out.
        string? lbfgsSkipped = null;
        if (dataset.Task == PanelTask.Regression && MinLabel(data) is var min && min < 0)
            lbfgsSkipped = $"skipped: the label goes down to {min:G4}, and LbfgsPoissonRegression needs labels ≥ 0";
        var candidates = Candidates(ml, dataset.Task).Where(c => lbfgsSkipped is null || c.Name != "L-BFGS")
            .Where(c => !OnlyOurs || c.Name == Ours).ToArray();

        var options = new ComparisonOptions
        {
            NumberOfFolds = folds,
            Seed = seed,
            ContinueOnError = true,
            Progress = ShowProgress,
        };
        var comparison = data.Test is null
            ? ml.Backprop().Compare(data.Rows, featurize, candidates, options)
            : ml.Backprop().Compare(data.Rows, data.Test, featurize, candidates, options);

        var trainers = new List<TrainerResult>();
        foreach (string name in TrainerNames)
        {
            var row = comparison.Rows.FirstOrDefault(r => r.Name == name);
            if (row is null)
            {
                trainers.Add(new TrainerResult(name, [], double.NaN, lbfgsSkipped ?? "not run", Skipped: lbfgsSkipped is not null));
                continue;
            }
            var metric = row.Metric(comparison.PrimaryMetric);
            trainers.Add(new TrainerResult(name, metric?.Values ?? [], row.FitSeconds?.Mean ?? double.NaN,
                row.Error is null ? null : $"{row.Error.GetType().Name}: {row.Error.Message}"));
        }
        string features = FeatureCount(comparison, data.Rows.Schema);
        string featurization = Describe(data, missing, withMissing);
        if (chosen.Count > 0) Console.WriteLine($"  ours' weight decay per fit: λ = {string.Join(", ", chosen)}");
        return new DatasetResult(dataset, comparison.Description, rows, features, featurization, comparison.PrimaryMetric, trainers,
            comparison.ToMarkdown(), clock.Elapsed) { ChosenL2 = chosen.Count > 0 ? string.Join(", ", chosen) : null };
    }

    /// <summary>
    /// The one featurization every trainer gets, fitted by Compare on each training fold: the multiclass label mapped to a
    /// key over the label values of ALL the rows (a per-fold MapValueToKey gives a fold whose training rows lack a class
    /// fewer keys, and ML.NET's evaluator then skips that class's held-out rows as unlabelled, which flatters every
    /// trainer); logical columns as 0/1; text columns one-hot encoded (a missing value sets no slot); each numeric column
    /// with missing values gets a 0/1 missing indicator and its mean imputed; all concatenated to Features, standardized
    /// (NormalizeMeanVariance with fixZero: false: centred, unit variance; the default only divides by the root mean
    /// square) and cached for the multi-pass trainers.
    /// </summary>
    private static IEstimator<ITransformer> Featurization(MLContext ml, PanelTask task, PanelData data, IReadOnlyList<string> withMissing)
    {
        var chain = new EstimatorChain<ITransformer>();
        if (task == PanelTask.MulticlassClassification)
            chain = chain.Append<ITransformer>(ml.Transforms.Conversion.MapValueToKey("Label", keyData: LabelValues(ml, data)));
        if (data.Logical.Count > 0)
            chain = chain.Append<ITransformer>(ml.Transforms.Conversion.ConvertType(Pairs(data.Logical, ""), DataKind.Single));
        if (data.Categorical.Count > 0)
            chain = chain.Append<ITransformer>(ml.Transforms.Categorical.OneHotEncoding(Pairs(data.Categorical, ".onehot")));
        if (withMissing.Count > 0)
        {
            chain = chain.Append<ITransformer>(ml.Transforms.IndicateMissingValues(Pairs(withMissing, ".missing")))
                .Append<ITransformer>(ml.Transforms.Conversion.ConvertType(Pairs(withMissing.Select(c => c + ".missing").ToArray(), ""), DataKind.Single))
                .Append<ITransformer>(ml.Transforms.ReplaceMissingValues(Pairs(withMissing, ""), MissingValueReplacingEstimator.ReplacementMode.Mean));
        }
        string[] inputs = [.. data.Numeric, .. data.Logical, .. withMissing.Select(c => c + ".missing"), .. data.Categorical.Select(c => c + ".onehot")];
        return chain.Append<ITransformer>(ml.Transforms.Concatenate("Features", inputs))
            .Append<ITransformer>(ml.Transforms.NormalizeMeanVariance("Features", fixZero: false))
            .AppendCacheCheckpoint(ml);
    }

    /// <summary>Output column = input column + suffix (in place when the suffix is empty).</summary>
    private static InputOutputColumnPair[] Pairs(IReadOnlyList<string> columns, string suffix) =>
        columns.Select(c => new InputOutputColumnPair(c + suffix, c)).ToArray();

    private sealed class TextLabel
    {
        public string Label { get; set; } = "";
    }

    private sealed class NumberLabel
    {
        public float Label { get; set; }
    }

    /// <summary>The distinct label values of all the rows (and the test rows), sorted: the key map of a multiclass label.</summary>
    private static IDataView LabelValues(MLContext ml, PanelData data)
    {
        IDataView[] views = data.Test is null ? [data.Rows] : [data.Rows, data.Test];
        if (data.Rows.Schema["Label"].Type is TextDataViewType)
        {
            var values = views.SelectMany(v => v.GetColumn<ReadOnlyMemory<char>>("Label").Select(s => s.ToString())).Distinct().Order(StringComparer.Ordinal);
            return ml.Data.LoadFromEnumerable(values.Select(s => new TextLabel { Label = s }).ToList());
        }
        var numbers = views.SelectMany(v => v.GetColumn<float>("Label")).Distinct().Order();
        return ml.Data.LoadFromEnumerable(numbers.Select(x => new NumberLabel { Label = x }).ToList());
    }

    /// <summary>Missing values per feature column over all rows: NaN in numeric columns, empty text in categorical ones.</summary>
    private static Dictionary<string, long> MissingCounts(PanelData data)
    {
        var counts = new Dictionary<string, long>();
        IDataView[] views = data.Test is null ? [data.Rows] : [data.Rows, data.Test];
        foreach (string c in data.Numeric)
        {
            counts[c] = views.Sum(v => v.Schema[c].Type is VectorDataViewType
                ? v.GetColumn<VBuffer<float>>(c).Sum(x => (long)x.DenseValues().Count(float.IsNaN))
                : v.GetColumn<float>(c).LongCount(float.IsNaN));
        }
        foreach (string c in data.Categorical)
            counts[c] = views.Sum(v => v.GetColumn<ReadOnlyMemory<char>>(c).LongCount(s => s.Span.Trim().IsEmpty));
        return counts;
    }

    private static float MinLabel(PanelData data) =>
        (data.Test is null ? [data.Rows] : new[] { data.Rows, data.Test }).Min(v => v.GetColumn<float>("Label").Min());

    /// <summary>The five trainers of a task, at their defaults; SDCA and LightGBM on one thread, as in samples/QuickStart.</summary>
    /// <summary>
    /// For ablations (`--ours "Name=value;Name=value"`): options set on ours by property name, values parsed as the
    /// property's type (arrays comma-separated). Null: ours at its defaults, as the panel's claims need.
    /// </summary>
    private static string? OursOptions;

    /// <summary>`--only-ours`: skip the four built-ins (their results do not change between ablations).</summary>
    private static bool OnlyOurs;

    private static BackpropTrainerOptions OursWith()
    {
        var o = new BackpropTrainerOptions();
        foreach (var part in (OursOptions ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=', 2);
            var p = typeof(BackpropTrainerOptions).GetProperty(kv[0]) ?? throw new ArgumentException($"--ours: no option {kv[0]}.");
            var t = Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType;
            object? Parse(Type type, string v) => type.IsEnum ? Enum.Parse(type, v) : Convert.ChangeType(v, type, CultureInfo.InvariantCulture);
            object? value = kv[1] == "null" ? null
                : t.IsArray ? ToArray(t.GetElementType()!, kv[1].Split(',', StringSplitOptions.RemoveEmptyEntries).Select(v => Parse(t.GetElementType()!, v)).ToArray())
                : Parse(t, kv[1]);
            p.SetValue(o, value);
        }
        return o;

        static Array ToArray(Type element, object?[] items)
        {
            var a = Array.CreateInstance(element, items.Length);
            for (int i = 0; i < items.Length; i++) a.SetValue(items[i], i);
            return a;
        }
    }

    private static (string Name, IEstimator<ITransformer> Trainer)[] Candidates(MLContext ml, PanelTask task) => task switch
    {
        PanelTask.BinaryClassification =>
        [
            (Ours, ml.BinaryClassification.Trainers.Backprop(OursWith())),
            ("SDCA", ml.BinaryClassification.Trainers.SdcaLogisticRegression(new SdcaLogisticRegressionBinaryTrainer.Options { NumberOfThreads = 1 })),
            ("L-BFGS", ml.BinaryClassification.Trainers.LbfgsLogisticRegression()),
            ("FastTree", ml.BinaryClassification.Trainers.FastTree()),
            ("LightGBM", ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options { NumberOfThreads = 1 })),
        ],
        PanelTask.MulticlassClassification =>
        [
            (Ours, ml.MulticlassClassification.Trainers.Backprop(OursWith())),
            ("SDCA", ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(new SdcaMaximumEntropyMulticlassTrainer.Options { NumberOfThreads = 1 })),
            ("L-BFGS", ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy()),
            ("FastTree", ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastTree())),
            ("LightGBM", ml.MulticlassClassification.Trainers.LightGbm(new LightGbmMulticlassTrainer.Options { NumberOfThreads = 1 })),
        ],
        _ =>
        [
            (Ours, ml.Regression.Trainers.Backprop(OursWith())),
            ("SDCA", ml.Regression.Trainers.Sdca(new SdcaRegressionTrainer.Options { NumberOfThreads = 1 })),
            ("L-BFGS", ml.Regression.Trainers.LbfgsPoissonRegression()),
            ("FastTree", ml.Regression.Trainers.FastTree()),
            ("LightGBM", ml.Regression.Trainers.LightGbm(new LightGbmRegressionTrainer.Options { NumberOfThreads = 1 })),
        ],
    };

    private static void ShowProgress(ComparisonProgress p)
    {
        if (p.Row is { } row)
        {
            var m = row.Metrics.FirstOrDefault();
            Console.WriteLine(row.Error is not null
                ? $" failed: {row.Error.GetType().Name}: {row.Error.Message}"
                : $" {m?.Name} {m?.Mean:F4}, fit {row.FitSeconds?.Mean:F2} s per fold");
        }
        else if (p.FitTime is null && p.Fold == 1)
        {
            Console.Write($"  [{p.CandidateIndex + 1}/{p.CandidateCount}] {p.Candidate,-13}");
        }
        else if (p.FitTime is not null)
        {
            Console.Write('.');
        }
    }

    /// <summary>The Features vector's length in the fitted pipelines of the first trainer that has any (it can vary by fold with one-hot encoding).</summary>
    private static string FeatureCount(ComparisonResult comparison, DataViewSchema input)
    {
        var models = comparison.Rows.FirstOrDefault(r => r.Models.Count > 0)?.Models;
        if (models is null) return "?";
        var sizes = models.Select(m => m.GetOutputSchema(input)["Features"].Type is VectorDataViewType v ? v.Size : 1).ToArray();
        return sizes.Min() == sizes.Max() ? $"{sizes[0]:N0}" : $"{sizes.Min():N0}–{sizes.Max():N0}";
    }

    private static string Describe(PanelData data, Dictionary<string, long> missing, IReadOnlyList<string> withMissing)
    {
        var parts = new List<string>();
        if (data.Numeric.Count > 0) parts.Add($"{data.Numeric.Count} numeric");
        if (data.Logical.Count > 0) parts.Add($"{data.Logical.Count} logical (0/1)");
        if (data.Categorical.Count > 0) parts.Add($"{data.Categorical.Count} categorical (one-hot)");
        string text = string.Join(", ", parts);
        if (withMissing.Count > 0)
            text += $"; missing numeric values imputed with the mean, with a missing indicator each: {string.Join(", ", withMissing.Select(c => $"{c} {missing[c]}"))}";
        var emptyText = data.Categorical.Where(c => missing[c] > 0).ToArray();
        if (emptyText.Length > 0)
            text += $"; {emptyText.Sum(c => missing[c]):N0} missing categorical values in {emptyText.Length} of {data.Categorical.Count} columns (no one-hot slot set)";
        if (withMissing.Count == 0 && emptyText.Length == 0) text += "; no missing values";
        return text;
    }

    /// <summary>Ranks, the best linear trainer, our paired difference from it, the floor and the cost check on one dataset.</summary>
    private sealed record Verdict(Dictionary<string, double> Ranks, TrainerResult? BestLinear, double Diff, double Se, double Margin, bool FloorHeld,
        string CostRule, bool? CostHeld);

    private static Verdict Judge(DatasetResult r)
    {
        var scored = r.Trainers.Where(t => t.Ok).ToArray();
        var ranks = scored.ToDictionary(t => t.Name,
            t => 1 + scored.Count(o => o.Mean > t.Mean) + 0.5 * scored.Count(o => o.Name != t.Name && o.Mean == t.Mean));
        var ours = r.Get(Ours);
        var best = r.Trainers.Where(t => t.Ok && LinearNames.Contains(t.Name)).OrderByDescending(t => t.Mean).FirstOrDefault();
        double diff = double.NaN, se = double.NaN, margin = double.NaN;
        bool held = false;
        if (ours.Ok && best is not null)
        {
            var d = ours.Folds.Zip(best.Folds, (a, b) => a - b).ToArray();
            diff = d.Average();
            se = d.Length > 1 ? StandardDeviation(d) / Math.Sqrt(d.Length) : double.NaN;
            margin = r.Dataset.Task == PanelTask.Regression ? 0.02 : Math.Max(0.01, double.IsNaN(se) ? 0 : 2 * se);
            held = diff >= -margin;
        }
        var lightGbm = r.Get("LightGBM");
        string rule = "—";
        bool? costHeld = null;
        if (ours.Ok && lightGbm.Ok && r.Rows < SmallRows)
        {
            double limit = Math.Max(1, 5 * lightGbm.FitSeconds);
            rule = $"< max(1 s, 5 × {lightGbm.FitSeconds:F2} s) = {limit:F2} s";
            costHeld = ours.FitSeconds < limit;
        }
        else if (ours.Ok && lightGbm.Ok && r.Rows >= LargeRows)
        {
            rule = $"≤ 2 × {lightGbm.FitSeconds:F2} s = {2 * lightGbm.FitSeconds:F2} s";
            costHeld = ours.FitSeconds <= 2 * lightGbm.FitSeconds;
        }
        return new Verdict(ranks, best, diff, se, margin, held, rule, costHeld);
    }

    private static string Section(DatasetResult r)
    {
        var v = Judge(r);
        var sb = new StringBuilder();
        sb.Append($"### {r.Dataset.Name}: {r.Description}\n\n");
        sb.Append($"- data: {r.Dataset.Source}; {r.Dataset.Reading}\n");
        sb.Append($"- features: {r.Features} after featurization, from {r.Featurization}\n");
        if (r.ChosenL2 is { } l2) sb.Append($"- ours' weight decay, chosen by its cross-validation in each fit: λ = {l2}\n");
        foreach (var t in r.Trainers)
        {
            sb.Append($"- {t.Name}: ");
            sb.Append(t.Ok ? $"{r.Metric} {MeanSd(t)}, fit {t.FitSeconds:F3} s{r.PerFold}" : t.Error);
            if (v.Ranks.TryGetValue(t.Name, out double rank)) sb.Append($", rank {Rank(rank)}");
            sb.Append('\n');
        }
        if (v.BestLinear is { } best)
        {
            var ours = r.Get(Ours);
            if (ours.Ok)
            {
                sb.Append($"- ours − best linear ({best.Name}): {Diff(v)}");
                sb.Append(ours.Folds.Count > 1
                    ? $", per fold {string.Join(", ", ours.Folds.Zip(best.Folds, (a, b) => $"{a - b:+0.0000;−0.0000}"))}\n"
                    : " (one split: no standard error, so the margin is 0.01)\n");
                sb.Append($"- floor (≥ best linear − {v.Margin:F4}): {(v.FloorHeld ? "held" : "**failed**")}\n");
            }
            else
            {
                sb.Append("- floor: **failed** (ours has no result)\n");
            }
        }
        else
        {
            sb.Append("- floor: not judged (neither linear trainer has a result)\n");
        }
        sb.Append($"- cost check: {(v.CostHeld is { } c ? $"ours {r.Get(Ours).FitSeconds:F2} s {v.CostRule}: {(c ? "held" : "**failed**")}" : $"none ({r.Rows:N0} rows)")}\n");
        sb.Append($"- time for the dataset: {r.Elapsed.TotalSeconds:F1} s\n\n");
        sb.Append(r.Table);
        return sb.ToString();
    }

    private static string Summary(List<DatasetResult> results, TimeSpan elapsed)
    {
        var verdicts = results.Select(Judge).ToArray();
        var sb = new StringBuilder();
        sb.Append("## Summary\n\n");

        var judged = results.Zip(verdicts).Where(x => x.Second.BestLinear is not null).ToArray();
        var failures = judged.Where(x => !x.Second.FloorHeld).ToArray();
        sb.Append($"**Floor held on {judged.Length - failures.Length}/{judged.Length} datasets** (ours ≥ best linear − max(0.01, 2·SE) for AUC and accuracy, − 0.02 for R²).");
        if (failures.Length > 0)
        {
            sb.Append(" Failures:\n\n");
            foreach (var (r, v) in failures)
            {
                var ours = r.Get(Ours);
                sb.Append(ours.Ok
                    ? $"- {r.Dataset.Name} ({r.Metric}): ours {ours.Mean:F4}, {v.BestLinear!.Name} {v.BestLinear.Mean:F4}, difference {Diff(v)}, allowed −{v.Margin:F4}\n"
                    : $"- {r.Dataset.Name}: ours failed ({ours.Error})\n");
            }
        }
        sb.Append('\n');

        sb.Append("| trainer | mean rank | datasets ranked | ranked first |\n|---|---:|---:|---:|\n");
        foreach (string name in TrainerNames)
        {
            var ranks = verdicts.Where(v => v.Ranks.ContainsKey(name)).Select(v => v.Ranks[name]).ToArray();
            sb.Append($"| {name} | {(ranks.Length > 0 ? ranks.Average().ToString("F2", CultureInfo.InvariantCulture) : "—")} | {ranks.Length} | {ranks.Count(x => x <= 1)} |\n");
        }
        sb.Append('\n');

        foreach (var (label, rule, pick) in new (string, string, Func<long, bool>)[]
        {
            ($"small sets (< {SmallRows:N0} rows)", "ours' fit time per fold < max(1 s, 5 × LightGBM's)", n => n < SmallRows),
            ($"large sets (≥ {LargeRows:N0} rows)", "ours' fit time per fold ≤ 2 × LightGBM's", n => n >= LargeRows),
        })
        {
            var set = results.Zip(verdicts).Where(x => pick(x.First.Rows) && x.Second.CostHeld is not null).ToArray();
            var slow = set.Where(x => x.Second.CostHeld == false).ToArray();
            sb.Append($"**Cost check, {label}: held on {set.Length - slow.Length}/{set.Length}** ({rule})");
            sb.Append(slow.Length == 0 ? ".\n" : "; failed on " + string.Join("; ", slow.Select(x =>
                $"{x.First.Dataset.Name} (ours {x.First.Get(Ours).FitSeconds:F2} s, LightGBM {x.First.Get("LightGBM").FitSeconds:F2} s)")) + ".\n");
            sb.Append('\n');
        }

        sb.Append("### Primary metric (mean ± sd over the folds; bold = best)\n\n");
        sb.Append("| dataset | rows | features | metric | ").Append(string.Join(" | ", TrainerNames))
            .Append(" | ours' rank | ours − best linear ± SE | floor |\n|---|---:|---:|---|")
            .Append(string.Concat(Enumerable.Repeat("---:|", TrainerNames.Length))).Append("---:|---|---|\n");
        foreach (var (r, v) in results.Zip(verdicts))
        {
            double top = r.Trainers.Where(t => t.Ok).Select(t => t.Mean).DefaultIfEmpty(double.NaN).Max();
            sb.Append($"| {r.Dataset.Name} | {r.Rows:N0} | {r.Features} | {r.Metric} |");
            foreach (var t in r.Trainers)
                sb.Append(t.Ok ? (t.Mean == top ? $" **{MeanSd(t)}** |" : $" {MeanSd(t)} |") : t.Skipped ? " skipped |" : " failed |");
            string floor = v.BestLinear is null ? "—" : v.FloorHeld ? "held" : "**failed**";
            sb.Append($" {(v.Ranks.TryGetValue(Ours, out double rank) ? Rank(rank) : "—")} | {(v.BestLinear is null ? "—" : $"{Diff(v)} ({v.BestLinear.Name})")} | {floor} |\n");
        }
        sb.Append('\n');

        sb.Append("### Fit time per fold (s, mean over the folds) and the cost check\n\n");
        sb.Append("| dataset | rows | ").Append(string.Join(" | ", TrainerNames)).Append(" | cost rule for ours | cost check | dataset total (s) |\n|---|---:|")
            .Append(string.Concat(Enumerable.Repeat("---:|", TrainerNames.Length))).Append("---|---|---:|\n");
        foreach (var (r, v) in results.Zip(verdicts))
        {
            sb.Append($"| {r.Dataset.Name} | {r.Rows:N0} |");
            foreach (var t in r.Trainers) sb.Append(double.IsNaN(t.FitSeconds) ? " — |" : $" {t.FitSeconds:F2} |");
            sb.Append($" {v.CostRule} | {(v.CostHeld is { } c ? c ? "held" : "**failed**" : "—")} | {r.Elapsed.TotalSeconds:F0} |\n");
        }
        sb.Append('\n');

        var skipped = results.Where(r => r.Get("L-BFGS").Skipped).ToArray();
        sb.Append(skipped.Length == 0
            ? "- L-BFGS (Poisson) regression ran on every regression set: no regression label is negative\n"
            : $"- L-BFGS (Poisson) regression skipped, a label being negative, on: {string.Join(", ", skipped.Select(r => r.Dataset.Name))}\n");
        var errors = results.SelectMany(r => r.Trainers.Where(t => t.Error is not null && !t.Skipped)
            .Select(t => $"{r.Dataset.Name} {t.Name}: {t.Error}")).ToArray();
        sb.Append(errors.Length == 0 ? "- no trainer failed on any dataset\n" : $"- trainers that failed: {string.Join("; ", errors)}\n");
        var fitTotals = TrainerNames.Select(n => (Name: n, Seconds: results.Sum(r => r.Get(n) is var t && !double.IsNaN(t.FitSeconds) ? t.FitSeconds * t.Folds.Count : 0)))
            .OrderByDescending(x => x.Seconds).ToArray();
        var slowest = results.OrderByDescending(r => r.Elapsed).Take(3).ToArray();
        sb.Append($"- whole run: {elapsed.TotalMinutes:F1} min ({elapsed.TotalSeconds:F0} s); fit time summed over all folds and datasets: ")
            .Append(string.Join(", ", fitTotals.Select(x => $"{x.Name} {x.Seconds:F0} s"))).Append("; slowest datasets: ")
            .Append(string.Join(", ", slowest.Select(r => $"{r.Dataset.Name} {r.Elapsed.TotalSeconds:F0} s"))).Append('\n');
        return sb.ToString();
    }

    private static string Protocol(int folds, int seed)
    {
        var sb = new StringBuilder();
        sb.Append($"- protocol: {folds}-fold cross-validation with ML.NET's CrossValidate (seed {seed}; folds are random, not stratified), the same folds for every trainer, through `mlContext.Backprop().Compare`; a dataset with a given test set (mnist10k) uses it instead; `new MLContext(seed: {seed})` per dataset\n");
        sb.Append("- trainers, all at their defaults: Backprop MLP = `Trainers.Backprop()` with no options (one hidden layer of 128 tanh units, L-BFGS up to 5,000 training rows and Adam above, λ = 1e-3); " +
            "SDCA = `SdcaLogisticRegression` / `SdcaMaximumEntropy` / `Sdca`; L-BFGS = `LbfgsLogisticRegression` / `LbfgsMaximumEntropy` / `LbfgsPoissonRegression` (ML.NET's L-BFGS regression is Poisson regression; it needs labels ≥ 0 and is skipped, as the summary says, where a label is negative); " +
            "FastTree = `FastTree` (one-versus-all over binary `FastTree` for multiclass); LightGBM = `LightGbm`\n");
        sb.Append("- threads: SDCA and LightGBM with `NumberOfThreads = 1`, as in samples/QuickStart (on this shared 2-core machine LightGBM's OpenMP threads made it 8× slower than one thread); ours, L-BFGS and FastTree use their default threading (all cores)\n");
        sb.Append("- featurization, one for all trainers and fitted on each training fold: multiclass label → key by `MapValueToKey` over the label values of all rows (so every fold has every class's key; see PanelRunner.Featurization); TRUE/FALSE columns → 0/1; text columns → `OneHotEncoding` (a missing value sets no slot); a numeric column with missing values → a 0/1 missing indicator plus `ReplaceMissingValues` (mean); `Concatenate` → Features; `NormalizeMeanVariance(fixZero: false)` (centred, unit variance); `AppendCacheCheckpoint`\n");
        sb.Append("- metric: AUC (binary), micro-accuracy (multiclass), R² (regression); rank 1 = best mean, ties share the mean rank\n");
        sb.Append("- floor (issue #14): ours ≥ best linear − max(0.01, 2·SE) for AUC and micro-accuracy, ≥ best linear − 0.02 for R²; best linear = SDCA or L-BFGS, whichever has the higher mean; SE = sd of the per-fold differences (ours − best linear, same folds) / √folds\n");
        sb.Append($"- cost check: a set with < {SmallRows:N0} rows: ours' mean fit time per fold < max(1 s, 5 × LightGBM's); ≥ {LargeRows:N0} rows: ≤ 2 × LightGBM's; rows in between: none. Fit time = the trainer's own Fit as Compare times it (not the featurization's fit; it includes the trainer's first pass over the featurized training rows, which fills the cache); the first fits of a process include JIT compilation\n");
        return sb.ToString();
    }

    private static string Machine()
    {
        string cpu = "unknown CPU";
        if (File.Exists("/proc/cpuinfo"))
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        string memory = "";
        if (File.Exists("/proc/meminfo") && File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)) is { } line
            && long.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture, out long kib))
            memory = $", {kib / 1024.0 / 1024.0:F0} GiB";
        string mlnet = typeof(MLContext).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "?";
        return $"{cpu}, {Environment.ProcessorCount} logical cores{memory}; {RuntimeInformation.OSDescription}; {RuntimeInformation.FrameworkDescription}; ML.NET {mlnet}";
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    private static double StandardDeviation(IReadOnlyList<double> values)
    {
        double mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
    }

    private static string MeanSd(TrainerResult t) => t.Sd is { } sd ? $"{t.Mean:F4} ± {sd:F4}" : $"{t.Mean:F4}";

    private static string Diff(Verdict v) => double.IsNaN(v.Se) ? $"{v.Diff:+0.0000;−0.0000}" : $"{v.Diff:+0.0000;−0.0000} ± {v.Se:F4}";

    private static string Rank(double rank) => rank == Math.Floor(rank) ? $"{rank:F0}" : $"{rank:F1}";
}
