using System.Globalization;
using System.Text;

namespace MLNetBackprop;

/// <summary>Renders a <see cref="ComparisonResult"/> as text, Markdown and CSV.</summary>
internal static class ComparisonTable
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private const string Missing = "—";

    private static string[] Header(ComparisonResult r) =>
        ["Trainer", .. r.MetricNames, "Fit time (s)", "Scoring (rows/s)"];

    private static string[] Cells(ComparisonResult r, ComparisonRow row, int decimals, Func<string, string> escape)
    {
        var cells = new List<string> { escape(row.Name) };
        for (int i = 0; i < r.MetricNames.Count; i++)
        {
            var m = row.Metric(r.MetricNames[i]);
            cells.Add(m is null ? (row.Error is not null && i == 0 ? "failed" : Missing) : MeanSd(m, decimals));
        }
        cells.Add(row.FitSeconds is null ? Missing : MeanSd(row.FitSeconds, 3));
        cells.Add(double.IsFinite(row.ScoringRowsPerSecond) ? row.ScoringRowsPerSecond.ToString("N0", Inv) : Missing);
        return [.. cells];
    }

    private static string MeanSd(MetricSummary m, int decimals)
    {
        string f = "F" + decimals.ToString(Inv);
        return m.StandardDeviation is { } sd ? $"{m.Mean.ToString(f, Inv)} ± {sd.ToString(f, Inv)}" : m.Mean.ToString(f, Inv);
    }

    public static string Text(ComparisonResult r, int decimals)
    {
        CheckDecimals(decimals);
        var table = new List<string[]> { Header(r) };
        table.AddRange(r.Rows.Select(row => Cells(r, row, decimals, s => s)));
        int[] width = Enumerable.Range(0, table[0].Length).Select(j => table.Max(t => t[j].Length)).ToArray();
        var sb = new StringBuilder();
        sb.Append(r.Description).Append('\n');
        for (int i = 0; i < table.Count; i++)
        {
            var line = string.Join("  ", table[i].Select((cell, j) => j == 0 ? cell.PadRight(width[j]) : cell.PadLeft(width[j])));
            sb.Append(line.TrimEnd()).Append('\n');
            if (i == 0) sb.Append(new string('-', width.Sum() + 2 * (width.Length - 1))).Append('\n');
        }
        foreach (var row in r.Rows.Where(x => x.Error is not null))
            sb.Append($"{row.Name} failed: {row.Error!.GetType().Name}: {row.Error.Message}\n");
        return sb.ToString();
    }

    public static string Markdown(ComparisonResult r, int decimals)
    {
        CheckDecimals(decimals);
        static string Escape(string s) => s.Replace("|", "\\|", StringComparison.Ordinal).Replace('\n', ' ');
        var header = Header(r);
        var sb = new StringBuilder();
        sb.Append("| ").Append(string.Join(" | ", header.Select(Escape))).Append(" |\n");
        sb.Append("|---|").Append(string.Concat(Enumerable.Repeat("---:|", header.Length - 1))).Append('\n');
        foreach (var row in r.Rows)
            sb.Append("| ").Append(string.Join(" | ", Cells(r, row, decimals, Escape))).Append(" |\n");
        return sb.ToString();
    }

    public static string Csv(ComparisonResult r)
    {
        var sb = new StringBuilder();
        var header = new List<string> { "Trainer" };
        foreach (var m in r.MetricNames) header.AddRange([m, m + "_sd"]);
        header.AddRange(["FitSeconds", "FitSeconds_sd", "ScoringRowsPerSecond", "Folds", "Error"]);
        sb.Append(string.Join(",", header.Select(Quote))).Append('\n');
        foreach (var row in r.Rows)
        {
            var cells = new List<string> { row.Name };
            foreach (var name in r.MetricNames)
            {
                var m = row.Metric(name);
                cells.AddRange([Number(m?.Mean), Number(m?.StandardDeviation)]);
            }
            cells.AddRange([Number(row.FitSeconds?.Mean), Number(row.FitSeconds?.StandardDeviation), Number(row.ScoringRowsPerSecond),
                row.FitTimes.Count.ToString(Inv), row.Error is null ? "" : $"{row.Error.GetType().Name}: {row.Error.Message}"]);
            sb.Append(string.Join(",", cells.Select(Quote))).Append('\n');
        }
        return sb.ToString();
    }

    private static string Number(double? value) => value is { } v && double.IsFinite(v) ? v.ToString("R", Inv) : "";

    private static string Quote(string s) =>
        s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;

    private static void CheckDecimals(int decimals)
    {
        if (decimals is < 0 or > 15) throw new ArgumentOutOfRangeException(nameof(decimals), decimals, "Decimals must be in [0, 15].");
    }
}
