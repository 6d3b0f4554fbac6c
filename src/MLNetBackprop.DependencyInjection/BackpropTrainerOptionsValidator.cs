using System.Reflection;
using Microsoft.Extensions.Options;
using Microsoft.ML;

namespace MLNetBackprop.DependencyInjection;

/// <summary>
/// Validates <see cref="BackpropTrainerOptions"/> with the trainer's own rules and reports every invalid field, not just
/// the first: each settable option is checked on its own against the defaults, then the whole set once more for rules
/// that involve several options.
/// </summary>
internal sealed class BackpropTrainerOptionsValidator : IValidateOptions<BackpropTrainerOptions>
{
    private static readonly MLContext Checker = new(0);

    private static readonly PropertyInfo[] Checked = typeof(BackpropTrainerOptions)
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.CanRead && p.CanWrite && p.PropertyType != typeof(CancellationToken) && !typeof(Delegate).IsAssignableFrom(p.PropertyType))
        .ToArray();

    public ValidateOptionsResult Validate(string? name, BackpropTrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        foreach (var p in Checked)
        {
            var probe = new BackpropTrainerOptions();
            p.SetValue(probe, p.GetValue(options));
            if (Check(probe) is { } error)
            {
                failures.Add($"{p.Name}: {error.Message}");
            }
        }
        if (failures.Count == 0 && Check(options) is { } combined)
            failures.Add($"{(combined is ArgumentException { ParamName: { } param } ? param + ": " : "")}{combined.Message}");
        return failures.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(failures);
    }

    private static Exception? Check(BackpropTrainerOptions options)
    {
        try
        {
            Checker.Backprop().Trainer(options);
            return null;
        }
        catch (ArgumentException e)
        {
            return e;
        }
    }
}
