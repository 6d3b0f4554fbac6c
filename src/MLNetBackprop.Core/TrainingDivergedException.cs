namespace MLNetBackprop.Core;

/// <summary>
/// Training produced a non-finite loss, gradient or weight. No model is returned; the message names the epoch
/// and suggests a smaller learning rate.
/// </summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>Creates the exception for a divergence in <paramref name="epoch"/> at learning rate <paramref name="learningRate"/>.</summary>
    public TrainingDivergedException(int epoch, double learningRate, string what)
        : base(BuildMessage(epoch, learningRate, what))
    {
        Epoch = epoch;
        LearningRate = learningRate;
    }

    /// <summary>The 1-based epoch in which training diverged.</summary>
    public int Epoch { get; }

    /// <summary>The learning rate in use (NaN for L-BFGS).</summary>
    public double LearningRate { get; }

    private static string BuildMessage(int epoch, double lr, string what) =>
        double.IsNaN(lr)
            ? $"Training diverged in epoch {epoch}: {what}. Scale the features (e.g. normalize them) and the targets, or set the regularization to a usual value."
            : $"Training diverged in epoch {epoch}: {what}. The learning rate {lr:G4} is probably too large; try {lr / 10:G4} or less, normalize the features, or enable DivergenceBackoff.";
}
