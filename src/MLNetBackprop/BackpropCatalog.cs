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

    /// <summary>
    /// Loads a model saved with <c>mlContext.Model.Save</c> (or <see cref="SaveModel"/>) and returns the pipeline with every
    /// backpropagation network as a <see cref="BackpropTransformer"/> again — network, options and training history
    /// included — instead of the ONNX-based chain a plain <c>mlContext.Model.Load</c> gives. Same outputs, faster scoring.
    /// </summary>
    /// <param name="filePath">The model file.</param>
    /// <param name="inputSchema">The input schema the model was saved with.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an ML.NET model, is corrupt or truncated, or holds no
    /// backpropagation network; the message names the file and the problem.</exception>
    public ITransformer LoadModel(string filePath, out DataViewSchema inputSchema)
    {
        ArgumentException.ThrowIfNullOrEmpty(filePath);
        using var stream = File.OpenRead(filePath);
        return Persistence.BackpropModelLoader.Load(Context, stream, $"Model file '{filePath}'", out inputSchema);
    }

    /// <summary>As <see cref="LoadModel(string, out DataViewSchema)"/>, from a stream (read to its end, left open).</summary>
    public ITransformer LoadModel(Stream stream, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return Persistence.BackpropModelLoader.Load(Context, stream, "Model stream", out inputSchema);
    }

    /// <summary>
    /// Saves <paramref name="model"/> like <c>mlContext.Model.Save</c>, but atomically: the zip is written to a temporary
    /// file in the target's folder and moved over <paramref name="filePath"/> only when complete, so a failed save leaves
    /// any existing file untouched and no partial file behind.
    /// </summary>
    public void SaveModel(ITransformer model, DataViewSchema inputSchema, string filePath)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(filePath);
        string full = Path.GetFullPath(filePath);
        string folder = Path.GetDirectoryName(full) ?? ".";
        string temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                Context.Model.Save(model, inputSchema, stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try
            {
                File.Delete(temp);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
            throw;
        }
    }

    /// <summary>
    /// Writes the network of <paramref name="transformer"/> as a standard ONNX model (see
    /// <see cref="BackpropTransformer.ExportOnnx(Stream)"/>).
    /// </summary>
    public void ExportOnnx(BackpropTransformer transformer, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        transformer.ExportOnnx(stream);
    }

    private MLContext Context => Environment as MLContext ?? new MLContext();
}

