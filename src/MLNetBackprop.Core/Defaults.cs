using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Core;

/// <summary>
/// Every default value of the options, in one place: <see cref="TrainingOptions"/> (the core's textbook method), the
/// adapter's BackpropTrainerOptions (which holds a TrainingOptions for the settings the two share) and the catalog
/// methods' parameters read them from here. Constants, because C# default parameter values must be; the options' XML
/// docs spell the same values for the reader (DefaultsTests checks that a fresh options object has these).
/// </summary>
/// <remarks>
/// Where the two options differ, the value has two names, each with the reason: the core is the textbook method whose
/// arithmetic the tests check by hand, the adapter is tuned to train well on ML.NET data without tuning.
/// </remarks>
internal static class Defaults
{
    // Settings the core and the adapter share (stored once, in the TrainingOptions the adapter holds).

    /// <summary>Learning rate of full-batch gradient descent when none is given (the textbook's α).</summary>
    public const double GradientDescentLearningRate = 0.5;

    /// <summary>Learning rate of SGD with momentum when none is given (scikit-learn's and Keras's usual value).</summary>
    public const double SgdLearningRate = 0.1;

    /// <summary>Learning rate of Adam when none is given (Kingma and Ba's).</summary>
    public const double AdamLearningRate = 0.001;

    /// <summary>Momentum μ of SGD.</summary>
    public const double Momentum = 0.9;

    /// <summary>Adam's β₁.</summary>
    public const double Beta1 = 0.9;

    /// <summary>Adam's β₂.</summary>
    public const double Beta2 = 0.999;

    /// <summary>Adam's ε.</summary>
    public const double Epsilon = 1e-8;

    /// <summary>Curvature pairs L-BFGS keeps.</summary>
    public const int LbfgsMemory = 10;

    /// <summary>Epoch limit (L-BFGS: iteration limit).</summary>
    public const int MaxEpochs = 200;

    /// <summary>Improvement of the monitored loss that counts as progress.</summary>
    public const double Tolerance = 1e-4;

    /// <summary>Epochs without progress before training stops as converged.</summary>
    public const int NoImprovementEpochs = 10;

    /// <summary>Exponent p of the inverse-scaling schedule.</summary>
    public const double PowerT = 0.5;

    /// <summary>Divisor of the adaptive schedule.</summary>
    public const double AdaptiveDivisor = 5;

    /// <summary>Fraction of the training rows held out for early stopping when no validation set is given.</summary>
    public const double ValidationFraction = 0.1;

    /// <summary>Epochs without validation improvement before early stopping.</summary>
    public const int EarlyStoppingPatience = 10;

    /// <summary>Reshuffle the rows before each epoch.</summary>
    public const bool Shuffle = true;

    // The core's own: the textbook method of the README's "The math".

    /// <summary>The core's data term: the textbook's squared error.</summary>
    public const LossFunction CoreLoss = LossFunction.SquaredError;

    /// <summary>The core's optimizer: the textbook's full-batch gradient descent.</summary>
    public const OptimizerKind CoreOptimizer = OptimizerKind.GradientDescent;

    /// <summary>
    /// The core's λ: the textbook value, which the hand-computed gradients in the tests use. The adapter's fixed λ
    /// (<see cref="FixedL2Regularization"/>) differs on purpose.
    /// </summary>
    public const double CoreL2Regularization = 1e-4;

    /// <summary>
    /// The core throws <see cref="TrainingDivergedException"/> on divergence: a library call that diverges is a bug
    /// in its caller's settings, which the caller should see. The adapter backs off instead (<see cref="DivergenceBackoff"/>).
    /// </summary>
    public const bool CoreDivergenceBackoff = false;

    /// <summary>The core's mini-batch size for SGD and Adam when none is given (scikit-learn's min(200, m)).</summary>
    public const int CoreMiniBatchSize = 200;

    // The adapter's own: its columns, its network, and the automatic choices it makes from the data.

    /// <summary>Name of the label column, as ML.NET's trainers name it.</summary>
    public const string LabelColumnName = "Label";

    /// <summary>Name of the feature column, as ML.NET's trainers name it.</summary>
    public const string FeatureColumnName = "Features";

    /// <summary>Units of the one hidden layer.</summary>
    public const int HiddenUnits = 128;

    /// <summary>Hidden activation (measured: as good as ReLU on the large benchmark sets, better on the small smooth regression sets).</summary>
    public const Activation HiddenActivation = Activation.Tanh;

    /// <summary>
    /// The adapter's λ when the weight decay is not searched (L2Regularization null, but the data too large, streamed,
    /// data-parallel, given a validation set or trained with a first-order optimizer). It was the adapter's fixed default
    /// before the search existed (README, "Defaults": the "fixed λ = 1e-3" column); those fits also stop early on held-out
    /// rows, which regularizes them too. It is the weakest λ of the search's grid. Not the core's 1e-4
    /// (<see cref="CoreL2Regularization"/>): that one is the textbook's, which the tests check by hand.
    /// </summary>
    public const double FixedL2Regularization = 1e-3;

    /// <summary>The λ values the automatic weight decay tries: from a near-linear network to <see cref="FixedL2Regularization"/>.</summary>
    public static double[] WeightDecayCandidates() => [1, 0.1, 0.01, FixedL2Regularization];

    /// <summary>Cross-validation folds of the weight-decay search (3 chose the same λ as 5 on the panel's small sets, at half the cost).</summary>
    public const int WeightDecayFolds = 3;

    /// <summary>Largest training set on which the weight decay is searched, as <see cref="LbfgsMaxRows"/>.</summary>
    public const int WeightDecaySearchMaxRows = LbfgsMaxRows;

    /// <summary>Largest training set for which the automatic optimizer is L-BFGS rather than Adam.</summary>
    public const int LbfgsMaxRows = 5000;

    /// <summary>
    /// The adapter's mini-batch size for SGD and Adam when none is given is m / <see cref="AutoBatchDivisor"/>, clamped to
    /// [<see cref="AutoBatchMin"/>, <see cref="AutoBatchMax"/>]: small sets still get many steps per epoch.
    /// </summary>
    public const int AutoBatchDivisor = 50;

    /// <summary>Smallest automatic mini-batch (see <see cref="AutoBatchDivisor"/>).</summary>
    public const int AutoBatchMin = 16;

    /// <summary>Largest automatic mini-batch (see <see cref="AutoBatchDivisor"/>).</summary>
    public const int AutoBatchMax = 256;

    /// <summary>The adapter backs off on divergence and logs a warning: an ML.NET pipeline should not fail on one bad learning rate.</summary>
    public const bool DivergenceBackoff = true;

    /// <summary>Standardize regression targets (an MLP on raw targets in the hundreds trains badly).</summary>
    public const bool StandardizeTargets = true;

    /// <summary>Rows per block when streaming.</summary>
    public const int StreamingBlockRows = 65_536;

    /// <summary>Most rows held out for early stopping when streaming.</summary>
    public const int StreamingValidationMaxRows = 100_000;

    /// <summary>The adapter's batch-size rule for the mini-batch optimizers (SGD, Adam): m/50 clamped to [16, 256].</summary>
    public static int AutoBatchSize(int rows) => Math.Clamp(rows / AutoBatchDivisor, AutoBatchMin, AutoBatchMax);
}
