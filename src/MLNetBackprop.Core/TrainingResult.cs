using System.Numerics;

namespace MLNetBackprop.Core;

/// <summary>A trained network and how it got there.</summary>
public sealed class TrainingResult<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    internal TrainingResult(NeuralNetwork<T> network, TrainingHistory history, int learningRateBackoffs = 0)
    {
        Network = network;
        History = history;
        LearningRateBackoffs = learningRateBackoffs;
    }

    /// <summary>The trained network (every parameter finite).</summary>
    public NeuralNetwork<T> Network { get; }

    /// <summary>Loss per epoch, best epoch and stop reason.</summary>
    public TrainingHistory History { get; }

    /// <summary>
    /// Where the run ended, for <see cref="NetworkTrainer.Continue{T}(NeuralNetwork{T}, TrainingData{T}, TrainingOptions, TrainingState{T}, TrainingData{T}?, CancellationToken)"/> (kept in memory only). Null for a model chosen by
    /// <see cref="WeightDecaySearch"/>.
    /// </summary>
    public TrainingState<T>? State { get; init; }

    /// <summary>Whether this run continued an earlier run's optimizer state (<see cref="NetworkTrainer.Continue{T}(NeuralNetwork{T}, TrainingData{T}, TrainingOptions, TrainingState{T}, TrainingData{T}?, CancellationToken)"/>).</summary>
    public bool OptimizerStateContinued { get; init; }

    /// <summary>How often the learning rate was cut after a divergence (with <see cref="TrainingOptions.DivergenceBackoff"/>).</summary>
    public int LearningRateBackoffs { get; }
}
