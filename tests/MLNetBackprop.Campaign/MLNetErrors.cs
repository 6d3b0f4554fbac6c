namespace MLNetBackprop.Campaign;

/// <summary>
/// Classifies an exception of ML.NET's own <c>Model.Load</c>, which documents no exception type: clear when a message
/// in the exception's chain names the file or an entry of it, or says what is wrong with it (corrupt, invalid,
/// truncated, a format or checksum error, a protobuf that failed to parse); unclear when it only describes the code
/// that failed ("read past the end of the stream", "index was outside the bounds of the array", a null reference).
/// </summary>
public static class MLNetErrors
{
    private static readonly string[] ProblemWords =
    [
        "corrupt", "invalid", "truncat", "not a valid", "central directory", "zip", "archive", "crc", "checksum",
        "protobuf", "parse", "format", "unsupported", "version", "signature", "magic",
    ];

    /// <summary>Classifies <paramref name="e"/> from loading <paramref name="file"/>.</summary>
    public static (Outcome Outcome, string Detail) Classify(Exception e, string file)
    {
        var messages = new List<string>();
        for (Exception? x = e; x is not null; x = x.InnerException) messages.Add(x.Message);
        string all = string.Join(" / ", messages);
        bool names = all.Contains(file, StringComparison.Ordinal) || all.Contains(Path.GetFileName(file), StringComparison.Ordinal)
            || ProblemWords.Any(w => all.Contains(w, StringComparison.OrdinalIgnoreCase));
        return (names ? Outcome.ClearError : Outcome.UnclearError, Errors.Describe(e) + (messages.Count > 1 ? $" (chain: {Shorten(all)})" : ""));
    }

    private static string Shorten(string s)
    {
        s = s.ReplaceLineEndings(" ");
        return s.Length > 400 ? s[..400] + "…" : s;
    }
}
