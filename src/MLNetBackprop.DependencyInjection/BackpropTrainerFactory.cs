using Microsoft.Extensions.Options;
using Microsoft.ML;

namespace MLNetBackprop.DependencyInjection;

/// <summary>Builds trainers from <see cref="IOptionsMonitor{TOptions}"/>, so configuration reloads reach new trainers.</summary>
internal sealed class BackpropTrainerFactory(MLContext mlContext, IOptionsMonitor<BackpropTrainerOptions> options) : IBackpropTrainerFactory
{
    public BackpropTrainer CreateTrainer(string? name = null) =>
        mlContext.Backprop().Trainer(options.Get(string.IsNullOrEmpty(name) ? Options.DefaultName : name));
}
