namespace MLNetBackprop.Core;

/// <summary>Why training ended.</summary>
public enum StopReason
{
    /// <summary>The epoch limit was reached.</summary>
    MaxEpochs = 0,
    /// <summary>The training loss stopped improving by more than the tolerance.</summary>
    Converged = 1,
    /// <summary>The validation loss stopped improving for the patience; the best weights were restored.</summary>
    EarlyStopped = 2,
    /// <summary>The cancellation token fired; the best weights so far were kept.</summary>
    Canceled = 3,
    /// <summary>The limit on gradient evaluations was reached.</summary>
    MaxGradientEvaluations = 4,
}
