namespace MLNetBackprop.Core;

/// <summary>What one epoch (one L-BFGS iteration) of training did.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="TrainingLoss">
/// The cost J over the epoch, penalty included: for mini-batches the weighted mean of the batch costs seen
/// during the epoch, for full-batch methods J at the start of the step.
/// </param>
/// <param name="ValidationLoss">Mean data loss (no penalty) on the validation set after the epoch, if there is one.</param>
/// <param name="ValidationAccuracy">Validation accuracy for classification outputs (softmax, or a single sigmoid unit), otherwise null.</param>
/// <param name="LearningRate">α used during the epoch (NaN for L-BFGS).</param>
/// <param name="GradientEvaluations">Gradient evaluations (mini-batches or full passes) made so far, in total.</param>
/// <param name="Elapsed">Wall-clock time since training started.</param>
public sealed record EpochRecord(int Epoch, double TrainingLoss, double? ValidationLoss, double? ValidationAccuracy,
    double LearningRate, int GradientEvaluations, TimeSpan Elapsed);
