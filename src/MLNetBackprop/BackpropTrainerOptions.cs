using System.Globalization;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Distributed;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop;

/// <summary>
/// Everything a <see cref="BackpropTrainer"/> can be told. The defaults train well on normalized features without
/// tuning: one hidden layer of 128 tanh units, a sigmoid (binary), softmax (multiclass) or identity (regression)
/// output with cross-entropy or squared error on standardized targets, and an optimizer chosen by data size — L-BFGS
/// (full batch, 200 iterations) up to 5,000 training rows, with the L2 weight decay chosen among 1, 0.1, 0.01 and 0.001
/// by 3-fold cross-validation; Adam with mini-batches, λ = 1e-3 and early stopping on a held-out tenth of the rows (best
/// weights restored) above. <see cref="Textbook"/> gives the textbook method instead.
/// </summary>
/// <remarks>
/// <para>Trainer characteristics: normalization required — yes (normalize the features, e.g. NormalizeMeanVariance
/// or NormalizeMinMax); caching — not needed, the trainer reads the data once into memory; sparse feature vectors —
/// kept sparse; example weights — supported; ONNX export — yes (<see cref="BackpropTransformer.ExportOnnx(System.IO.Stream)"/>); saving — mlContext.Model.Save, loaded back by a plain Model.Load or by mlContext.Backprop().LoadModel.</para>
/// <para>The textbook method (sigmoid hidden and output units, squared error, full-batch gradient descent, fixed λ) is
/// the preset <see cref="Textbook"/>.</para>
/// </remarks>
public sealed class BackpropTrainerOptions
{
    // The settings that mean the same as the core's are stored once, in the core's own options, and the properties of
    // those names forward to it: the core's options are what training reads, and nothing copies them field by field.
    // The settings the adapter decides from the data (Loss, L2Regularization, Optimizer, EarlyStopping and Seed are
    // nullable here, meaning automatic) are its own; ToCore settles them into a copy, so the stored core options' values
    // of those names are never read. DivergenceBackoff is shared but the adapter's default differs (see Defaults).
    private TrainingOptions _training = new() { DivergenceBackoff = Defaults.DivergenceBackoff };

    /// <summary>Name of the label column. Default "Label".</summary>
    public string LabelColumnName { get; set; } = Defaults.LabelColumnName;

    /// <summary>Name of the feature column, a known-size vector of Single (dense or sparse). Default "Features".</summary>
    public string FeatureColumnName { get; set; } = Defaults.FeatureColumnName;

    /// <summary>Name of an optional example-weight column (Single, finite, non-negative). Default null: every row weighs 1.</summary>
    public string? ExampleWeightColumnName { get; set; }

    /// <summary>
    /// Weights per class for classification, multiplying each row's loss (and its example weight, when there is one):
    /// index = class, in the label's key order for multiclass, [false, true] for binary. Every entry finite and
    /// non-negative, one per class. Default null: every class weighs 1. Keras's <c>class_weight</c> and scikit-learn's
    /// dictionary form.
    /// </summary>
    public float[]? ClassWeights { get; set; }

    /// <summary>
    /// Weight each class by m / (K · m_c) (m training rows, K classes, m_c rows of class c), "balanced" as scikit-learn
    /// and Keras define it, so that every class carries the same total weight: for imbalanced data where the rare
    /// classes matter (macro-accuracy, recall). Multiplies with <see cref="ClassWeights"/> and example weights. Counted
    /// on the training rows, so a class absent from them gets weight 0. Default false.
    /// </summary>
    public bool BalanceClasses { get; set; }

    /// <summary>The task; <see cref="BackpropTask.Auto"/> (the default) follows the label column's type.</summary>
    public BackpropTask Task { get; set; } = BackpropTask.Auto;

    /// <summary>Sizes of the hidden layers, input side first. Empty means no hidden layer (a linear/logistic/softmax model). Default [128].</summary>
    public int[] HiddenLayers { get; set; } = [Defaults.HiddenUnits];

    /// <summary>
    /// Activation of every hidden layer. Default <see cref="Core.Activation.Tanh"/> (measured: as good as ReLU on the large
    /// benchmark sets and better on the small smooth regression sets).
    /// </summary>
    public Activation Activation { get; set; } = Defaults.HiddenActivation;

    /// <summary>
    /// Output activation. Null (the default) picks the task's: Sigmoid for binary, Softmax for multiclass, Identity
    /// for regression. Binary classification needs Sigmoid; multiclass allows Softmax or Sigmoid.
    /// </summary>
    public Activation? OutputActivation { get; set; }

    /// <summary>
    /// The data term of the cost. Null (the default) picks CrossEntropy for classification and SquaredError for
    /// regression. CrossEntropy needs a Sigmoid or Softmax output.
    /// </summary>
    public LossFunction? Loss { get; set; }

    /// <summary>
    /// λ of the L2 weight decay (λ/2)ΣW² (weights only, not biases), added to the mean loss over the rows (so it does not
    /// shrink as the data grows; scikit-learn's alpha corresponds to λ·m). Null (the default) chooses it from the data:
    /// on a training set of at most <see cref="WeightDecaySearchMaxRows"/> rows whose rows × network parameters is at most
    /// 2.5·10⁷ (so that the search's dozen fits take seconds: 5,000 rows of 30 features qualify, 2,000 MNIST images do
    /// not), trained with L-BFGS (the default optimizer there; the first-order optimizers stop early on held-out rows
    /// instead), with no validation set passed to <c>Fit</c>, each of <see cref="WeightDecayCandidates"/> is tried by <see cref="WeightDecayFolds"/>-fold
    /// cross-validation and the one with the lowest held-out loss is used (reported in
    /// <see cref="TrainingHistory.WeightDecaySelection"/> and in the MLContext log); otherwise λ = 1e-3. Small noisy
    /// tables are where any fixed λ fails (1e-3 let a 128-unit network fit the noise of a 189-row set, R² −1.6); see
    /// README, "Defaults".
    /// </summary>
    public double? L2Regularization { get; set; }

    /// <summary>
    /// The λ values the automatic weight decay tries (<see cref="L2Regularization"/> null). Default 1, 0.1, 0.01, 0.001:
    /// from a near-linear network to today's fixed value.
    /// </summary>
    public double[] WeightDecayCandidates { get; set; } = Defaults.WeightDecayCandidates();

    /// <summary>
    /// Cross-validation folds of the automatic weight decay, at least 2. Default 3: on 7 of the panel's small sets 3 folds chose
    /// the same λ as 5 in all 35 fits, at about half the cost.
    /// </summary>
    public int WeightDecayFolds { get; set; } = Defaults.WeightDecayFolds;

    /// <summary>
    /// Largest training set on which <see cref="L2Regularization"/> = null searches λ by cross-validation (which costs
    /// about candidates × folds × (folds − 1)/folds fits, run on all cores). Default 5,000 rows, as
    /// <see cref="LbfgsMaxRows"/>; larger sets use λ = 1e-3 with early stopping.
    /// </summary>
    public int WeightDecaySearchMaxRows { get; set; } = Defaults.WeightDecaySearchMaxRows;

    /// <summary>
    /// With the automatic weight decay: false (the default) trains one more network on all rows with the chosen λ, starting
    /// from the first fold's network (which has seen (k − 1)/k of the rows with that cost, so it converges quickly); true
    /// returns the average of the fold networks instead (one network with their hidden units side by side, scoring the
    /// mean of their output pre-activations) and needs no further fit. Measured on the panel's small classification sets,
    /// the refit was better (Vowel 0.969 against 0.957 with 3 folds, Glass, Soybean): each averaged member sees only
    /// (k − 1)/k of the rows, which costs more than averaging gains there.
    /// </summary>
    public bool AverageFoldModels { get; set; }

    /// <summary>
    /// Inverted dropout rate p on the hidden layers while training, in [0, 1): each hidden unit is zeroed with probability
    /// p in each mini-batch (seeded) and the others are scaled by 1/(1 − p), so the model scores with every unit and no
    /// rescaling (and exports to ONNX unchanged). A regularizer for large networks on small data. It needs a first-order
    /// optimizer: with <see cref="Optimizer"/> null, a dropout above 0 picks Adam at every data size, so the automatic
    /// weight decay does not search (λ = 1e-3). Default 0 (off).
    /// </summary>
    public double Dropout { get => _training.Dropout; set => _training.Dropout = value; }

    /// <summary>λ₁ of the L1 penalty λ₁Σ|W| (weights only). Default 0.</summary>
    public double L1Regularization { get => _training.L1Regularization; set => _training.L1Regularization = value; }

    /// <summary>
    /// The optimizer. Null (the default) picks by the number of training rows m: <see cref="OptimizerKind.Lbfgs"/> when
    /// m ≤ <see cref="LbfgsMaxRows"/> (full-batch quasi-Newton converges precisely on small sets, as scikit-learn also
    /// recommends), else <see cref="OptimizerKind.Adam"/> with mini-batches.
    /// </summary>
    public OptimizerKind? Optimizer { get; set; }

    /// <summary>Largest training set for which the default optimizer is L-BFGS rather than Adam. Default 5,000 rows.</summary>
    public int LbfgsMaxRows { get; set; } = Defaults.LbfgsMaxRows;

    /// <summary>
    /// Initial learning rate α. Null (the default) picks the optimizer's usual value: 0.001 for Adam, 0.1 for SGD with
    /// momentum, 0.5 for gradient descent; L-BFGS ignores it.
    /// </summary>
    public double? LearningRate { get => _training.LearningRate; set => _training.LearningRate = value; }

    /// <summary>Learning-rate schedule (first-order optimizers). Default constant.</summary>
    public LearningRateSchedule LearningRateSchedule { get => _training.LearningRateSchedule; set => _training.LearningRateSchedule = value; }

    /// <summary>Exponent p of the inverse-scaling schedule α₀/t^p. Default 0.5.</summary>
    public double PowerT { get => _training.PowerT; set => _training.PowerT = value; }

    /// <summary>Divisor of the adaptive schedule. Default 5.</summary>
    public double AdaptiveDivisor { get => _training.AdaptiveDivisor; set => _training.AdaptiveDivisor = value; }

    /// <summary>Momentum μ for SGD, in [0, 1). Default 0.9.</summary>
    public double Momentum { get => _training.Momentum; set => _training.Momentum = value; }

    /// <summary>Use Nesterov momentum with SGD. Default false.</summary>
    public bool Nesterov { get => _training.Nesterov; set => _training.Nesterov = value; }

    /// <summary>Adam's β₁, in [0, 1). Default 0.9.</summary>
    public double Beta1 { get => _training.Beta1; set => _training.Beta1 = value; }

    /// <summary>Adam's β₂, in [0, 1). Default 0.999.</summary>
    public double Beta2 { get => _training.Beta2; set => _training.Beta2 = value; }

    /// <summary>Adam's ε, positive. Default 1e-8.</summary>
    public double Epsilon { get => _training.Epsilon; set => _training.Epsilon = value; }

    /// <summary>Curvature pairs kept by L-BFGS. Default 10.</summary>
    public int LbfgsMemory { get => _training.LbfgsMemory; set => _training.LbfgsMemory = value; }

    /// <summary>
    /// Rows per gradient step. Null (the default) picks m/50 clamped to [16, 256] for SGD and Adam (m = training rows),
    /// so that small data sets still get many steps per epoch, and the whole set for gradient descent and L-BFGS.
    /// </summary>
    public int? BatchSize { get => _training.BatchSize; set => _training.BatchSize = value; }

    /// <summary>Epoch limit (L-BFGS: iteration limit). Default 200.</summary>
    public int MaxEpochs { get => _training.MaxEpochs; set => _training.MaxEpochs = value; }

    /// <summary>Optional limit on gradient evaluations (mini-batches or full passes). Default null: no limit.</summary>
    public int? MaxGradientEvaluations { get => _training.MaxGradientEvaluations; set => _training.MaxGradientEvaluations = value; }

    /// <summary>
    /// Minimum improvement of the monitored loss (validation loss when early stopping, else training loss) that counts
    /// as progress. 0 disables the convergence test. Default 1e-4.
    /// </summary>
    public double Tolerance { get => _training.Tolerance; set => _training.Tolerance = value; }

    /// <summary>Epochs without progress of the training loss before stopping as converged (without early stopping). Default 10.</summary>
    public int NoImprovementEpochs { get => _training.NoImprovementEpochs; set => _training.NoImprovementEpochs = value; }

    /// <summary>
    /// Stop when the validation loss has not improved for <see cref="EarlyStoppingPatience"/> epochs and restore the best
    /// weights. The validation set is the one passed to <see cref="BackpropTrainer.Fit(Microsoft.ML.IDataView, Microsoft.ML.IDataView)"/>,
    /// or else a seeded random <see cref="ValidationFraction"/> of the training rows. Null (the default) enables it for
    /// the mini-batch optimizers (Adam, SGD) and when validation data is passed to Fit, and disables it for full-batch
    /// L-BFGS and gradient descent on a single data set (a held-out tenth of a small set is too noisy to stop on).
    /// </summary>
    public bool? EarlyStopping { get; set; }

    /// <summary>Fraction of the training rows held out for early stopping when no validation data is given, in (0, 1). Default 0.1.</summary>
    public double ValidationFraction { get => _training.ValidationFraction; set => _training.ValidationFraction = value; }

    /// <summary>Epochs without validation improvement before early stopping. Default 10.</summary>
    public int EarlyStoppingPatience { get => _training.EarlyStoppingPatience; set => _training.EarlyStoppingPatience = value; }

    /// <summary>Reshuffle the rows before every epoch (mini-batch optimizers). Default true.</summary>
    public bool Shuffle { get => _training.Shuffle; set => _training.Shuffle = value; }

    /// <summary>
    /// Standardize regression targets to mean 0 and standard deviation 1 for training; predictions are mapped back to
    /// the original scale. Default true (an MLP on raw targets in the hundreds trains badly).
    /// </summary>
    public bool StandardizeTargets { get; set; } = Defaults.StandardizeTargets;

    /// <summary>
    /// Seed of the weight initialization, the shuffling and the validation split. Null (the default) draws it from the
    /// MLContext, so <c>new MLContext(seed)</c> gives identical models.
    /// </summary>
    public int? Seed { get; set; }

    /// <summary>Threads for the matrix products during training. Null (the default) uses every core; results do not depend on it.</summary>
    public int? NumberOfThreads { get => _training.NumberOfThreads; set => _training.NumberOfThreads = value; }

    /// <summary>
    /// When the loss becomes non-finite or explodes, restore the weights from the start of the lowest-loss epoch, divide
    /// the learning rate by 4 and repeat the epoch (at most 10 times) instead of failing. If that does not tame it (or the
    /// last step before stopping blows up), training stops with <see cref="StopReason.Diverged"/>, returns the weights
    /// with the lowest measured loss and logs a warning to MLContext.Log. False throws
    /// <see cref="TrainingDivergedException"/> instead. Default true.
    /// </summary>
    public bool DivergenceBackoff { get => _training.DivergenceBackoff; set => _training.DivergenceBackoff = value; }

    /// <summary>
    /// Drop training and validation rows whose features, label or weight are NaN, infinite, a missing key, a regression
    /// target beyond ±3.4e35 (see <see cref="BackpropTask.Regression"/>) or a negative weight, instead of throwing; the
    /// number dropped and the first problem are written to MLContext.Log. Default false: such a row stops Fit with an
    /// exception that names the column, the row and the slot.
    /// </summary>
    public bool SkipInvalidRows { get; set; }

    /// <summary>
    /// Whether the training rows are copied into memory or read from the IDataView block by block every epoch (data larger
    /// than memory). <see cref="DataLoadingMode.Auto"/> (the default) streams when the training set's estimated in-memory
    /// size passes <see cref="MemoryBudgetBytes"/>, and says which and why in MLContext.Log.
    /// </summary>
    public DataLoadingMode DataLoading { get; set; } = DataLoadingMode.Auto;

    /// <summary>
    /// The memory the training set may take in memory, in bytes, for <see cref="DataLoadingMode.Auto"/>: the estimate is rows ×
    /// (features + outputs + 1) × 4 bytes × 2 (the rows as read, plus the copy early stopping's split makes). Null (the default)
    /// is a quarter of the memory this process may use (<c>GC.GetGCMemoryInfo().TotalAvailableMemoryBytes</c>, which honours
    /// container limits and <c>DOTNET_GCHeapHardLimit</c>). A view that does not know its row count is read into memory until
    /// the budget is reached, then streamed.
    /// </summary>
    public long? MemoryBudgetBytes { get; set; }

    /// <summary>
    /// Streaming: rows per block, the unit read from the view and the window mini-batches are shuffled within (rounded to a
    /// multiple of the batch size). Two blocks are in memory at a time, the one trained on and the one read ahead on a
    /// thread of its own: about 2 × block rows × (features + outputs + 1) × 4 bytes, kept within a quarter of the memory
    /// budget (<see cref="MemoryBudgetBytes"/>) by using fewer rows per block when it is small. Rows further apart than
    /// a block are mixed only by the view's own shuffle (ML.NET's binary .idv files shuffle by blocks when asked with a
    /// seed), which <see cref="StreamingShuffle"/> asks for when the row order drifts. Default 65,536.
    /// </summary>
    public int StreamingBlockRows { get; set; } = Defaults.StreamingBlockRows;

    /// <summary>
    /// Streaming with <see cref="Shuffle"/> on: whether each epoch also asks the view for a shuffled cursor, or reads it in
    /// its order and shuffles within blocks only. <see cref="StreamingShuffleMode.Auto"/> (the default) decides from the
    /// first scan: a view whose row order drifts (sorted by label, time or a feature) is read shuffled, one in a random
    /// order is read in order, which costs less CPU. See <see cref="StreamingShuffleMode"/>.
    /// </summary>
    public StreamingShuffleMode StreamingShuffle { get; set; } = StreamingShuffleMode.Auto;

    /// <summary>
    /// Every invalid option at once, each as the <see cref="ArgumentException"/> that names it (its <c>ParamName</c> is
    /// the option), in the order of the options; empty when they are valid. The trainer throws the first of them when it
    /// is created; <c>services.AddBackprop</c>'s options validation reports them all.
    /// </summary>
    public IReadOnlyList<ArgumentException> ValidationErrors()
    {
        var errors = new List<ArgumentException>();
        if (HiddenLayers is null) errors.Add(new ArgumentNullException(nameof(HiddenLayers), "The option HiddenLayers must not be null (use an empty array for no hidden layer)."));
        else
        {
            bool layersValid = true;
            for (int i = 0; i < HiddenLayers.Length; i++)
                if (HiddenLayers[i] < 1)
                {
                    layersValid = false;
                    errors.Add(new ArgumentOutOfRangeException(nameof(HiddenLayers), HiddenLayers[i], $"The option HiddenLayers[{i}] = {HiddenLayers[i]} must be at least 1."));
                    break;
                }
            // Fewest parameters any data could give: one feature and one output. Fit checks again with the real widths.
            if (layersValid && BackpropTrainer.ParameterCount([1, .. HiddenLayers, 1]) is var least && least > Array.MaxLength)
                errors.Add(new ArgumentOutOfRangeException(nameof(HiddenLayers), string.Create(CultureInfo.InvariantCulture,
                $"The option HiddenLayers = [{string.Join(", ", HiddenLayers)}] gives a network of at least {least} parameters (with a single feature and output), more than an array can hold ({Array.MaxLength}); use fewer or narrower layers.")));
        }
        if (!Enum.IsDefined(Task)) errors.Add(new ArgumentOutOfRangeException(nameof(Task), Task, $"The option Task = {Task} is not a defined task."));
        if (!Enum.IsDefined(Activation) || Activation == Activation.Softmax)
            errors.Add(new ArgumentOutOfRangeException(nameof(Activation), Activation, $"The option Activation = {Activation} is not a hidden-layer activation."));
        if (OutputActivation is { } oa && !Enum.IsDefined(oa))
            errors.Add(new ArgumentOutOfRangeException(nameof(OutputActivation), oa, $"The option OutputActivation = {oa} is not a defined activation."));
        if (!Enum.IsDefined(DataLoading))
            errors.Add(new ArgumentOutOfRangeException(nameof(DataLoading), DataLoading, $"The option DataLoading = {DataLoading} is not a defined mode."));
        if (!Enum.IsDefined(StreamingShuffle))
            errors.Add(new ArgumentOutOfRangeException(nameof(StreamingShuffle), StreamingShuffle, $"The option StreamingShuffle = {StreamingShuffle} is not a defined mode."));
        if (MemoryBudgetBytes is < 1)
            errors.Add(new ArgumentOutOfRangeException(nameof(MemoryBudgetBytes), MemoryBudgetBytes, $"The option MemoryBudgetBytes = {MemoryBudgetBytes} must be positive (or null for a quarter of the available memory)."));
        if (StreamingBlockRows < 1)
            errors.Add(new ArgumentOutOfRangeException(nameof(StreamingBlockRows), StreamingBlockRows, $"The option StreamingBlockRows = {StreamingBlockRows} must be at least 1."));
        if (StreamingValidationMaxRows < 1)
            errors.Add(new ArgumentOutOfRangeException(nameof(StreamingValidationMaxRows), StreamingValidationMaxRows, $"The option StreamingValidationMaxRows = {StreamingValidationMaxRows} must be at least 1."));
        if (LbfgsMaxRows < 0) errors.Add(new ArgumentOutOfRangeException(nameof(LbfgsMaxRows), LbfgsMaxRows, $"The option LbfgsMaxRows = {LbfgsMaxRows} must be non-negative."));
        if (ClassWeights is { } cw && Array.FindIndex(cw, w => !float.IsFinite(w) || w < 0) is var bad and >= 0)
            errors.Add(new ArgumentOutOfRangeException(nameof(ClassWeights), cw[bad], string.Create(CultureInfo.InvariantCulture,
                $"The option ClassWeights[{bad}] = {cw[bad]} must be finite and non-negative.")));
        if (WeightDecaySearchMaxRows < 0)
            errors.Add(new ArgumentOutOfRangeException(nameof(WeightDecaySearchMaxRows), WeightDecaySearchMaxRows, $"The option WeightDecaySearchMaxRows = {WeightDecaySearchMaxRows} must be non-negative."));
        if (WeightDecayFolds < 2)
            errors.Add(new ArgumentOutOfRangeException(nameof(WeightDecayFolds), WeightDecayFolds, $"The option WeightDecayFolds = {WeightDecayFolds} must be at least 2."));
        if (WeightDecayCandidates is not { Length: > 0 } candidates)
            errors.Add(new ArgumentOutOfRangeException(nameof(WeightDecayCandidates), "The option WeightDecayCandidates needs at least one λ."));
        else if (candidates.FirstOrDefault(x => !double.IsFinite(x) || x < 0) is var c && (!double.IsFinite(c) || c < 0))
            errors.Add(new ArgumentOutOfRangeException(nameof(WeightDecayCandidates), c, string.Create(CultureInfo.InvariantCulture,
                    $"The option WeightDecayCandidates holds λ = {c}; every candidate must be finite and non-negative.")));
        if (string.IsNullOrEmpty(LabelColumnName)) errors.Add(new ArgumentException("The option LabelColumnName must not be empty.", nameof(LabelColumnName)));
        if (string.IsNullOrEmpty(FeatureColumnName)) errors.Add(new ArgumentException("The option FeatureColumnName must not be empty.", nameof(FeatureColumnName)));
        // The options the core receives, before any rows are known (Fit checks them again with the batch size the rows give).
        errors.AddRange(ToCore(Loss ?? LossFunction.SquaredError, rows: null).ValidationErrors());
        return errors;
    }

    /// <summary>
    /// Streaming with early stopping and no validation data: at most this many rows are held out (a seeded
    /// <see cref="ValidationFraction"/> of the rows, chosen by row id, kept in memory). Default 100,000.
    /// </summary>
    public int StreamingValidationMaxRows { get; set; } = Defaults.StreamingValidationMaxRows;

    /// <summary>Cancels training (checked before every mini-batch), as <c>MLContext.CancelExecution()</c> does. Default none.</summary>
    public CancellationToken CancellationToken { get; set; }

    /// <summary>
    /// Called after every epoch with its record, on the training thread. Default null. While the automatic weight decay
    /// searches, its cross-validation fits (run side by side) do not call it; the final fit does.
    /// </summary>
    public Action<EpochRecord>? EpochCompleted { get => _training.EpochCompleted; set => _training.EpochCompleted = value; }

    /// <summary>
    /// Data-parallel training across processes: this process is one rank of several, each fitting the same pipeline on its
    /// own shard of the rows; every step the ranks' gradients are summed (MLNetBackprop.Distributed's <c>MpiAllreduce</c>
    /// does it over MPI) and every rank ends with the same model. Default null: one process. The ranks also agree on the
    /// seed (rank 0's), the target scaling and class counts (over every shard), the optimizer and batch size (from the
    /// total row count); each shard is read into memory, and the weight decay is not searched (the fixed λ is used unless
    /// <see cref="L2Regularization"/> is set). Not saved with the model.
    /// </summary>
    public IGradientAllreduce? GradientAllreduce { get; set; }

    /// <summary>
    /// The textbook method of the README's "The math", one option away from the defaults: sigmoid hidden and output units,
    /// the cost J = (1/m) Σ ½‖h(x) − y‖² + (λ/2) Σ W² with a fixed λ = 1e-4 (no search), full-batch gradient descent with
    /// α = 0.5, no early stopping, targets as given (so regression labels must lie in [0, 1], the sigmoid's range). Other
    /// options (hidden layers, epochs, columns) keep their defaults and can be set on the result.
    /// </summary>
    public static BackpropTrainerOptions Textbook() => new()
    {
        Activation = Activation.Sigmoid,
        OutputActivation = Activation.Sigmoid,
        Loss = LossFunction.SquaredError,
        L2Regularization = Defaults.CoreL2Regularization,
        Optimizer = OptimizerKind.GradientDescent,
        LearningRate = Defaults.GradientDescentLearningRate,
        EarlyStopping = false,
        StandardizeTargets = false,
    };

    /// <summary>A copy (the hidden-layer and candidate arrays are copied too; the token and callback are shared).</summary>
    public BackpropTrainerOptions Clone()
    {
        var copy = (BackpropTrainerOptions)MemberwiseClone();
        copy._training = _training.Clone();
        copy.HiddenLayers = HiddenLayers is null ? null! : (int[])HiddenLayers.Clone();
        copy.WeightDecayCandidates = WeightDecayCandidates is null ? null! : (double[])WeightDecayCandidates.Clone();
        copy.ClassWeights = (float[]?)ClassWeights?.Clone();
        return copy;
    }

    /// <summary>
    /// The core's options for a fit: the shared settings as stored, and the automatic ones settled — <paramref name="loss"/>
    /// (the task's, when <see cref="Loss"/> is null), λ = <see cref="Defaults.FixedL2Regularization"/> when not given (the
    /// search, when it runs, replaces it), Adam, early stopping and seed 0 when still unset (Fit settles the optimizer,
    /// early stopping and seed from the data first), and with <paramref name="rows"/> known, the adapter's batch size for
    /// the mini-batch optimizers (<see cref="Defaults.AutoBatchSize"/>). Null rows (validation, before any data) leave an
    /// unset batch size null.
    /// </summary>
    internal TrainingOptions ToCore(LossFunction loss, int? rows)
    {
        var core = _training.Clone();
        core.Loss = loss;
        core.L2Regularization = L2Regularization ?? Defaults.FixedL2Regularization;
        core.Optimizer = Optimizer ?? OptimizerKind.Adam;
        if (rows is { } m && BatchSize is null && Optimizer is null or OptimizerKind.Adam or OptimizerKind.Sgd)
            core.BatchSize = Defaults.AutoBatchSize(m);
        core.EarlyStopping = EarlyStopping ?? true;
        core.Seed = Seed ?? 0;
        return core;
    }
}
