namespace MLNetBackprop.DependencyInjection;

/// <summary>Creates trainers from the registered, validated options, so application code never builds options itself.</summary>
public interface IBackpropTrainerFactory
{
    /// <summary>A trainer with the options registered under <paramref name="name"/> (the default registration when null or empty).</summary>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">The named options are invalid.</exception>
    BackpropTrainer CreateTrainer(string? name = null);
}
