using System.Numerics;
using System.Runtime.ExceptionServices;

namespace MLNetBackprop.Core;

/// <summary>How <see cref="WeightDecaySearch"/> chooses λ.</summary>
public sealed class WeightDecaySearchOptions
{
    /// <summary>
    /// The λ values tried (L2 weight decay, as <see cref="TrainingOptions.L2Regularization"/>), each with the same folds
    /// and the same initial weights per fold. Default 1, 0.1, 0.01, 0.001.
    /// </summary>
    public IReadOnlyList<double> Candidates { get; set; } = Defaults.WeightDecayCandidates();

    /// <summary>Cross-validation folds, at least 2. Default 3.</summary>
    public int Folds { get; set; } = Defaults.WeightDecayFolds;

    /// <summary>
    /// False (default): one network is trained on all rows with the chosen λ, starting from the first fold's network.
    /// True: the model returned is the average of the fold networks trained with the chosen λ, written as one network whose
    /// output pre-activation is the mean of theirs (see <see cref="NeuralNetwork{T}.Average"/>); it needs no further fit.
    /// </summary>
    public bool AverageFoldModels { get; set; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (Candidates is null || Candidates.Count == 0)
            throw new ArgumentOutOfRangeException(nameof(Candidates), "The weight-decay search needs at least one candidate λ.");
        foreach (var c in Candidates)
            if (!double.IsFinite(c) || c < 0)
                throw new ArgumentOutOfRangeException(nameof(Candidates), c, $"The candidate λ = {c} must be finite and non-negative.");
        if (Folds < 2) throw new ArgumentOutOfRangeException(nameof(Folds), Folds, $"The option Folds = {Folds} must be at least 2.");
    }
}

/// <summary>One candidate λ and how it did in cross-validation.</summary>
/// <param name="L2Regularization">The λ tried.</param>
/// <param name="ValidationLoss">Mean data loss (no penalty) over all held-out rows, each row scored by the network that did not see it.</param>
/// <param name="StandardError">Standard error of <paramref name="ValidationLoss"/> over the folds.</param>
/// <param name="ValidationAccuracy">Held-out accuracy for classification outputs, otherwise null.</param>
public sealed record WeightDecayCandidate(double L2Regularization, double ValidationLoss, double StandardError, double? ValidationAccuracy);

/// <summary>What the weight-decay search tried and what it chose; kept on the training history.</summary>
/// <param name="ChosenL2Regularization">The λ with the lowest cross-validated loss.</param>
/// <param name="Folds">Cross-validation folds.</param>
/// <param name="AveragedFoldModels">Whether the model is the average of the fold networks (otherwise one refit on all rows).</param>
/// <param name="Candidates">Every λ tried, in the order tried.</param>
public sealed record WeightDecaySelection(double ChosenL2Regularization, int Folds, bool AveragedFoldModels, IReadOnlyList<WeightDecayCandidate> Candidates);

/// <summary>
/// Chooses the L2 weight decay λ by k-fold cross-validation and returns the model trained with it. Small noisy data is
/// where a fixed λ fails: too small and the network fits the noise, too large and it cannot fit the signal. Each candidate
/// is trained on the same folds from the same initial weights per fold (so the comparison between candidates is not
/// drowned by initialization noise), scored by the mean held-out loss, and the lowest wins. Folds are stratified on the
/// target (classes for classification, the sorted target for regression). Deterministic for a given
/// <see cref="TrainingOptions.Seed"/>, whatever the thread count.
/// </summary>
public static class WeightDecaySearch
{
    /// <summary>Runs the search. <paramref name="network"/> gives the shape and activations; its weights are not used.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is invalid, or there are fewer rows than folds.</exception>
    /// <exception cref="TrainingCanceledException{T}">The token fired (the exception carries the fold model being trained).</exception>
    public static TrainingResult<T> Run<T>(NeuralNetwork<T> network, TrainingData<T> data, TrainingOptions options,
        WeightDecaySearchOptions search, CancellationToken cancellationToken = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(search);
        options.Validate();
        search.Validate();
        Backpropagation.CheckCompatible(network, data, options.Loss);
        int k = search.Folds;
        if (data.Count < 2 * k)
            throw new ArgumentOutOfRangeException(nameof(data), data.Count, $"The weight-decay search with {k} folds needs at least {2 * k} rows; there are {data.Count}.");

        var fold = AssignFolds(data, k, options.Seed);
        var trainSets = new TrainingData<T>[k];
        var heldOut = new TrainingData<T>[k];
        for (int f = 0; f < k; f++)
        {
            trainSets[f] = data.Subset(Enumerable.Range(0, data.Count).Where(i => fold[i] != f).ToArray());
            heldOut[f] = data.Subset(Enumerable.Range(0, data.Count).Where(i => fold[i] == f).ToArray());
        }

        int threads = options.NumberOfThreads ?? Environment.ProcessorCount;
        var candidates = search.Candidates;
        var runs = new TrainingResult<T>[candidates.Count, k];
        var losses = new double[candidates.Count, k];
        var correct = new double?[candidates.Count, k];
        var weights = new double[k];
        for (int f = 0; f < k; f++)
        {
            weights[f] = WeightSum(heldOut[f]);
            if (!(WeightSum(trainSets[f]) > 0))
                throw new ArgumentException($"The weight-decay search's fold {f + 1} of {k} would train on rows whose example weights are all zero; set L2Regularization, or give more rows a positive weight.", nameof(data));
        }

        // Every (candidate, fold) fit is independent: run them side by side, one thread each, so a small data set uses
        // every core. Each fit is itself deterministic and single-threaded results equal multi-threaded ones.
        var jobs = Enumerable.Range(0, candidates.Count * k).ToArray();
        ExceptionDispatchInfo? failure = null;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Parallel.ForEach(jobs, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) }, job =>
        {
            if (stop.IsCancellationRequested) return;
            int c = job / k, f = job % k;
            try
            {
                var net = network.Clone();
                net.Initialize(FoldSeed(options.Seed, f));
                var o = options.Clone();
                o.L2Regularization = candidates[c];
                o.NumberOfThreads = 1;
                o.EpochCompleted = null;
                var r = NetworkTrainer.Train(net, trainSets[f], o, null, stop.Token);
                runs[c, f] = r;
                if (weights[f] > 0) // a held-out fold of zero-weight rows says nothing
                {
                    double loss = Backpropagation.Evaluate(r.Network, heldOut[f], options.Loss, 1, null, out var accuracy);
                    losses[c, f] = double.IsFinite(loss) ? loss : double.PositiveInfinity;
                    correct[c, f] = accuracy * weights[f];
                }
                else correct[c, f] = 0;
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null);
                stop.Cancel();
            }
        });
        failure?.Throw();

        double totalWeight = weights.Sum();
        var table = new WeightDecayCandidate[candidates.Count];
        int best = 0;
        for (int c = 0; c < candidates.Count; c++)
        {
            double sum = 0;
            double? hits = 0;
            for (int f = 0; f < k; f++)
            {
                sum += losses[c, f] * weights[f];
                hits = hits is null || correct[c, f] is null ? null : hits + correct[c, f];
            }
            double mean = sum / totalWeight;
            double sq = 0;
            int scored = 0;
            for (int f = 0; f < k; f++)
                if (weights[f] > 0)
                {
                    sq += (losses[c, f] - mean) * (losses[c, f] - mean);
                    scored++;
                }
            double se = double.IsFinite(mean) && scored > 1 ? Math.Sqrt(sq / (scored - 1) / scored) : double.PositiveInfinity;
            table[c] = new WeightDecayCandidate(candidates[c], mean, se, hits / totalWeight);
            // Ties (and the exact same loss) go to the larger λ: the simpler model.
            if (mean < table[best].ValidationLoss || (mean == table[best].ValidationLoss && candidates[c] > candidates[best])) best = c;
        }
        double chosen = candidates[best];

        NeuralNetwork<T> model;
        TrainingHistory foldHistory;
        int backoffs = 0;
        if (search.AverageFoldModels)
        {
            var members = Enumerable.Range(0, k).Select(f => runs[best, f].Network).ToArray();
            model = NeuralNetwork<T>.Average(members);
            foldHistory = runs[best, 0].History;
            for (int f = 0; f < k; f++) backoffs += runs[best, f].LearningRateBackoffs;
        }
        else
        {
            // Warm start from the first fold's network with the chosen λ: it has seen (k − 1)/k of these rows with this
            // very cost, so the refit converges in far fewer iterations than from random weights.
            var net = runs[best, 0].Network.Clone();
            var o = options.Clone();
            o.L2Regularization = chosen;
            var r = NetworkTrainer.Train(net, data, o, null, cancellationToken);
            model = r.Network;
            foldHistory = r.History;
            backoffs = r.LearningRateBackoffs;
        }
        var selection = new WeightDecaySelection(chosen, k, search.AverageFoldModels, table);
        var history = new TrainingHistory(foldHistory.Epochs, foldHistory.BestEpoch, foldHistory.StopReason) { WeightDecaySelection = selection };
        return new TrainingResult<T>(model, history, backoffs);
    }

    private static int FoldSeed(int seed, int fold) => unchecked(seed * 1_000_003 + fold * 7919 + 1);

    private static double WeightSum<T>(TrainingData<T> d) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (d.Weights is null) return d.Count;
        double s = 0;
        foreach (var w in d.Weights) s += double.CreateTruncating(w);
        return s;
    }

    /// <summary>
    /// Fold of each row, stratified: rows are ordered by their class (arg-max of a one-hot target, or a single 0/1 target)
    /// or by their target value (regression), ties broken at random, and dealt to the folds in turn.
    /// </summary>
    internal static int[] AssignFolds<T>(TrainingData<T> data, int folds, int seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = data.Count, t = data.TargetCount;
        var rng = new Random(unchecked(seed * 31 + 101));
        var key = new double[n];
        var tie = new double[n];
        for (int i = 0; i < n; i++)
        {
            var y = data.TargetRow(i);
            if (t == 1) key[i] = double.CreateTruncating(y[0]);
            else
            {
                int arg = 0;
                for (int j = 1; j < t; j++) if (y[j] > y[arg]) arg = j;
                key[i] = arg;
            }
            tie[i] = rng.NextDouble();
        }
        var order = Enumerable.Range(0, n).ToArray();
        Array.Sort(order, (a, b) => key[a] != key[b] ? key[a].CompareTo(key[b]) : tie[a].CompareTo(tie[b]));
        var fold = new int[n];
        int offset = rng.Next(folds);
        for (int r = 0; r < n; r++) fold[order[r]] = (r + offset) % folds;
        return fold;
    }
}
