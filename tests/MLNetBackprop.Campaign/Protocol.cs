using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MLNetBackprop.Campaign;

/// <summary>
/// The lines a child writes on stdout, one JSON object each after a marker (anything else on stdout is ignored):
/// <c>ready</c> after set-up with the trial count, <c>start</c> and <c>end</c> around every trial, and <c>done</c> with
/// the child's counts per row at the end. The parent counts from the <c>end</c> lines, so the trials a child finished
/// before it died still count.
/// </summary>
public sealed record Message
{
    /// <summary>ready, start, end, done (and, between a save loop and its parent, loaded and saved).</summary>
    public required string Type { get; init; }

    /// <summary>The trial's index (start, end) or the trial count (ready) or the save count (saved).</summary>
    public int? Index { get; init; }

    /// <summary>The trial's row (start).</summary>
    public string? Row { get; init; }

    /// <summary>The trial's description (start).</summary>
    public string? Description { get; init; }

    /// <summary>The trial's timeout in seconds (start).</summary>
    public double? TimeoutSeconds { get; init; }

    /// <summary>The trial's outcomes (end) or the child's totals (done).</summary>
    public List<OutcomeCount>? Outcomes { get; init; }

    /// <summary>The trial's measurements (end).</summary>
    public Dictionary<string, double>? Metrics { get; init; }

    private const string Marker = "@@campaign ";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private static readonly Lock Gate = new();

    /// <summary>Writes this message as one stdout line.</summary>
    public void Emit()
    {
        string line = Marker + JsonSerializer.Serialize(this, Json);
        lock (Gate)
        {
            Console.Out.WriteLine(line);
            Console.Out.Flush();
        }
    }

    /// <summary>The message on <paramref name="line"/>, or null when the line is not one.</summary>
    public static Message? Parse(string line)
    {
        if (!line.StartsWith(Marker, StringComparison.Ordinal)) return null;
        try
        {
            return JsonSerializer.Deserialize<Message>(line.AsSpan(Marker.Length), Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>A start for this executable (the apphost, or <c>dotnet campaign.dll</c>) with the given arguments.</summary>
    public static ProcessStartInfo SelfStart(IEnumerable<string> arguments)
    {
        string exe = Environment.ProcessPath ?? "dotnet";
        var start = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(exe).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            start.ArgumentList.Add(typeof(Message).Assembly.Location);
        foreach (var a in arguments) start.ArgumentList.Add(a);
        return start;
    }
}
