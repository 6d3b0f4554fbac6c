using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Distributed;
using MLNetBackprop.Core.Optimizers;
using MLNetBackprop.Heads;
using MLNetBackprop.Interop;

namespace MLNetBackprop;

/// <summary>
/// Trains a multi-layer perceptron by backpropagation on an IDataView. The task follows from the label column's type
/// (Boolean → binary, key → multiclass, Single or a vector of Single → regression) unless
/// <see cref="BackpropTrainerOptions.Task"/> forces it. Seeded and logged through the MLContext; honours
/// <c>MLContext.CancelExecution()</c> and <see cref="BackpropTrainerOptions.CancellationToken"/>.
/// </summary>
public sealed class BackpropTrainer : IEstimator<BackpropTransformer>
{
    private readonly IHost _host;
    private readonly BackpropTrainerOptions _options;

    internal BackpropTrainer(IHostEnvironment environment, BackpropTrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Clone();
        Validate(_options);
        _host = environment.Register("Backprop");
    }

    /// <summary>A copy of the options this trainer uses.</summary>
    public BackpropTrainerOptions Options => _options.Clone();

    /// <summary>Trains on <paramref name="input"/>; early stopping (when enabled) holds out part of it.</summary>
    public BackpropTransformer Fit(IDataView input) => Fit(input, (IDataView?)null);

    /// <summary>
    /// Warm start: trains on <paramref name="trainData"/> starting from the weights of <paramref name="initialModel"/>
    /// (which is not changed) instead of random ones, like ML.NET's <c>OnlineGradientDescentTrainer.Fit(trainData,
    /// initialModelParameters)</c>. The history starts afresh and so does the optimizer (use
    /// <see cref="ContinueTraining"/> to carry both on).
    /// </summary>
    /// <remarks>
    /// The initial model must fit this trainer and the data: the same task, the same number of features as the feature
    /// column's slots, the same outputs (and, for multiclass, the same classes in the same order), and the layer sizes
    /// and activations the options give. A regression model keeps the target scaling it was trained with. When
    /// <see cref="BackpropTrainerOptions.L2Regularization"/> is null, λ is not searched again: the λ the initial model was
    /// trained with is reused (and logged).
    /// </remarks>
    /// <exception cref="ArgumentException">The initial model does not fit (the message names what differs), or as in
    /// <see cref="Fit(IDataView, IDataView?)"/>.</exception>
    public BackpropTransformer Fit(IDataView trainData, BackpropModelParameters initialModel) => Fit(trainData, null, initialModel);

    /// <summary>
    /// Warm start with a validation set: as <see cref="Fit(IDataView, BackpropModelParameters)"/>, with
    /// <paramref name="validationData"/> used as in <see cref="Fit(IDataView, IDataView?)"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The initial model does not fit (the message names what differs), or as in
    /// <see cref="Fit(IDataView, IDataView?)"/>.</exception>
    public BackpropTransformer Fit(IDataView trainData, IDataView? validationData, BackpropModelParameters initialModel)
    {
        ArgumentNullException.ThrowIfNull(initialModel);
        return FitCore(trainData, validationData, initialModel, null, null);
    }

    /// <summary>
    /// Trains <paramref name="model"/> for <paramref name="epochs"/> more epochs on <paramref name="trainData"/>, like
    /// scikit-learn's <c>partial_fit</c>, and returns a new transformer (<paramref name="model"/> is not changed) whose
    /// <see cref="BackpropTransformer.History"/> holds the earlier epochs and then the new ones, numbered on.
    /// </summary>
    /// <remarks>
    /// <para>The optimizer's state (Adam's moments and step count; the momentum velocity) continues from where the earlier
    /// training ended when this trainer's optimizer options match the ones it was trained with (same optimizer, β₁, β₂,
    /// ε, momentum, Nesterov; the learning rate may differ); otherwise the optimizer starts afresh, and the MLContext log
    /// says why. With the model's own options (<c>mlContext.Backprop().Trainer(model.Options)</c>) and the same data,
    /// training a epochs and continuing for b gives bit for bit the model of a + b epochs in one go, provided the first
    /// training ended on its epoch limit.</para>
    /// <para>The optimizer state is kept in memory only: a model read back with <c>LoadModel</c> continues with its
    /// history but a fresh optimizer, as does a model whose λ was chosen by the weight-decay search or that was trained
    /// with L-BFGS. Stopping rules (tolerance, early stopping) still apply within the <paramref name="epochs"/>. When
    /// <see cref="BackpropTrainerOptions.L2Regularization"/> is null the model's own λ is kept.</para>
    /// </remarks>
    /// <param name="model">The trained model to go on from.</param>
    /// <param name="trainData">Training data with the same columns as the model was trained on.</param>
    /// <param name="epochs">How many more epochs (at most; stopping rules may end sooner).</param>
    /// <param name="validationData">Optional validation data, as in <see cref="Fit(IDataView, IDataView?)"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epochs"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">The model does not fit this trainer or the data (the message names what differs).</exception>
    public BackpropTransformer ContinueTraining(BackpropTransformer model, IDataView trainData, int epochs, IDataView? validationData = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(epochs, 1);
        return FitCore(trainData, validationData, model.Model, model, epochs);
    }

    /// <summary>
    /// Trains on <paramref name="trainData"/>; with early stopping enabled, stops when the loss on
    /// <paramref name="validationData"/> stops improving and keeps the best weights. The validation loss and accuracy are
    /// logged every epoch.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// A column is missing or has the wrong type, or the data is empty; or (an <see cref="ArgumentOutOfRangeException"/>
    /// naming HiddenLayers) the hidden layers with this many features and outputs give more parameters than an array can hold.
    /// </exception>
    /// <exception cref="InvalidOperationException">
    /// A value is NaN, infinite or a missing key, or a regression target lies beyond ±3.4e35 (float's largest value / 1000,
    /// so that predictions mapped back to the label's scale cannot overflow); the message names the column and row.
    /// </exception>
    /// <exception cref="OperationCanceledException">The MLContext or the options' token canceled training.</exception>
    public BackpropTransformer Fit(IDataView trainData, IDataView? validationData) => FitCore(trainData, validationData, null, null, null);

    private BackpropTransformer FitCore(IDataView trainData, IDataView? validationData, BackpropModelParameters? initial,
        BackpropTransformer? continued, int? epochs)
    {
        ArgumentNullException.ThrowIfNull(trainData);
        var o = _options.Clone();
        string initialName = continued is not null ? "model" : "initialModel";
        var (cols, validationCols) = BindColumns(trainData, validationData, o);
        if (initial is not null) CheckInitialModel(initial, initialName, cols);

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(o.CancellationToken);
        // MLContext cancellation has no public callback: polled (and checked after every epoch, below).
        using var poll = CatalogEnvironment.CancelWhenCanceled(_host, cts);
        cts.Token.ThrowIfCancellationRequested();

        var head = cols.Head;
        int k = cols.OutputCount;
        if (o.ClassWeights is not null || o.BalanceClasses) CheckClassWeights(head, k, o);
        var comm = o.GradientAllreduce is { Size: > 1 } c ? c : null;
        if (comm is not null) CheckDistributed(o, continued is not null);
        int seed = o.Seed ?? _host.Rand.Next();
        if (comm is not null)
        {
            seed = RankZero(comm, seed); // every rank must draw the same initial weights
            if (head.KeyedClasses) CheckSameClasses(comm, head.ClassNames(cols.Label, k), o);
        }

        var data = LoadData(trainData, validationData, cols, validationCols, o, seed, comm, initial, cts.Token);
        if (data.Train is not null && (o.ClassWeights is not null || o.BalanceClasses))
            ApplyClassWeights(data.Train, head, k, o, comm);
        var (mean, scale) = ScaleTargets(data, head, k, o, initial, comm);
        SettleTask(o, head, seed);
        var (network, sizes) = BuildNetwork(cols, o, seed, initial, initialName);

        var trainingData = data.Train is null ? null : ToTrainingData(data.Train);
        var validationSet = data.Validation is not null ? ToTrainingData(data.Validation) : data.Stream?.Validation;
        int rows = trainingData?.Count ?? (int)Math.Min(data.Stream!.Count, int.MaxValue);
        int shardRows = rows;
        if (comm is not null) rows = (int)Math.Min(AcrossRanks(comm, rows), int.MaxValue); // the choices below follow the whole data
        using var ch = _host.Start("Backprop");
        LogData(ch, data);
        var coreOptions = SettleOptions(ch, o, rows, validationSet is not null, initial, continued is not null, initialName, epochs, cts);
        ch.Info(MessageSensitivity.None, string.Create(CultureInfo.InvariantCulture,
            $"Backprop: {head.Task}, layers [{string.Join(", ", sizes)}], {(trainingData is not null ? $"{(comm is null ? "" : $"{shardRows} of ")}{rows} training rows ({(data.Train!.IsSparse ? "sparse" : "dense")})" : $"{data.Stream!.Count} training rows (streamed)")}, " +
            $"{(validationSet is null ? "no validation set" : $"{validationSet.Count} validation rows")}, {o.Optimizer}, batch {coreOptions.BatchSize}, seed {seed}."));

        bool searchL2 = ChooseWeightDecaySearch(ch, o, rows, network.ParameterCount, initial is not null, validationSet is not null, comm is not null,
            data.Stream is not null);
        TrainingResult<float> result;
        try
        {
            if (continued is not null)
                result = Continue(ch, continued, network, trainingData, data.Stream, coreOptions, validationSet, cts.Token);
            else
                result = data.Stream is not null ? NetworkTrainer.Train(network, data.Stream, coreOptions, validationSet, cts.Token)
                    : comm is not null ? NetworkTrainer.TrainDistributed(network, trainingData!, coreOptions, comm, validationSet, cts.Token)
                    : searchL2 ? WeightDecaySearch.Run(network, trainingData!, coreOptions, SearchOptions(o), cts.Token)
                    : NetworkTrainer.Train(network, trainingData!, coreOptions, validationSet, cts.Token);
        }
        catch (TrainingCanceledException<float> canceled)
        {
            ch.Info(MessageSensitivity.None, $"Backprop: canceled after {canceled.PartialResult.History.Epochs.Count} epochs.");
            throw new BackpropCanceledException(Wrap(canceled.PartialResult), canceled.CancellationToken);
        }
        LogResult(ch, result);
        return Wrap(result);

        BackpropTransformer Wrap(TrainingResult<float> r)
        {
            var model = new BackpropModelParameters(head.Task, r.Network, mean, scale, head.ClassNames(cols.Label, k), head.VectorOutput);
            if (initial is not null) model.TrainedL2Regularization = coreOptions.L2Regularization;
            return new BackpropTransformer(model, o, r.History, cols.Features.Name, cols.Label.Name,
                head.KeyedClasses ? cols.Label.Annotations : null, ModelSummary.SlotNames(cols.Features), r.State);
        }
    }

    /// <summary>
    /// The automatic choices that need the row count (L-BFGS up to LbfgsMaxRows rows, early stopping for mini-batches), then
    /// the core's options: a warm start's λ is the one its model was trained with, a continuation's epoch count, and the
    /// epoch callback that also checks MLContext's cancellation.
    /// </summary>
    private TrainingOptions SettleOptions(IChannel ch, BackpropTrainerOptions o, int rows, bool hasValidation, BackpropModelParameters? initial,
        bool continued, string initialName, int? epochs, CancellationTokenSource cts)
    {
        o.Optimizer ??= rows <= o.LbfgsMaxRows && o.Dropout == 0 ? OptimizerKind.Lbfgs : OptimizerKind.Adam;
        o.EarlyStopping ??= hasValidation || o.Optimizer is OptimizerKind.Adam or OptimizerKind.Sgd;
        var coreOptions = ToCoreOptions(o, rows, o.Loss!.Value, ch);
        if (initial is not null && o.L2Regularization is null)
        {
            coreOptions.L2Regularization = initial.TrainedL2Regularization ?? Defaults.FixedL2Regularization;
            ch.Info(MessageSensitivity.None, FormattableString.Invariant(
                $"Backprop: {(continued ? "continued training" : "warm start")}: weight decay λ = {coreOptions.L2Regularization:G3}, the one the {initialName} was trained with (not searched again)."));
        }
        if (epochs is { } more) coreOptions.MaxEpochs = more;
        var logEpoch = coreOptions.EpochCompleted;
        coreOptions.EpochCompleted = r =>
        {
            logEpoch?.Invoke(r);
            if (CatalogEnvironment.IsCanceled(_host)) cts.Cancel();
        };
        return coreOptions;
    }

    /// <summary>The training data's columns, and the validation data's, which must match them.</summary>
    private static (ColumnBinding Train, ColumnBinding? Validation) BindColumns(IDataView trainData, IDataView? validationData, BackpropTrainerOptions o)
    {
        var cols = ColumnBinding.Resolve(trainData.Schema, o, "training data");
        if (validationData is null) return (cols, null);
        var validationCols = ColumnBinding.Resolve(validationData.Schema, o, "validation data");
        if (validationCols.FeatureCount != cols.FeatureCount || validationCols.OutputCount != cols.OutputCount || validationCols.Task != cols.Task)
            throw new ArgumentException(
                $"The validation data's columns '{o.FeatureColumnName}' and '{o.LabelColumnName}' do not match the training data's " +
                $"({validationCols.FeatureCount} vs {cols.FeatureCount} features, {validationCols.OutputCount} vs {cols.OutputCount} outputs).",
                nameof(validationData));
        return (cols, validationCols);
    }

    /// <summary>The rows of one fit: the training rows in memory or streamed, the validation rows, and how they were loaded (for the log).</summary>
    private sealed record FitData(TrainingSetReader? Train, DataViewTrainingStream? Stream, TrainingSetReader? Validation, string Loading);

    /// <summary>
    /// Reads the training rows into memory, or opens them for streaming from the view every epoch when they would not fit
    /// (DataLoading, MemoryBudgetBytes); then reads the validation rows.
    /// </summary>
    private static FitData LoadData(IDataView trainData, IDataView? validationData, ColumnBinding cols, ColumnBinding? validationCols,
        BackpropTrainerOptions o, int seed, IGradientAllreduce? comm, BackpropModelParameters? initial, CancellationToken ct)
    {
        var (streamed, loading) = comm is not null
            ? (false, string.Create(CultureInfo.InvariantCulture, $"in memory: rank {comm.Rank} of {comm.Size} holds its shard"))
            : ChooseDataLoading(trainData, cols, o);
        TrainingSetReader? train = null;
        DataViewTrainingStream? stream = null;
        if (!streamed)
        {
            train = o.DataLoading == DataLoadingMode.Auto && comm is null && trainData.GetRowCount() is null
                ? TrainingSetReader.ReadWithin(trainData, cols, "training data", ct, o.SkipInvalidRows, Budget(o) / InMemoryCopies)
                : TrainingSetReader.Read(trainData, cols, "training data", ct, o.SkipInvalidRows);
            if (train is null)
            {
                streamed = true;
                loading = string.Create(CultureInfo.InvariantCulture,
                    $"streaming: the view does not know its row count, and the rows read passed the memory budget of {Budget(o) / 1048576.0:F0} MiB");
            }
        }
        if (streamed)
        {
            // The optimizer and early stopping are settled before the scan, which holds the validation rows out.
            long? known = trainData.GetRowCount();
            o.Optimizer ??= known is { } r && r <= o.LbfgsMaxRows && o.Dropout == 0 ? OptimizerKind.Lbfgs : OptimizerKind.Adam;
            o.EarlyStopping ??= validationData is not null || o.Optimizer is OptimizerKind.Adam or OptimizerKind.Sgd;
            double holdOut = o.EarlyStopping == true && validationData is null ? o.ValidationFraction : 0;
            stream = DataViewTrainingStream.Open(trainData, cols, o, seed, holdOut, ct,
                initial is not null && cols.Head.ScalesTargets ? (initial.Mean, initial.Scale) : null);
            loading += "; epochs read " + stream.ShuffleChoice;
            if (holdOut > 0 && stream.Validation is null)
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                    $"Early stopping needs held-out rows, and none of the {stream.Count} streamed training rows was drawn (ValidationFraction = {o.ValidationFraction}): pass validation data to Fit, or set EarlyStopping = false."),
                    nameof(trainData));
        }
        var validation = validationData is null ? null : TrainingSetReader.Read(validationData, validationCols!, "validation data", ct, o.SkipInvalidRows);
        return new FitData(train, stream, validation, loading);
    }

    /// <summary>
    /// The target scaling, when the head scales targets, applied to the rows in memory: a warm start keeps the scaling the
    /// network's outputs were trained in; streamed rows are scaled as they are read. Empty for the other heads.
    /// </summary>
    private static (float[] Mean, float[] Scale) ScaleTargets(FitData data, TaskHead head, int k, BackpropTrainerOptions o,
        BackpropModelParameters? initial, IGradientAllreduce? comm)
    {
        if (!head.ScalesTargets) return ([], []);
        float[] mean, scale;
        if (data.Train is not null)
        {
            (mean, scale) = initial is not null ? (initial.Mean, initial.Scale) : head.TargetScaling(data.Train, k, o.StandardizeTargets, comm);
            head.Standardize(data.Train.Targets, mean, scale);
        }
        else (mean, scale) = data.Stream!.TargetScaling;
        if (data.Validation is not null) head.Standardize(data.Validation.Targets, mean, scale);
        return (mean, scale);
    }

    /// <summary>Fills in what the options left to the task (output activation, loss) and the drawn seed, as the model's options record them.</summary>
    private static void SettleTask(BackpropTrainerOptions o, TaskHead head, int seed)
    {
        var outputActivation = o.OutputActivation ?? head.DefaultOutputActivation;
        head.CheckOutputActivation(outputActivation);
        var loss = o.Loss ?? head.DefaultLoss;
        o.Seed = seed;
        o.Task = head.Task;
        o.OutputActivation = outputActivation;
        o.Loss = loss;
    }

    /// <summary>The network to train: a copy of the initial model's, or a new one initialized from the seed.</summary>
    private static (NeuralNetwork<float> Network, List<int> Sizes) BuildNetwork(ColumnBinding cols, BackpropTrainerOptions o, int seed,
        BackpropModelParameters? initial, string initialName)
    {
        int k = cols.OutputCount;
        var sizes = new List<int> { cols.FeatureCount };
        sizes.AddRange(o.HiddenLayers);
        sizes.Add(k);
        var activations = Enumerable.Repeat(o.Activation, o.HiddenLayers.Length).Append(o.OutputActivation!.Value).ToArray();
        if (ParameterCount(sizes) is var parameters && parameters > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(o.HiddenLayers), string.Create(CultureInfo.InvariantCulture,
                $"The option HiddenLayers = [{string.Join(", ", o.HiddenLayers)}] with {cols.FeatureCount} features and {k} output(s) gives a network of {parameters} parameters, more than an array can hold ({Array.MaxLength}); use fewer or narrower layers, or fewer features."));
        if (initial is not null)
        {
            CheckInitialArchitecture(initial, initialName, activations, o);
            return (initial.CloneNetwork(), sizes);
        }
        var network = new NeuralNetwork<float>(sizes, activations);
        network.Initialize(seed);
        return (network, sizes);
    }

    /// <summary>Logs how the rows were loaded and the invalid rows skipped.</summary>
    private static void LogData(IChannel ch, FitData data)
    {
        ch.Info(MessageSensitivity.None, "Backprop: data loading: " + data.Loading + ".");
        foreach (var (reader, role) in new[] { (data.Train, "training data"), (data.Validation, "validation data") })
            if (reader is { Skipped: > 0 })
                ch.Warning(MessageSensitivity.None, string.Create(CultureInfo.InvariantCulture,
                    $"Backprop: skipped {reader.Skipped} invalid row(s) of the {role}, kept {reader.Count}. First: {reader.FirstSkipReason}"));
        var stream = data.Stream;
        if (stream?.ShuffleWarning is { } unmixed) ch.Warning(MessageSensitivity.None, unmixed);
        if (stream is { Skipped: > 0 })
            ch.Warning(MessageSensitivity.None, string.Create(CultureInfo.InvariantCulture,
                $"Backprop: skipped {stream.Skipped} invalid row(s) of the training data, kept {stream.Count + (stream.Validation?.Count ?? 0)}. First: {stream.FirstSkipReason}"));
    }

    /// <summary>Whether λ is chosen by cross-validation; when it is automatic but not searched, logs why.</summary>
    private static bool ChooseWeightDecaySearch(IChannel ch, BackpropTrainerOptions o, int rows, long parameterCount, bool warmStart,
        bool validationSet, bool distributed, bool streamed)
    {
        bool searchL2 = !warmStart && o.L2Regularization is null && !validationSet && !distributed && o.Optimizer == OptimizerKind.Lbfgs && !streamed
            && rows <= o.WeightDecaySearchMaxRows
            && rows >= 2 * o.WeightDecayFolds && (long)rows * parameterCount <= SearchMaxWork;
        if (o.L2Regularization is null && !searchL2 && !warmStart)
        {
            string why = distributed ? "the training is data-parallel (the search's folds need every row in one process)"
                : streamed ? "the training data is streamed (the search's folds need the rows in memory)"
                : validationSet ? "a validation set was given"
                : o.Optimizer != OptimizerKind.Lbfgs ? FormattableString.Invariant($"the optimizer is {o.Optimizer} (the search runs with L-BFGS, which converges; the others stop early on held-out rows)")
                : rows > o.WeightDecaySearchMaxRows ? FormattableString.Invariant($"{rows} training rows are more than WeightDecaySearchMaxRows = {o.WeightDecaySearchMaxRows}")
                : rows < 2 * o.WeightDecayFolds ? FormattableString.Invariant($"{rows} training rows are too few for {o.WeightDecayFolds} folds")
                : FormattableString.Invariant($"{rows} rows × {parameterCount} parameters is more work than the search's limit ({SearchMaxWork:G3})");
            ch.Info(MessageSensitivity.None, FormattableString.Invariant($"Backprop: weight decay λ = {Defaults.FixedL2Regularization:G3}, not searched: {why}."));
        }
        return searchL2;
    }

    /// <summary>ContinueTraining's run: with the earlier optimizer state when it still fits the options, else afresh (the log says which).</summary>
    private static TrainingResult<float> Continue(IChannel ch, BackpropTransformer continued, NeuralNetwork<float> network, TrainingData<float>? trainingData,
        DataViewTrainingStream? stream, TrainingOptions coreOptions, TrainingData<float>? validationSet, CancellationToken ct)
    {
        var state = continued.TrainingState ?? TrainingState<float>.FromHistory(continued.History);
        string? mismatch = state.OptimizerMismatch(coreOptions, network.ParameterCount);
        ch.Info(MessageSensitivity.None, mismatch is null
            ? string.Create(CultureInfo.InvariantCulture,
                $"Backprop: continuing after epoch {state.Epochs.Count} with the optimizer state of the earlier training ({coreOptions.Optimizer}{(coreOptions.Optimizer == OptimizerKind.Adam ? $", t = {state.Steps}" : "")}).")
            : string.Create(CultureInfo.InvariantCulture,
                $"Backprop: continuing after epoch {state.Epochs.Count} with a fresh {coreOptions.Optimizer} state: {mismatch}."));
        return stream is not null ? NetworkTrainer.Continue(network, stream, coreOptions, state, validationSet, ct)
            : NetworkTrainer.Continue(network, trainingData!, coreOptions, state, validationSet, ct);
    }

    /// <summary>Logs the chosen λ when it was searched, why training stopped, and a warning when it diverged.</summary>
    private static void LogResult(IChannel ch, TrainingResult<float> result)
    {
        if (result.History.WeightDecaySelection is { } sel)
        {
            string tried = string.Join(", ", sel.Candidates.Select(c => string.Create(CultureInfo.InvariantCulture,
                $"λ {c.L2Regularization:G3}: {c.ValidationLoss:G4} ± {c.StandardError:G2}")));
            string model = sel.AveragedFoldModels ? $"the model averages the {sel.Folds} fold networks" : "the model is refit on all rows";
            ch.Info(MessageSensitivity.None, string.Create(CultureInfo.InvariantCulture,
                $"Backprop: weight decay chosen by {sel.Folds}-fold cross-validation: λ = {sel.ChosenL2Regularization:G3} (held-out loss {tried}); {model}."));
        }
        ch.Info(MessageSensitivity.None, string.Create(CultureInfo.InvariantCulture,
            $"Backprop: stopped after {result.History.Epochs.Count} epochs ({result.History.StopReason}); the model holds epoch {result.History.BestEpoch}."));
        if (result.History.StopReason == StopReason.Diverged)
        {
            double lastRate = result.History.Epochs.Count > 0 ? result.History.Epochs[^1].LearningRate : double.NaN;
            ch.Warning(MessageSensitivity.None, string.Create(CultureInfo.InvariantCulture,
                $"Backprop: training diverged even after {result.LearningRateBackoffs} learning-rate back-off(s) (last learning rate {lastRate:G4}). The model holds the weights with the lowest measured loss (epoch {result.History.BestEpoch}; 0 is the initial weights) and is probably poor: lower LearningRate or normalize the features."));
        }
    }

    /// <summary>Throws when the initial model's network cannot be trained further by this trainer on this data.</summary>
    private static void CheckInitialModel(BackpropModelParameters m, string name, ColumnBinding cols)
    {
        var inv = CultureInfo.InvariantCulture;
        var head = cols.Head;
        if (m.Task != head.Task)
            throw new ArgumentException(string.Create(inv,
                $"The {name} was trained for {m.Task}; the label column '{cols.Label.Name}' makes this {head.Task}."), name);
        if (m.InputSize != cols.FeatureCount)
            throw new ArgumentException(string.Create(inv,
                $"The {name} has {m.InputSize} inputs but the '{cols.Features.Name}' column has {cols.FeatureCount} slots."), name);
        if (m.OutputSize != cols.OutputCount)
            throw new ArgumentException(string.Create(inv,
                $"The {name} has {m.OutputSize} outputs but the label column '{cols.Label.Name}' gives {cols.OutputCount}{(head.KeyedClasses ? " classes" : "")}."), name);
        if (head.KeyedClasses)
        {
            var classes = head.ClassNames(cols.Label, cols.OutputCount);
            if (m.ClassNameArray.Length > 0 && classes.Length > 0 && !m.ClassNameArray.SequenceEqual(classes))
                throw new ArgumentException(string.Create(inv,
                    $"The {name}'s classes [{string.Join(", ", m.ClassNameArray)}] are not the label column '{cols.Label.Name}''s classes [{string.Join(", ", classes)}] (same classes in the same key order are needed)."), name);
        }
        // Scalar against multi-output regression: the same task, another head.
        if (m.VectorOutput != head.VectorOutput)
            throw new ArgumentException(string.Create(inv,
                $"The {name} scores a {(m.VectorOutput ? "vector" : "scalar")} label but the label column '{cols.Label.Name}' is a {(m.VectorOutput ? "scalar" : "vector")}."), name);
    }

    /// <summary>Throws when the initial model's layers or activations are not the ones the options give.</summary>
    private static void CheckInitialArchitecture(BackpropModelParameters m, string name, Activation[] activations, BackpropTrainerOptions o)
    {
        var inv = CultureInfo.InvariantCulture;
        var hidden = m.LayerSizes.Skip(1).SkipLast(1).ToArray();
        if (!hidden.SequenceEqual(o.HiddenLayers))
            throw new ArgumentException(string.Create(inv,
                $"The {name} has hidden layers [{string.Join(", ", hidden)}] but the option HiddenLayers is [{string.Join(", ", o.HiddenLayers)}]."), name);
        if (!m.Activations.SequenceEqual(activations))
            throw new ArgumentException(string.Create(inv,
                $"The {name} has activations [{string.Join(", ", m.Activations)}] but the options Activation and OutputActivation give [{string.Join(", ", activations)}]."), name);
    }

    /// <summary>
    /// The output shape: the input columns plus Score (and Probability, PredictedLabel for classification).
    /// </summary>
    /// <exception cref="ArgumentException">A column is missing or has the wrong type.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var features = FindShape(inputSchema, _options.FeatureColumnName, "feature", nameof(_options.FeatureColumnName));
        if (features.Kind != SchemaShape.Column.VectorKind.Vector || features.ItemType != NumberDataViewType.Single)
            throw new ArgumentException(
                $"Column '{features.Name}' (the feature column) is {Describe(features)}; expected a known-size vector of Single (Vector<Single, n>). Use Concatenate to build it.",
                nameof(_options.FeatureColumnName));
        var label = FindShape(inputSchema, _options.LabelColumnName, "label", nameof(_options.LabelColumnName));
        if (_options.ExampleWeightColumnName is { } w)
        {
            var weight = FindShape(inputSchema, w, "example weight", nameof(_options.ExampleWeightColumnName));
            if (weight.Kind != SchemaShape.Column.VectorKind.Scalar || weight.ItemType != NumberDataViewType.Single)
                throw new ArgumentException($"Column '{w}' (the example weight column) is {Describe(weight)}; expected Single.", nameof(_options.ExampleWeightColumnName));
        }

        DataViewType labelType = label.Kind switch
        {
            SchemaShape.Column.VectorKind.Scalar when label.IsKey =>
                label.ItemType is KeyDataViewType { Count: >= 2 } kt ? kt : new KeyDataViewType(typeof(uint), 2),
            SchemaShape.Column.VectorKind.Scalar => label.ItemType,
            SchemaShape.Column.VectorKind.Vector when label.ItemType is PrimitiveDataViewType p => new VectorDataViewType(p, 1),
            _ => new VectorDataViewType(label.ItemType as PrimitiveDataViewType ?? NumberDataViewType.Single),
        };
        var (head, k) = ColumnBinding.ResolveTask(label.Name, labelType, _options.Task);
        var (labelAnnotations, classNames) = head.ShapeAnnotations(label, k);
        var schemaBuilder = new DataViewSchema.Builder();
        head.AddColumns(schemaBuilder, k, labelAnnotations, classNames);
        return SchemaShapes.Merge(inputSchema, SchemaShapes.FromSchema(schemaBuilder.ToSchema()));
    }

    private static SchemaShape.Column FindShape(SchemaShape shape, string name, string what, string option)
    {
        if (string.IsNullOrEmpty(name)) throw new ArgumentException($"The {what} column name ({option}) must not be empty.", option);
        var found = shape.LastOrDefault(c => c.Name == name);
        if (found.Name is null)
            throw new ArgumentOutOfRangeException(option,
                $"Column '{name}' (the {what} column) was not found in the input. Its columns are: {string.Join(", ", shape.Select(c => $"'{c.Name}'"))}.");
        return found;
    }

    private static string Describe(SchemaShape.Column c) => c.Kind switch
    {
        SchemaShape.Column.VectorKind.Scalar => c.IsKey ? "a key" : c.ItemType.ToString() ?? "?",
        SchemaShape.Column.VectorKind.Vector => $"a vector of {c.ItemType}",
        _ => $"a variable-size vector of {c.ItemType}",
    };

    /// <summary>Throws the first of <see cref="BackpropTrainerOptions.ValidationErrors"/>, if any.</summary>
    private static void Validate(BackpropTrainerOptions o)
    {
        if (o.ValidationErrors() is [var first, ..]) throw first;
    }

    /// <summary>Weights and biases of a network with these layer sizes, Σ n_{l+1}(n_l + 1), without overflow.</summary>
    internal static Int128 ParameterCount(IReadOnlyList<int> sizes)
    {
        Int128 count = 0;
        for (int l = 0; l + 1 < sizes.Count; l++) count += (Int128)sizes[l + 1] * (sizes[l] + 1L);
        return count;
    }

    /// <summary>
    /// Multiplies each training row's weight by its class's: <see cref="BackpropTrainerOptions.ClassWeights"/> and, with
    /// <see cref="BackpropTrainerOptions.BalanceClasses"/>, m / (K · m_c).
    /// </summary>
    private static void CheckClassWeights(TaskHead head, int k, BackpropTrainerOptions o)
    {
        int classes = head.ClassCount(k);
        if (classes == 0)
            throw new ArgumentException(
                $"The options ClassWeights and BalanceClasses apply to classification; the label '{o.LabelColumnName}' makes this a {head.Name}.",
                o.ClassWeights is not null ? nameof(o.ClassWeights) : nameof(o.BalanceClasses));
        if (o.ClassWeights is { } given && given.Length != classes)
            throw new ArgumentOutOfRangeException(nameof(o.ClassWeights), string.Create(CultureInfo.InvariantCulture,
                $"The option ClassWeights has {given.Length} entries; the label '{o.LabelColumnName}' has {classes} classes{(classes == 2 ? " ([false, true])" : "")}."));
    }

    private static void ApplyClassWeights(TrainingSetReader train, TaskHead head, int k, BackpropTrainerOptions o, IGradientAllreduce? comm)
    {
        int classes = head.ClassCount(k);
        var cls = new int[train.Count];
        var counts = new long[classes];
        for (int i = 0; i < train.Count; i++)
        {
            var y = train.Targets.AsSpan(i * k, k);
            cls[i] = head.ClassOf(y);
            counts[cls[i]]++;
        }
        double total = train.Count;
        if (comm is not null)
        {
            // Balanced weights follow the class counts of every shard, so that every rank weighs a class alike.
            var all = new double[classes + 1];
            for (int c = 0; c < classes; c++) all[c] = counts[c];
            all[classes] = total;
            comm.Sum<double>(all);
            for (int c = 0; c < classes; c++) counts[c] = (long)all[c];
            total = all[classes];
        }
        var perClass = new double[classes];
        for (int c = 0; c < classes; c++)
        {
            perClass[c] = o.ClassWeights?[c] ?? 1;
            if (o.BalanceClasses) perClass[c] *= counts[c] == 0 ? 0 : total / (classes * counts[c]);
        }
        var w = train.Weights ?? Enumerable.Repeat(1f, train.Count).ToArray();
        double sum = 0;
        for (int i = 0; i < train.Count; i++) sum += w[i] = (float)(w[i] * perClass[cls[i]]);
        if (comm is not null) sum = AcrossRanks(comm, sum);
        if (!(sum > 0))
            throw new ArgumentException("With the class weights, the training rows' weights sum to zero: give a class present in the training data a positive weight.",
                o.ClassWeights is not null ? nameof(o.ClassWeights) : nameof(o.BalanceClasses));
        train.Weights = w;
    }

    /// <summary>The in-memory path holds the rows about twice: as read, and the copy early stopping's split makes.</summary>
    private const int InMemoryCopies = 2;

    /// <summary>The memory budget for the training set: the option, or a quarter of what the GC says this process may use.</summary>
    internal static long Budget(BackpropTrainerOptions o) => o.MemoryBudgetBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4;

    /// <summary>Whether to stream, and why (for the log).</summary>
    private static (bool Streamed, string Why) ChooseDataLoading(IDataView data, ColumnBinding cols, BackpropTrainerOptions o)
    {
        switch (o.DataLoading)
        {
            case DataLoadingMode.InMemory: return (false, "in memory (DataLoading = InMemory)");
            case DataLoadingMode.Streaming: return (true, "streaming (DataLoading = Streaming)");
        }
        long budget = Budget(o);
        string mib = string.Create(CultureInfo.InvariantCulture, $"{budget / 1048576.0:F0} MiB");
        if (data.GetRowCount() is not { } rows)
            return (false, $"in memory while the rows read fit the budget of {mib} (the view does not know its row count)");
        double estimate = (double)rows * (cols.FeatureCount + cols.OutputCount + 1) * sizeof(float) * InMemoryCopies;
        string size = string.Create(CultureInfo.InvariantCulture, $"{rows} rows, about {estimate / 1048576.0:F0} MiB in memory");
        return estimate > budget
            ? (true, $"streaming ({size}, more than the budget of {mib})")
            : (false, $"in memory ({size}, within the budget of {mib})");
    }

    /// <summary>
    /// Largest rows × parameters on which the automatic λ is searched: about one second of L-BFGS per fit on two cores, so
    /// the search's dozen fits stay a few seconds (every small panel set is under 10⁷; 2,000 MNIST rows are 2·10⁸).
    /// </summary>
    internal const long SearchMaxWork = 25_000_000;

    private static WeightDecaySearchOptions SearchOptions(BackpropTrainerOptions o) => new()
    {
        Candidates = o.WeightDecayCandidates,
        Folds = o.WeightDecayFolds,
        AverageFoldModels = o.AverageFoldModels,
    };

    /// <summary>The core's options for this fit (<see cref="BackpropTrainerOptions.ToCore"/>), logging every epoch to <paramref name="ch"/>.</summary>
    private static TrainingOptions ToCoreOptions(BackpropTrainerOptions o, int rows, LossFunction loss, IChannel? ch)
    {
        var core = o.ToCore(loss, rows);
        var user = core.EpochCompleted;
        if (ch is not null)
            core.EpochCompleted = r =>
            {
                ch.Info(MessageSensitivity.None, FormatEpoch(r));
                user?.Invoke(r);
            };
        return core;
    }

    private static string FormatEpoch(EpochRecord r)
    {
        var s = string.Create(CultureInfo.InvariantCulture, $"Backprop epoch {r.Epoch}: training loss {r.TrainingLoss:G6}");
        if (r.ValidationLoss is { } vl) s += string.Create(CultureInfo.InvariantCulture, $", validation loss {vl:G6}");
        if (r.ValidationAccuracy is { } va) s += string.Create(CultureInfo.InvariantCulture, $", validation accuracy {va:F4}");
        return s + string.Create(CultureInfo.InvariantCulture, $", {r.Elapsed.TotalSeconds:F2} s.");
    }

    /// <summary>The options data-parallel training cannot take, refused before any rank reads its shard.</summary>
    private static void CheckDistributed(BackpropTrainerOptions o, bool continued)
    {
        if (o.DataLoading == DataLoadingMode.Streaming)
            throw new ArgumentException("The option DataLoading = Streaming cannot be combined with GradientAllreduce: data-parallel training reads each rank's shard into memory (use Auto or InMemory, and more ranks if a shard does not fit).",
                nameof(o.DataLoading));
        if (continued)
            throw new ArgumentException("ContinueTraining does not run data-parallel yet: train again with an initial model (Fit(data, model.Model)) instead.",
                nameof(o.GradientAllreduce));
    }

    /// <summary>
    /// Output unit j must mean the same class on every rank, or the summed gradients train nonsense. A label key mapping
    /// fitted on each rank's shard numbers the classes in the order that shard shows them, which differs between shards.
    /// </summary>
    private static void CheckSameClasses(IGradientAllreduce comm, string[] classNames, BackpropTrainerOptions o)
    {
        long hash = unchecked((long)14695981039346656037);
        foreach (char ch in string.Join("\u0001", classNames)) hash = unchecked((hash ^ ch) * 1099511628211);
        var all = new long[comm.Size];
        comm.Allgather([hash], all);
        var differ = Enumerable.Range(1, comm.Size - 1).Where(r => all[r] != all[0]).ToArray();
        if (differ.Length > 0)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"The label '{o.LabelColumnName}' numbers its classes differently on rank(s) {string.Join(", ", differ)} than on rank 0 (this rank's order: {string.Join(", ", classNames.Take(10))}): a key mapping fitted on each shard sees the classes in another order. Fit MapValueToKey with keyOrdinality: ByValue, or on the whole data."),
                nameof(o.LabelColumnName));
    }

    /// <summary>Rank 0's value, on every rank.</summary>
    private static int RankZero(IGradientAllreduce comm, int value)
    {
        var all = new long[comm.Size];
        comm.Allgather([value], all);
        return (int)all[0];
    }

    /// <summary>The sum of <paramref name="value"/> over the ranks.</summary>
    private static double AcrossRanks(IGradientAllreduce comm, double value)
    {
        Span<double> v = [value];
        comm.Sum(v);
        return v[0];
    }

    private static TrainingData<float> ToTrainingData(TrainingSetReader r) => r.IsSparse
        ? TrainingData<float>.FromSparse(r.RowStart!, r.Indices!, r.Values!, r.FeatureCount, r.Targets, r.TargetCount, r.Weights)
        : TrainingData<float>.FromDense(r.Dense!, r.FeatureCount, r.Targets, r.TargetCount, r.Weights);
}
