// DependencyInjection: MLNetBackprop in a generic host. Options come from appsettings.json (validated at start-up),
// a hosted service trains and saves a model with the registered trainer factory, and a pooled prediction service
// serves it to many threads. Run with: dotnet run -c Release --project samples/DependencyInjection
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.DependencyInjection;

// appsettings.json is copied next to the program, so look for it there whatever the working directory.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
string modelPath = Path.Combine(AppContext.BaseDirectory, builder.Configuration["ModelPath"] ?? "output/iris-model.zip");

builder.Services
    .AddBackprop("iris", builder.Configuration.GetSection("Backprop:Iris"))
    .WithMLContextSeed(0)
    .AddPredictionService<IrisFlower, IrisPrediction>(modelPath, reloadOnChange: true);

using var host = builder.Build();
await host.StartAsync(); // validates the options: a bad value in appsettings.json stops here with every bad field listed

// Train with the registered options and save the whole pipeline.
var ml = host.Services.GetRequiredService<MLContext>();
var data = ml.Data.LoadFromTextFile<IrisFlower>(Path.Combine(AppContext.BaseDirectory, "data", "iris.txt"), hasHeader: false);
var split = ml.Data.TrainTestSplit(data, testFraction: 0.2, seed: 0);
var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.Transforms.NormalizeMeanVariance("Features"))
    .Append(host.Services.GetRequiredService<IBackpropTrainerFactory>().CreateTrainer("iris"))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
var model = pipeline.Fit(split.TrainSet);
var metrics = ml.MulticlassClassification.Evaluate(model.Transform(split.TestSet));
Console.WriteLine($"Trained with the \"iris\" options; accuracy on the held-out flowers {metrics.MicroAccuracy:P1}.");
Directory.CreateDirectory(Path.GetDirectoryName(modelPath)!);
ml.Model.Save(model, data.Schema, modelPath);
Console.WriteLine($"Saved the model to {modelPath}.");

// Serve it: the prediction service pools engines, so any number of threads may call it.
var service = host.Services.GetRequiredService<IBackpropPredictionService<IrisFlower, IrisPrediction>>();
var flowers = ml.Data.CreateEnumerable<IrisFlower>(split.TestSet, reuseRowObject: false).ToArray();
var predicted = new float[flowers.Length];
Parallel.For(0, flowers.Length, i => predicted[i] = service.Predict(flowers[i]).PredictedLabel);
Console.WriteLine($"Scored {flowers.Length} flowers on {Environment.ProcessorCount} threads: {predicted.Zip(flowers).Count(p => p.First == p.Second.Label)} correct.");
await host.StopAsync();

/// <summary>One row of iris.txt: the class (0, 1, 2) and four measurements.</summary>
public sealed class IrisFlower
{
    [LoadColumn(0)] public float Label { get; set; }
    [LoadColumn(1, 4), VectorType(4)] public float[] Features { get; set; } = [];
}

/// <summary>The predicted class, mapped back from the key to the original label value.</summary>
public sealed class IrisPrediction
{
    public float PredictedLabel { get; set; }
}
