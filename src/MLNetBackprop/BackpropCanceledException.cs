namespace MLNetBackprop;

/// <summary>
/// Training was canceled (through <see cref="BackpropTrainerOptions.CancellationToken"/> or the MLContext) between two
/// mini-batches. <see cref="PartialModel"/> is a usable transformer holding the best weights so far (the best
/// validation epoch when early stopping, otherwise the weights after the last completed step; every weight finite).
/// </summary>
public sealed class BackpropCanceledException : OperationCanceledException
{
    /// <summary>Creates the exception carrying the partial model.</summary>
    public BackpropCanceledException(BackpropTransformer partialModel, CancellationToken token)
        : base($"Backprop training was canceled after {partialModel?.History.Epochs.Count ?? 0} complete epoch(s); PartialModel holds the best model so far.", token)
    {
        ArgumentNullException.ThrowIfNull(partialModel);
        PartialModel = partialModel;
    }

    /// <summary>The best model so far, ready to score.</summary>
    public BackpropTransformer PartialModel { get; }
}
