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

    /// <summary>How often the learning rate was cut after a divergence (with <see cref="TrainingOptions.DivergenceBackoff"/>).</summary>
    public int LearningRateBackoffs { get; }
}
