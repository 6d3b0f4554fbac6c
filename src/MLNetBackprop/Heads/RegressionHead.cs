using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Distributed;
using MLNetBackprop.Onnx;
using MLNetBackprop.Persistence;

namespace MLNetBackprop.Heads;

/// <summary>
/// Regression on a Single label: one identity unit trained on the standardized target with the squared error; Score is
/// the output mapped back (× scale + mean); ML.NET's regression evaluator. <see cref="MultiOutputRegressionHead"/>
/// extends it to a vector label.
/// </summary>
internal class RegressionHead : TaskHead
{
    public static readonly RegressionHead Instance = new();

    /// <summary>
    /// The largest |regression target| accepted: float's largest value / 1000 (≈ 3.4e35). Predictions are mapped back as
    /// network output × scale + mean in float; with every |y| within this bound, the mean and the scale are too (the scale
    /// at most twice it), so a prediction overflows only if the network's standardized output passes about ±500, far beyond
    /// any target it was fitted to. Nearer float's range (±3.4e38) ordinary rows would score ±∞.
    /// </summary>
    public const float MaxRegressionTarget = float.MaxValue / 1000;

    protected RegressionHead()
    {
    }

    public override BackpropTask Task => BackpropTask.Regression;

    public override string Name => "regression";

    public override bool VectorOutput => false;

    public override int OutputCount(string labelName, DataViewType type) => type == NumberDataViewType.Single ? 1 : throw WrongLabel(labelName, type);

    protected static ArgumentException WrongLabel(string labelName, DataViewType type) =>
        new(BadLabel(labelName, type, "regression expects Single or a known-size vector of Single"), nameof(BackpropTrainerOptions.LabelColumnName));

    public override LabelReader MakeLabelReader(DataViewRowCursor cursor, DataViewSchema.Column label, int outputs)
    {
        var g = cursor.GetGetter<float>(label);
        float v = 0;
        string name = label.Name;
        return (row, t) =>
        {
            g(ref v);
            if (!float.IsFinite(v)) return $"Column '{name}' (the label) row {row} is {v}; regression targets must be finite.";
            if (Math.Abs(v) > MaxRegressionTarget) return TooLarge(name, row, null, v);
            t[0] = v;
            return null;
        };
    }

    protected static string TooLarge(string column, long row, int? slot, float value)
    {
        string where = slot is { } j ? $"row {row} slot {j}" : $"row {row}";
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"Column '{column}' (the label) {where} is {value:R}; regression targets must lie within ±{MaxRegressionTarget:G2} (float's largest value / 1000), so that predictions mapped back to the label's scale cannot overflow. Rescale the label, e.g. divide it by a power of ten.");
    }

    public override bool ScalesTargets => true;

    /// <summary>
    /// Per-target (example-weighted) mean and standard deviation; scale 1 where the target is constant or not
    /// standardized. Data-parallel, the sums run over every rank's shard, so that every rank scales alike.
    /// </summary>
    public override (float[] Mean, float[] Scale) TargetScaling(TrainingSetReader data, int outputs, bool standardize, IGradientAllreduce? comm)
    {
        int k = outputs;
        var mean = new float[k];
        var scale = new float[k];
        if (!standardize)
        {
            Array.Fill(scale, 1f);
            return (mean, scale);
        }
        var w = data.Weights;
        var sums = new double[2 * k]; // Σw and Σw·y per target, then Σw·(y − μ)² per target
        for (int j = 0; j < k; j++)
            for (int i = 0; i < data.Count; i++)
            {
                double wi = w?[i] ?? 1;
                sums[j] += wi;
                sums[k + j] += wi * data.Targets[i * k + j];
            }
        comm?.Sum<double>(sums);
        var mu = new double[k];
        var sumSq = new double[k];
        for (int j = 0; j < k; j++)
        {
            mu[j] = sums[k + j] / sums[j];
            for (int i = 0; i < data.Count; i++)
            {
                double d = data.Targets[i * k + j] - mu[j];
                sumSq[j] += (w?[i] ?? 1) * d * d;
            }
        }
        comm?.Sum<double>(sumSq);
        for (int j = 0; j < k; j++)
        {
            double sd = Math.Sqrt(sumSq[j] / sums[j]);
            mean[j] = (float)mu[j];
            scale[j] = sd > 1e-12 && double.IsFinite(sd) ? (float)sd : 1;
        }
        return (mean, scale);
    }

    public override void Standardize(float[] targets, float[] mean, float[] scale)
    {
        int k = mean.Length;
        for (int i = 0; i < targets.Length; i++) targets[i] = (targets[i] - mean[i % k]) / scale[i % k];
    }

    public override Activation DefaultOutputActivation => Activation.Identity;

    public override LossFunction DefaultLoss => LossFunction.SquaredError;

    public override string[] ColumnNames => [OutputSchema.Score];

    public override void AddColumns(DataViewSchema.Builder builder, int outputs, DataViewSchema.Annotations? labelAnnotations, string[] classNames) =>
        builder.AddColumn(OutputSchema.Score, NumberDataViewType.Single, Kind("Regression", "Score"));

    public override void MapOutputs(BackpropModelParameters model, float[] output)
    {
        var mean = model.Mean;
        var scale = model.Scale;
        for (int k = 0; k < output.Length; k++) output[k] = output[k] * scale[k] + mean[k];
    }

    public override Delegate MakeGetter(RowScorer scorer, string name) => scorer.Output.Length == 1
        ? (ValueGetter<float>)((ref float v) => { scorer.Ensure(); v = scorer.Output[0]; })
        : VectorGetter(scorer);

    public override void WriteOnnxTail(OnnxExport.Tail tail, BackpropModelParameters model, string logit, string output)
    {
        int k = model.OutputSize;
        tail.FloatConstant("target_scale", [k], model.Scale);
        tail.FloatConstant("target_mean", [k], model.Mean);
        string scaled = tail.Fresh("scaled"), score = tail.Fresh("score");
        tail.Node("Mul", [output, "target_scale"], scaled);
        tail.Node("Add", [scaled, "target_mean"], score);
        tail.FloatOutput(score, tail.Names.Score, k);
    }

    public override string[] SavedOutputs => [SavedColumns.Score];

    public override IEnumerable<IEstimator<ITransformer>> SavedMappings(MLContext ml, BackpropTransformer transformer, List<string> drop) =>
        [ml.Transforms.CustomMapping(new ScalarScoreMapping().GetMapping(), ScalarScoreMapping.ContractName)];

    public override (object Metrics, ITransformer Model, IDataView Scored)[] CrossValidate(MLContext ml, IDataView data,
        IEstimator<ITransformer> pipeline, int folds, string label, string? samplingKey, int seed, bool calibrated) =>
        Folds(ml.Regression.CrossValidate(data, pipeline, folds, label, samplingKey, seed));

    public override object Evaluate(MLContext ml, IDataView scored, string label, bool calibrated) => ml.Regression.Evaluate(scored, label);

    public override string[] MetricNames(bool withLogLoss, object? firstMetrics) => [TaskMetrics.RSquared, TaskMetrics.Rmse, TaskMetrics.Mae];

    public override BackpropFeatureImportance PermutationImportance(MLContext ml, BackpropTransformer model, IDataView input, string label,
        int? numberOfExamplesToUse, int permutationCount, string[] featureNames)
    {
        var stats = ml.Regression.PermutationFeatureImportance(model, input, label, numberOfExamplesToUse: numberOfExamplesToUse,
            permutationCount: permutationCount);
        return new(Task, nameof(RegressionMetrics.RSquared), Importances(featureNames, stats.Select(s => s.RSquared)),
            None<BinaryClassificationMetricsStatistics>(), None<MulticlassClassificationMetricsStatistics>(), stats);
    }
}
