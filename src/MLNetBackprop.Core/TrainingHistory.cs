namespace MLNetBackprop.Core;

/// <summary>The loss curve and the outcome of a training run.</summary>
public sealed class TrainingHistory
{
    /// <summary>A history as recorded by a training run (or read back from a saved model).</summary>
    /// <param name="epochs">One record per completed epoch, in order.</param>
    /// <param name="bestEpoch">The epoch whose weights the model holds (0 to the number of epochs).</param>
    /// <param name="stopReason">Why training ended.</param>
    public TrainingHistory(IReadOnlyList<EpochRecord> epochs, int bestEpoch, StopReason stopReason)
    {
        ArgumentNullException.ThrowIfNull(epochs);
        if (bestEpoch < 0 || bestEpoch > epochs.Count)
            throw new ArgumentOutOfRangeException(nameof(bestEpoch), bestEpoch, $"The best epoch must lie in [0, {epochs.Count}].");
        Epochs = epochs;
        BestEpoch = bestEpoch;
        StopReason = stopReason;
    }

    /// <summary>One record per completed epoch, in order.</summary>
    public IReadOnlyList<EpochRecord> Epochs { get; }

    /// <summary>
    /// The epoch whose weights the model holds: the best validation loss when validating, otherwise the last epoch
    /// (0 when no epoch completed).
    /// </summary>
    public int BestEpoch { get; }

    /// <summary>Why training ended.</summary>
    public StopReason StopReason { get; }

    /// <summary>
    /// When λ was chosen by <see cref="WeightDecaySearch"/>: every candidate's cross-validated loss and the choice (the
    /// epochs above are then those of the first fold's network). Null otherwise.
    /// </summary>
    public WeightDecaySelection? WeightDecaySelection { get; init; }

    /// <summary>The training loss per epoch.</summary>
    public IReadOnlyList<double> TrainingLoss => Epochs.Select(e => e.TrainingLoss).ToArray();
}
