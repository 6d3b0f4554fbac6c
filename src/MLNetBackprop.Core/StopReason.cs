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
    /// <summary>
    /// The loss diverged even after learning-rate back-offs (<see cref="TrainingOptions.DivergenceBackoff"/>): the 10
    /// back-offs ran out, or the last step, taken as training was about to stop, blew up. The weights with the lowest
    /// measured loss are returned (the best validation epoch's when early stopping, else those from the start of the
    /// lowest-training-loss epoch, the initial weights if none; <see cref="TrainingHistory.BestEpoch"/> says which). The
    /// model is finite but probably poor: lower the learning rate or scale the features.
    /// </summary>
    Diverged = 5,
}
