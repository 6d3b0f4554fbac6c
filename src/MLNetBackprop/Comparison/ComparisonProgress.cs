using System.Globalization;

namespace MLNetBackprop;

/// <summary>A progress report of a comparison: a fit starting or ending, or a candidate finished.</summary>
public sealed class ComparisonProgress
{
    internal ComparisonProgress(string candidate, int candidateIndex, int candidateCount, int fold, int foldCount, TimeSpan? fitTime,
        ComparisonRow? row)
    {
        Candidate = candidate;
        CandidateIndex = candidateIndex;
        CandidateCount = candidateCount;
        Fold = fold;
        FoldCount = foldCount;
        FitTime = fitTime;
        Row = row;
    }

    /// <summary>The candidate's name.</summary>
    public string Candidate { get; }

    /// <summary>0-based position of the candidate in the list.</summary>
    public int CandidateIndex { get; }

    /// <summary>Number of candidates.</summary>
    public int CandidateCount { get; }

    /// <summary>1-based fold (1 for a train/test split).</summary>
    public int Fold { get; }

    /// <summary>Number of folds (1 for a train/test split).</summary>
    public int FoldCount { get; }

    /// <summary>The fit time once the fold's fit has ended; null when it is starting or for the final report.</summary>
    public TimeSpan? FitTime { get; }

    /// <summary>The candidate's finished row (the final report of a candidate); null for fit reports.</summary>
    public ComparisonRow? Row { get; }

    /// <summary>A one-line description, e.g. "[2/5] FastTree: fold 3/5 fitted in 0.41 s".</summary>
    public override string ToString()
    {
        string head = string.Create(CultureInfo.InvariantCulture, $"[{CandidateIndex + 1}/{CandidateCount}] {Candidate}: ");
        if (Row is not null)
            return head + (Row.Error is null ? "done" : "failed: " + Row.Error.Message);
        return head + (FitTime is { } t
            ? string.Create(CultureInfo.InvariantCulture, $"fold {Fold}/{FoldCount} fitted in {t.TotalSeconds:F2} s")
            : string.Create(CultureInfo.InvariantCulture, $"fitting fold {Fold}/{FoldCount}"));
    }
}
