namespace MLNetBackprop;

/// <summary>The names of the columns a trained model adds; which of them a task adds, and how, is its head's (<see cref="Heads.TaskHead"/>).</summary>
internal static class OutputSchema
{
    public const string Score = "Score";
    public const string Probability = "Probability";
    public const string PredictedLabel = "PredictedLabel";
}
