namespace MLNetBackprop.Core;

/// <summary>The loss curve and the outcome of a training run.</summary>
public sealed class TrainingHistory
{
    internal TrainingHistory(IReadOnlyList<EpochRecord> epochs, int bestEpoch, StopReason stopReason)
    {
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

    /// <summary>The training loss per epoch.</summary>
    public IReadOnlyList<double> TrainingLoss => Epochs.Select(e => e.TrainingLoss).ToArray();
}
