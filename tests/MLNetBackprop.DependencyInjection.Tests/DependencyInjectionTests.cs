using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Optimizers;
using MLNetBackprop.DependencyInjection;

namespace MLNetBackprop.DependencyInjection.Tests;

/// <summary>Registration, configuration binding, named options, start-up validation and the trainer factory.</summary>
public sealed class DependencyInjectionTests
{
    private static IConfiguration Json(string file) =>
        new ConfigurationBuilder().AddJsonFile(Path.Combine(AppContext.BaseDirectory, file), optional: false).Build();

    [Fact]
    public void AddBackprop_WithAnAction_ConfiguresTheDefaultOptionsAndTheFactoryUsesThem()
    {
        var services = new ServiceCollection();
        services.AddBackprop(o => { o.HiddenLayers = [12, 6]; o.MaxEpochs = 7; });
        using var sp = services.BuildServiceProvider();
        Assert.Equal([12, 6], sp.GetRequiredService<IOptions<BackpropTrainerOptions>>().Value.HiddenLayers);
        var trainer = sp.GetRequiredService<IBackpropTrainerFactory>().CreateTrainer();
        Assert.Equal([12, 6], trainer.Options.HiddenLayers);
        Assert.Equal(7, trainer.Options.MaxEpochs);
    }

    [Fact]
    public void AddBackprop_FromAJsonSection_BindsEveryValueAndReplacesTheDefaultLayers()
    {
        var services = new ServiceCollection();
        services.AddBackprop(Json("appsettings.test.json").GetSection("Backprop"));
        using var sp = services.BuildServiceProvider();
        var o = sp.GetRequiredService<IOptions<BackpropTrainerOptions>>().Value;
        Assert.Equal([32, 16], o.HiddenLayers); // not [128, 32, 16]: the configured list replaces the default
        Assert.Equal(Activation.Relu, o.Activation);
        Assert.Equal(OptimizerKind.Adam, o.Optimizer);
        Assert.Equal(0.01, o.LearningRate);
        Assert.Equal(50, o.MaxEpochs);
        Assert.Equal(0.0005, o.L2Regularization);
    }

    [Fact]
    public void NamedConfigurations_AreIndependentAndReachTheFactoryByName()
    {
        var config = Json("appsettings.test.json");
        var services = new ServiceCollection();
        services.AddBackprop("fraud", config.GetSection("Models:fraud"));
        services.AddBackprop("churn", config.GetSection("Models:churn"));
        services.AddBackprop(o => o.HiddenLayers = [99]);
        using var sp = services.BuildServiceProvider();
        var monitor = sp.GetRequiredService<IOptionsMonitor<BackpropTrainerOptions>>();
        Assert.Equal([8], monitor.Get("fraud").HiddenLayers);
        Assert.Equal(OptimizerKind.Lbfgs, monitor.Get("fraud").Optimizer);
        Assert.Empty(monitor.Get("churn").HiddenLayers);
        Assert.Equal(0.2, monitor.Get("churn").LearningRate);
        var factory = sp.GetRequiredService<IBackpropTrainerFactory>();
        Assert.Equal(10, factory.CreateTrainer("fraud").Options.MaxEpochs);
        Assert.Equal(20, factory.CreateTrainer("churn").Options.MaxEpochs);
        Assert.Equal([99], factory.CreateTrainer().Options.HiddenLayers);
        // One MLContext and one factory however many registrations.
        Assert.Single(services, d => d.ServiceType == typeof(MLContext));
        Assert.Single(services, d => d.ServiceType == typeof(IBackpropTrainerFactory));
    }

    [Fact]
    public async Task InvalidOptions_FailHostStartUpWithEveryBadFieldListed()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.invalid.json"));
        builder.Services.AddBackprop(builder.Configuration.GetSection("Backprop"));
        using var host = builder.Build();
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Equal(4, e.Failures.Count());
        Assert.Contains(e.Failures, f => f.StartsWith("HiddenLayers:", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.StartsWith("LearningRate:", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.StartsWith("L2Regularization:", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.StartsWith("BatchSize:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ValidOptions_StartTheHostAndTheFactoryTrainsAModel()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddBackprop(o => { o.HiddenLayers = [8]; o.MaxEpochs = 50; }).WithMLContextSeed(1);
        using var host = builder.Build();
        await host.StartAsync();
        var ml = host.Services.GetRequiredService<MLContext>();
        var data = ml.Data.LoadFromTextFile(Path.Combine(AppContext.BaseDirectory, "data", "iris.txt"),
            [new TextLoader.Column("Label", DataKind.Single, 0), new TextLoader.Column("Features", DataKind.Single, 1, 4)], hasHeader: false);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(host.Services.GetRequiredService<IBackpropTrainerFactory>().CreateTrainer());
        var metrics = ml.MulticlassClassification.Evaluate(pipeline.Fit(data).Transform(data));
        Assert.True(metrics.MicroAccuracy > 0.95, $"training accuracy {metrics.MicroAccuracy}");
        await host.StopAsync();
    }

    [Fact]
    public void TheMLContextSeedMakesTrainingReproducibleAndAnApplicationMLContextIsKept()
    {
        float[] Train(int seed)
        {
            var services = new ServiceCollection();
            services.AddBackprop(o => { o.HiddenLayers = [6]; o.MaxEpochs = 20; }).WithMLContextSeed(seed);
            using var sp = services.BuildServiceProvider();
            var ml = sp.GetRequiredService<MLContext>();
            var data = ml.Data.LoadFromTextFile(Path.Combine(AppContext.BaseDirectory, "data", "iris.txt"),
                [new TextLoader.Column("Label", DataKind.Single, 0), new TextLoader.Column("Features", DataKind.Single, 1, 4)], hasHeader: false);
            var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
            return sp.GetRequiredService<IBackpropTrainerFactory>().CreateTrainer().Fit(keyed).Transform(keyed).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();
        }
        Assert.Equal(Train(5), Train(5));
        Assert.NotEqual(Train(5), Train(6));

        var mine = new MLContext(42);
        var services = new ServiceCollection();
        services.AddSingleton(mine);
        services.AddBackprop();
        using var provider = services.BuildServiceProvider();
        Assert.Same(mine, provider.GetRequiredService<MLContext>());
    }
}
