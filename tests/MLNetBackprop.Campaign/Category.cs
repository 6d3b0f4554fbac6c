namespace MLNetBackprop.Campaign;

/// <summary>
/// One category of the campaign. <see cref="Prepare"/> runs in the category's child process: it builds what the trials
/// need (models, reference scores) and returns the trials, the same list for the same seed, so a child restarted after a
/// crash or hang can go on from the next trial. <see cref="Summarize"/> runs in the parent over every trial's metrics.
/// </summary>
public abstract class Category
{
    /// <summary>The name used on the command line (<c>--child name</c>, <c>--only name</c>).</summary>
    public abstract string Name { get; }

    /// <summary>The heading of the category's table.</summary>
    public abstract string Title { get; }

    /// <summary>The table's rows, in order; every trial reports into one of them.</summary>
    public abstract IReadOnlyList<RowSpec> Rows { get; }

    /// <summary>Builds the trials (in the child process).</summary>
    public abstract IReadOnlyList<Trial> Prepare(CampaignContext context);

    /// <summary>Lines printed under the table from the trials' metrics (in the parent); none by default.</summary>
    public virtual IEnumerable<string> Summarize(IReadOnlyList<IReadOnlyDictionary<string, double>> metrics) => [];

    /// <summary>Every category, in the order the campaign runs them.</summary>
    public static IReadOnlyList<Category> All { get; } =
    [
        new Categories.FitInputs(),
        new Categories.PredictInputs(),
        new Categories.ModelFiles(),
        new Categories.KillDuringSave(),
        new Categories.ServingWhileReplaced(),
        new Categories.Cancellation(),
    ];
}

/// <summary>What a category's child process knows: the seed, the size of the run, and its own scratch folder.</summary>
/// <param name="Seed">The campaign's seed; each category derives its own random stream from it.</param>
/// <param name="Quick">The short run (<c>--quick</c>): fewer trials, shorter serving.</param>
/// <param name="WorkFolder">A folder of this category's, kept across restarts of its child and deleted by the parent.</param>
/// <param name="Timeout">The default per-trial timeout.</param>
public sealed record CampaignContext(int Seed, bool Quick, string WorkFolder, TimeSpan Timeout)
{
    /// <summary>A random stream for <paramref name="purpose"/>: the same for the same seed, different across purposes.</summary>
    public Random Random(string purpose)
    {
        // A stable string hash (string.GetHashCode is randomized per process).
        uint h = 2166136261;
        foreach (char c in purpose) h = (h ^ c) * 16777619;
        return new Random(unchecked(Seed * 31 + (int)h));
    }

    /// <summary>Full run count or quick run count.</summary>
    public int Count(int full, int quick) => Quick ? quick : full;

    /// <summary>Writes a progress line to stderr (the parent keeps it in the category's log).</summary>
    public static void Log(string message) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");
}
