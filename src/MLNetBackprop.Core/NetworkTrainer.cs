using System.Diagnostics;
using System.Numerics;
using System.Numerics.Tensors;
using MLNetBackprop.Core.Distributed;
using MLNetBackprop.Core.Kernels;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Core;

/// <summary>Trains a <see cref="NeuralNetwork{T}"/> by minimising J with the chosen optimizer.</summary>
public static class NetworkTrainer
{
    /// <summary>
    /// Trains <paramref name="network"/> in place on <paramref name="train"/> and returns it with its history.
    /// </summary>
    /// <param name="network">The network to train; its current weights are the starting point.</param>
    /// <param name="train">Training examples.</param>
    /// <param name="options">How to train; validated first.</param>
    /// <param name="validation">Optional validation examples: recorded per epoch, and used for early stopping when enabled.</param>
    /// <param name="cancellationToken">Checked before every mini-batch (every evaluation for L-BFGS).</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is invalid (the parameter name is the option's).</exception>
    /// <exception cref="ArgumentException">The data does not fit the network or the loss does not fit the output activation.</exception>
    /// <exception cref="TrainingDivergedException">
    /// The loss, the gradient or a weight became non-finite, or the loss exploded (during training or at the weights
    /// training ended with), and <see cref="TrainingOptions.DivergenceBackoff"/> is off.
    /// </exception>
    /// <exception cref="TrainingCanceledException{T}">The token fired; the exception carries the best model so far.</exception>
    public static TrainingResult<T> Train<T>(NeuralNetwork<T> network, TrainingData<T> train, TrainingOptions options,
        TrainingData<T>? validation = null, CancellationToken cancellationToken = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Backpropagation.CheckCompatible(network, train, options.Loss);
        if (validation is not null) Backpropagation.CheckCompatible(network, validation, options.Loss);
        if (options.EarlyStopping && validation is null)
            (train, validation) = Split(train, options.ValidationFraction, options.Seed);
        return new TrainingRun<T>(network, new RowSource<T>(train), validation, options, cancellationToken, null, null).Run();
    }

    /// <summary>
    /// Goes on training <paramref name="network"/> in place from where a run ended: up to
    /// <see cref="TrainingOptions.MaxEpochs"/> more epochs, numbered after <paramref name="state"/>'s, with the returned
    /// history holding the earlier epochs and then the new ones.
    /// </summary>
    /// <remarks>
    /// The optimizer's state (Adam's m, v and t; the momentum velocity) is carried over when
    /// <see cref="TrainingState{T}.OptimizerMismatch"/> finds nothing against it, otherwise the optimizer starts afresh
    /// (<see cref="TrainingResult{T}.OptimizerStateContinued"/> tells which). The shuffling and dropout streams continue
    /// where they were when the seed and the row count are the same. After a run that ended on its epoch budget, the
    /// stopping rule continues too, so that with the same options and data, training for a epochs and continuing for b is
    /// bit for bit training for a + b. Early stopping, when on, judges only this call's epochs.
    /// </remarks>
    /// <param name="network">The network to train: the weights <paramref name="state"/>'s run returned.</param>
    /// <param name="train">Training examples.</param>
    /// <param name="options">How to train; <see cref="TrainingOptions.MaxEpochs"/> is the number of further epochs.</param>
    /// <param name="state">Where the earlier run ended (<see cref="TrainingResult{T}.State"/>, or <see cref="TrainingState{T}.FromHistory"/>).</param>
    /// <param name="validation">Optional validation examples, as in <see cref="Train{T}(NeuralNetwork{T}, TrainingData{T}, TrainingOptions, TrainingData{T}?, CancellationToken)"/>.</param>
    /// <param name="cancellationToken">Checked before every mini-batch.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is invalid (the parameter name is the option's).</exception>
    /// <exception cref="ArgumentException">The data does not fit the network or the loss does not fit the output activation.</exception>
    /// <exception cref="TrainingDivergedException">As in <see cref="Train{T}(NeuralNetwork{T}, TrainingData{T}, TrainingOptions, TrainingData{T}?, CancellationToken)"/>.</exception>
    /// <exception cref="TrainingCanceledException{T}">The token fired; the exception carries the best model so far.</exception>
    public static TrainingResult<T> Continue<T>(NeuralNetwork<T> network, TrainingData<T> train, TrainingOptions options, TrainingState<T> state,
        TrainingData<T>? validation = null, CancellationToken cancellationToken = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(state);
        options.Validate();
        Backpropagation.CheckCompatible(network, train, options.Loss);
        if (validation is not null) Backpropagation.CheckCompatible(network, validation, options.Loss);
        if (options.EarlyStopping && validation is null)
            (train, validation) = Split(train, options.ValidationFraction, options.Seed);
        return new TrainingRun<T>(network, new RowSource<T>(train), validation, options, cancellationToken, state, null).Run();
    }

    /// <summary>
    /// Trains <paramref name="network"/> in place on a training set read block by block from <paramref name="train"/>
    /// (data larger than memory): memory stays O(block + parameters) whatever the row count. Mini-batch optimizers take
    /// their batches from within each block (shuffled within it when <see cref="TrainingOptions.Shuffle"/> is on; blocks
    /// are a multiple of the batch size, so with the same row order the network is the in-memory path's bit for bit);
    /// gradient descent and L-BFGS sum each gradient over one pass of the stream (the same cost, summed in another order).
    /// </summary>
    /// <param name="network">The network to train; its current weights are the starting point.</param>
    /// <param name="train">The training rows, read once per epoch (once per evaluation for L-BFGS), plus one pass at the start
    /// and one at the end for the divergence checks of the first-order optimizers.</param>
    /// <param name="options">How to train; validated first.</param>
    /// <param name="validation">Validation rows, held in memory; needed for early stopping (a stream cannot hold rows out by itself).</param>
    /// <param name="cancellationToken">Checked before every mini-batch (every block for the full-batch optimizers).</param>
    /// <exception cref="ArgumentException">The data does not fit the network, or early stopping is on without a validation set.</exception>
    /// <exception cref="TrainingDivergedException">As for in-memory data.</exception>
    /// <exception cref="TrainingCanceledException{T}">The token fired; the exception carries the best model so far.</exception>
    public static TrainingResult<T> Train<T>(NeuralNetwork<T> network, ITrainingDataStream<T> train, TrainingOptions options,
        TrainingData<T>? validation = null, CancellationToken cancellationToken = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckStream(network, train, options, validation);
        return new TrainingRun<T>(network, new RowSource<T>(train), validation, options, cancellationToken, null, null).Run();
    }

    /// <summary>
    /// Goes on training <paramref name="network"/> from where a run ended, on a streamed training set: as
    /// <see cref="Continue{T}(NeuralNetwork{T}, TrainingData{T}, TrainingOptions, TrainingState{T}, TrainingData{T}?, CancellationToken)"/>
    /// for the optimizer state, the epoch numbering and the history, and as
    /// <see cref="Train{T}(NeuralNetwork{T}, ITrainingDataStream{T}, TrainingOptions, TrainingData{T}?, CancellationToken)"/>
    /// for the data. A stream's row order comes from its blocks, so it is not replayed: a continued streamed run is not bit
    /// for bit one longer run when it shuffles.
    /// </summary>
    /// <param name="network">The network to train: the weights <paramref name="state"/>'s run returned.</param>
    /// <param name="train">The training rows, read once per epoch.</param>
    /// <param name="options">How to train; <see cref="TrainingOptions.MaxEpochs"/> is the number of further epochs.</param>
    /// <param name="state">Where the earlier run ended.</param>
    /// <param name="validation">Validation rows, held in memory; needed for early stopping.</param>
    /// <param name="cancellationToken">Checked before every mini-batch.</param>
    /// <exception cref="ArgumentException">The data does not fit the network, or early stopping is on without a validation set.</exception>
    /// <exception cref="TrainingDivergedException">As for in-memory data.</exception>
    /// <exception cref="TrainingCanceledException{T}">The token fired; the exception carries the best model so far.</exception>
    public static TrainingResult<T> Continue<T>(NeuralNetwork<T> network, ITrainingDataStream<T> train, TrainingOptions options, TrainingState<T> state,
        TrainingData<T>? validation = null, CancellationToken cancellationToken = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(state);
        CheckStream(network, train, options, validation);
        return new TrainingRun<T>(network, new RowSource<T>(train), validation, options, cancellationToken, state, null).Run();
    }

    /// <summary>
    /// Trains <paramref name="network"/> data-parallel: this process is rank <see cref="IGradientAllreduce.Rank"/> of
    /// <see cref="IGradientAllreduce.Size"/>, holds <paramref name="shard"/> (its part of the rows), and every rank calls this
    /// at once with the same network, options and seed. Each step every rank computes the gradient of its rows of the global
    /// mini-batch, the ranks' weighted sums are added in <see cref="RingOrder"/>, and every rank applies the same update, so
    /// the ranks hold the same weights after every step and all return the same model.
    /// </summary>
    /// <remarks>
    /// <see cref="TrainingOptions.BatchSize"/> is the global batch: each rank takes ⌈BatchSize / Size⌉ rows of its shard per
    /// step (shuffled within its shard), and every rank takes as many steps per epoch as the largest shard needs (a rank whose
    /// shard is used up contributes nothing to the last steps). Gradient descent and L-BFGS sum the gradient of every shard.
    /// Early stopping without <paramref name="validation"/> holds out a seeded <see cref="TrainingOptions.ValidationFraction"/>
    /// of every shard, and the validation loss is the weighted mean over every rank's validation rows. Cancellation on any
    /// rank cancels every rank at the next step. With Size = 1 this is exactly
    /// <see cref="Train{T}(NeuralNetwork{T}, TrainingData{T}, TrainingOptions, TrainingData{T}?, CancellationToken)"/>.
    /// Before the first step the ranks compare their network (layer sizes, activations, initial weights), options and
    /// data widths, and every rank throws the same error naming the ranks that differ.
    /// </remarks>
    /// <param name="network">The network to train, with the same initial weights on every rank.</param>
    /// <param name="shard">This rank's training rows.</param>
    /// <param name="options">How to train; the same on every rank (<see cref="TrainingOptions.NumberOfThreads"/> may differ).</param>
    /// <param name="allreduce">The ranks' collectives, for example the MLNetBackprop.Distributed package's MPI implementation.</param>
    /// <param name="validation">This rank's validation rows, or null (every rank must give some or none).</param>
    /// <param name="cancellationToken">Checked before every step's sum.</param>
    /// <exception cref="ArgumentException">The data does not fit the network, or the ranks' networks, options or data differ.</exception>
    /// <exception cref="TrainingDivergedException">As in the one-process <c>Train</c>, on every rank at once.</exception>
    /// <exception cref="TrainingCanceledException{T}">A rank's token fired; every rank stops with the same partial model.</exception>
    public static TrainingResult<T> TrainDistributed<T>(NeuralNetwork<T> network, TrainingData<T> shard, TrainingOptions options,
        IGradientAllreduce allreduce, TrainingData<T>? validation = null, CancellationToken cancellationToken = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(allreduce);
        if (allreduce.Size == 1) return Train(network, shard, options, validation, cancellationToken);
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(shard);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Backpropagation.CheckCompatible(network, shard, options.Loss);
        if (validation is not null) Backpropagation.CheckCompatible(network, validation, options.Loss);
        RankAgreement.Check(network, shard, options, validation, allreduce);
        if (options.EarlyStopping && validation is null)
            (shard, validation) = Split(shard, options.ValidationFraction, options.Seed);
        return new TrainingRun<T>(network, new RowSource<T>(shard), validation, options, cancellationToken, null, allreduce).Run();
    }

    private static void CheckStream<T>(NeuralNetwork<T> network, ITrainingDataStream<T> train, TrainingOptions options, TrainingData<T>? validation)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (train.FeatureCount != network.InputSize)
            throw new ArgumentException($"The data has {train.FeatureCount} features; the network's input layer has {network.InputSize} units.", nameof(train));
        if (train.TargetCount != network.OutputSize)
            throw new ArgumentException($"The data has {train.TargetCount} targets per row; the network's output layer has {network.OutputSize} units.", nameof(train));
        if (train.Count < 1) throw new ArgumentException("The training stream has no rows.", nameof(train));
        Backpropagation.CheckLoss(network.OutputActivation, options.Loss);
        if (validation is not null) Backpropagation.CheckCompatible(network, validation, options.Loss);
        if (options.EarlyStopping && validation is null)
            throw new ArgumentException("Early stopping on a stream needs a validation set: pass one, or turn EarlyStopping off.", nameof(validation));
    }

    /// <summary>Holds out a seeded random <paramref name="fraction"/> of the rows (at least one row on each side).</summary>
    internal static (TrainingData<T> Train, TrainingData<T> Validation) Split<T>(TrainingData<T> data, double fraction, int seed)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (data.Count < 2)
            throw new ArgumentException($"Early stopping needs a validation set; {data.Count} training row(s) are too few to hold some out.", nameof(data));
        var order = Enumerable.Range(0, data.Count).ToArray();
        new Random(unchecked(seed * 31 + 17)).Shuffle(order);
        int held = Math.Clamp((int)Math.Round(fraction * data.Count), 1, data.Count - 1);
        return (data.Subset(order.AsSpan(held)), data.Subset(order.AsSpan(0, held)));
    }

    /// <summary>
    /// The training rows as the run reads them: all of them in memory (one block, the data itself, as always), or a
    /// stream read in blocks. Every pass of the run goes through <see cref="Blocks"/>.
    /// </summary>
    private sealed class RowSource<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly TrainingData<T>? _memory;
        private readonly ITrainingDataStream<T>? _stream;

        public RowSource(TrainingData<T> data) => _memory = data;

        public RowSource(ITrainingDataStream<T> stream) => _stream = stream;

        /// <summary>The in-memory data, or null for a stream.</summary>
        public TrainingData<T>? Memory => _memory;

        /// <summary>Rows per pass (streams beyond int's range are refused by the caller's batch arithmetic).</summary>
        public long Count => _memory?.Count ?? _stream!.Count;

        /// <summary>Rows per block: the whole data in memory; for a stream its preferred size rounded to a multiple of <paramref name="batchSize"/>.</summary>
        public int BlockRows(int batchSize)
        {
            if (_memory is not null) return _memory.Count;
            long preferred = Math.Max(_stream!.PreferredBlockRows, batchSize);
            long rows = Math.Min(preferred / batchSize * batchSize, Count);
            return (int)Math.Max(1, Math.Min(rows, int.MaxValue / 2));
        }

        public IEnumerable<TrainingData<T>> Blocks(int blockRows, int pass, bool shuffle) =>
            _memory is not null ? [_memory] : _stream!.ReadBlocks(blockRows, pass, shuffle);
    }

    private sealed class TrainingRun<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private const int MaxBackoffs = 10;

        /// <summary>A cost this many times the first one counts as divergence even while it is still finite.</summary>
        private const double ExplosionFactor = 1e4;

        /// <summary>
        /// A cost above this counts as divergence whatever the first one was: the weights are then so large that
        /// ordinary inputs overflow float arithmetic (seen with unnormalized features near float's range).
        /// </summary>
        private const double MaxCost = 1e30;

        private readonly NeuralNetwork<T> _net;
        private readonly RowSource<T> _train;
        private readonly TrainingData<T>? _validation;
        private readonly TrainingOptions _o;
        private readonly CancellationToken _ct;
        private readonly Regularization _reg;
        private readonly int _threads;
        private readonly List<EpochRecord> _history = [];
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly T[] _best;
        private readonly T[] _lastGood;
        private int _lastGoodEpoch;
        private double _referenceLoss = double.NaN;
        private double _lowestTrainingLoss = double.PositiveInfinity;
        private NetworkWorkspace<T>? _validationWorkspace;
        private double _bestScore = double.PositiveInfinity;
        private double _bestProgressScore = double.PositiveInfinity;
        private int _bestEpoch;
        private int _sinceProgress;
        private int _evaluations;
        private int _backoffs;
        private double _lrScale = 1;
        private StopReason _stop = StopReason.MaxEpochs;

        /// <summary>The run this one continues (null for a fresh run).</summary>
        private readonly TrainingState<T>? _resume;

        /// <summary>Epochs, gradient evaluations and time of the earlier runs: this run's records are numbered after them.</summary>
        private readonly int _epochOffset, _evaluationOffset;
        private readonly TimeSpan _elapsedOffset;

        private IUpdateRule<T>? _rule;
        private bool _optimizerStateContinued;

        /// <summary>Set when the network is given weights other than the optimizer's last step (its state then no longer fits them).</summary>
        private bool _weightsReplaced;

        /// <summary>Positions of the shuffling and dropout streams (shuffles drawn, uniform numbers drawn), over all runs.</summary>
        private long _shuffles, _dropoutDraws;
        private int _shuffleRows;

        /// <summary>The other ranks of a data-parallel run; null for one process.</summary>
        private readonly IGradientAllreduce? _comm;

        /// <summary>Data-parallel: the rows of every shard together, and of the largest shard.</summary>
        private readonly long _globalRows, _largestShard;

        /// <summary>
        /// Data-parallel with collectives that can split the sum: the first-order steps sum the gradient only into this
        /// rank's own chunk (<see cref="_owned"/>), update only that chunk, and gather the others' (ZeRO stage 1).
        /// </summary>
        private IShardedAllreduce? _sharded;
        private readonly (int Start, int Length) _owned;

        /// <summary>Set by a sharded step's sum: whether any rank's chunk of the gradient was non-finite; read once by the step.</summary>
        private bool? _nonFiniteOnSomeRank;

        public TrainingRun(NeuralNetwork<T> net, RowSource<T> train, TrainingData<T>? validation, TrainingOptions options, CancellationToken ct,
            TrainingState<T>? resume, IGradientAllreduce? comm)
        {
            if (comm is { Size: > 1 })
            {
                _comm = comm;
                if (comm is IShardedAllreduce sharded)
                {
                    _sharded = sharded;
                    _owned = RingOrder.Owned(net.ParameterCount, comm.Size, comm.Rank);
                }
                Span<long> all = stackalloc long[comm.Size];
                comm.Allgather([train.Count], all);
                foreach (long c in all)
                {
                    _globalRows += c;
                    _largestShard = Math.Max(_largestShard, c);
                }
            }
            _resume = resume;
            if (resume is not null)
            {
                _epochOffset = resume.Epochs.Count;
                if (resume.Epochs.Count > 0)
                {
                    _evaluationOffset = resume.Epochs[^1].GradientEvaluations;
                    _elapsedOffset = resume.Epochs[^1].Elapsed;
                }
                if (resume.StopReason is StopReason.MaxEpochs or StopReason.MaxGradientEvaluations)
                {
                    // The run was cut short by its budget: its stopping rule goes on as if it had not stopped.
                    _lrScale = resume.LearningRateScale;
                    _bestProgressScore = resume.BestProgressScore;
                    _sinceProgress = resume.SinceProgress;
                    _referenceLoss = resume.ReferenceLoss;
                }
            }
            _net = net;
            _train = train;
            _validation = validation;
            _o = options;
            _ct = ct;
            _reg = new Regularization(options.L2Regularization, options.L1Regularization);
            _threads = options.NumberOfThreads ?? Environment.ProcessorCount;
            _best = new T[net.ParameterCount];
            _lastGood = net.Parameters.ToArray();
        }

        private bool EarlyStopping => _o.EarlyStopping && _validation is not null;

        private bool BudgetLeft => _o.MaxGradientEvaluations is not { } max || _evaluations < max;

        public TrainingResult<T> Run()
        {
            if (_o.Optimizer == OptimizerKind.Lbfgs) RunLbfgs();
            else RunFirstOrder();
            return Finish(_stop);
        }

        private TrainingResult<T> Finish(StopReason stop)
        {
            int bestEpoch = _history.Count;
            if (EarlyStopping && _bestEpoch > 0)
            {
                _best.CopyTo(_net.Parameters);
                bestEpoch = _bestEpoch;
                if (bestEpoch != _history.Count) _weightsReplaced = true;
            }
            else if (stop == StopReason.Diverged)
                bestEpoch = RestoreMeasuredWeights();
            else if (_o.Optimizer != OptimizerKind.Lbfgs && FinalWeightsDiverged() is { } failure)
            {
                // The last step's weights were never evaluated: each epoch measures J before its steps. They blew up,
                // so return the weights with the lowest measured loss instead (L-BFGS ends on a point it evaluated).
                bestEpoch = RestoreMeasuredWeights();
                if (stop != StopReason.Canceled)
                {
                    double lr = _history.Count > 0 ? _history[^1].LearningRate : CurrentRate(_epochOffset + 1);
                    if (!_o.DivergenceBackoff) throw new TrainingDivergedException(_epochOffset + Math.Max(1, _history.Count), lr, failure);
                    stop = StopReason.Diverged;
                }
            }
            if (!_net.IsFinite())
                throw new TrainingDivergedException(_epochOffset + Math.Max(1, _history.Count), CurrentRate(_epochOffset + _history.Count), "a weight became non-finite");
            IReadOnlyList<EpochRecord> epochs = _resume is null ? _history.ToArray() : [.. _resume.Epochs, .. _history];
            var history = new TrainingHistory(epochs, _epochOffset + bestEpoch, stop);
            return new TrainingResult<T>(_net, history, _backoffs)
            {
                State = SaveState(epochs, stop, bestEpoch),
                OptimizerStateContinued = _optimizerStateContinued,
            };
        }

        private TrainingState<T> SaveState(IReadOnlyList<EpochRecord> epochs, StopReason stop, int bestEpoch)
        {
            // Sharded steps left each rank with its own chunk of the optimizer's state up to date: gather the rest, so that
            // every rank (rank 0 saves it) holds the state one process would have.
            if (_sharded is not null && _rule is not null)
                foreach (var state in _rule.StateArrays) _sharded.AllgatherChunks<T>(state);
            string? dropped = _rule is null ? "the earlier run used L-BFGS, which keeps no state between runs"
                : _weightsReplaced || stop == StopReason.Diverged
                    ? FormattableString.Invariant($"the earlier run ended {stop} and the model holds epoch {_epochOffset + bestEpoch}, not the last weights its optimizer stepped to")
                    : null;
            return new TrainingState<T>(epochs, stop, dropped is null ? _o.Optimizer : null, _o, _net.ParameterCount,
                dropped is null ? _rule!.StateArrays : [], dropped is null ? _rule!.Steps : 0, _shuffleRows, _shuffles, _dropoutDraws,
                _lrScale, _bestProgressScore, _sinceProgress, _referenceLoss, dropped);
        }

        /// <summary>
        /// Evaluates J at the current weights (a forward pass over the training set, not counted as a gradient
        /// evaluation) and describes the failure when it meets the divergence criteria of the training loop, else null.
        /// </summary>
        private string? FinalWeightsDiverged()
        {
            if (!_net.IsFinite()) return "a weight became non-finite";
            double j = FullCost();
            if (!double.IsFinite(j)) return $"the cost J at the final weights is {j}";
            if (Exploded(j)) return $"the cost J at the final weights exploded from {_referenceLoss:G4} to {j:G4}";
            // Finite and below the explosion factor, but more than twice the untrained network's: the steps made the
            // model worse, not better (seen with α = 1e3: J 0.69 → 18), which no trained model should be returned as.
            return j > WorseThanInitialFactor * _initialCost && _initialCost > 0
                ? $"the cost J at the final weights, {j:G4}, is more than {WorseThanInitialFactor} times the initial weights' {_initialCost:G4}"
                : null;
        }

        /// <summary>
        /// Puts back the start-of-epoch weights with the lowest epoch loss; returns their epoch. With mini-batches that
        /// loss was averaged over changing weights, so it is checked on the whole training set: if those weights are no
        /// good either, the initial weights (measured before the first step) are put back and 0 is returned.
        /// </summary>
        private int RestoreMeasuredWeights()
        {
            _weightsReplaced = true;
            _lastGood.CopyTo(_net.Parameters);
            if (_initial is null || double.IsNaN(_initialCost)) return _lastGoodEpoch;
            double j = _net.IsFinite() ? FullCost() : double.NaN;
            if (double.IsFinite(j) && !(j > WorseThanInitialFactor * _initialCost && _initialCost > 0)) return _lastGoodEpoch;
            _initial.CopyTo(_net.Parameters);
            return 0;
        }

        /// <summary>The weights training started from (first-order optimizers).</summary>
        private T[]? _initial;

        /// <summary>A final cost this many times the initial weights' counts as divergence.</summary>
        private const double WorseThanInitialFactor = 2;

        /// <summary>J over the whole training set at the initial weights (first-order optimizers).</summary>
        private double _initialCost = double.NaN;

        private double FullCost() => DataLoss() + Backpropagation.Penalty(_net, _reg);

        /// <summary>The mean data loss over all training rows (one evaluation pass over a stream).</summary>
        private double DataLoss()
        {
            if (_train.Memory is { } data)
                return AcrossRanks(Backpropagation.DataLoss(_net, data, _o.Loss, _threads, new NetworkWorkspace<T>(_net, Math.Min(data.Count, 1024))),
                    data.WeightSum(), null, out _);
            var ws = _evaluationWorkspace ??= new NetworkWorkspace<T>(_net, (int)Math.Min(_train.Count, 1024));
            double total = 0, weight = 0;
            foreach (var block in _train.Blocks(_train.BlockRows(1024), 0, false))
            {
                double w = block.WeightSum();
                if (w == 0) continue;
                total += Backpropagation.DataLoss(_net, block, _o.Loss, _threads, ws) * w;
                weight += w;
            }
            return total / weight;
        }

        private NetworkWorkspace<T>? _evaluationWorkspace;

        /// <summary>A finite cost that still counts as divergence: 10⁴ times the first one, or past 10³⁰.</summary>
        private bool Exploded(double j) => (j > ExplosionFactor * _referenceLoss && _referenceLoss > 0) || j > MaxCost;

        private TrainingCanceledException<T> Canceled(T[] lastGood)
        {
            if (!_net.IsFinite())
            {
                lastGood.CopyTo(_net.Parameters);
                _weightsReplaced = true;
            }
            return new TrainingCanceledException<T>(Finish(StopReason.Canceled), _ct);
        }

        private double CurrentRate(int epoch)
        {
            double lr0 = _o.EffectiveLearningRate;
            double scheduled = _o.LearningRateSchedule == LearningRateSchedule.InverseScaling
                ? lr0 / Math.Pow(Math.Max(1, epoch), _o.PowerT)
                : lr0;
            return scheduled * _lrScale;
        }

        private IUpdateRule<T> CreateRule() => _o.Optimizer switch
        {
            OptimizerKind.Sgd => new MomentumRule<T>(_net.ParameterCount, _o.Momentum, _o.Nesterov),
            OptimizerKind.Adam => new AdamRule<T>(_net.ParameterCount, _o.Beta1, _o.Beta2, _o.Epsilon),
            _ => new GradientDescentRule<T>(),
        };

        private void RunFirstOrder()
        {
            var memory = _train.Memory;
            // Every rank asks at the same point; the answer is the same everywhere.
            if (_sharded is not null && !_sharded.PrepareSplit<T>(_net.ParameterCount)) _sharded = null;
            long m = _comm is null ? _train.Count : _globalRows;
            long wanted = _o.BatchSize ?? (_o.Optimizer == OptimizerKind.GradientDescent ? m : Defaults.CoreMiniBatchSize);
            int batchSize = (int)Math.Min(Math.Min(m, wanted), int.MaxValue);
            bool fullBatch = batchSize >= m;
            // Data-parallel, each rank takes its share of the global batch, and as many steps as the largest shard needs.
            if (_comm is not null) batchSize = fullBatch ? Math.Max(1, memory!.Count) : (batchSize + _comm.Size - 1) / _comm.Size;
            // In memory one block holds every row; a stream's blocks are a multiple of the batch size, so that the batches
            // are the in-memory path's when the rows come in the same order. A full batch over a stream is summed block by block.
            int blockRows = fullBatch && memory is null ? _train.BlockRows(1) : _train.BlockRows(batchSize);
            var ws = new NetworkWorkspace<T>(_net, fullBatch ? blockRows : batchSize);
            var gradient = new T[_net.ParameterCount];
            var startOfEpoch = new T[_net.ParameterCount];
            var rule = CreateRule();
            _rule = rule;
            var order = Enumerable.Range(0, memory?.Count ?? blockRows).ToArray();
            int[]? partialOrder = null; // a stream's shorter last block
            var rng = new Random(RankSeed(_o.Seed));
            var batch = fullBatch && memory is not null ? MiniBatch<T>.Whole(memory) : new MiniBatch<T>();
            var dropoutRng = new Random(RankSeed(unchecked(_o.Seed * 7 + 977))); // its own stream: shuffling stays as without dropout
            _shuffleRows = memory?.Count ?? -1; // a stream's shuffles depend on its blocks: they are not replayed
            int hiddenUnits = HiddenUnits;
            if (_resume is { } r)
            {
                if (r.OptimizerMismatch(_o, _net.ParameterCount) is null)
                {
                    r.Restore(rule);
                    _optimizerStateContinued = true;
                }
                // Put both random streams where the earlier run left them, and the row order too (each epoch shuffles
                // the previous epoch's order), by replaying the earlier shuffles: the next epoch is then shuffled as it
                // would have been in one longer run.
                if (r.Seed == _o.Seed)
                {
                    if (memory is not null && r.ShuffleRows == memory.Count && r.Shuffles > 0)
                    {
                        for (long i = 0; i < r.Shuffles; i++) rng.Shuffle(order);
                        _shuffles = r.Shuffles;
                    }
                    for (long i = 0; i < r.DropoutDraws; i++) dropoutRng.NextDouble();
                    _dropoutDraws = r.DropoutDraws;
                }
            }
            _initialCost = FullCost(); // what the final weights are checked against (one forward pass)
            _initial = _net.Parameters.ToArray();

            for (int epoch = 1; epoch <= _o.MaxEpochs; epoch++)
            {
                double lr = CurrentRate(_epochOffset + epoch);
                _net.Parameters.CopyTo(startOfEpoch);
                if (_o.Shuffle && !fullBatch && memory is not null)
                {
                    rng.Shuffle(order);
                    _shuffles++;
                }
                double sumJ = 0, sumW = 0;
                string? failure = null;
                bool budgetHit = false;

                // One gradient step on a cost and gradient just computed: the divergence checks, the update, the epoch sums.
                bool Step(double j, double weightSum)
                {
                    _evaluations++;
                    // A split step's sum said whether any rank's chunk was non-finite; taken here whatever ends the step.
                    bool? nonFiniteOnSomeRank = _nonFiniteOnSomeRank;
                    _nonFiniteOnSomeRank = null;
                    if (!double.IsFinite(j)) { failure = $"the cost J became {j}"; return false; }
                    if (double.IsNaN(_referenceLoss)) _referenceLoss = j;
                    if (Exploded(j))
                    {
                        failure = $"the cost J exploded from {_referenceLoss:G4} to {j:G4}";
                        return false;
                    }
                    if (nonFiniteOnSomeRank ?? !AllFinite(gradient)) { failure = "the gradient became non-finite"; return false; }
                    if (_sharded is null) rule.Step(_net.Parameters, gradient, lr, _threads);
                    else
                    {
                        // This rank's chunk only; then every rank's updated chunk to every rank: the same weights everywhere.
                        var (s, len) = _owned;
                        rule.Step(_net.Parameters.Slice(s, len), gradient.AsSpan(s, len), lr, _threads, s);
                        _sharded.AllgatherChunks<T>(_net.Parameters);
                    }
                    sumJ += j * weightSum;
                    sumW += weightSum;
                    return true;
                }

                if (fullBatch && memory is null)
                {
                    if (_ct.IsCancellationRequested) throw Canceled(startOfEpoch);
                    if (!BudgetLeft) budgetHit = true;
                    else
                    {
                        double j, weightSum;
                        try
                        {
                            (j, weightSum) = StreamedCostAndGradient(ws, gradient, blockRows, _o.Dropout > 0 ? dropoutRng : null);
                        }
                        catch (OperationCanceledException)
                        {
                            throw Canceled(startOfEpoch);
                        }
                        Step(j, weightSum);
                    }
                }
                else
                {
                    foreach (var block in _train.Blocks(blockRows, epoch, _o.Shuffle))
                    {
                        int n = block.Count;
                        var ord = memory is not null || n == order.Length ? order : partialOrder is { } p && p.Length == n ? p : partialOrder = Enumerable.Range(0, n).ToArray();
                        if (memory is null && _o.Shuffle && !fullBatch) rng.Shuffle(ord);
                        bool stop = false;
                        long rowsToCover = _comm is null || fullBatch ? n : _largestShard;
                        for (int start = 0; start < rowsToCover; start += batchSize)
                        {
                            if (_comm is null && _ct.IsCancellationRequested) throw Canceled(startOfEpoch);
                            if (!BudgetLeft) { budgetHit = true; stop = true; break; }
                            if (!fullBatch) batch.Gather(block, ord.AsSpan(Math.Min(start, n), Math.Clamp(n - start, 0, batchSize)));
                            if (_o.Dropout > 0)
                            {
                                ws.DrawDropout(_o.Dropout, dropoutRng, batch.Rows);
                                _dropoutDraws += (long)batch.Rows * hiddenUnits;
                                ws.DropoutActive = true;
                            }
                            double j, weightSum;
                            try
                            {
                                (j, weightSum) = BatchCostAndGradient(batch, ws, gradient, shard: true);
                            }
                            catch (OperationCanceledException) when (_comm is not null)
                            {
                                throw Canceled(startOfEpoch);
                            }
                            if (!Step(j, weightSum)) { stop = true; break; }
                        }
                        if (stop) break;
                    }
                }
                if (failure is null && !_net.IsFinite()) failure = "a weight became non-finite";
                if (failure is not null)
                {
                    // Go back to the weights at the start of the epoch with the lowest loss so far (the initial
                    // weights if none): finite, and from before the run-away began.
                    _lastGood.CopyTo(_net.Parameters);
                    if (!_o.DivergenceBackoff) throw new TrainingDivergedException(_epochOffset + epoch, lr, failure);
                    if (_backoffs >= MaxBackoffs) { _stop = StopReason.Diverged; return; }
                    // Back off: cut α and run the epoch again from there. Like an adaptive cut, the new rate gets a
                    // full NoImprovementEpochs: the re-run starts from weights already measured, so its first loss
                    // repeats an old one by construction and says nothing about convergence.
                    _lrScale /= 4;
                    _backoffs++;
                    _sinceProgress = 0;
                    rule.Reset();
                    epoch--;
                    continue;
                }
                if (sumW == 0) { _stop = StopReason.MaxGradientEvaluations; return; }
                if (sumJ / sumW < _lowestTrainingLoss)
                {
                    _lowestTrainingLoss = sumJ / sumW;
                    startOfEpoch.CopyTo(_lastGood, 0);
                    _lastGoodEpoch = epoch - 1;
                }
                if (EndEpoch(epoch, sumJ / sumW, lr)) return;
                if (budgetHit || !BudgetLeft) { _stop = StopReason.MaxGradientEvaluations; return; }
            }
        }

        /// <summary>
        /// J and ∂J/∂θ of one step's batch, and the batch's weight. One process: the batch itself. Data-parallel: every
        /// rank's share of the global batch: each share's weighted sum of data gradients and its loss times its weight sum,
        /// summed over the ranks (with a flag that is set when any rank's token fired) and divided by the total weight; the
        /// penalty's gradient is added once, after, as the one-process formula has it. Throws <see cref="OperationCanceledException"/>
        /// on every rank when any rank was canceled.
        /// </summary>
        private (double Cost, double WeightSum) BatchCostAndGradient(MiniBatch<T> batch, NetworkWorkspace<T> ws, Span<T> gradient, bool shard = false)
        {
            if (_comm is null)
                return (Backpropagation.CostAndGradient(_net, batch, _o.Loss, _reg, ws, gradient, _threads), batch.WeightSum);
            if (shard && _sharded is not null) return ShardedCostAndGradient(_sharded, batch, ws, gradient);
            int n = gradient.Length;
            var sum = _rankSum ??= new T[n + 3];
            var g = sum.AsSpan(0, n);
            double loss = 0, weight = batch.Rows > 0 ? batch.WeightSum : 0;
            // The weighted sum of the share's gradients straight from the product (its α is 1 instead of 1/m), so no pass
            // multiplies the mean back by the weight; the one division by the total weight rides with the penalty's pass.
            if (weight > 0) loss = Backpropagation.CostAndGradient(_net, batch, _o.Loss, Regularization.None, ws, g, _threads, weightedSum: true);
            else g.Clear();
            sum[n] = T.CreateTruncating(loss * weight);
            sum[n + 1] = T.CreateTruncating(weight);
            sum[n + 2] = _ct.IsCancellationRequested ? T.One : T.Zero;
            _comm.Sum<T>(sum);
            if (sum[n + 2] > T.Zero) throw new OperationCanceledException("A rank's training was canceled.");
            double total = double.CreateTruncating(sum[n + 1]);
            Backpropagation.ScaleAndAddPenaltyGradient(_net, _reg, g, T.CreateTruncating(1 / total), gradient);
            return (double.CreateTruncating(sum[n]) / total + Backpropagation.Penalty(_net, _reg), total);
        }

        /// <summary>
        /// <see cref="BatchCostAndGradient"/> with the sum split among the ranks: the weighted sums of the shares' gradients
        /// are reduce-scattered, so only this rank's own chunk of <paramref name="gradient"/> is written (divided by the total
        /// weight, plus the penalty's gradient); then the losses, the weights, the cancel flag and whether any rank's chunk
        /// was non-finite are summed (in double) so that every rank takes the same decisions.
        /// </summary>
        private (double Cost, double WeightSum) ShardedCostAndGradient(IShardedAllreduce sharded, MiniBatch<T> batch, NetworkWorkspace<T> ws, Span<T> gradient)
        {
            int n = gradient.Length;
            var g = (_rankSum ??= new T[n + 3]).AsSpan(0, n);
            double loss = 0, weight = batch.Rows > 0 ? batch.WeightSum : 0;
            if (weight > 0) loss = Backpropagation.CostAndGradient(_net, batch, _o.Loss, Regularization.None, ws, g, _threads, weightedSum: true);
            else g.Clear();
            sharded.ReduceScatter<T>(g);
            var (start, length) = _owned;
            var tail = _shardTail;
            tail[0] = loss * weight;
            tail[1] = weight;
            tail[2] = _ct.IsCancellationRequested ? 1 : 0;
            // On the raw sum: a finite sum divided by a total weight of at least the smallest row weight stays finite
            // unless it overflows, which the epoch's check of the weights still catches.
            tail[3] = AllFinite(g.Slice(start, length)) ? 0 : 1;
            sharded.Sum<double>(tail);
            if (tail[2] > 0) throw new OperationCanceledException("A rank's training was canceled.");
            _nonFiniteOnSomeRank = tail[3] > 0;
            double total = tail[1];
            Backpropagation.ScaleAndAddPenaltyGradient(_net, _reg, g, T.CreateTruncating(1 / total), gradient, start, length);
            return (tail[0] / total + Backpropagation.Penalty(_net, _reg), total);
        }

        private readonly double[] _shardTail = new double[4];
        private T[]? _rankSum;
        private readonly double[] _meanSum = new double[3];

        /// <summary>
        /// A (weighted) mean over this rank's rows, made the mean over every rank's rows: Σ_r w_r·mean_r / Σ_r w_r, in
        /// double; <paramref name="accuracy"/> likewise. One process: the values as they are.
        /// </summary>
        private double AcrossRanks(double mean, double weight, double? accuracy, out double? acrossAccuracy)
        {
            acrossAccuracy = accuracy;
            if (_comm is null) return mean;
            _meanSum[0] = weight > 0 ? mean * weight : 0;
            _meanSum[1] = weight > 0 && accuracy is { } a ? a * weight : 0;
            _meanSum[2] = weight;
            _comm.Sum<double>(_meanSum);
            if (accuracy is not null) acrossAccuracy = _meanSum[1] / _meanSum[2];
            return _meanSum[0] / _meanSum[2];
        }

        /// <summary>Rank 0 (and one process) draws from <paramref name="seed"/>'s stream; every other rank from a stream of its own.</summary>
        private int RankSeed(int seed) => _comm is null || _comm.Rank == 0 ? seed : unchecked(seed + 104_729 * _comm.Rank);

        /// <summary>Units in the hidden layers: dropout draws this many numbers per row.</summary>
        private int HiddenUnits
        {
            get
            {
                int units = 0;
                for (int l = 1; l < _net.LayerSizes.Count - 1; l++) units += _net.LayerSizes[l];
                return units;
            }
        }

        private MiniBatch<T>? _blockBatch;
        private T[]? _blockGradient;

        /// <summary>
        /// J and ∂J/∂θ over every row of a stream, summed block by block: Σ_b W_b·(J_b, g_b) / Σ_b W_b for the data term
        /// (each block's mean weighted by its weight sum, which is the whole data's mean), then the penalty and its gradient
        /// once. Returns J and the total weight. Throws <see cref="OperationCanceledException"/> between blocks.
        /// </summary>
        private (double Cost, double WeightSum) StreamedCostAndGradient(NetworkWorkspace<T> ws, Span<T> gradient, int blockRows, Random? dropoutRng)
        {
            gradient.Clear();
            var g = _blockGradient ??= new T[_net.ParameterCount];
            var mb = _blockBatch ??= new MiniBatch<T>();
            double total = 0, weight = 0;
            foreach (var block in _train.Blocks(blockRows, 0, false))
            {
                if (_ct.IsCancellationRequested) throw new OperationCanceledException(_ct);
                mb.SetWhole(block);
                if (mb.WeightSum == 0) continue;
                if (dropoutRng is not null)
                {
                    ws.DrawDropout(_o.Dropout, dropoutRng, mb.Rows);
                    _dropoutDraws += (long)mb.Rows * HiddenUnits;
                    ws.DropoutActive = true;
                }
                double j = Backpropagation.CostAndGradient(_net, mb, _o.Loss, Regularization.None, ws, g, _threads);
                TensorPrimitives.MultiplyAdd(g, T.CreateTruncating(mb.WeightSum), gradient, gradient);
                total += j * mb.WeightSum;
                weight += mb.WeightSum;
            }
            if (weight == 0) throw new InvalidOperationException("The training stream's rows weigh nothing in total.");
            TensorPrimitives.Multiply(gradient, T.CreateTruncating(1 / weight), gradient);
            Backpropagation.AddPenaltyGradient(_net, _reg, gradient);
            return (total / weight + Backpropagation.Penalty(_net, _reg), weight);
        }

        private void RunLbfgs()
        {
            int n = _net.ParameterCount;
            var memory = _train.Memory;
            int blockRows = _train.BlockRows(1);
            var ws = new NetworkWorkspace<T>(_net, blockRows);
            var gradient = new T[n];
            var batch = memory is null ? null : MiniBatch<T>.Whole(memory);
            var x0 = new double[n];
            var lastGood = _net.Parameters.ToArray();
            for (int i = 0; i < n; i++) x0[i] = double.CreateTruncating(lastGood[i]);

            double Objective(ReadOnlySpan<double> x, Span<double> g)
            {
                if (_comm is null && _ct.IsCancellationRequested) throw new OperationCanceledException(_ct);
                var p = _net.Parameters;
                for (int i = 0; i < n; i++) p[i] = T.CreateTruncating(x[i]);
                double j = batch is not null
                    ? BatchCostAndGradient(batch, ws, gradient).Cost
                    : StreamedCostAndGradient(ws, gradient, blockRows, null).Cost;
                _evaluations++;
                for (int i = 0; i < n; i++) g[i] = double.CreateTruncating(gradient[i]);
                // Past MaxCost the line search must treat the point as unusable, like an overflow.
                return j > MaxCost ? double.PositiveInfinity : j;
            }

            Lbfgs solver;
            try
            {
                solver = new Lbfgs(Objective, x0, _o.LbfgsMemory);
            }
            catch (OperationCanceledException)
            {
                throw Canceled(lastGood);
            }
            if (!double.IsFinite(solver.F))
            {
                lastGood.CopyTo(_net.Parameters);
                throw new TrainingDivergedException(_epochOffset + 1, double.NaN, DescribeInitialCost(solver.F));
            }
            int budget = _o.MaxGradientEvaluations ?? int.MaxValue;
            for (int epoch = 1; epoch <= _o.MaxEpochs; epoch++)
            {
                bool moved;
                try
                {
                    moved = _evaluations < budget && solver.Iterate(budget);
                }
                catch (OperationCanceledException)
                {
                    CopyToNetwork(solver.X);
                    throw Canceled(lastGood);
                }
                CopyToNetwork(solver.X);
                _net.Parameters.CopyTo(lastGood);
                if (!moved)
                {
                    _stop = _evaluations >= budget ? StopReason.MaxGradientEvaluations : StopReason.Converged;
                    return;
                }
                if (EndEpoch(epoch, solver.F, double.NaN)) return;
            }
        }

        /// <summary>
        /// Why the cost at the initial weights is unusable, split into its two parts so the message names the cause:
        /// the data loss (features or targets too large) or the weight penalty (a regularization strength too large).
        /// </summary>
        private string DescribeInitialCost(double cost)
        {
            double data = DataLoss();
            double penalty = Backpropagation.Penalty(_net, _reg);
            string parts = $"the initial cost J is {cost} (data loss {data:G4}, weight penalty {penalty:G4})";
            if (!double.IsFinite(penalty) || penalty > MaxCost)
                return parts + $": the weight penalty overflows; L2Regularization = {_o.L2Regularization:G4} and L1Regularization = {_o.L1Regularization:G4} " +
                    "are far too large (typical values are 1e-5 to 1)";
            return parts + ": the data loss overflows; the features or the targets are too large";
        }

        private void CopyToNetwork(double[] x)
        {
            var p = _net.Parameters;
            for (int i = 0; i < x.Length; i++) p[i] = T.CreateTruncating(x[i]);
        }

        /// <summary>Records the epoch, validates, updates the best weights and decides whether to stop.</summary>
        private bool EndEpoch(int epoch, double trainingLoss, double lr)
        {
            double? valLoss = null, valAcc = null;
            if (_validation is not null)
            {
                _validationWorkspace ??= new NetworkWorkspace<T>(_net, Math.Min(_validation.Count, 1024));
                valLoss = AcrossRanks(Backpropagation.Evaluate(_net, _validation, _o.Loss, _threads, _validationWorkspace, out valAcc),
                    _validation.WeightSum(), valAcc, out valAcc);
            }
            var record = new EpochRecord(_epochOffset + epoch, trainingLoss, valLoss, valAcc, lr, _evaluationOffset + _evaluations,
                _elapsedOffset + _clock.Elapsed);
            _history.Add(record);
            _o.EpochCompleted?.Invoke(record);

            double score = EarlyStopping ? valLoss!.Value : trainingLoss;
            if (EarlyStopping && score < _bestScore)
            {
                _bestScore = score;
                _bestEpoch = epoch;
                _net.Parameters.CopyTo(_best);
            }
            if (_o.Tolerance == 0 && !EarlyStopping) return false;
            if (score < _bestProgressScore - _o.Tolerance)
            {
                _bestProgressScore = score;
                _sinceProgress = 0;
                return false;
            }
            _bestProgressScore = Math.Min(_bestProgressScore, score);
            _sinceProgress++;
            if (EarlyStopping)
            {
                if (_sinceProgress < _o.EarlyStoppingPatience) return false;
                _stop = StopReason.EarlyStopped;
                return true;
            }
            if (_sinceProgress < _o.NoImprovementEpochs) return false;
            if (_o.LearningRateSchedule == LearningRateSchedule.Adaptive && _o.Optimizer != OptimizerKind.Lbfgs)
            {
                _lrScale /= _o.AdaptiveDivisor;
                _sinceProgress = 0;
                if (_lrScale >= 1e-6) return false;
            }
            _stop = StopReason.Converged;
            return true;
        }

        private static bool AllFinite(ReadOnlySpan<T> values) => FiniteCheck.All(values);
    }
}
