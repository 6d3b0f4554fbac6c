using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Microsoft.ML;

namespace MLNetBackprop.DependencyInjection;

/// <summary>Further configuration of one <c>AddBackprop</c> registration.</summary>
public sealed class BackpropBuilder
{
    internal BackpropBuilder(IServiceCollection services, string name)
    {
        Services = services;
        Name = name;
    }

    /// <summary>The service collection.</summary>
    public IServiceCollection Services { get; }

    /// <summary>The options name of this registration (empty for the default).</summary>
    public string Name { get; }

    /// <summary>
    /// Seeds the <see cref="MLContext"/> singleton that <c>AddBackprop</c> registers when the application has none
    /// (an <see cref="MLContext"/> registered by the application is left as it is).
    /// </summary>
    public BackpropBuilder WithMLContextSeed(int seed)
    {
        Services.Configure<BackpropMLContextOptions>(o => o.Seed = seed);
        return this;
    }

    /// <summary>Further configures these trainer options (applied after the ones given to <c>AddBackprop</c>).</summary>
    public BackpropBuilder Configure(Action<BackpropTrainerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.Configure(Name, configure);
        return this;
    }

    /// <summary>
    /// Registers a pooled, thread-safe <see cref="IBackpropPredictionService{TInput, TOutput}"/> over the saved model at
    /// <paramref name="modelPath"/>, optionally reloading it when the file changes. The model is loaded with
    /// <c>mlContext.Backprop().LoadModel</c> — verified, and scored by the library's own transformer exactly as before
    /// saving; a model without a backprop network is loaded as <c>mlContext.Model.Load</c> would. A file that cannot be
    /// loaded at start throws (<see cref="FileNotFoundException"/>, <see cref="InvalidDataException"/>); on reload it
    /// keeps the current model in service and logs the reason. The service is a singleton; resolve it by its interface.
    /// </summary>
    /// <param name="modelPath">The saved model.</param>
    /// <param name="reloadOnChange">Reload the model when the file changes.</param>
    /// <param name="loadTimeout">How long one load may take (default 2 minutes). ML.NET's loader can spin forever on
    /// some damaged files; such a load is abandoned on its worker thread: at start the service then throws
    /// <see cref="TimeoutException"/>, on reload it keeps the current model and logs a warning.</param>
    public BackpropBuilder AddPredictionService<TInput, TOutput>(string modelPath, bool reloadOnChange = false, TimeSpan? loadTimeout = null)
        where TInput : class
        where TOutput : class, new()
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        if (loadTimeout is { } t && t <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(loadTimeout), t, "The load timeout must be positive.");
        Services.TryAddSingleton<IBackpropPredictionService<TInput, TOutput>>(sp =>
            new BackpropPredictionService<TInput, TOutput>(sp.GetRequiredService<MLContext>(), modelPath, reloadOnChange,
                sp.GetService<Microsoft.Extensions.Logging.ILoggerFactory>()?.CreateLogger("MLNetBackprop.PredictionService"), loadTimeout));
        return this;
    }
}
