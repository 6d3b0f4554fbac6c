using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Campaign.Categories;

/// <summary>
/// Category 1: bad inputs at fit time — NaN and infinite features, NaN labels, missing keys, negative and NaN weights,
/// wrong column types, missing columns, empty data, one-class labels and absurd options — at seeded rows, slots and
/// values. Correct: a model whose training-set scores are finite and not absurd (|logit| ≤ 1e3 and a log-loss at most
/// twice the label prior's entropy for classification, R² > −10 for regression). Clear error: an exception of a type
/// Fit documents (ArgumentException, InvalidOperationException, TrainingDivergedException) whose message names the
/// column and row, or the option, at fault. A model with ±huge or non-finite scores is silently wrong.
/// </summary>
public sealed class FitInputs : Category
{
    private static readonly Type[] Documented = [typeof(ArgumentException), typeof(InvalidOperationException), typeof(TrainingDivergedException)];

    /// <inheritdoc/>
    public override string Name => "fit";

    /// <inheritdoc/>
    public override string Title => "Bad inputs at fit time (Fit)";

    private static readonly string[] Kinds =
    [
        "NaN feature", "infinite feature", "NaN label", "infinite label", "missing key label", "negative weight", "NaN weight",
        "all weights zero", "wrong column type", "missing column", "empty data", "one-class label", "one row",
        "constant features", "huge features (1e30)", "SkipInvalidRows with bad rows", "zero rows after SkipInvalidRows",
        "invalid option value", "learning rate 1e30 / 1e3", "L2 1e30", "HiddenLayers [46341, 46341]", "regression targets ±3e38",
    ];

    /// <inheritdoc/>
    public override IReadOnlyList<RowSpec> Rows { get; } = [.. Kinds.Select(k => new RowSpec(Row(k)))];

    private static string Row(string kind) => $"Fit: {kind}";

    /// <summary>A row of the small binary set: label, 4 features, weights and columns of the wrong types.</summary>
    public sealed class FitRow
    {
        /// <summary>The class.</summary>
        public bool Label { get; set; }

        /// <summary>The class as a number (for a forced binary task and NaN labels).</summary>
        public float FloatLabel { get; set; }

        /// <summary>4 features in [−1, 1].</summary>
        [VectorType(4)]
        public float[] Features { get; set; } = [];

        /// <summary>An example weight.</summary>
        public float Weight { get; set; } = 1;

        /// <summary>An example weight of the wrong type.</summary>
        public double DoubleWeight { get; set; } = 1;

        /// <summary>A text column.</summary>
        public string Text { get; set; } = "t";

        /// <summary>A vector of unknown size.</summary>
        public float[] Variable { get; set; } = [1, 2];
    }

    /// <summary>A housing row with an example weight.</summary>
    public sealed class HouseFitRow
    {
        /// <summary>The target.</summary>
        public float Label { get; set; }

        /// <summary>13 standardized features.</summary>
        [VectorType(13)]
        public float[] Features { get; set; } = [];

        /// <summary>An example weight.</summary>
        public float Weight { get; set; } = 1;
    }

    /// <summary>One fit: the data (training and the rows the model is judged on), the trainer, and what a clear error names.</summary>
    private sealed record FitCase(
        string Kind, string Description, string Task, string Label,
        Func<MLContext, (IDataView Train, IDataView Probe)> Data,
        Func<MLContext, IEstimator<ITransformer>> Trainer,
        params string[] Names);

    private static List<FitRow> Binary(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ =>
        {
            var f = new float[4];
            for (int j = 0; j < 4; j++) f[j] = (float)(rng.NextDouble() * 2 - 1);
            bool label = f[0] * f[1] + 0.3f * f[2] > 0;
            return new FitRow { Features = f, Label = label, FloatLabel = label ? 1 : 0 };
        }).ToList();
    }

    private static List<HouseFitRow> Housing() =>
        Data.HousingStandardized().Select(r => new HouseFitRow { Label = r.Label, Features = r.Features }).ToList();

    private static BackpropTrainerOptions Small(string label = "Label") => new()
    {
        LabelColumnName = label, HiddenLayers = [8], MaxEpochs = 40,
    };

    private static (IDataView, IDataView) Same(MLContext ml, IEnumerable<object> rows)
    {
        var view = rows switch
        {
            IEnumerable<FitRow> b => ml.Data.LoadFromEnumerable(b.ToList()),
            IEnumerable<HouseFitRow> h => ml.Data.LoadFromEnumerable(h.ToList()),
            _ => throw new ArgumentException("unknown rows", nameof(rows)),
        };
        return (view, view);
    }

    /// <inheritdoc/>
    public override IReadOnlyList<Trial> Prepare(CampaignContext context)
    {
        var rng = context.Random("fit");
        var cases = new List<FitCase>();
        int reps = context.Count(3, 1);
        string I(long v) => v.ToString(CultureInfo.InvariantCulture);

        for (int i = 0; i < reps; i++)
        {
            // Every lambda below captures its own variables (a variable reassigned later would change an earlier case).
            const int n = 200;
            int nanRow = rng.Next(n), nanSlot = rng.Next(4);
            cases.Add(new("NaN feature", $"Features row {nanRow} slot {nanSlot} = NaN", "binary", "Label",
                ml => Same(ml, Binary(n, 1).Select((r, k) => { if (k == nanRow) r.Features[nanSlot] = float.NaN; return r; })),
                ml => ml.BinaryClassification.Trainers.Backprop(Small()), "'Features'", $"row {I(nanRow)}", $"slot {I(nanSlot)}"));
            float inf = rng.Next(2) == 0 ? float.PositiveInfinity : float.NegativeInfinity;
            int infRow = rng.Next(n), infSlot = rng.Next(4);
            cases.Add(new("infinite feature", $"Features row {infRow} slot {infSlot} = {inf}", "binary", "Label",
                ml => Same(ml, Binary(n, 1).Select((r, k) => { if (k == infRow) r.Features[infSlot] = inf; return r; })),
                ml => ml.BinaryClassification.Trainers.Backprop(Small()), "'Features'", $"row {I(infRow)}", $"slot {I(infSlot)}"));
            int labelRow = rng.Next(506);
            cases.Add(new("NaN label", $"housing Label row {labelRow} = NaN", "regression", "Label",
                ml => Same(ml, Housing().Select((r, k) => { if (k == labelRow) r.Label = float.NaN; return r; })),
                ml => ml.Regression.Trainers.Backprop(Small()), "'Label'", $"row {I(labelRow)}"));
            int floatRow = rng.Next(n);
            cases.Add(new("NaN label", $"binary (forced) FloatLabel row {floatRow} = NaN", "binary", "FloatLabel",
                ml => Same(ml, Binary(n, 1).Select((r, k) => { if (k == floatRow) r.FloatLabel = float.NaN; return r; })),
                ml => ml.Backprop().Trainer(WithTask(Small("FloatLabel"), BackpropTask.BinaryClassification)), "'FloatLabel'", $"row {I(floatRow)}"));
            int infLabelRow = rng.Next(506);
            float infLabel = rng.Next(2) == 0 ? float.PositiveInfinity : float.NegativeInfinity;
            cases.Add(new("infinite label", $"housing Label row {infLabelRow} = {infLabel}", "regression", "Label",
                ml => Same(ml, Housing().Select((r, k) => { if (k == infLabelRow) r.Label = infLabel; return r; })),
                ml => ml.Regression.Trainers.Backprop(Small()), "'Label'", $"row {I(infLabelRow)}"));
            int negativeRow = rng.Next(n);
            float negative = -(float)(rng.NextDouble() * 10 + 0.001);
            cases.Add(new("negative weight", $"Weight row {negativeRow} = {negative}", "binary", "Label",
                ml => Same(ml, Binary(n, 1).Select((r, k) => { if (k == negativeRow) r.Weight = negative; return r; })),
                ml => ml.BinaryClassification.Trainers.Backprop(WithWeight(Small())), "'Weight'", $"row {I(negativeRow)}"));
            int nanWeightRow = rng.Next(n);
            cases.Add(new("NaN weight", $"Weight row {nanWeightRow} = NaN", "binary", "Label",
                ml => Same(ml, Binary(n, 1).Select((r, k) => { if (k == nanWeightRow) r.Weight = float.NaN; return r; })),
                ml => ml.BinaryClassification.Trainers.Backprop(WithWeight(Small())), "'Weight'", $"row {I(nanWeightRow)}"));
            int unseen = rng.Next(3);
            cases.Add(new("missing key label", $"iris, class {unseen} missing from the key mapping", "multiclass", "Label",
                ml => MissingKey(ml, unseen), ml => ml.MulticlassClassification.Trainers.Backprop(Small()),
                "'Label'", $"row {I(Data.Iris().FindIndex(r => r.Label == unseen))}"));
            // Rows with bad values, skipped: the model is judged on the good rows.
            int bad = rng.Next(1, 20);
            var badRows = Enumerable.Range(0, bad).Select(_ => rng.Next(n)).ToHashSet();
            int badSeed = rng.Next();
            cases.Add(new("SkipInvalidRows with bad rows", $"{badRows.Count} rows with NaN/Inf features or NaN/negative weights, SkipInvalidRows", "binary", "Label",
                ml => Skipping(ml, n, badRows, badSeed), ml => ml.BinaryClassification.Trainers.Backprop(WithSkip(WithWeight(Small())))));
        }

        // Wrong column types and missing columns.
        cases.Add(new("wrong column type", "label is a String column", "binary", "Label", ml => Same(ml, Binary(50, 1)),
            ml => ml.Backprop().Trainer(Small("Text")), "'Text'"));
        cases.Add(new("wrong column type", "features are a scalar Single column", "binary", "Label", ml => Same(ml, Binary(50, 1)),
            ml => ml.Backprop().Trainer(new BackpropTrainerOptions { FeatureColumnName = "FloatLabel", HiddenLayers = [4] }), "'FloatLabel'"));
        cases.Add(new("wrong column type", "features are a vector of unknown size", "binary", "Label", ml => Same(ml, Binary(50, 1)),
            ml => ml.Backprop().Trainer(new BackpropTrainerOptions { FeatureColumnName = "Variable", HiddenLayers = [4] }), "'Variable'"));
        cases.Add(new("wrong column type", "weight is a Double column", "binary", "Label", ml => Same(ml, Binary(50, 1)),
            ml => ml.Backprop().Trainer(new BackpropTrainerOptions { ExampleWeightColumnName = "DoubleWeight", HiddenLayers = [4] }), "'DoubleWeight'"));
        cases.Add(new("wrong column type", "multiclass trainer on a Single label (no MapValueToKey)", "multiclass", "Label",
            ml => Same(ml, Housing()), ml => ml.MulticlassClassification.Trainers.Backprop(Small()), "'Label'"));
        cases.Add(new("wrong column type", "binary trainer on a Single label", "binary", "Label",
            ml => Same(ml, Housing()), ml => ml.BinaryClassification.Trainers.Backprop(Small()), "'Label'"));
        cases.Add(new("missing column", "feature column 'Nope'", "binary", "Label", ml => Same(ml, Binary(50, 1)),
            ml => ml.Backprop().Trainer(featureColumnName: "Nope"), "'Nope'"));
        cases.Add(new("missing column", "weight column 'NoWeight'", "binary", "Label", ml => Same(ml, Binary(50, 1)),
            ml => ml.Backprop().Trainer(exampleWeightColumnName: "NoWeight"), "'NoWeight'"));
        cases.Add(new("missing column", "label column 'NoLabel'", "regression", "Label", ml => Same(ml, Housing()),
            ml => ml.Regression.Trainers.Backprop(labelColumnName: "NoLabel"), "'NoLabel'"));

        // Degenerate data.
        cases.Add(new("empty data", "0 rows", "binary", "Label", ml => Same(ml, Binary(0, 1)),
            ml => ml.BinaryClassification.Trainers.Backprop(Small()), "no rows"));
        cases.Add(new("empty data", "0 rows, regression with Adam", "regression", "Label", ml => Same(ml, Housing().Take(0)),
            ml => ml.Regression.Trainers.Backprop(WithOptimizer(Small(), OptimizerKind.Adam)), "no rows"));
        bool positive = rng.Next(2) == 0;
        cases.Add(new("one-class label", $"every label {positive}", "binary", "Label",
            ml => Same(ml, Binary(60, 2).Select(r => { r.Label = positive; return r; })),
            ml => ml.BinaryClassification.Trainers.Backprop(Small()), "'Label'", "one class"));
        cases.Add(new("one-class label", "iris, one class only", "multiclass", "Label",
            ml => OneClassIris(ml), ml => ml.MulticlassClassification.Trainers.Backprop(Small()), "'Label'"));
        cases.Add(new("all weights zero", "every Weight 0", "binary", "Label",
            ml => Same(ml, Binary(50, 3).Select(r => { r.Weight = 0; return r; })),
            ml => ml.BinaryClassification.Trainers.Backprop(WithWeight(Small())), "'Weight'"));
        foreach (var optimizer in new OptimizerKind[] { OptimizerKind.Lbfgs, OptimizerKind.Adam })
            cases.Add(new("one row", $"a single housing row, {optimizer}", "regression", "Label", ml => Same(ml, Housing().Take(1)),
                ml => ml.Regression.Trainers.Backprop(WithOptimizer(Small(), optimizer)), "row|rows|ValidationFraction"));
        cases.Add(new("constant features", "every feature 0", "binary", "Label",
            ml => Same(ml, Binary(80, 4).Select(r => { r.Features = new float[4]; return r; })),
            ml => ml.BinaryClassification.Trainers.Backprop(Small())));
        foreach (double scale in new[] { 1e30, 1e20 })
            cases.Add(new("huge features (1e30)", $"features times {scale:G2}, not normalized", "binary", "Label",
                ml => Same(ml, Binary(100, 5).Select(r => { r.Features = r.Features.Select(x => (float)(x * scale)).ToArray(); return r; })),
                ml => ml.BinaryClassification.Trainers.Backprop(Small()), "Scale the features|normalize|learning rate"));
        int all = rng.Next(2, 30);
        cases.Add(new("zero rows after SkipInvalidRows", $"all {all} rows have a NaN feature", "binary", "Label",
            ml => Same(ml, Binary(all, 6).Select(r => { r.Features[0] = float.NaN; return r; })),
            ml => ml.BinaryClassification.Trainers.Backprop(WithSkip(Small())), "rows", "invalid"));

        // Absurd options.
        var invalid = new (string Option, Action<BackpropTrainerOptions> Spoil)[]
        {
            ("LearningRate", o => o.LearningRate = 0), ("LearningRate", o => o.LearningRate = double.NaN),
            ("LearningRate", o => o.LearningRate = -1), ("Momentum", o => o.Momentum = 1.2), ("BatchSize", o => o.BatchSize = 0),
            ("MaxEpochs", o => o.MaxEpochs = -3), ("L2Regularization", o => o.L2Regularization = double.NaN),
            ("ValidationFraction", o => o.ValidationFraction = 0), ("Beta2", o => o.Beta2 = 1), ("NumberOfThreads", o => o.NumberOfThreads = 0),
            ("Epsilon", o => o.Epsilon = 0), ("Tolerance", o => o.Tolerance = -1), ("HiddenLayers", o => o.HiddenLayers = [4, 0]),
            ("LearningRate", o => o.LearningRate = double.PositiveInfinity), ("L1Regularization", o => o.L1Regularization = -1),
        };
        foreach (var k in Enumerable.Range(0, invalid.Length).OrderBy(_ => rng.Next()).Take(context.Count(8, 3)))
        {
            var (option, spoil) = invalid[k];
            cases.Add(new("invalid option value", $"{option} spoiled (#{k})", "binary", "Label", ml => Same(ml, Binary(50, 7)),
                ml => { var o = Small(); spoil(o); return ml.BinaryClassification.Trainers.Backprop(o); }, option));
        }
        foreach (var optimizer in context.Quick ? [OptimizerKind.GradientDescent] : new[] { OptimizerKind.GradientDescent, OptimizerKind.Sgd })
            foreach (double rate in new[] { 1e30, 1e3 })
                foreach (bool backoff in new[] { true, false })
                {
                    bool regression = rng.Next(2) == 0;
                    var o = WithOptimizer(Small(), optimizer);
                    o.LearningRate = rate;
                    o.DivergenceBackoff = backoff;
                    o.EarlyStopping = false;
                    cases.Add(new("learning rate 1e30 / 1e3", $"{optimizer}, LearningRate {rate:G2}, DivergenceBackoff {backoff}, {(regression ? "housing" : "binary")}",
                        regression ? "regression" : "binary", "Label", ml => regression ? Same(ml, Housing()) : Same(ml, Binary(200, 8)),
                        ml => regression ? ml.Regression.Trainers.Backprop(o) : ml.BinaryClassification.Trainers.Backprop(o), "learning rate|LearningRate"));
                }
        cases.Add(new("L2 1e30", "L2Regularization 1e30", "binary", "Label", ml => Same(ml, Binary(100, 9)),
            ml => { var o = Small(); o.L2Regularization = 1e30; return ml.BinaryClassification.Trainers.Backprop(o); }, "L2Regularization"));
        cases.Add(new("HiddenLayers [46341, 46341]", "46341² weights overflow an int", "binary", "Label", ml => Same(ml, Binary(20, 10)),
            ml => ml.BinaryClassification.Trainers.Backprop(new BackpropTrainerOptions { HiddenLayers = [46341, 46341], MaxEpochs = 1 }), "HiddenLayers"));
        foreach (bool spread in new[] { true, false })
            foreach (bool standardize in new[] { true, false })
                cases.Add(new("regression targets ±3e38", $"housing targets {(spread ? "scaled into ±3e38" : "alternately +3e38 and -3e38")}, StandardizeTargets {standardize}",
                    "regression", "Label",
                    ml => Same(ml, Housing().Select((r, k) => { r.Label = spread ? (float)((r.Label - 22.5) / 27.5 * 3e38) : (k % 2 == 0 ? 3e38f : -3e38f); return r; })),
                    ml => { var o = Small(); o.StandardizeTargets = standardize; return ml.Regression.Trainers.Backprop(o); }, "'Label'|target"));

        return cases.Select((c, i) => new Trial(Row(c.Kind), $"{c.Kind}: {c.Description}", () => Run(c, context.Seed + i))).ToList();
    }

    private static BackpropTrainerOptions WithTask(BackpropTrainerOptions o, BackpropTask task)
    {
        o.Task = task;
        return o;
    }

    private static BackpropTrainerOptions WithWeight(BackpropTrainerOptions o)
    {
        o.ExampleWeightColumnName = "Weight";
        return o;
    }

    private static BackpropTrainerOptions WithSkip(BackpropTrainerOptions o)
    {
        o.SkipInvalidRows = true;
        return o;
    }

    private static BackpropTrainerOptions WithOptimizer(BackpropTrainerOptions o, OptimizerKind optimizer)
    {
        o.Optimizer = optimizer;
        return o;
    }

    private static (IDataView, IDataView) MissingKey(MLContext ml, int unseen)
    {
        var rows = Data.Iris();
        var all = ml.Data.LoadFromEnumerable(rows);
        var subset = ml.Data.LoadFromEnumerable(rows.Where(r => r.Label != unseen).ToList());
        var keys = ml.Transforms.SelectColumns("Label").Fit(subset).Transform(subset);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label", keyData: keys).Fit(all).Transform(all);
        return (keyed, keyed);
    }

    private static (IDataView, IDataView) OneClassIris(MLContext ml)
    {
        var rows = Data.Iris().Where(r => r.Label == 0).ToList();
        var view = ml.Data.LoadFromEnumerable(rows);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(view).Transform(view);
        return (keyed, keyed);
    }

    private static (IDataView, IDataView) Skipping(MLContext ml, int n, HashSet<int> bad, int seed)
    {
        var rng = new Random(seed);
        var rows = Binary(n, 1);
        foreach (int r in bad)
        {
            switch (rng.Next(4))
            {
                case 0: rows[r].Features[rng.Next(4)] = float.NaN; break;
                case 1: rows[r].Features[rng.Next(4)] = float.NegativeInfinity; break;
                case 2: rows[r].Weight = float.NaN; break;
                default: rows[r].Weight = -1; break;
            }
        }
        return (ml.Data.LoadFromEnumerable(rows), ml.Data.LoadFromEnumerable(rows.Where((_, i) => !bad.Contains(i)).ToList()));
    }

    private static TrialOutput Run(FitCase c, int seed)
    {
        string row = Row(c.Kind), what = $"{c.Kind}: {c.Description}";
        var ml = new MLContext(seed);
        ITransformer model;
        IDataView probe;
        try
        {
            (var train, probe) = c.Data(ml);
            model = c.Trainer(ml).Fit(train);
        }
        catch (Exception e)
        {
            var (outcome, detail) = Errors.Classify(e, Documented, c.Names);
            return TrialOutput.Of(row, outcome, $"{what}: {detail}");
        }
        string? wrong;
        try
        {
            wrong = Judge.Problem(c.Task, model.Transform(probe), c.Label);
        }
        catch (Exception e)
        {
            return TrialOutput.Of(row, Outcome.UnclearError, $"{what}: Fit returned a model, then scoring its training rows threw {Errors.Describe(e)}");
        }
        return wrong is null
            ? TrialOutput.Of(row, Outcome.Correct, $"{what}: a sound model")
            : TrialOutput.Of(row, Outcome.SilentlyWrong, $"{what}: Fit returned a model whose training-set scores are absurd: {wrong}");
    }
}
