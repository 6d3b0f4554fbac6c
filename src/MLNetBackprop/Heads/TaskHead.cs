using System.Collections.Immutable;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Distributed;
using MLNetBackprop.Onnx;

namespace MLNetBackprop.Heads;

/// <summary>
/// What one task does around the network: which label types it takes and how a label becomes the target vector, the
/// default output activation and loss, the output columns and their getters, the ONNX and saved-pipeline tail after the
/// last layer, and the evaluator a comparison and the permutation importance use. Every place that used to switch on
/// <see cref="BackpropTask"/> asks its head instead, so a new task is one more subclass and one more line in
/// <see cref="For"/>.
/// </summary>
/// <remarks>
/// Heads are stateless singletons; what belongs to one model (the target scaling, the class names) comes in as arguments.
/// Multi-output regression is its own head (<see cref="MultiOutputRegressionHead"/>) under the one public task
/// <see cref="BackpropTask.Regression"/>: its label, Score column, saved tail and evaluator differ from scalar regression's.
/// </remarks>
internal abstract class TaskHead
{
    /// <summary>Reads the current row's label into the target vector; returns a description of the problem, or null.</summary>
    public delegate string? LabelReader(long row, float[] target);

    /// <summary>The head of <paramref name="task"/>; <paramref name="vectorLabel"/> picks multi-output regression (it is ignored by the other tasks).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="task"/> is <see cref="BackpropTask.Auto"/> or not defined.</exception>
    public static TaskHead For(BackpropTask task, bool vectorLabel = false) => task switch
    {
        BackpropTask.BinaryClassification => BinaryHead.Instance,
        BackpropTask.MulticlassClassification => MulticlassHead.Instance,
        BackpropTask.Regression => vectorLabel ? MultiOutputRegressionHead.Instance : RegressionHead.Instance,
        _ => throw new ArgumentOutOfRangeException(nameof(task), task, $"The task {task} has no head (Auto is resolved from the label first)."),
    };

    /// <summary>The public task this head serves.</summary>
    public abstract BackpropTask Task { get; }

    /// <summary>The task in words, for logs and comparison descriptions.</summary>
    public abstract string Name { get; }

    /// <summary>The task in words with the network's output count where it says something (a model summary's first line).</summary>
    public virtual string Describe(int outputs) => Name;

    /// <summary>True when the Score column is a vector.</summary>
    public abstract bool VectorOutput { get; }

    // ---- The label and the targets.

    /// <summary>The number of output units a label of <paramref name="type"/> gives, or an exception naming what this task expects.</summary>
    public abstract int OutputCount(string labelName, DataViewType type);

    /// <summary>Reads the label of the rows of <paramref name="cursor"/> into targets of <paramref name="outputs"/> values.</summary>
    public abstract LabelReader MakeLabelReader(DataViewRowCursor cursor, DataViewSchema.Column label, int outputs);

    /// <summary>The number of classes a target vector of <paramref name="outputs"/> values stands for; 0 when the task has no classes.</summary>
    public virtual int ClassCount(int outputs) => 0;

    /// <summary>The class of a target vector (0-based); only called when <see cref="ClassCount"/> is positive.</summary>
    public virtual int ClassOf(ReadOnlySpan<float> target) => System.Numerics.Tensors.TensorPrimitives.IndexOfMax(target);

    /// <summary>Why the targets read into memory cannot be trained on (binary: one class only), or null.</summary>
    public virtual string? CheckTargets(ReadOnlySpan<float> targets, string labelName, string role) => null;

    /// <summary>Why the class counts of a streamed scan cannot be trained on (binary: one class only), or null.</summary>
    public virtual string? CheckClassCounts(ReadOnlySpan<long> counts, string labelName, string role) => null;

    /// <summary>
    /// True when output unit j stands for the label's key j + 1 (multiclass): the model keeps the label's class names, the
    /// PredictedLabel column carries the label's KeyValues, and data-parallel ranks must number the classes alike.
    /// </summary>
    public virtual bool KeyedClasses => false;

    /// <summary>The label's class names, in output order (empty when the task has none, or the label carries no KeyValues).</summary>
    public virtual string[] ClassNames(DataViewSchema.Column label, int outputs) => [];

    /// <summary>
    /// For <c>GetOutputSchema</c>: the annotations the label's shape implies on the output columns, and the stand-in class
    /// names that make the Score column carry SlotNames (no values are known before Fit).
    /// </summary>
    public virtual (DataViewSchema.Annotations? Label, string[] ClassNames) ShapeAnnotations(SchemaShape.Column label, int outputs) => (null, []);

    /// <summary>True when targets are standardized for training and predictions mapped back (regression).</summary>
    public virtual bool ScalesTargets => false;

    /// <summary>The target scaling fitted to rows in memory (per target a mean and a scale); empty when the head does not scale.</summary>
    public virtual (float[] Mean, float[] Scale) TargetScaling(TrainingSetReader data, int outputs, bool standardize, IGradientAllreduce? comm) => ([], []);

    /// <summary>Scales row-major targets in place by <paramref name="mean"/> and <paramref name="scale"/>; nothing when the head does not scale.</summary>
    public virtual void Standardize(float[] targets, float[] mean, float[] scale)
    {
    }

    // ---- Training defaults.

    /// <summary>The output activation when the options leave it null.</summary>
    public abstract Activation DefaultOutputActivation { get; }

    /// <summary>The loss when the options leave it null.</summary>
    public virtual LossFunction DefaultLoss => LossFunction.CrossEntropy;

    /// <summary>Throws when an output activation the options give does not fit the task.</summary>
    public virtual void CheckOutputActivation(Activation activation)
    {
    }

    // ---- Scoring.

    /// <summary>Names of the added columns, in order.</summary>
    public abstract string[] ColumnNames { get; }

    /// <summary>
    /// Adds the output columns, typed and annotated as ML.NET's own trainers produce them. <paramref name="labelAnnotations"/>
    /// carries the label's KeyValues; <paramref name="classNames"/> become a vector Score's SlotNames.
    /// </summary>
    public abstract void AddColumns(DataViewSchema.Builder builder, int outputs, DataViewSchema.Annotations? labelAnnotations, string[] classNames);

    /// <summary>Turns the network's outputs into the task's scale, in place (regression: × scale + mean).</summary>
    public virtual void MapOutputs(BackpropModelParameters model, float[] output)
    {
    }

    /// <summary>The getter of output column <paramref name="name"/> (one of <see cref="ColumnNames"/>), reading from <paramref name="scorer"/>.</summary>
    public abstract Delegate MakeGetter(RowScorer scorer, string name);

    // ---- Export.

    /// <summary>
    /// Appends the task's outputs to an exported graph: <paramref name="logit"/> is the last layer's pre-activation,
    /// <paramref name="output"/> its activation.
    /// </summary>
    public abstract void WriteOnnxTail(OnnxExport.Tail tail, BackpropModelParameters model, string logit, string output);

    /// <summary>The network's outputs in a saved pipeline's ONNX step (<see cref="Persistence.SavedColumns"/>).</summary>
    public abstract string[] SavedOutputs { get; }

    /// <summary>
    /// The saved pipeline's steps after its ONNX step that turn the saved outputs into the output columns; adds the
    /// intermediate columns they make to <paramref name="drop"/>.
    /// </summary>
    public abstract IEnumerable<IEstimator<ITransformer>> SavedMappings(MLContext ml, BackpropTransformer transformer, List<string> drop);

    // ---- Evaluation.

    /// <summary>Whether a candidate with this output shape is evaluated as calibrated (binary: it has a Probability column).</summary>
    public virtual bool IsCalibrated(SchemaShape output) => false;

    /// <summary>Whether a candidate's metrics include the log-loss.</summary>
    public virtual bool HasLogLoss(bool calibrated) => false;

    /// <summary>
    /// Throws when a comparison candidate cannot be evaluated by this head (multi-output: a Score without one value per
    /// label output).
    /// </summary>
    public virtual void CheckCandidate(string name, IEstimator<ITransformer> pipeline, DataViewSchema input, string label)
    {
    }

    /// <summary>ML.NET's cross-validation with this task's evaluator: per fold the metrics, the model and the scored hold-out set.</summary>
    public abstract (object Metrics, ITransformer Model, IDataView Scored)[] CrossValidate(MLContext ml, IDataView data,
        IEstimator<ITransformer> pipeline, int folds, string label, string? samplingKey, int seed, bool calibrated);

    /// <summary>This task's metrics of <paramref name="scored"/>.</summary>
    public abstract object Evaluate(MLContext ml, IDataView scored, string label, bool calibrated);

    /// <summary>The comparison's metric names, the primary one first; <paramref name="firstMetrics"/> is the first evaluated fold's, if any.</summary>
    public abstract string[] MetricNames(bool withLogLoss, object? firstMetrics);

    /// <summary>The task in a comparison's description.</summary>
    public virtual string ComparisonName(object? firstMetrics) => Name;

    /// <summary>The number of outputs a comparison reports (1 but for multi-output regression).</summary>
    public virtual int ComparisonOutputs(object? firstMetrics) => 1;

    /// <summary>Permutation feature importance of <paramref name="model"/> on this task's main metric.</summary>
    public abstract BackpropFeatureImportance PermutationImportance(MLContext ml, BackpropTransformer model, IDataView input, string label,
        int? numberOfExamplesToUse, int permutationCount, string[] featureNames);

    // ---- Shared by the heads.

    /// <summary>The message of a label type the task does not take.</summary>
    protected static string BadLabel(string labelName, DataViewType type, string expected) =>
        $"Column '{labelName}' (the label column) has type {type}; {expected}.";

    /// <summary>The ScoreColumnKind / ScoreValueKind annotations ML.NET's evaluators look for.</summary>
    protected static DataViewSchema.Annotations Kind(string columnKind, string valueKind, bool isNormalized = false)
    {
        var b = new DataViewSchema.Annotations.Builder();
        var ck = columnKind.AsMemory();
        var vk = valueKind.AsMemory();
        b.Add("ScoreColumnKind", TextDataViewType.Instance, (ref ReadOnlyMemory<char> v) => v = ck);
        b.Add("ScoreValueKind", TextDataViewType.Instance, (ref ReadOnlyMemory<char> v) => v = vk);
        if (isNormalized) b.Add("IsNormalized", BooleanDataViewType.Instance, (ref bool v) => v = true);
        return b.ToAnnotations();
    }

    /// <summary>A getter of the whole output vector.</summary>
    protected static ValueGetter<VBuffer<float>> VectorGetter(RowScorer scorer) => (ref VBuffer<float> v) =>
    {
        scorer.Ensure();
        var output = scorer.Output;
        var editor = VBufferEditor.Create(ref v, output.Length);
        output.CopyTo(editor.Values);
        v = editor.Commit();
    };

    /// <summary>ML.NET's cross-validation results as the comparison's per-fold triples.</summary>
    protected static (object Metrics, ITransformer Model, IDataView Scored)[] Folds<T>(IEnumerable<TrainCatalogBase.CrossValidationResult<T>> results)
        where T : class => results.Select(r => ((object)r.Metrics, r.Model, r.ScoredHoldOutSet)).ToArray();

    /// <summary>The importance rows: ML.NET reports permuted − original; the importance is the drop, original − permuted.</summary>
    protected static FeatureImportance[] Importances(string[] names, IEnumerable<MetricStatistics> deltas) =>
        deltas.Select((d, i) => new FeatureImportance(i, names[i], -d.Mean, d.StandardDeviation, d.StandardError)).ToArray();

    /// <summary>No statistics of a kind (the importance result holds one kind per task).</summary>
    protected static ImmutableArray<T> None<T>() => default;
}
