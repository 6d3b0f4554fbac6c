using System.Text.Json.Serialization;

namespace MLNetBackprop.Campaign;

/// <summary>What one trial came to. Every trial is classified into exactly one outcome.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<Outcome>))]
public enum Outcome
{
    /// <summary>An exception of the documented type whose message names the file, column, row or option.</summary>
    ClearError,

    /// <summary>Succeeded, and the result is right (the category says what right is).</summary>
    Correct,

    /// <summary>The process died (a signal, or a non-zero exit without a result).</summary>
    Crash,

    /// <summary>The trial did not finish within its timeout; the process was killed.</summary>
    Hang,

    /// <summary>Succeeded, but the result is wrong: different scores, a NaN/Inf model, a garbage model reported as fine.</summary>
    SilentlyWrong,

    /// <summary>An exception that does not name the problem (or is not of the documented type).</summary>
    UnclearError,
}

/// <summary>Who owns a load or fit path: the library's own paths decide the exit code, ML.NET's are reported apart.</summary>
public enum Owner
{
    /// <summary>MLNetBackprop's own API (LoadModel, the DI service, Fit, predict, SaveModel, serving, cancellation).</summary>
    Library,

    /// <summary>
    /// ML.NET's own code: its unverified <c>Model.Load</c> (expected to load some damaged files silently wrong, as the
    /// README documents), and its transforms where they meet a bad input before ours does.
    /// </summary>
    MLNet,
}

/// <summary>One row of a category's table: a path (and, where a category has several, the kind of input).</summary>
/// <param name="Label">The row's label, as trials name it.</param>
/// <param name="Owner">Whose path it is.</param>
/// <param name="ErrorsAllowed">False where the category expects no exception at all (serving, reloading after a kill):
/// there an error of any kind fails the campaign.</param>
public sealed record RowSpec(string Label, Owner Owner = Owner.Library, bool ErrorsAllowed = true);

/// <summary>Some trials of one row that came to one outcome, with an example of why.</summary>
public sealed record OutcomeCount(string Row, Outcome Outcome, long Count, string? Detail);

/// <summary>What one trial reports: its outcome(s) (a serving trial classifies every prediction) and measurements.</summary>
public sealed class TrialOutput
{
    /// <summary>The classified outcomes; most trials have exactly one with a count of 1.</summary>
    public List<OutcomeCount> Outcomes { get; } = [];

    /// <summary>Named measurements the category summarizes (allocated bytes, reload counts, leftover files).</summary>
    public Dictionary<string, double> Metrics { get; } = [];

    /// <summary>A trial with one outcome.</summary>
    public static TrialOutput Of(string row, Outcome outcome, string? detail = null)
    {
        var output = new TrialOutput();
        output.Outcomes.Add(new OutcomeCount(row, outcome, 1, detail));
        return output;
    }

    /// <summary>Adds a measurement and returns this output.</summary>
    public TrialOutput With(string metric, double value)
    {
        Metrics[metric] = value;
        return this;
    }
}

/// <summary>One seeded trial of a category, run in the category's child process.</summary>
/// <param name="Row">The table row a crash or hang of this trial is counted in.</param>
/// <param name="Description">What the trial does (shown for outcomes that need a look).</param>
/// <param name="Run">Runs the trial and classifies it; exceptions of the code under test are caught and classified inside.</param>
/// <param name="Timeout">How long the trial may take before it counts as a hang; null for the campaign's default.</param>
public sealed record Trial(string Row, string Description, Func<TrialOutput> Run, TimeSpan? Timeout = null);
