using System.Collections.Concurrent;
using System.Diagnostics;

namespace MLNetBackprop.Campaign;

/// <summary>
/// The parent's side: runs a category in a child process (this executable with <c>--child name</c>), counts the
/// trials' outcomes from its stdout, and turns a child that dies or stops answering into a crash or hang of the trial
/// it was running; then starts a new child from the next trial.
/// </summary>
public static class ChildRunner
{
    /// <summary>How long a child may take to set up (train its models) before it counts as a hang.</summary>
    private static readonly TimeSpan SetupTimeout = TimeSpan.FromSeconds(240);

    /// <summary>Most restarts of one category after crashes or hangs.</summary>
    private const int MaxRestarts = 40;

    /// <summary>The row a crash or hang outside any trial is counted in.</summary>
    public const string SetupRow = "(set-up, between trials)";

    /// <summary>Runs every trial of <paramref name="category"/> and returns the counts.</summary>
    public static CategoryResult Run(Category category, CampaignOptions options, string workFolder)
    {
        var result = new CategoryResult(category);
        var clock = Stopwatch.StartNew();
        string folder = Path.Combine(workFolder, category.Name);
        Directory.CreateDirectory(folder);
        int from = 0;
        for (int attempt = 0; ; attempt++)
        {
            var run = RunOnce(category, options, folder, from, result);
            if (run.Kind == EndKind.Finished) break;
            var outcome = run.Kind == EndKind.Hung ? Outcome.Hang : Outcome.Crash;
            string what = run.Kind == EndKind.Hung
                ? $"no answer within its timeout; killed. stderr: {run.StderrTail}"
                : $"the child exited with code {run.ExitCode} without a result. stderr: {run.StderrTail}";
            if (run.Trial is not { } trial)
            {
                result.Add(new OutcomeCount(SetupRow, outcome, 1, what));
                result.Incidents.Add($"{category.Name}: {outcome} outside any trial (child from trial {from}): {what}");
                break;
            }
            result.Add(new OutcomeCount(trial.Row ?? SetupRow, outcome, 1, $"{trial.Description}: {what}"));
            result.Incidents.Add($"{category.Name}: {outcome} in trial {trial.Index} ({trial.Description}): {what}");
            from = trial.Index!.Value + 1;
            if (from >= run.TrialCount) break;
            if (attempt >= MaxRestarts)
            {
                result.Incidents.Add($"{category.Name}: gave up after {MaxRestarts} restarts; trials from {from} on were not run.");
                break;
            }
            Console.Error.WriteLine($"  {category.Name}: child restarted from trial {from} after a {outcome.ToString().ToLowerInvariant()}.");
        }
        result.Elapsed = clock.Elapsed;
        return result;
    }

    private enum EndKind { Finished, Crashed, Hung }

    private sealed record RunEnd(EndKind Kind, Message? Trial, int TrialCount, int? ExitCode, string StderrTail);

    private static RunEnd RunOnce(Category category, CampaignOptions options, string folder, int from, CategoryResult result)
    {
        var arguments = new List<string>
        {
            "--child", category.Name, "--seed", options.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--work", folder, "--from", from.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--timeout", options.Timeout.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (options.Quick) arguments.Add("--quick");
        using var process = Process.Start(Message.SelfStart(arguments)) ?? throw new InvalidOperationException("Could not start the child process.");
        var lines = new BlockingCollection<string?>();
        var stdout = new Thread(() =>
        {
            string? line;
            while ((line = process.StandardOutput.ReadLine()) is not null) lines.Add(line);
            lines.Add(null);
        }) { IsBackground = true };
        stdout.Start();
        var tail = new Queue<string>();
        string logPath = Path.Combine(folder, "child.log");
        var stderr = new Thread(() =>
        {
            using var log = new StreamWriter(logPath, append: true);
            string? line;
            while ((line = process.StandardError.ReadLine()) is not null)
            {
                log.WriteLine(line);
                log.Flush();
                // The tail keeps what is not the child's own progress log (a runtime's crash report, say).
                if (!System.Text.RegularExpressions.Regex.IsMatch(line, @"^\[\d\d:\d\d:\d\d\] "))
                    lock (tail)
                    {
                        tail.Enqueue(line);
                        if (tail.Count > 8) tail.Dequeue();
                    }
                if (options.Verbose) Console.Error.WriteLine($"    [{category.Name}] {line}");
            }
        }) { IsBackground = true };
        stderr.Start();

        string Tail()
        {
            stderr.Join(TimeSpan.FromSeconds(2));
            lock (tail) return tail.Count == 0 ? "(nothing but progress lines)" : string.Join(" | ", tail);
        }

        using var trials = new StreamWriter(Path.Combine(folder, "trials.jsonl"), append: true);
        Message? current = null;
        int trialCount = int.MaxValue;
        bool done = false;
        var deadline = DateTime.UtcNow + SetupTimeout;
        while (true)
        {
            var wait = deadline - DateTime.UtcNow;
            if (wait < TimeSpan.Zero || !lines.TryTake(out var line, wait))
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                    // Already gone.
                }
                process.WaitForExit();
                return new RunEnd(EndKind.Hung, current, trialCount, null, Tail());
            }
            if (line is null)
            {
                process.WaitForExit();
                if (done)
                {
                    if (process.ExitCode != 0)
                        result.Incidents.Add($"{category.Name}: the child exited with code {process.ExitCode} after reporting all its results: {Tail()}");
                    return new RunEnd(EndKind.Finished, null, trialCount, process.ExitCode, "");
                }
                return new RunEnd(EndKind.Crashed, current, trialCount, process.ExitCode, Tail());
            }
            var message = Message.Parse(line);
            if (message is { Type: "start" or "end" }) trials.WriteLine(line);
            switch (message?.Type)
            {
                case "ready":
                    trialCount = message.Index ?? 0;
                    deadline = DateTime.UtcNow + SetupTimeout;
                    break;
                case "start":
                    current = message;
                    deadline = DateTime.UtcNow + TimeSpan.FromSeconds(message.TimeoutSeconds ?? options.Timeout.TotalSeconds);
                    break;
                case "end":
                    foreach (var c in message.Outcomes ?? []) result.Add(c);
                    if (message.Metrics is { Count: > 0 } m) result.Metrics.Add(m);
                    current = null;
                    deadline = DateTime.UtcNow + SetupTimeout;
                    break;
                case "done":
                    done = true;
                    break;
            }
        }
    }
}

/// <summary>One category's counts in the parent, per row and outcome, with a few examples of each.</summary>
public sealed class CategoryResult(Category category)
{
    /// <summary>The category.</summary>
    public Category Category { get; } = category;

    /// <summary>Trials per row and outcome.</summary>
    public Dictionary<(string Row, Outcome Outcome), long> Counts { get; } = [];

    /// <summary>Up to three details per row and outcome.</summary>
    public Dictionary<(string Row, Outcome Outcome), List<string>> Examples { get; } = [];

    /// <summary>Every trial's measurements.</summary>
    public List<IReadOnlyDictionary<string, double>> Metrics { get; } = [];

    /// <summary>Crashes, hangs and other events of the child processes.</summary>
    public List<string> Incidents { get; } = [];

    /// <summary>Wall-clock time of the category.</summary>
    public TimeSpan Elapsed { get; set; }

    /// <summary>Counts some trials.</summary>
    public void Add(OutcomeCount c)
    {
        var key = (c.Row, c.Outcome);
        Counts[key] = Counts.GetValueOrDefault(key) + c.Count;
        if (c.Detail is null) return;
        if (!Examples.TryGetValue(key, out var list)) Examples[key] = list = [];
        if (list.Count < 3) list.Add(c.Detail);
    }
}
