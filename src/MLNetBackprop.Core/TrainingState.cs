using System.Globalization;
using System.Numerics;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Core;

/// <summary>
/// Where a training run ended, so that <see cref="NetworkTrainer.Continue{T}(NeuralNetwork{T}, TrainingData{T}, TrainingOptions, TrainingState{T}, TrainingData{T}?, CancellationToken)"/> can go on from there: the epochs so far,
/// the optimizer's state (Adam's moments m, v and step count t; the momentum velocity) when it belongs to the weights
/// the run returned, the positions of the shuffling and dropout random streams, and the stopping rule's counters.
/// Immutable (the arrays are copies); kept in memory only.
/// </summary>
/// <remarks>
/// Continuing a run that ended on <see cref="StopReason.MaxEpochs"/> (or <see cref="StopReason.MaxGradientEvaluations"/>)
/// with the same options is the same computation as one longer run, bit for bit: 20 epochs and then 20 more give the
/// weights of 40 in one go. After any other stop the stopping rule (tolerance counter, adaptive-rate cuts) starts
/// afresh, and the optimizer's state is dropped when the returned weights are not the last ones it stepped to (early
/// stopping's best epoch, a divergence's restored weights).
/// </remarks>
public sealed class TrainingState<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[][] _optimizerArrays;

    /// <summary>The optimizer's state arrays as saved (Adam: m, v; momentum: the velocity), for tests.</summary>
    internal IReadOnlyList<T[]> OptimizerArrays => _optimizerArrays;

    internal TrainingState(IReadOnlyList<EpochRecord> epochs, StopReason stopReason, OptimizerKind? optimizer, TrainingOptions options,
        int parameterCount, T[][] optimizerArrays, int steps, int shuffleRows, long shuffles, long dropoutDraws, double learningRateScale,
        double bestProgressScore, int sinceProgress, double referenceLoss, string? noStateReason)
    {
        NoStateReason = noStateReason;
        Epochs = epochs;
        StopReason = stopReason;
        Optimizer = optimizer;
        _optimizerArrays = optimizerArrays.Select(a => (T[])a.Clone()).ToArray();
        ParameterCount = parameterCount;
        Steps = steps;
        Beta1 = options.Beta1;
        Beta2 = options.Beta2;
        Epsilon = options.Epsilon;
        Momentum = options.Momentum;
        Nesterov = options.Nesterov;
        Seed = options.Seed;
        ShuffleRows = shuffleRows;
        Shuffles = shuffles;
        DropoutDraws = dropoutDraws;
        LearningRateScale = learningRateScale;
        BestProgressScore = bestProgressScore;
        SinceProgress = sinceProgress;
        ReferenceLoss = referenceLoss;
    }

    /// <summary>
    /// A state with the epochs of <paramref name="history"/> and nothing else: continuing from it numbers the new epochs
    /// after these and starts the optimizer, the random streams and the stopping rule afresh (what a model read back from
    /// a file, or one made by the weight-decay search, continues with).
    /// </summary>
    public static TrainingState<T> FromHistory(TrainingHistory history)
    {
        ArgumentNullException.ThrowIfNull(history);
        return new TrainingState<T>(history.Epochs.ToArray(), history.StopReason, null, new TrainingOptions(), 0, [], 0, 0, 0, 0, 1,
            double.PositiveInfinity, 0, double.NaN,
            history.Epochs.Count == 0 ? "there is no earlier run"
                : "the earlier run left no optimizer state (a model read back from a file, chosen by the weight-decay search, or trained with L-BFGS)");
    }

    /// <summary>The epochs of all runs so far, in order (the continuation's epochs are numbered after them).</summary>
    public IReadOnlyList<EpochRecord> Epochs { get; }

    /// <summary>Why the last run ended.</summary>
    public StopReason StopReason { get; }

    /// <summary>
    /// The optimizer whose state is held (first-order optimizers), or null when none is (L-BFGS, which restarts from the
    /// weights on every call; a state from <see cref="FromHistory"/>; or a run whose returned weights are not its last ones).
    /// </summary>
    public OptimizerKind? Optimizer { get; }

    /// <summary>Adam's step count t (its bias correction continues from it); 0 otherwise.</summary>
    public int Steps { get; }

    /// <summary>Whether the run can be resumed exactly: it ended on its epoch or gradient-evaluation budget.</summary>
    public bool ResumesExactly => StopReason is StopReason.MaxEpochs or StopReason.MaxGradientEvaluations && Optimizer is not null;

    /// <summary>Why no optimizer state is held, when <see cref="Optimizer"/> is null.</summary>
    internal string? NoStateReason { get; }
    internal int ParameterCount { get; }
    internal double Beta1 { get; }
    internal double Beta2 { get; }
    internal double Epsilon { get; }
    internal double Momentum { get; }
    internal bool Nesterov { get; }
    internal int Seed { get; }
    internal int ShuffleRows { get; }
    internal long Shuffles { get; }
    internal long DropoutDraws { get; }
    internal double LearningRateScale { get; }
    internal double BestProgressScore { get; }
    internal int SinceProgress { get; }
    internal double ReferenceLoss { get; }

    /// <summary>Copies the held optimizer arrays into <paramref name="rule"/>'s.</summary>
    internal void Restore(IUpdateRule<T> rule)
    {
        var target = rule.StateArrays;
        for (int i = 0; i < target.Length; i++) _optimizerArrays[i].CopyTo(target[i], 0);
        rule.Steps = Steps;
    }

    /// <summary>
    /// Why the optimizer state cannot be carried into a run with <paramref name="options"/> on a network of
    /// <paramref name="parameterCount"/> parameters, or null when it can (same first-order optimizer with the same β₁, β₂,
    /// ε or momentum and Nesterov flag, same parameter count; the learning rate may differ).
    /// </summary>
    public string? OptimizerMismatch(TrainingOptions options, int parameterCount)
    {
        ArgumentNullException.ThrowIfNull(options);
        var inv = CultureInfo.InvariantCulture;
        if (options.Optimizer == OptimizerKind.Lbfgs) return "L-BFGS keeps no state between runs; it restarts from the weights";
        if (Optimizer is not { } kind) return NoStateReason ?? "no optimizer state was kept";
        if (kind != options.Optimizer) return string.Format(inv, "the earlier run used {0}, this one {1}", kind, options.Optimizer);
        if (ParameterCount != parameterCount)
            return string.Format(inv, "the earlier network had {0} parameters, this one {1}", ParameterCount, parameterCount);
        if (kind == OptimizerKind.Adam && (Beta1 != options.Beta1 || Beta2 != options.Beta2 || Epsilon != options.Epsilon))
            return string.Format(inv, "Adam's options differ (Beta1 {0} → {1}, Beta2 {2} → {3}, Epsilon {4} → {5})",
                Beta1, options.Beta1, Beta2, options.Beta2, Epsilon, options.Epsilon);
        if (kind == OptimizerKind.Sgd && (Momentum != options.Momentum || Nesterov != options.Nesterov))
            return string.Format(inv, "the momentum options differ (Momentum {0} → {1}, Nesterov {2} → {3})",
                Momentum, options.Momentum, Nesterov, options.Nesterov);
        return null;
    }
}
