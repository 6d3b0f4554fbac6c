namespace MLNetBackprop.Campaign;

/// <summary>
/// The child's side: prepares one category, runs its trials from <see cref="CampaignOptions.From"/> on, and reports each
/// on stdout (see <see cref="Message"/>).
/// </summary>
public static class ChildHost
{
    /// <summary>Runs the category named in the options; returns the process's exit code.</summary>
    public static int Run(CampaignOptions options)
    {
        var category = Category.All.FirstOrDefault(c => c.Name == options.Child)
            ?? throw new ArgumentException($"Unknown category {options.Child}.");
        var context = new CampaignContext(options.Seed, options.Quick, options.Work ?? throw new ArgumentException("--work is missing."), options.Timeout);
        CampaignContext.Log($"{category.Name}: preparing (seed {options.Seed}{(options.Quick ? ", quick" : "")}, from trial {options.From}).");
        var trials = category.Prepare(context);
        new Message { Type = "ready", Index = trials.Count }.Emit();
        var totals = new CategoryResult(category);
        for (int i = options.From; i < trials.Count; i++)
        {
            var trial = trials[i];
            new Message
            {
                Type = "start", Index = i, Row = trial.Row, Description = trial.Description,
                TimeoutSeconds = (trial.Timeout ?? options.Timeout).TotalSeconds,
            }.Emit();
            TrialOutput output;
            try
            {
                output = trial.Run();
            }
            catch (Exception e)
            {
                // The trials classify the exceptions of the code under test themselves; one that gets here is unexpected
                // and counted as unclear, with a note that it escaped the trial.
                output = TrialOutput.Of(trial.Row, Outcome.UnclearError, $"{trial.Description}: escaped the trial: {Errors.Describe(e)}");
            }
            foreach (var c in output.Outcomes) totals.Add(c);
            new Message { Type = "end", Index = i, Outcomes = output.Outcomes, Metrics = output.Metrics }.Emit();
            if ((i + 1) % 100 == 0) CampaignContext.Log($"{category.Name}: {i + 1} of {trials.Count} trials.");
        }
        new Message
        {
            Type = "done",
            Outcomes = totals.Counts.Select(kv => new OutcomeCount(kv.Key.Row, kv.Key.Outcome, kv.Value, null)).ToList(),
        }.Emit();
        return 0;
    }
}
