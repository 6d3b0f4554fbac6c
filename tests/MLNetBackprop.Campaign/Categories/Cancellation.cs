using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Campaign.Categories;

/// <summary>
/// Category 6: cancellation at random moments. Fit (Adam, SGD, L-BFGS or gradient descent) is canceled through
/// <see cref="BackpropTrainerOptions.CancellationToken"/> or <c>MLContext.CancelExecution()</c> (internal in ML.NET 5.0.1,
/// called by reflection) after a seeded random
/// fraction (0 to 1.2) of the time the same fit takes uncanceled. Expected: the documented exception — a
/// <see cref="BackpropCanceledException"/> whose PartialModel scores soundly, or an OperationCanceledException before
/// training began — or a completed, sound model (when the cancellation came too late); never a hang, never a NaN model.
/// </summary>
public sealed class Cancellation : Category
{
    private const string ByToken = "Fit canceled by CancellationToken";
    private const string ByContext = "Fit canceled by MLContext.CancelExecution()";

    /// <inheritdoc/>
    public override string Name => "cancel";

    /// <inheritdoc/>
    public override string Title => "Cancellation at random moments during Fit";

    /// <inheritdoc/>
    public override IReadOnlyList<RowSpec> Rows { get; } = [new(ByToken), new(ByContext)];

    /// <summary>A training row: 16 features, a non-linear label.</summary>
    public sealed class WideRow
    {
        /// <summary>The class.</summary>
        public bool Label { get; set; }

        /// <summary>16 features in [−1, 1].</summary>
        [VectorType(16)]
        public float[] Features { get; set; } = [];
    }

    private static List<WideRow> Rows4000()
    {
        var rng = new Random(6);
        return Enumerable.Range(0, 4000).Select(_ =>
        {
            var f = Enumerable.Range(0, 16).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            return new WideRow { Features = f, Label = f[0] * f[1] + 0.5f * f[2] * f[3] - 0.2f * f[4] > 0 };
        }).ToList();
    }

    private static BackpropTrainerOptions Options(OptimizerKind optimizer) => new()
    {
        Optimizer = optimizer, HiddenLayers = [64], EarlyStopping = false, Tolerance = 0,
        MaxEpochs = optimizer switch { OptimizerKind.Adam or OptimizerKind.Sgd => 100, _ => 150 },
        LearningRate = optimizer switch { OptimizerKind.Adam => 0.003, OptimizerKind.Sgd => 0.05, OptimizerKind.GradientDescent => 0.5, _ => null },
    };

    /// <inheritdoc/>
    public override IReadOnlyList<Trial> Prepare(CampaignContext context)
    {
        var rows = Rows4000();
        var optimizers = new[] { OptimizerKind.Adam, OptimizerKind.Sgd, OptimizerKind.Lbfgs, OptimizerKind.GradientDescent };
        var durations = new Dictionary<OptimizerKind, TimeSpan>();
        // Each fit is timed three times and the fastest kept: the first fits of a process run several times slower while
        // the JIT replaces its first code, and the fractions below should mean what they say.
        foreach (var optimizer in optimizers)
        {
            var fastest = TimeSpan.MaxValue;
            for (int run = 0; run < 3; run++)
            {
                var ml = new MLContext(7);
                var data = ml.Data.LoadFromEnumerable(rows);
                var trainer = ml.BinaryClassification.Trainers.Backprop(Options(optimizer));
                var clock = Stopwatch.StartNew();
                trainer.Fit(data);
                if (clock.Elapsed < fastest) fastest = clock.Elapsed;
            }
            durations[optimizer] = fastest;
            CampaignContext.Log($"cancel: an uncanceled {optimizer} fit takes {fastest.TotalSeconds:F2} s.");
        }
        var rng = context.Random("cancel");
        var trials = new List<Trial>
        {
            new(ByToken, "Adam, the token canceled before Fit", () => Run(rows, OptimizerKind.Adam, token: true, null, context.Seed)),
            new(ByContext, "Adam, the MLContext canceled before Fit", () => Run(rows, OptimizerKind.Adam, token: false, null, context.Seed)),
        };
        for (int i = 0; i < context.Count(30, 8); i++)
        {
            var optimizer = optimizers[i % optimizers.Length];
            bool token = rng.Next(2) == 0;
            double fraction = rng.NextDouble() * 1.2;
            var delay = durations[optimizer] * fraction;
            int seed = context.Seed + i;
            trials.Add(new Trial(token ? ByToken : ByContext,
                $"{optimizer}, canceled after {delay.TotalMilliseconds:F0} ms ({fraction:P0} of an uncanceled fit)",
                () => Run(rows, optimizer, token, delay, seed)));
        }
        return trials;
    }

    /// <summary>One fit, canceled after <paramref name="delay"/> (null: before Fit is called).</summary>
    private static TrialOutput Run(List<WideRow> rows, OptimizerKind optimizer, bool token, TimeSpan? delay, int seed)
    {
        string row = token ? ByToken : ByContext;
        string what = $"{optimizer}, canceled by {(token ? "the token" : "the MLContext")} {(delay is { } after ? $"after {after.TotalMilliseconds:F0} ms" : "before Fit")}";
        var ml = new MLContext(seed);
        using var cts = new CancellationTokenSource();
        var options = Options(optimizer);
        if (token) options.CancellationToken = cts.Token;
        var data = ml.Data.LoadFromEnumerable(rows);
        var trainer = ml.BinaryClassification.Trainers.Backprop(options);
        var clock = Stopwatch.StartNew();
        double canceledAt = double.NaN;
        void Cancel()
        {
            canceledAt = clock.Elapsed.TotalMilliseconds;
            if (token) cts.Cancel();
            else CancelExecution(ml);
        }
        if (delay is null) Cancel();
        using var timer = new Timer(_ => Cancel(), null, delay ?? Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        ITransformer model;
        Outcome outcome;
        string detail;
        try
        {
            model = trainer.Fit(data);
            outcome = Outcome.Correct;
            detail = double.IsNaN(canceledAt) ? $"completed in {clock.Elapsed.TotalMilliseconds:F0} ms, before the cancellation" : $"completed {clock.Elapsed.TotalMilliseconds - canceledAt:F0} ms after the cancellation";
        }
        catch (BackpropCanceledException e)
        {
            model = e.PartialModel;
            outcome = Outcome.ClearError;
            detail = $"BackpropCanceledException after {e.PartialModel.History.Epochs.Count} epochs";
        }
        catch (OperationCanceledException e)
        {
            return Latency(TrialOutput.Of(row, Outcome.ClearError, $"{what}: {Errors.Describe(e)}"), clock, delay is null ? double.NaN : canceledAt)
                .With("canceled before training", 1);
        }
        catch (Exception e)
        {
            var (o, d) = Errors.Classify(e, [typeof(OperationCanceledException)], "cancel");
            return Latency(TrialOutput.Of(row, o, $"{what}: {d}"), clock, canceledAt);
        }
        var output = Latency(new TrialOutput(), clock, canceledAt);
        // Judged on data from a fresh context: a canceled MLContext refuses to open cursors over its own data views.
        var probe = new MLContext(0).Data.LoadFromEnumerable(rows);
        string? problem;
        try
        {
            problem = Judge.Problem("binary", model.Transform(probe), "Label");
        }
        catch (Exception e)
        {
            output.Outcomes.Add(new OutcomeCount(row, Outcome.UnclearError, 1, $"{what}: {detail}, then scoring the model threw {Errors.Describe(e)}"));
            return output;
        }
        output.Outcomes.Add(problem is null
            ? new OutcomeCount(row, outcome, 1, $"{what}: {detail}, sound")
            : new OutcomeCount(row, Outcome.SilentlyWrong, 1, $"{what}: {detail}, but the model is not sound: {problem}"));
        output.With(outcome == Outcome.Correct ? "completed" : "partial", 1);
        return outcome == Outcome.Correct && !double.IsNaN(canceledAt) ? output.With("completed after the cancellation", 1) : output;
    }

    /// <summary>MLContext.CancelExecution() is internal in ML.NET 5.0.1 (AutoML calls it); reached as the tests reach it.</summary>
    private static void CancelExecution(MLContext ml) =>
        typeof(MLContext).GetMethod("CancelExecution", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public)!
            .Invoke(ml, null);

    private static TrialOutput Latency(TrialOutput output, Stopwatch clock, double canceledAt)
    {
        if (!double.IsNaN(canceledAt)) output.With("ms from cancel to return", clock.Elapsed.TotalMilliseconds - canceledAt);
        return output;
    }

    /// <inheritdoc/>
    public override IEnumerable<string> Summarize(IReadOnlyList<IReadOnlyDictionary<string, double>> metrics)
    {
        var latencies = metrics.Where(m => m.ContainsKey("ms from cancel to return")).Select(m => m["ms from cancel to return"]).ToList();
        string I(double x) => x.ToString("N0", CultureInfo.InvariantCulture);
        yield return $"{I(metrics.Count(m => m.ContainsKey("partial")))} fits canceled with a partial model; {I(metrics.Count(m => m.ContainsKey("completed")))} completed, " +
            $"{I(metrics.Count(m => m.ContainsKey("completed after the cancellation")))} of them after the cancellation had come (too late to stop it); " +
            $"{I(metrics.Count(m => m.ContainsKey("canceled before training")))} canceled before training began (OperationCanceledException).";
        if (latencies.Count > 0)
            yield return $"From the cancellation to Fit's return: median {I(latencies.Order().ElementAt(latencies.Count / 2))} ms, at most {I(latencies.Max())} ms " +
                $"(over the {latencies.Count} fits that were still running when it came).";
    }
}
