using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML;
using MLNetBackprop.DependencyInjection;

namespace MLNetBackprop.Campaign;

/// <summary>
/// A trained pipeline of the library's trainer, the data it is probed with, and how each load path scores that data:
/// an IDataView through Transform (LoadModel, Model.Load) and typed rows through the DI prediction service.
/// </summary>
public sealed class ModelCase
{
    private readonly Func<string, List<double[]>> _serviceScores;

    private ModelCase(string task, MLContext ml, ITransformer model, IDataView probe, Func<string, List<double[]>> serviceScores)
    {
        Task = task;
        Ml = ml;
        Model = model;
        Probe = probe;
        _serviceScores = serviceScores;
    }

    /// <summary>binary or multiclass, as <see cref="ModelLoader.ScoredRows"/> names the tasks.</summary>
    public string Task { get; }

    /// <summary>The context the model was trained in.</summary>
    public MLContext Ml { get; }

    /// <summary>The trained pipeline.</summary>
    public ITransformer Model { get; }

    /// <summary>The rows every load is scored on (the training rows).</summary>
    public IDataView Probe { get; }

    /// <summary>Scores the probe rows through a DI prediction service over the model file at <paramref name="path"/>.</summary>
    /// <exception cref="Exception">Whatever the service throws while it loads the file or predicts.</exception>
    public List<double[]> ServiceScores(string path) => _serviceScores(path);

    /// <summary>Saves the model with the library's atomic, manifest-writing SaveModel.</summary>
    public void Save(string path) => Ml.Backprop().SaveModel(Model, Probe.Schema, path);

    /// <summary>
    /// Breast cancer (all 699 rows, 16 values missing): ReplaceMissingValues, NormalizeMeanVariance and the binary
    /// trainer (one hidden layer of 16 tanh units, 40 L-BFGS iterations).
    /// </summary>
    public static ModelCase Binary()
    {
        var ml = new MLContext(seed: 1);
        var rows = Data.BreastCancer();
        var data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.Transforms.ReplaceMissingValues("Features")
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(ml.BinaryClassification.Trainers.Backprop(hiddenLayers: [16], maxEpochs: 40))
            .Fit(data);
        return new ModelCase("binary", ml, model, data, path => Serve<CancerRow, BinaryScore>(path, rows, s => s.Flatten()));
    }

    /// <summary>Iris: MapValueToKey, NormalizeMeanVariance, the multiclass trainer ([10], 40 iterations), MapKeyToValue.</summary>
    public static ModelCase Multiclass()
    {
        var ml = new MLContext(seed: 1);
        var rows = Data.Iris();
        var data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(ml.MulticlassClassification.Trainers.Backprop(hiddenLayers: [10], maxEpochs: 40))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"))
            .Fit(data);
        return new ModelCase("multiclass", ml, model, data, path => Serve<IrisRow, MulticlassScore>(path, rows, s => s.Flatten()));
    }

    /// <summary>
    /// Builds a service provider with <c>AddBackprop().AddPredictionService</c> over <paramref name="path"/> (no
    /// reloading), resolves the service (which loads the file) and predicts every row.
    /// </summary>
    public static List<double[]> Serve<TIn, TOut>(string path, IReadOnlyList<TIn> rows, Func<TOut, double[]> flatten)
        where TIn : class
        where TOut : class, new()
    {
        var services = new ServiceCollection();
        services.AddBackprop().WithMLContextSeed(0).AddPredictionService<TIn, TOut>(path, loadTimeout: TimeSpan.FromSeconds(5));
        using var provider = services.BuildServiceProvider();
        var service = provider.GetRequiredService<IBackpropPredictionService<TIn, TOut>>();
        return rows.Select(r => flatten(service.Predict(r))).ToList();
    }
}
