using Microsoft.Extensions.Options;

namespace MLNetBackprop.DependencyInjection;

/// <summary>
/// Validates <see cref="BackpropTrainerOptions"/> with the trainer's own rules (<see cref="BackpropTrainerOptions.ValidationErrors"/>)
/// and reports every invalid option, not just the first, each as "Option: message".
/// </summary>
internal sealed class BackpropTrainerOptionsValidator : IValidateOptions<BackpropTrainerOptions>
{
    public ValidateOptionsResult Validate(string? name, BackpropTrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.ValidationErrors();
        return errors.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(errors.Select(e => e.ParamName is { } option ? $"{option}: {e.Message}" : e.Message));
    }
}
