namespace MLNetBackprop.Core;

/// <summary>How the learning rate α changes from epoch to epoch (first-order optimizers only).</summary>
public enum LearningRateSchedule
{
    /// <summary>α stays at its initial value. The default.</summary>
    Constant = 0,
    /// <summary>α_t = α₀ / t^p at epoch t (1-based), p = <see cref="TrainingOptions.PowerT"/>.</summary>
    InverseScaling = 1,
    /// <summary>
    /// α is divided by <see cref="TrainingOptions.AdaptiveDivisor"/> each time the training loss has failed to
    /// improve by <see cref="TrainingOptions.Tolerance"/> for <see cref="TrainingOptions.NoImprovementEpochs"/>
    /// epochs in a row; training stops once α falls below 1e-6 of its initial value.
    /// </summary>
    Adaptive = 2,
}
