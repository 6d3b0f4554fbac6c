using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.ML;
using MLNetBackprop.DependencyInjection;

namespace MLNetBackprop.Campaign.Categories;

/// <summary>
/// Category 5: sixteen threads predicting through the DI prediction service (reloadOnChange: true) for a while, as
/// another thread replaces the model file among three models — atomically (SaveModel to the path; a temporary file
/// and File.Move) and non-atomically (File.WriteAllBytes-style writes in chunks with small sleeps, so the service sees
/// half-written files). Every prediction must equal, bit for bit, one of the three models' outputs for that row
/// (computed in memory through LoadModel of each saved file), never an exception, never a crash; and once the writes
/// stop, the service must serve the model written last.
/// </summary>
public sealed class ServingWhileReplaced : Category
{
    private const string Predictions = "DI service: predictions while the file is replaced";
    private const string Final = "DI service: the model served after the last replacement";
    private const int Threads = 16;

    /// <inheritdoc/>
    public override string Name => "serving";

    /// <inheritdoc/>
    public override string Title => $"{Threads} threads predicting through the DI service while the model file is replaced";

    /// <inheritdoc/>
    public override IReadOnlyList<RowSpec> Rows { get; } = [new(Predictions, ErrorsAllowed: false), new(Final, ErrorsAllowed: false)];

    /// <inheritdoc/>
    public override IReadOnlyList<Trial> Prepare(CampaignContext context)
    {
        var rows = Data.Housing();
        var models = new List<(byte[] Bytes, ITransformer Loaded, float[] Scores)>();
        var ml = new MLContext(seed: 5);
        var data = ml.Data.LoadFromEnumerable(rows);
        foreach (int epochs in new[] { 1, 5, 20 })
        {
            string path = Path.Combine(context.WorkFolder, $"model-{epochs}.zip");
            if (!File.Exists(path))
                ml.Backprop().SaveModel(ml.Transforms.NormalizeMeanVariance("Features")
                    .Append(ml.Regression.Trainers.Backprop(hiddenLayers: [8], maxEpochs: epochs)).Fit(data), data.Schema, path);
            var loaded = new MLContext(0).Backprop().LoadModel(path, out _);
            var engine = ml.Model.CreatePredictionEngine<HouseRow, RegressionScore>(loaded);
            models.Add((File.ReadAllBytes(path), loaded, rows.Select(r => engine.Predict(r).Score).ToArray()));
        }
        double seconds = context.Quick ? 6 : 20;
        return [new Trial(Predictions, $"{Threads} threads for {seconds} s, three models, atomic and non-atomic replacements",
            () => Serve(context, rows, models, data.Schema, TimeSpan.FromSeconds(seconds)), TimeSpan.FromSeconds(seconds + 120))];
    }

    /// <summary>Counts the service's log: reloads and failed reloads.</summary>
    private sealed class CountingLoggerFactory : ILoggerFactory, ILogger
    {
        public int Reloaded;
        public int Failed;
        public string? LastFailure;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public ILogger CreateLogger(string categoryName) => this;

        public void Dispose()
        {
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Warning)
            {
                Interlocked.Increment(ref Failed);
                LastFailure = formatter(state, exception);
            }
            else if (formatter(state, exception).StartsWith("Reloaded", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref Reloaded);
            }
        }
    }

    private static TrialOutput Serve(CampaignContext context, List<HouseRow> rows, List<(byte[] Bytes, ITransformer Loaded, float[] Scores)> models,
        Microsoft.ML.DataViewSchema schema, TimeSpan duration)
    {
        string folder = Path.Combine(context.WorkFolder, "serve");
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, "model.zip");
        File.WriteAllBytes(path, models[0].Bytes);
        var log = new CountingLoggerFactory();
        var services = new ServiceCollection();
        services.AddSingleton<ILoggerFactory>(log);
        services.AddBackprop().WithMLContextSeed(0).AddPredictionService<HouseRow, RegressionScore>(path, reloadOnChange: true);
        using var provider = services.BuildServiceProvider();
        var service = provider.GetRequiredService<IBackpropPredictionService<HouseRow, RegressionScore>>();

        var output = new TrialOutput();
        long predictions = 0, matched = 0, mismatched = 0, errors = 0;
        var seen = new long[models.Count];
        string? firstMismatch = null, firstError = null;
        Exception? firstException = null;
        using var stop = new CancellationTokenSource();
        var readers = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            long mine = 0;
            for (int k = t; !stop.IsCancellationRequested; k += 7)
            {
                int i = k % rows.Count;
                mine++;
                float score;
                try
                {
                    score = service.Predict(rows[i]).Score;
                }
                catch (Exception e)
                {
                    Interlocked.Increment(ref errors);
                    Interlocked.CompareExchange(ref firstException, e, null);
                    Interlocked.CompareExchange(ref firstError, $"thread {t}, row {i}: {Errors.Describe(e)}", null);
                    continue;
                }
                int which = models.FindIndex(m => BitConverter.SingleToInt32Bits(m.Scores[i]) == BitConverter.SingleToInt32Bits(score));
                if (which >= 0)
                {
                    Interlocked.Increment(ref matched);
                    Interlocked.Increment(ref seen[which]);
                }
                else
                {
                    Interlocked.Increment(ref mismatched);
                    Interlocked.CompareExchange(ref firstMismatch, string.Create(CultureInfo.InvariantCulture,
                        $"thread {t}, row {i}: {score:R}, the models give {string.Join(", ", models.Select(m => m.Scores[i].ToString("R", CultureInfo.InvariantCulture)))}"), null);
                }
            }
            Interlocked.Add(ref predictions, mine);
        }) { IsBackground = true, Name = $"reader {t}" }).ToList();
        readers.ForEach(r => r.Start());

        // The writer: alternately SaveModel, temporary file + File.Move, and a non-atomic write in chunks.
        var rng = context.Random("serving");
        var writes = new int[3];
        int current = 0;
        var clock = Stopwatch.StartNew();
        var ml = new MLContext(0);
        for (int w = 0; clock.Elapsed < duration; w++)
        {
            int next;
            do next = rng.Next(models.Count);
            while (next == current);
            int mode = w % 3;
            switch (mode)
            {
                case 0:
                    ml.Backprop().SaveModel(models[next].Loaded, schema, path);
                    break;
                case 1:
                    string temp = Path.Combine(folder, "incoming.tmp");
                    File.WriteAllBytes(temp, models[next].Bytes);
                    File.Move(temp, path, overwrite: true);
                    break;
                default:
                    WriteInChunks(path, models[next].Bytes, rng);
                    break;
            }
            writes[mode]++;
            current = next;
            Thread.Sleep(rng.Next(50, 500));
        }
        double served = clock.Elapsed.TotalSeconds;

        // After the last write: the service must come to serve that model (it reloads 250 ms after the file goes quiet).
        string? finalProblem = "never served the model written last";
        var settle = Stopwatch.StartNew();
        while (settle.Elapsed < TimeSpan.FromSeconds(10))
        {
            Thread.Sleep(500);
            var now = rows.Select(r => service.Predict(r).Score).ToArray();
            if (now.Select(BitConverter.SingleToInt32Bits).SequenceEqual(models[current].Scores.Select(BitConverter.SingleToInt32Bits)))
            {
                finalProblem = null;
                break;
            }
            int which = models.FindIndex(m => m.Scores.Select(BitConverter.SingleToInt32Bits).SequenceEqual(now.Select(BitConverter.SingleToInt32Bits)));
            finalProblem = $"10 s after the last write (model {current}) the service still serves {(which >= 0 ? $"model {which}" : "scores of no known model")}";
        }
        stop.Cancel();
        readers.ForEach(r => r.Join());

        output.Outcomes.Add(new OutcomeCount(Predictions, Outcome.Correct, matched, null));
        if (mismatched > 0) output.Outcomes.Add(new OutcomeCount(Predictions, Outcome.SilentlyWrong, mismatched, firstMismatch));
        if (errors > 0)
        {
            var (o, _) = Errors.Classify(firstException!, [typeof(InvalidDataException)], path);
            output.Outcomes.Add(new OutcomeCount(Predictions, o, errors, firstError));
        }
        output.Outcomes.Add(finalProblem is null
            ? new OutcomeCount(Final, Outcome.Correct, 1, null)
            : new OutcomeCount(Final, Outcome.SilentlyWrong, 1, finalProblem));
        output.With("predictions", predictions).With("seconds", served).With("model version", service.ModelVersion)
            .With("reloads logged", log.Reloaded).With("failed reloads", log.Failed)
            .With("writes SaveModel", writes[0]).With("writes move", writes[1]).With("writes non-atomic", writes[2]);
        for (int m = 0; m < models.Count; m++) output.With($"predictions of model {m}", seen[m]);
        if (log.LastFailure is { } failure) CampaignContext.Log($"serving: a failed reload (expected for half-written files): {failure.ReplaceLineEndings(" ")}");
        return output;
    }

    /// <summary>
    /// Writes the file in place in 4 to 8 chunks with 20–400 ms between them: the service, which reloads 250 ms after
    /// the file goes quiet, sees it half written.
    /// </summary>
    private static void WriteInChunks(string path, byte[] bytes, Random rng)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.ReadWrite);
        int chunks = rng.Next(4, 9), at = 0;
        for (int c = 1; c <= chunks; c++)
        {
            int end = bytes.Length * c / chunks;
            stream.Write(bytes, at, end - at);
            stream.Flush();
            at = end;
            if (c < chunks) Thread.Sleep(rng.Next(20, 400));
        }
    }

    /// <inheritdoc/>
    public override IEnumerable<string> Summarize(IReadOnlyList<IReadOnlyDictionary<string, double>> metrics)
    {
        foreach (var m in metrics.Where(m => m.ContainsKey("predictions")))
        {
            string I(string key) => m.GetValueOrDefault(key).ToString("N0", CultureInfo.InvariantCulture);
            yield return $"{I("predictions")} predictions in {m["seconds"]:F0} s on {Threads} threads; the file was replaced {I("writes SaveModel")} times by SaveModel, " +
                $"{I("writes move")} by a temporary file and File.Move, {I("writes non-atomic")} non-atomically in chunks.";
            yield return $"Model version at the end: {I("model version")} ({I("reloads logged")} reloads logged, {I("failed reloads")} reloads of half-written files refused, " +
                $"the current model kept); predictions per model: {I("predictions of model 0")}, {I("predictions of model 1")}, {I("predictions of model 2")}.";
        }
    }
}
