using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core;

namespace MLNetBackprop;

/// <summary>
/// A trained backpropagation model inside an ML.NET pipeline. Adds the output columns ML.NET's own trainers add —
/// binary: Score (the logit), Probability, PredictedLabel; multiclass: Score (class probabilities, with SlotNames) and
/// PredictedLabel (key, with the label's KeyValues); regression: Score — so Evaluate, CrossValidate,
/// prediction engines, MapKeyToValue and permutation feature importance work. Safe to score from many threads.
/// </summary>
public sealed class BackpropTransformer : ISingleFeaturePredictionTransformer<BackpropModelParameters>
{
    internal BackpropTransformer(BackpropModelParameters model, BackpropTrainerOptions options, TrainingHistory history,
        string featureColumnName, string labelColumnName, DataViewSchema.Annotations? labelAnnotations, IReadOnlyList<string>? featureNames,
        TrainingState<float>? trainingState = null)
    {
        FeatureNames = featureNames;
        Model = model;
        TrainingState = trainingState;
        model.TrainedL2Regularization ??= history.WeightDecaySelection?.ChosenL2Regularization ?? options.L2Regularization ?? Defaults.FixedL2Regularization;
        Options = options;
        History = history;
        FeatureColumnName = featureColumnName;
        LabelColumnName = labelColumnName;
        LabelAnnotations = labelAnnotations;
        FeatureColumnType = new VectorDataViewType(NumberDataViewType.Single, model.InputSize);
    }

    /// <summary>The trained network and its target scaling.</summary>
    public BackpropModelParameters Model { get; }

    /// <summary>A copy of the options the model was trained with (with the task resolved and the seed that was used).</summary>
    public BackpropTrainerOptions Options { get; }

    /// <summary>Loss per epoch, the epoch whose weights the model holds, and why training stopped.</summary>
    public TrainingHistory History { get; }

    /// <summary>The task the model solves.</summary>
    public BackpropTask Task => Model.Task;

    /// <summary>The feature column the model reads.</summary>
    public string FeatureColumnName { get; }

    /// <summary>The feature column's type: a vector of <see cref="BackpropModelParameters.InputSize"/> Single.</summary>
    public DataViewType FeatureColumnType { get; }

    /// <summary>The label column the model was trained on.</summary>
    public string LabelColumnName { get; }

    internal DataViewSchema.Annotations? LabelAnnotations { get; }

    /// <summary>
    /// The names of the features, in input order: the slot names of the feature column the model was trained on (for
    /// example the columns that Concatenate joined, or one-hot categories), read again from the pipeline when a model is
    /// loaded with <c>mlContext.Backprop().LoadModel</c>. Null when the feature column had no slot names.
    /// </summary>
    public IReadOnlyList<string>? FeatureNames { get; }

    /// <summary>
    /// A summary in the manner of Keras's <c>model.summary()</c>: the task and columns, one line per layer (units,
    /// activation, parameters) and the parameter count, the options that decided the fit (optimizer, loss, the weight
    /// decay and how it was chosen, dropout, class weights, early stopping, seed), why training stopped and which epoch
    /// the model holds, and the first feature names when the feature column has slot names.
    /// </summary>
    public override string ToString() => ModelSummary.Describe(this);

    /// <summary>
    /// Where training ended (optimizer moments, random-stream positions, stopping counters), for
    /// <see cref="BackpropTrainer.ContinueTraining"/>; in memory only, so null for a model loaded from a file.
    /// </summary>
    internal TrainingState<float>? TrainingState { get; }

    /// <summary>True: the model maps each row on its own, so prediction engines work.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>The input schema plus the output columns.</summary>
    /// <exception cref="ArgumentException">The feature column is missing or has the wrong type or size.</exception>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => new ScoringSchema(this, inputSchema).Output;

    /// <summary>A row-to-row mapper for <paramref name="inputSchema"/> (used by prediction engines).</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new BackpropRowMapper(new ScoringSchema(this, inputSchema));

    /// <summary>Scores <paramref name="input"/> lazily: the output columns are computed as rows are read.</summary>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new ScoredDataView(new ScoringSchema(this, input.Schema), input);
    }

    /// <summary>
    /// Writes the network as a standard ONNX model (opset 13): input <see cref="FeatureColumnName"/> float [N, D];
    /// outputs Score, and for binary classification Probability and PredictedLabel (bool), for multiclass
    /// PredictedLabel (int64, the 0-based class index). See the README for the graph.
    /// </summary>
    /// <remarks>The graph is the network alone: it reads the feature column as the transforms before the network leave it
    /// (normalized, concatenated…). To serve from raw columns, export the whole fitted pipeline with
    /// <see cref="BackpropCatalog.ExportOnnx(ITransformer, IDataView, Stream)"/>.</remarks>
    /// <param name="stream">Where to write; left open.</param>
    public void ExportOnnx(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var bytes = Onnx.OnnxExport.Write(Model, Onnx.OnnxExport.Standard(FeatureColumnName), Onnx.OnnxLayout.Batch,
            new Dictionary<string, string> { [Persistence.SavedModelInfo.Key] = Persistence.SavedModelInfo.From(this).ToJson() });
        stream.Write(bytes);
    }

    /// <summary>
    /// Saves the model as a chain of ML.NET's own transformers (the network as ONNX, plus standard column mappings), so that
    /// <c>mlContext.Model.Save</c> works and <c>new MLContext().Model.Load</c> gives the same outputs without this
    /// transformer; <c>mlContext.Backprop().LoadModel</c> rebuilds this transformer from the same file.
    /// </summary>
    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        Persistence.NativePipeline.Save(this, ctx);
    }
}
