using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Microsoft.ML;

namespace MLNetBackprop.DependencyInjection;

/// <summary>
/// <c>services.AddBackprop(...)</c>: registers <see cref="BackpropTrainerOptions"/> (default or named, from code or from
/// configuration, validated at start-up), an <see cref="MLContext"/> singleton if none is registered, and
/// <see cref="IBackpropTrainerFactory"/>. Registrations use TryAdd semantics, so calling it several times (for several
/// names) is safe.
/// </summary>
public static class BackpropServiceCollectionExtensions
{
    /// <summary>Registers the default (unnamed) trainer options, configured in code.</summary>
    public static BackpropBuilder AddBackprop(this IServiceCollection services, Action<BackpropTrainerOptions>? configure = null) =>
        services.AddBackprop(Options.DefaultName, configure ?? (_ => { }));

    /// <summary>Registers trainer options under <paramref name="name"/>, configured in code.</summary>
    public static BackpropBuilder AddBackprop(this IServiceCollection services, string name, Action<BackpropTrainerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(configure);
        AddCore(services);
        services.AddOptions<BackpropTrainerOptions>(name).Configure(configure).ValidateOnStart();
        return new BackpropBuilder(services, name);
    }

    /// <summary>Registers the default (unnamed) trainer options, bound from a configuration section.</summary>
    public static BackpropBuilder AddBackprop(this IServiceCollection services, IConfiguration configuration) =>
        services.AddBackprop(Options.DefaultName, configuration);

    /// <summary>
    /// Registers trainer options under <paramref name="name"/>, bound from a configuration section (property names as in
    /// <see cref="BackpropTrainerOptions"/>, e.g. <c>"HiddenLayers": [64, 32]</c>, <c>"Optimizer": "Adam"</c>).
    /// A <c>HiddenLayers</c> array in the section replaces the default layers rather than being appended to them.
    /// </summary>
    public static BackpropBuilder AddBackprop(this IServiceCollection services, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(configuration);
        AddCore(services);
        services.AddOptions<BackpropTrainerOptions>(name)
            .Configure(o =>
            {
                // The binder appends array elements to an existing array; a configured layer list must replace the default.
                if (configuration.GetSection(nameof(BackpropTrainerOptions.HiddenLayers)).Exists()) o.HiddenLayers = [];
            })
            .Bind(configuration)
            .ValidateOnStart();
        return new BackpropBuilder(services, name);
    }

    private static void AddCore(IServiceCollection services)
    {
        services.AddOptions();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BackpropTrainerOptions>, BackpropTrainerOptionsValidator>());
        services.TryAddSingleton(sp => new MLContext(sp.GetRequiredService<IOptions<BackpropMLContextOptions>>().Value.Seed));
        services.TryAddSingleton<IBackpropTrainerFactory, BackpropTrainerFactory>();
    }
}
