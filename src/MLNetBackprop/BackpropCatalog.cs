using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace MLNetBackprop;

/// <summary>
/// The backpropagation trainers of an <see cref="MLContext"/>, reached through <c>mlContext.Backprop()</c>.
/// The task follows from the label column's type unless the options force it.
/// </summary>
public sealed class BackpropCatalog
{
    internal BackpropCatalog(IHostEnvironment environment)
    {
        Environment = environment;
    }

    internal IHostEnvironment Environment { get; }

    /// <summary>
    /// A multi-layer-perceptron trainer with the common settings; every other setting keeps its
    /// <see cref="BackpropTrainerOptions"/> default.
    /// </summary>
    /// <param name="labelColumnName">The label column: Boolean (binary), key (multiclass), Single or a known-size vector of Single (regression).</param>
    /// <param name="featureColumnName">The feature column, a known-size vector of Single.</param>
    /// <param name="exampleWeightColumnName">Optional example-weight column (Single).</param>
    /// <param name="hiddenLayers">Hidden layer sizes; null keeps the default [128].</param>
    /// <param name="maxEpochs">Epoch limit; null keeps the default 200.</param>
    /// <param name="learningRate">Initial learning rate; null keeps the optimizer's default.</param>
    /// <param name="task">The task; <see cref="BackpropTask.Auto"/> follows the label type.</param>
    public BackpropTrainer Trainer(string labelColumnName = "Label", string featureColumnName = "Features",
        string? exampleWeightColumnName = null, int[]? hiddenLayers = null, int? maxEpochs = null, double? learningRate = null,
        BackpropTask task = BackpropTask.Auto)
        => new(Environment, BackpropCatalogExtensions.MakeOptions(labelColumnName, featureColumnName, exampleWeightColumnName,
            hiddenLayers, maxEpochs, learningRate, task));

    /// <summary>A multi-layer-perceptron trainer with the given options (copied).</summary>
    public BackpropTrainer Trainer(BackpropTrainerOptions options) => new(Environment, options);
}
