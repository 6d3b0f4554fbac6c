using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetBackprop.Core;
using MLNetBackprop.Interop;

namespace MLNetBackprop;

/// <summary>
/// Entry points: <c>mlContext.Backprop()</c>, and the backpropagation trainer in ML.NET's own binary-classification,
/// multiclass-classification and regression catalogs.
/// </summary>
public static class BackpropCatalogExtensions
{
    /// <summary>The backpropagation catalog of <paramref name="mlContext"/>.</summary>
    public static BackpropCatalog Backprop(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return new BackpropCatalog(mlContext);
    }

    /// <summary>A binary-classification multi-layer perceptron (one sigmoid output, cross-entropy).</summary>
    /// <param name="catalog">The binary-classification trainers catalog.</param>
    /// <param name="labelColumnName">The label column (Boolean, or Single where &gt; 0 is positive).</param>
    /// <param name="featureColumnName">The feature column, a known-size vector of Single.</param>
    /// <param name="exampleWeightColumnName">Optional example-weight column.</param>
    /// <param name="hiddenLayers">Hidden layer sizes; null keeps the default [128].</param>
    /// <param name="maxEpochs">Epoch limit; null keeps the default 200.</param>
    /// <param name="learningRate">Initial learning rate; null keeps the optimizer's default.</param>
    public static BackpropTrainer Backprop(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog,
        string labelColumnName = Defaults.LabelColumnName, string featureColumnName = Defaults.FeatureColumnName, string? exampleWeightColumnName = null,
        int[]? hiddenLayers = null, int? maxEpochs = null, double? learningRate = null)
        => new(Env(catalog), MakeOptions(labelColumnName, featureColumnName, exampleWeightColumnName, hiddenLayers, maxEpochs,
            learningRate, BackpropTask.BinaryClassification));

    /// <summary>A binary-classification multi-layer perceptron with the given options; the task is forced to binary classification.</summary>
    public static BackpropTrainer Backprop(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog, BackpropTrainerOptions options)
        => new(Env(catalog), Force(options, BackpropTask.BinaryClassification));

    /// <summary>A multiclass multi-layer perceptron (softmax output, cross-entropy).</summary>
    /// <param name="catalog">The multiclass-classification trainers catalog.</param>
    /// <param name="labelColumnName">The label column, a key type (use MapValueToKey).</param>
    /// <param name="featureColumnName">The feature column, a known-size vector of Single.</param>
    /// <param name="exampleWeightColumnName">Optional example-weight column.</param>
    /// <param name="hiddenLayers">Hidden layer sizes; null keeps the default [128].</param>
    /// <param name="maxEpochs">Epoch limit; null keeps the default 200.</param>
    /// <param name="learningRate">Initial learning rate; null keeps the optimizer's default.</param>
    public static BackpropTrainer Backprop(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = Defaults.LabelColumnName, string featureColumnName = Defaults.FeatureColumnName, string? exampleWeightColumnName = null,
        int[]? hiddenLayers = null, int? maxEpochs = null, double? learningRate = null)
        => new(Env(catalog), MakeOptions(labelColumnName, featureColumnName, exampleWeightColumnName, hiddenLayers, maxEpochs,
            learningRate, BackpropTask.MulticlassClassification));

    /// <summary>A multiclass multi-layer perceptron with the given options; the task is forced to multiclass classification.</summary>
    public static BackpropTrainer Backprop(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, BackpropTrainerOptions options)
        => new(Env(catalog), Force(options, BackpropTask.MulticlassClassification));

    /// <summary>A regression multi-layer perceptron (identity output, squared error on standardized targets).</summary>
    /// <param name="catalog">The regression trainers catalog.</param>
    /// <param name="labelColumnName">The label column: Single, or a known-size vector of Single for multi-output regression.</param>
    /// <param name="featureColumnName">The feature column, a known-size vector of Single.</param>
    /// <param name="exampleWeightColumnName">Optional example-weight column.</param>
    /// <param name="hiddenLayers">Hidden layer sizes; null keeps the default [128].</param>
    /// <param name="maxEpochs">Epoch limit; null keeps the default 200.</param>
    /// <param name="learningRate">Initial learning rate; null keeps the optimizer's default.</param>
    public static BackpropTrainer Backprop(this RegressionCatalog.RegressionTrainers catalog,
        string labelColumnName = Defaults.LabelColumnName, string featureColumnName = Defaults.FeatureColumnName, string? exampleWeightColumnName = null,
        int[]? hiddenLayers = null, int? maxEpochs = null, double? learningRate = null)
        => new(Env(catalog), MakeOptions(labelColumnName, featureColumnName, exampleWeightColumnName, hiddenLayers, maxEpochs,
            learningRate, BackpropTask.Regression));

    /// <summary>A regression multi-layer perceptron with the given options; the task is forced to regression.</summary>
    public static BackpropTrainer Backprop(this RegressionCatalog.RegressionTrainers catalog, BackpropTrainerOptions options)
        => new(Env(catalog), Force(options, BackpropTask.Regression));

    internal static BackpropTrainerOptions MakeOptions(string labelColumnName, string featureColumnName, string? exampleWeightColumnName,
        int[]? hiddenLayers, int? maxEpochs, double? learningRate, BackpropTask task)
    {
        var o = new BackpropTrainerOptions
        {
            LabelColumnName = labelColumnName,
            FeatureColumnName = featureColumnName,
            ExampleWeightColumnName = exampleWeightColumnName,
            LearningRate = learningRate,
            Task = task,
        };
        if (hiddenLayers is not null) o.HiddenLayers = (int[])hiddenLayers.Clone();
        if (maxEpochs is { } e) o.MaxEpochs = e;
        return o;
    }

    private static BackpropTrainerOptions Force(BackpropTrainerOptions options, BackpropTask task)
    {
        ArgumentNullException.ThrowIfNull(options);
        var copy = options.Clone();
        copy.Task = task;
        return copy;
    }

    private static IHostEnvironment Env(TrainCatalogBase.CatalogInstantiatorBase catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return CatalogEnvironment.Get(catalog);
    }
}
