namespace QuickStart;

/// <summary>
/// A one-line progress bar per trainer: its name, a dot per fitted fold, then its primary metric and fit time.
/// </summary>
internal static class Progress
{
    public static void Show(MLNetBackprop.ComparisonProgress p)
    {
        if (p.Row is { } row)
        {
            var primary = row.Metrics.FirstOrDefault();
            Console.WriteLine(row.Error is not null ? $" failed: {row.Error.Message}"
                : $" {primary?.Name} {primary?.Mean:F4}, fit {row.FitTimes.Sum(t => t.TotalSeconds):F1} s");
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
}
