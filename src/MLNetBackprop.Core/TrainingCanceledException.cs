using System.Numerics;

namespace MLNetBackprop.Core;

/// <summary>
/// Training was canceled between two mini-batches. <see cref="PartialResult"/> holds the best model so far
/// (every weight finite): the best validation weights when early stopping, else the weights after the last completed step.
/// </summary>
public sealed class TrainingCanceledException<T> : OperationCanceledException where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the exception carrying the partial result.</summary>
    public TrainingCanceledException(TrainingResult<T> partialResult, CancellationToken token)
        : base($"Training was canceled after {partialResult.History.Epochs.Count} complete epoch(s); PartialResult holds the best model so far.", token)
    {
        PartialResult = partialResult;
    }

    /// <summary>The best model so far and its history, with <see cref="StopReason.Canceled"/>.</summary>
    public TrainingResult<T> PartialResult { get; }
}
