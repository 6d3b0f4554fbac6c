using System.Reflection;

namespace MLNetBackprop.Campaign;

/// <summary>Classifies an exception as a clear or an unclear error.</summary>
public static class Errors
{
    /// <summary>The exception under reflection and task wrappers.</summary>
    public static Exception Unwrap(Exception e)
    {
        while (true)
        {
            if (e is TargetInvocationException { InnerException: { } inner }) e = inner;
            else if (e is AggregateException { InnerExceptions.Count: 1 } aggregate) e = aggregate.InnerExceptions[0];
            else return e;
        }
    }

    /// <summary>With the environment variable MLNETBACKPROP_CAMPAIGN_STACKS=1, details end with the first frames of the stack.</summary>
    private static readonly bool Stacks = Environment.GetEnvironmentVariable("MLNETBACKPROP_CAMPAIGN_STACKS") == "1";

    /// <summary>"Type: message", shortened to one line, with the inner exceptions' types and messages.</summary>
    public static string Describe(Exception e)
    {
        e = Unwrap(e);
        var text = $"{e.GetType().Name}: {Shorten(e.Message, 300)}";
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
            if (inner is not TargetInvocationException) text += $" <- {inner.GetType().Name}: {Shorten(inner.Message, 200)}";
        if (Stacks)
        {
            var innermost = e;
            while (innermost.InnerException is { } next) innermost = next;
            text += " @ " + string.Join(" / ", (innermost.StackTrace ?? "").Split('\n').Take(6).Select(l => l.Trim()));
        }
        return text;
    }

    private static string Shorten(string message, int length)
    {
        message = message.ReplaceLineEndings(" ");
        return message.Length > length ? message[..length] + "…" : message;
    }

    /// <summary>
    /// <see cref="Outcome.ClearError"/> when <paramref name="e"/> (unwrapped) is one of <paramref name="documented"/>
    /// (or derives from one) and its message names every one of <paramref name="names"/> (case-insensitive; "a|b" is
    /// named when either is); otherwise <see cref="Outcome.UnclearError"/>. The detail says what was expected.
    /// </summary>
    public static (Outcome Outcome, string Detail) Classify(Exception e, IReadOnlyList<Type> documented, params string[] names)
    {
        var inner = Unwrap(e);
        bool typeOk = documented.Any(t => t.IsInstanceOfType(inner));
        var missing = names.Where(n => !n.Split('|').Any(alt => inner.Message.Contains(alt, StringComparison.OrdinalIgnoreCase))).ToList();
        if (typeOk && missing.Count == 0) return (Outcome.ClearError, Describe(inner));
        string expected = $"expected {string.Join(" or ", documented.Select(t => t.Name))}" +
            (names.Length > 0 ? $" naming {string.Join(", ", names.Select(n => $"'{n}'"))}" : "");
        return (Outcome.UnclearError, $"{Describe(inner)} ({expected}{(typeOk ? $"; does not name {string.Join(", ", missing)}" : "; other type")})");
    }
}
