using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;

namespace MLNetBackprop.Campaign.Categories;

/// <summary>
/// Category 4: kill -9 during SaveModel. A save-loop process (this executable, <c>--child save-loop</c>) loads a model
/// and saves it with <c>mlContext.Backprop().SaveModel</c> to one path again and again; the campaign kills it
/// (SIGKILL) after a seeded random delay — in every other trial at the first moment after that delay when a save's
/// temporary file exists, so that the kill lands mid-write (a save spends most of its time serializing in memory).
/// Afterwards the file must load through LoadModel with the right scores — the
/// saved model's, or, when no save had completed yet, the older model that was there before (or no file, when there
/// was none) — and a further SaveModel must leave no <c>*.tmp</c> file of that model behind (SaveModel removes the ones
/// killed saves left). No error of any kind is allowed here.
/// </summary>
public sealed class KillDuringSave : Category
{
    /// <summary>The child mode of the process that saves in a loop.</summary>
    public const string SaveLoopName = "save-loop";

    private const string AfterKill = "SaveModel killed: the file after kill -9";
    private const string CleanUp = "SaveModel killed: a further SaveModel's clean-up";

    /// <inheritdoc/>
    public override string Name => "kill";

    /// <inheritdoc/>
    public override string Title => "kill -9 during SaveModel (atomic save, stale temporary files removed)";

    /// <inheritdoc/>
    public override IReadOnlyList<RowSpec> Rows { get; } = [new(AfterKill, ErrorsAllowed: false), new(CleanUp, ErrorsAllowed: false)];

    /// <summary>The housing pipeline with a large network (about 0.5 MB of weights), so a save takes a while.</summary>
    private static (MLContext, ITransformer, IDataView) Train(int epochs)
    {
        var ml = new MLContext(seed: 4);
        var data = ml.Data.LoadFromEnumerable(Data.Housing());
        var model = ml.Transforms.NormalizeMeanVariance("Features")
            .Append(ml.Regression.Trainers.Backprop(hiddenLayers: [512, 256], maxEpochs: epochs))
            .Fit(data);
        return (ml, model, data);
    }

    /// <inheritdoc/>
    public override IReadOnlyList<Trial> Prepare(CampaignContext context)
    {
        string saved = Path.Combine(context.WorkFolder, "saved.zip"), older = Path.Combine(context.WorkFolder, "older.zip");
        foreach (var (path, epochs) in new[] { (saved, 3), (older, 1) })
        {
            if (File.Exists(path)) continue;
            var (ml, model, data) = Train(epochs);
            ml.Backprop().SaveModel(model, data.Schema, path);
        }
        var probe = new MLContext(0).Data.LoadFromEnumerable(Data.Housing());
        List<double[]> ScoresOf(string path)
        {
            var model = new MLContext(0).Backprop().LoadModel(path, out _);
            try
            {
                return Data.Scores(model.Transform(probe), "regression");
            }
            finally
            {
                (model as IDisposable)?.Dispose();
            }
        }
        var savedScores = ScoresOf(saved);
        var olderScores = ScoresOf(older);
        CampaignContext.Log($"kill: the saved model is {new FileInfo(saved).Length:N0} bytes.");
        string folder = Path.Combine(context.WorkFolder, "target");
        Directory.CreateDirectory(folder);
        string target = Path.Combine(folder, "model.zip");
        var rng = context.Random("kill");
        return Enumerable.Range(0, context.Count(20, 5)).Select(i =>
        {
            int delay = rng.Next(0, 1200);
            bool hadOlder = i % 2 == 1, midWrite = i % 4 >= 2;
            return new Trial(AfterKill,
                $"kill {i}: after {delay} ms of saving{(midWrite ? ", when a temporary file exists" : "")}, {(hadOlder ? "over an older model" : "no file before")}",
                () => Kill(context, saved, older, target, delay, midWrite, hadOlder, savedScores, olderScores, probe), TimeSpan.FromSeconds(120));
        }).ToList();
    }

    private static string[] Temporaries(string target) =>
        Directory.GetFiles(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.*.tmp");

    private static TrialOutput Kill(CampaignContext context, string saved, string older, string target, int delay, bool midWrite, bool hadOlder,
        List<double[]> savedScores, List<double[]> olderScores, IDataView probe)
    {
        var output = new TrialOutput();
        if (hadOlder) File.Copy(older, target, overwrite: true);
        else File.Delete(target);

        var start = Message.SelfStart(["--child", SaveLoopName, "--model", saved, "--target", target, "--work", context.WorkFolder]);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the save loop.");
        var lines = new BlockingCollection<string?>();
        var reader = new Thread(() =>
        {
            string? line;
            while ((line = process.StandardOutput.ReadLine()) is not null) lines.Add(line);
            lines.Add(null);
        }) { IsBackground = true };
        reader.Start();
        var stderr = process.StandardError.ReadToEndAsync();
        int saves = 0;
        bool loaded = false;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!loaded && lines.TryTake(out var line, deadline - DateTime.UtcNow > TimeSpan.Zero ? deadline - DateTime.UtcNow : TimeSpan.Zero))
        {
            if (line is null) break;
            loaded = Message.Parse(line)?.Type == "loaded";
        }
        if (!loaded)
        {
            process.Kill();
            process.WaitForExit();
            output.Outcomes.Add(new OutcomeCount(AfterKill, process.ExitCode == 0 ? Outcome.Hang : Outcome.Crash, 1,
                $"the save loop did not start saving: {stderr.Result.ReplaceLineEndings(" ")}"));
            return output;
        }
        Thread.Sleep(delay);
        if (midWrite)
        {
            var wait = Stopwatch.StartNew();
            while (Temporaries(target).Length == 0 && wait.ElapsedMilliseconds < 5000 && !process.HasExited) Thread.Yield();
        }
        bool exitedOnItsOwn = process.HasExited;
        process.Kill(); // SIGKILL on Unix: no finally blocks, no flush, nothing
        process.WaitForExit();
        reader.Join();
        while (lines.TryTake(out var line))
            if (line is not null && Message.Parse(line) is { Type: "saved", Index: { } n }) saves = n;
        if (exitedOnItsOwn)
        {
            output.Outcomes.Add(new OutcomeCount(AfterKill, Outcome.Crash, 1,
                $"the save loop exited by itself (code {process.ExitCode}) after {saves} saves: {stderr.Result.ReplaceLineEndings(" ")}"));
            return output;
        }

        int before = Temporaries(target).Length;
        output.With("saves completed", saves).With("temporaries left by the kill", before).With("delay ms", delay);
        output.Outcomes.Add(CheckFile(target, saves, hadOlder, savedScores, olderScores, probe, delay));

        // A further save in this process: it must succeed and remove the temporary files the killed save left.
        try
        {
            var ml = new MLContext(0);
            var model = ml.Backprop().LoadModel(saved, out var schema);
            ml.Backprop().SaveModel(model, schema, target);
            (model as IDisposable)?.Dispose();
        }
        catch (Exception e)
        {
            var (o, d) = Errors.Classify(e, [typeof(IOException), typeof(InvalidDataException)], target);
            output.Outcomes.Add(new OutcomeCount(CleanUp, o, 1, $"SaveModel after the kill threw: {d}"));
            return output;
        }
        int after = Temporaries(target).Length;
        output.With("temporaries after a further save", after);
        output.Outcomes.Add(after == 0
            ? new OutcomeCount(CleanUp, Outcome.Correct, 1, $"{before} temporary file(s) before, none after")
            : new OutcomeCount(CleanUp, Outcome.SilentlyWrong, 1, $"{after} temporary file(s) of the model remain after SaveModel's clean-up ({before} before)"));
        return output;
    }

    private static OutcomeCount CheckFile(string target, int saves, bool hadOlder, List<double[]> savedScores, List<double[]> olderScores,
        IDataView probe, int delay)
    {
        string when = $"killed after {delay} ms, {saves} save(s) reported complete, {(hadOlder ? "an older model was there" : "no file before")}";
        if (!File.Exists(target))
            return hadOlder || saves > 0
                ? new OutcomeCount(AfterKill, Outcome.SilentlyWrong, 1, $"{when}: the model file is gone")
                : new OutcomeCount(AfterKill, Outcome.Correct, 1, $"{when}: no file yet, as no save completed");
        ITransformer model;
        try
        {
            model = new MLContext(0).Backprop().LoadModel(target, out _);
        }
        catch (Exception e)
        {
            var (o, d) = Errors.Classify(e, [typeof(InvalidDataException)], target);
            return new OutcomeCount(AfterKill, o, 1, $"{when}: the file does not load: {d}");
        }
        try
        {
            var scores = Data.Scores(model.Transform(probe), "regression");
            if (Compare.Bitwise(savedScores, scores) is null) return new OutcomeCount(AfterKill, Outcome.Correct, 1, $"{when}: the saved model");
            if (Compare.Bitwise(olderScores, scores) is null)
                return saves == 0 && hadOlder
                    ? new OutcomeCount(AfterKill, Outcome.Correct, 1, $"{when}: still the older model")
                    : new OutcomeCount(AfterKill, Outcome.SilentlyWrong, 1, $"{when}: the older model, though a save had completed");
            return new OutcomeCount(AfterKill, Outcome.SilentlyWrong, 1, $"{when}: loads, but scores as neither model: {Compare.Bitwise(savedScores, scores)}");
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    /// <summary>The save loop: loads <c>--model</c>, says so, then saves it to <c>--target</c> until killed.</summary>
    public static int SaveLoop(CampaignOptions options)
    {
        var ml = new MLContext(0);
        var model = ml.Backprop().LoadModel(options.Model ?? throw new ArgumentException("--model is missing."), out var schema);
        string target = options.Target ?? throw new ArgumentException("--target is missing.");
        new Message { Type = "loaded" }.Emit();
        for (int n = 1; ; n++)
        {
            ml.Backprop().SaveModel(model, schema, target);
            new Message { Type = "saved", Index = n }.Emit();
        }
    }

    /// <inheritdoc/>
    public override IEnumerable<string> Summarize(IReadOnlyList<IReadOnlyDictionary<string, double>> metrics)
    {
        var kills = metrics.Where(m => m.ContainsKey("saves completed")).ToList();
        if (kills.Count == 0) yield break;
        string I(double x) => x.ToString("N0", CultureInfo.InvariantCulture);
        yield return $"{kills.Count} kills after {I(kills.Min(m => m["delay ms"]))}–{I(kills.Max(m => m["delay ms"]))} ms of saving; " +
            $"{I(kills.Count(m => m["saves completed"] == 0))} before any save had completed; {I(kills.Sum(m => m["saves completed"]))} saves completed in all.";
        yield return $"Temporary files left by the kills: {I(kills.Sum(m => m["temporaries left by the kill"]))} " +
            $"(in {I(kills.Count(m => m["temporaries left by the kill"] > 0))} of {kills.Count} kills, which interrupted a save mid-write); " +
            $"after a further SaveModel: {I(kills.Sum(m => m.GetValueOrDefault("temporaries after a further save")))}.";
    }
}
