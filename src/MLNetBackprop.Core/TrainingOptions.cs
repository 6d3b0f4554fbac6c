using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Core;

/// <summary>
/// How a network is trained. The defaults are the textbook method: squared-error cost, L2 weight decay
/// λ = 1e-4, full-batch gradient descent.
/// </summary>
public sealed class TrainingOptions
{
    /// <summary>The data term of J. Default <see cref="LossFunction.SquaredError"/>.</summary>
    public LossFunction Loss { get; set; } = Defaults.CoreLoss;

    /// <summary>λ of the L2 weight decay (λ/2) Σ W² on weights only. Default 1e-4.</summary>
    public double L2Regularization { get; set; } = Defaults.CoreL2Regularization;

    /// <summary>λ₁ of the L1 penalty λ₁ Σ |W| on weights only. Default 0.</summary>
    public double L1Regularization { get; set; }

    /// <summary>
    /// Inverted dropout rate p on every hidden layer while training, in [0, 1): each hidden unit's activation is zeroed
    /// with probability p and the others are scaled by 1/(1 − p), a fresh seeded mask per mini-batch, so scoring needs no
    /// change. Needs a first-order optimizer (L-BFGS's line search needs a deterministic cost). Default 0 (off).
    /// </summary>
    public double Dropout { get; set; }

    /// <summary>The optimizer. Default <see cref="OptimizerKind.GradientDescent"/>.</summary>
    public OptimizerKind Optimizer { get; set; } = Defaults.CoreOptimizer;

    /// <summary>
    /// Initial learning rate α. Null picks the optimizer's usual value: 0.5 for gradient descent, 0.1 for SGD
    /// with momentum, 0.001 for Adam (ignored by L-BFGS).
    /// </summary>
    public double? LearningRate { get; set; }

    /// <summary>Momentum μ for <see cref="OptimizerKind.Sgd"/>, in [0, 1). Default 0.9.</summary>
    public double Momentum { get; set; } = Defaults.Momentum;

    /// <summary>Use Nesterov's momentum with <see cref="OptimizerKind.Sgd"/>. Default false.</summary>
    public bool Nesterov { get; set; }

    /// <summary>Adam's β₁, in [0, 1). Default 0.9.</summary>
    public double Beta1 { get; set; } = Defaults.Beta1;

    /// <summary>Adam's β₂, in [0, 1). Default 0.999.</summary>
    public double Beta2 { get; set; } = Defaults.Beta2;

    /// <summary>Adam's ε, positive. Default 1e-8.</summary>
    public double Epsilon { get; set; } = Defaults.Epsilon;

    /// <summary>Number of curvature pairs L-BFGS keeps. Default 10.</summary>
    public int LbfgsMemory { get; set; } = Defaults.LbfgsMemory;

    /// <summary>
    /// Rows per gradient step. Null means the whole training set for gradient descent and L-BFGS, and
    /// min(200, m) for SGD and Adam.
    /// </summary>
    public int? BatchSize { get; set; }

    /// <summary>Epoch limit (L-BFGS: iteration limit). Default 200.</summary>
    public int MaxEpochs { get; set; } = Defaults.MaxEpochs;

    /// <summary>Optional limit on gradient evaluations (mini-batches or full passes, line-search evaluations included).</summary>
    public int? MaxGradientEvaluations { get; set; }

    /// <summary>
    /// Minimum improvement of the training loss (or, when validating, the validation loss) that counts as
    /// progress. 0 disables the convergence test. Default 1e-4.
    /// </summary>
    public double Tolerance { get; set; } = Defaults.Tolerance;

    /// <summary>Epochs in a row without progress before training stops as converged. Default 10.</summary>
    public int NoImprovementEpochs { get; set; } = Defaults.NoImprovementEpochs;

    /// <summary>Learning-rate schedule. Default <see cref="LearningRateSchedule.Constant"/>.</summary>
    public LearningRateSchedule LearningRateSchedule { get; set; } = LearningRateSchedule.Constant;

    /// <summary>Exponent p of <see cref="LearningRateSchedule.InverseScaling"/>. Default 0.5.</summary>
    public double PowerT { get; set; } = Defaults.PowerT;

    /// <summary>Divisor of <see cref="LearningRateSchedule.Adaptive"/>. Default 5.</summary>
    public double AdaptiveDivisor { get; set; } = Defaults.AdaptiveDivisor;

    /// <summary>
    /// Stop when the validation loss has not improved by <see cref="Tolerance"/> for <see cref="EarlyStoppingPatience"/>
    /// epochs, and restore the best weights. Uses the validation set passed to the trainer, or else holds out
    /// <see cref="ValidationFraction"/> of the training rows. Default false.
    /// </summary>
    public bool EarlyStopping { get; set; }

    /// <summary>Fraction of the training rows held out for early stopping when no validation set is given. Default 0.1.</summary>
    public double ValidationFraction { get; set; } = Defaults.ValidationFraction;

    /// <summary>Epochs without validation improvement before early stopping. Default 10.</summary>
    public int EarlyStoppingPatience { get; set; } = Defaults.EarlyStoppingPatience;

    /// <summary>Reshuffle the rows before each epoch (mini-batch optimizers). Default true.</summary>
    public bool Shuffle { get; set; } = Defaults.Shuffle;

    /// <summary>Seed of every random draw the trainer makes (shuffling, validation split). Default 0.</summary>
    public int Seed { get; set; }

    /// <summary>Threads for the matrix products. Null uses every core. Results do not depend on it.</summary>
    public int? NumberOfThreads { get; set; }

    /// <summary>
    /// Training diverges when the cost, the gradient or a weight becomes non-finite, or the cost grows to 10⁴ times
    /// its first value or past 10³⁰; the same test is applied to the cost at the weights training ends with (first-order
    /// optimizers, unless early stopping restores its best weights), since the last step is otherwise never evaluated.
    /// The network then goes back to the weights from the start of its lowest-loss epoch (the
    /// initial weights if none). With this option the learning rate is then divided by 4 and training continues, the
    /// cut rate getting a full <see cref="NoImprovementEpochs"/> (at most 10 times; after that, or when the final weights
    /// diverge, training stops with <see cref="StopReason.Diverged"/> and those lowest-loss weights); without it
    /// <see cref="TrainingDivergedException"/> is thrown. Default false.
    /// </summary>
    public bool DivergenceBackoff { get; set; } = Defaults.CoreDivergenceBackoff;

    /// <summary>Called after every epoch with its record (on the training thread).</summary>
    public Action<EpochRecord>? EpochCompleted { get; set; }

    /// <summary>α used when <see cref="LearningRate"/> is null.</summary>
    public double EffectiveLearningRate => LearningRate ?? Optimizer switch
    {
        OptimizerKind.Sgd => Defaults.SgdLearningRate,
        OptimizerKind.Adam => Defaults.AdamLearningRate,
        OptimizerKind.Lbfgs => double.NaN,
        _ => Defaults.GradientDescentLearningRate,
    };

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option (see <see cref="ValidationErrors"/>).</summary>
    public void Validate()
    {
        if (ValidationErrors() is [var first, ..]) throw first;
    }

    /// <summary>
    /// Every invalid option at once, each as the <see cref="ArgumentOutOfRangeException"/> that names it (its
    /// <c>ParamName</c> is the option), in the order of the options; empty when the options are valid.
    /// </summary>
    public IReadOnlyList<ArgumentOutOfRangeException> ValidationErrors()
    {
        var errors = new List<ArgumentOutOfRangeException>();
        void Bad(string name, object value, string rule) => errors.Add(new ArgumentOutOfRangeException(name, value, $"The option {name} = {value} {rule}."));
        void NonNegative(string name, double value)
        {
            if (!double.IsFinite(value) || value < 0) Bad(name, value, "must be finite and non-negative");
        }

        if (!Enum.IsDefined(Loss)) Bad(nameof(Loss), Loss, "is not a defined loss function");
        if (!Enum.IsDefined(Optimizer)) Bad(nameof(Optimizer), Optimizer, "is not a defined optimizer");
        if (!Enum.IsDefined(LearningRateSchedule)) Bad(nameof(LearningRateSchedule), LearningRateSchedule, "is not a defined schedule");
        NonNegative(nameof(L2Regularization), L2Regularization);
        NonNegative(nameof(L1Regularization), L1Regularization);
        if (!(Dropout >= 0 && Dropout < 1)) Bad(nameof(Dropout), Dropout, "must be in [0, 1)");
        if (Dropout > 0 && Optimizer == OptimizerKind.Lbfgs)
            Bad(nameof(Dropout), Dropout, "needs a first-order optimizer (GradientDescent, Sgd or Adam): L-BFGS's line search needs a deterministic cost");
        if (LearningRate is { } lr && (!double.IsFinite(lr) || lr <= 0)) Bad(nameof(LearningRate), lr, "must be finite and positive");
        if (!(Momentum >= 0 && Momentum < 1)) Bad(nameof(Momentum), Momentum, "must be in [0, 1)");
        if (!(Beta1 >= 0 && Beta1 < 1)) Bad(nameof(Beta1), Beta1, "must be in [0, 1)");
        if (!(Beta2 >= 0 && Beta2 < 1)) Bad(nameof(Beta2), Beta2, "must be in [0, 1)");
        if (!double.IsFinite(Epsilon) || Epsilon <= 0) Bad(nameof(Epsilon), Epsilon, "must be finite and positive");
        if (LbfgsMemory < 1) Bad(nameof(LbfgsMemory), LbfgsMemory, "must be at least 1");
        if (BatchSize is { } b && b < 1) Bad(nameof(BatchSize), b, "must be at least 1");
        if (MaxEpochs < 1) Bad(nameof(MaxEpochs), MaxEpochs, "must be at least 1");
        if (MaxGradientEvaluations is { } e && e < 1) Bad(nameof(MaxGradientEvaluations), e, "must be at least 1");
        NonNegative(nameof(Tolerance), Tolerance);
        if (NoImprovementEpochs < 1) Bad(nameof(NoImprovementEpochs), NoImprovementEpochs, "must be at least 1");
        if (!double.IsFinite(PowerT) || PowerT < 0) Bad(nameof(PowerT), PowerT, "must be finite and non-negative");
        if (!double.IsFinite(AdaptiveDivisor) || AdaptiveDivisor <= 1) Bad(nameof(AdaptiveDivisor), AdaptiveDivisor, "must be greater than 1");
        if (!(ValidationFraction > 0 && ValidationFraction < 1)) Bad(nameof(ValidationFraction), ValidationFraction, "must be in (0, 1)");
        if (EarlyStoppingPatience < 1) Bad(nameof(EarlyStoppingPatience), EarlyStoppingPatience, "must be at least 1");
        if (NumberOfThreads is { } t && t < 1) Bad(nameof(NumberOfThreads), t, "must be at least 1");
        return errors;
    }

    /// <summary>A shallow copy.</summary>
    public TrainingOptions Clone() => (TrainingOptions)MemberwiseClone();
}
