using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace MLNetBackprop.Campaign;

/// <summary>The campaign's tables (markdown, padded so they also read well in a terminal) and the pass/fail verdict.</summary>
public static class Report
{
    private static readonly Outcome[] Columns =
        [Outcome.ClearError, Outcome.Correct, Outcome.Crash, Outcome.Hang, Outcome.SilentlyWrong, Outcome.UnclearError];

    private static readonly string[] Header = ["path", "tried", "clear error", "correct", "crash", "hang", "silently wrong", "unclear error"];

    /// <summary>
    /// The library's paths fail the campaign with any crash, hang or silently wrong result, and with any error in a row
    /// that allows none (serving, loading after a kill).
    /// </summary>
    public static long Failures(IEnumerable<CategoryResult> results) => results.Sum(r =>
        AllRows(r).Where(row => row.Owner == Owner.Library).Sum(row =>
            Count(r, row.Label, Outcome.Crash) + Count(r, row.Label, Outcome.Hang) + Count(r, row.Label, Outcome.SilentlyWrong)
            + (row.ErrorsAllowed ? 0 : Count(r, row.Label, Outcome.ClearError) + Count(r, row.Label, Outcome.UnclearError))));

    /// <summary>The whole report.</summary>
    public static string Render(IReadOnlyList<CategoryResult> results, CampaignOptions options, TimeSpan elapsed)
    {
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"# MLNetBackprop reliability campaign: seed {options.Seed}, {(options.Quick ? "quick" : "full")} run");
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture,
            $"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, " +
            $"{RuntimeInformation.FrameworkDescription}; took {elapsed.TotalSeconds:F0} s. " +
            $"A trial that takes longer than {options.Timeout.TotalSeconds:F0} s is a hang (a model-file load: 10 s; a kill: 120 s; the serving run: its length + 120 s).");
        s.AppendLine();
        int number = 0;
        foreach (var r in results)
        {
            number++;
            s.AppendLine(CultureInfo.InvariantCulture, $"## {number}. {r.Category.Title} ({r.Elapsed.TotalSeconds:F0} s)");
            s.AppendLine();
            var table = AllRows(r).Select(row => Cells(row.Label + (row.Owner == Owner.MLNet ? " (ML.NET)" : ""),
                Columns.Select(o => Count(r, row.Label, o)).ToArray())).ToList();
            AppendTable(s, table);
            var notes = r.Category.Summarize(r.Metrics).ToList();
            if (notes.Count > 0)
            {
                s.AppendLine();
                foreach (var n in notes) s.AppendLine("- " + n);
            }
            var outcomesWithExamples = AllRows(r).SelectMany(row => Columns.Where(o => o is not (Outcome.Correct or Outcome.ClearError))
                .Where(o => r.Examples.ContainsKey((row.Label, o))).Select(o => (row, o))).ToList();
            if (outcomesWithExamples.Count > 0 || r.Incidents.Count > 0)
            {
                s.AppendLine();
                s.AppendLine("Examples of what needs a look:");
                s.AppendLine();
                foreach (var (row, o) in outcomesWithExamples)
                    foreach (var d in r.Examples[(row.Label, o)])
                        s.AppendLine(CultureInfo.InvariantCulture, $"- {Name(o)}, {row.Label}: {d}");
                foreach (var i in r.Incidents) s.AppendLine("- incident: " + i);
            }
            s.AppendLine();
        }

        s.AppendLine("## Totals");
        s.AppendLine();
        var totals = new List<string[]>();
        foreach (var owner in new[] { Owner.Library, Owner.MLNet })
        {
            var counts = Columns.Select(o => results.Sum(r => AllRows(r).Where(row => row.Owner == owner).Sum(row => Count(r, row.Label, o)))).ToArray();
            totals.Add(Cells(owner == Owner.Library
                ? "library paths (LoadModel, DI service, fit, predict, save, serving, cancel)"
                : "ML.NET's own code: Model.Load, and its transforms ahead of ours (reported apart)", counts));
        }
        if (results.FirstOrDefault(r => r.Category is Categories.ServingWhileReplaced) is { } serving)
        {
            // The serving category counts every prediction; without it the library's line counts trials of comparable size.
            var counts = Columns.Select(o => results.Where(r => r != serving)
                .Sum(r => AllRows(r).Where(row => row.Owner == Owner.Library).Sum(row => Count(r, row.Label, o)))).ToArray();
            totals.Insert(1, Cells("library paths without category 5 (where every prediction is a trial)", counts));
        }
        AppendTable(s, totals);
        s.AppendLine();
        long failures = Failures(results);
        long unclear = results.Sum(r => AllRows(r).Where(row => row.Owner == Owner.Library && row.ErrorsAllowed).Sum(row => Count(r, row.Label, Outcome.UnclearError)));
        s.AppendLine(failures == 0
            ? "**PASS**: the library's paths had no crash, no hang and no silently wrong result (exit code 0)."
            : $"**FAIL**: the library's paths had {failures} crash, hang or silently wrong result(s), or errors where none is allowed (exit code 1).");
        if (unclear > 0)
            s.AppendLine().AppendLine(CultureInfo.InvariantCulture,
                $"The library's paths also gave {unclear} unclear error(s) (listed above); they do not change the exit code.");
        return s.ToString();
    }

    private static string Name(Outcome o) => o switch
    {
        Outcome.ClearError => "clear error",
        Outcome.Correct => "correct",
        Outcome.Crash => "crash",
        Outcome.Hang => "hang",
        Outcome.SilentlyWrong => "silently wrong",
        _ => "unclear error",
    };

    private static IEnumerable<RowSpec> AllRows(CategoryResult r) =>
        r.Category.Rows.Concat(r.Counts.Keys.Select(k => k.Row).Distinct()
            .Where(label => r.Category.Rows.All(row => row.Label != label))
            .Select(label => new RowSpec(label)));

    private static long Count(CategoryResult r, string row, Outcome o) => r.Counts.GetValueOrDefault((row, o));

    private static string[] Cells(string label, long[] counts) =>
        [label, counts.Sum().ToString("N0", CultureInfo.InvariantCulture), .. counts.Select(c => c.ToString("N0", CultureInfo.InvariantCulture))];

    private static void AppendTable(StringBuilder s, List<string[]> rows)
    {
        var widths = Header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        string Line(IEnumerable<string> cells) => "| " + string.Join(" | ", cells) + " |";
        s.AppendLine(Line(Header.Select((h, i) => i == 0 ? h.PadRight(widths[i]) : h.PadLeft(widths[i]))));
        s.AppendLine(Line(widths.Select((w, i) => i == 0 ? new string('-', w) : new string('-', w - 1) + ":")));
        foreach (var r in rows) s.AppendLine(Line(r.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))));
    }
}
