using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core;

namespace MLNetBackprop.Campaign.Categories;

/// <summary>
/// Category 2: bad inputs at predict time, through a PredictionEngine and through Transform, on good models (our
/// binary trainer alone with tanh or ReLU units, after a normalizer, the iris multiclass pipeline, a regressor).
/// Nothing is documented for non-finite features at scoring, so the campaign checks the defined behaviour of IEEE
/// arithmetic: a NaN feature gives a NaN score (ML.NET's own linear models do the same), an infinite or huge one
/// gives whatever the arithmetic gives, and either way the row scores the same through the engine and through
/// Transform and leaves the other rows of its batch unchanged, bit for bit. A feature vector of the wrong size, of
/// unknown size, null or missing must give a clear error (ArgumentException or InvalidOperationException naming the
/// feature column) — or, where the values are in fact right (a variable-size column holding rows of the right length),
/// the right scores. Never a crash.
/// </summary>
public sealed class PredictInputs : Category
{
    private static readonly Type[] Documented = [typeof(ArgumentException), typeof(InvalidOperationException)];

    private static readonly string[] Kinds =
    [
        "engine: NaN feature", "engine: infinite feature", "engine: huge finite feature", "engine: all features NaN",
        "engine: wrong vector size", "engine: array of the wrong length", "engine: null feature array",
        "engine: variable-size vector", "engine: no feature column",
        "Transform: bad rows among good ones", "Transform: wrong vector size", "Transform: variable-size vector", "Transform: no rows",
    ];

    /// <inheritdoc/>
    public override string Name => "predict";

    /// <inheritdoc/>
    public override string Title => "Bad inputs at predict time (PredictionEngine and Transform on good models)";

    /// <summary>
    /// The rows: each kind for our trainer alone (the library's path), and for pipelines that put an ML.NET normalizer
    /// in front of it, where a bad vector meets ML.NET's transform first (its errors are ML.NET's, reported apart).
    /// </summary>
    public override IReadOnlyList<RowSpec> Rows { get; } =
        [.. Kinds.Select(k => new RowSpec(Row(k, false))), .. Kinds.Select(k => new RowSpec(Row(k, true), Owner.MLNet))];

    private static string Row(string kind, bool pipeline) => pipeline ? $"Predict, {kind}, ML.NET normalizer first" : $"Predict, {kind}";

    /// <summary>An input row whose feature vector's size is set at run time by a schema definition.</summary>
    public sealed class ScoringRow
    {
        /// <summary>A label (the iris pipeline maps it to a key; the others ignore it).</summary>
        public float Label { get; set; }

        /// <summary>The features.</summary>
        public float[]? Features { get; set; }
    }

    /// <summary>An input row without a feature column.</summary>
    public sealed class LabelOnlyRow
    {
        /// <summary>A label.</summary>
        public float Label { get; set; }
    }

    /// <summary>A good model and the clean rows it is probed with, with their reference scores.</summary>
    private sealed class Target
    {
        public required string Name { get; init; }
        public required string Task { get; init; }
        public required MLContext Ml { get; init; }
        public required ITransformer Model { get; init; }
        public required List<float[]> Clean { get; init; }
        public required bool Pipeline { get; init; }
        public List<double[]> Reference { get; set; } = [];

        public int Size => Clean[0].Length;

        public static SchemaDefinition Schema(int? size)
        {
            var d = SchemaDefinition.Create(typeof(ScoringRow));
            if (size is { } m) d["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, m);
            return d;
        }

        public Func<ScoringRow, double[]> Engine(SchemaDefinition schema) => Task switch
        {
            "binary" => Wrap(Ml.Model.CreatePredictionEngine<ScoringRow, BinaryScore>(Model, inputSchemaDefinition: schema), s => s.Flatten()),
            "multiclass" => Wrap(Ml.Model.CreatePredictionEngine<ScoringRow, MulticlassScore>(Model, inputSchemaDefinition: schema), s => s.Flatten()),
            _ => Wrap(Ml.Model.CreatePredictionEngine<ScoringRow, RegressionScore>(Model, inputSchemaDefinition: schema), s => [s.Score]),
        };

        private static Func<ScoringRow, double[]> Wrap<TOut>(PredictionEngine<ScoringRow, TOut> engine, Func<TOut, double[]> flatten)
            where TOut : class, new() => row => flatten(engine.Predict(row));

        public List<double[]> Transform(IEnumerable<float[]?> features, SchemaDefinition schema)
        {
            var view = Ml.Data.LoadFromEnumerable(features.Select(f => new ScoringRow { Features = f }).ToList(), schema);
            return Data.Scores(Model.Transform(view), Task);
        }
    }

    private static List<float[]> Uniform(int n, int size, int seed, float scale = 1, float offset = 0)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, size).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale + offset).ToArray()).ToList();
    }

    private static Target Binary(string name, Activation activation, bool normalize)
    {
        var ml = new MLContext(seed: 2);
        var features = Uniform(300, 4, 2, normalize ? 100 : 1, normalize ? 50 : 0);
        var rows = features.Select(f => new { f, label = (f[0] - (normalize ? 50 : 0)) * (f[1] - (normalize ? 50 : 0)) > 0 })
            .Select(x => new BinaryRow { Label = x.label, Features = x.f }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        var trainer = ml.BinaryClassification.Trainers.Backprop(new BackpropTrainerOptions { HiddenLayers = [8], MaxEpochs = 40, Activation = activation });
        ITransformer model = normalize ? ml.Transforms.NormalizeMeanVariance("Features").Append(trainer).Fit(data) : trainer.Fit(data);
        return new Target { Name = name, Task = "binary", Ml = ml, Model = model, Clean = features.Take(40).ToList(), Pipeline = normalize };
    }

    /// <summary>A binary training row with 4 features.</summary>
    public sealed class BinaryRow
    {
        /// <summary>The class.</summary>
        public bool Label { get; set; }

        /// <summary>The features.</summary>
        [VectorType(4)]
        public float[] Features { get; set; } = [];
    }

    private static Target Regression()
    {
        var ml = new MLContext(seed: 3);
        var rows = Data.HousingStandardized();
        var model = ml.Regression.Trainers.Backprop(new BackpropTrainerOptions { HiddenLayers = [16], MaxEpochs = 40, Activation = Activation.Relu })
            .Fit(ml.Data.LoadFromEnumerable(rows));
        return new Target { Name = "regressor (ReLU [16], housing)", Task = "regression", Ml = ml, Model = model, Clean = rows.Take(40).Select(r => r.Features).ToList(), Pipeline = false };
    }

    private static Target Multiclass()
    {
        var c = ModelCase.Multiclass();
        return new Target { Name = "iris multiclass pipeline", Task = "multiclass", Ml = c.Ml, Model = c.Model, Clean = Data.Iris().Take(150).Where((_, i) => i % 4 == 0).Select(r => r.Features).ToList(), Pipeline = true };
    }

    /// <inheritdoc/>
    public override IReadOnlyList<Trial> Prepare(CampaignContext context)
    {
        var targets = new List<Target>
        {
            Binary("binary net alone (tanh [8])", Activation.Tanh, normalize: false),
            Binary("binary net alone (ReLU [8])", Activation.Relu, normalize: false),
            Binary("normalizer + binary net", Activation.Tanh, normalize: true),
            Multiclass(),
            Regression(),
        };
        foreach (var t in targets)
        {
            var engine = t.Engine(Target.Schema(t.Size));
            t.Reference = t.Clean.Select(f => engine(new ScoringRow { Features = f })).ToList();
            if (Compare.Bitwise(t.Reference, t.Transform(t.Clean, Target.Schema(t.Size))) is { } d)
                CampaignContext.Log($"predict: note: {t.Name}: the engine and Transform differ on clean rows: {d}");
        }
        var rng = context.Random("predict");
        var trials = new List<Trial>();
        void Add(string kind, Target t, string description, Func<TrialOutput> run) =>
            trials.Add(new Trial(Row(kind, t.Pipeline), $"{t.Name}, {description}", run));
        for (int rep = 0; rep < context.Count(3, 1); rep++)
        {
            foreach (var t in targets)
            {
                int row = rng.Next(t.Clean.Count), slot = rng.Next(t.Size);
                float inf = rng.Next(2) == 0 ? float.PositiveInfinity : float.NegativeInfinity;
                float huge = new[] { 1e30f, -1e30f, float.MaxValue, float.MinValue, 3e38f }[rng.Next(5)];
                Add("engine: NaN feature", t, $"row {row} slot {slot} NaN", () => OneBadRow(t, "engine: NaN feature", row, slot, float.NaN));
                Add("engine: infinite feature", t, $"row {row} slot {slot} {inf}", () => OneBadRow(t, "engine: infinite feature", row, slot, inf));
                Add("engine: huge finite feature", t, $"row {row} slot {slot} {huge:G3}", () => OneBadRow(t, "engine: huge finite feature", row, slot, huge));
                Add("engine: all features NaN", t, $"row {row} all NaN", () => OneBadRow(t, "engine: all features NaN", row, -1, float.NaN));
                int wrong = WrongSize(rng, t.Size);
                Add("engine: wrong vector size", t, $"schema says {wrong} slots, the model has {t.Size}",
                    () => Engine(t, "engine: wrong vector size", Target.Schema(wrong), Resized(t.Clean[row], wrong), null));
                int length = WrongSize(rng, t.Size);
                Add("engine: array of the wrong length", t, $"schema says {t.Size} slots, the array has {length}",
                    () => Engine(t, "engine: array of the wrong length", Target.Schema(t.Size), Resized(t.Clean[row], length), null));
                Add("engine: null feature array", t, "Features = null", () => Engine(t, "engine: null feature array", Target.Schema(t.Size), null, null));
                Add("engine: variable-size vector", t, "a vector column of unknown size holding rows of the right length",
                    () => Engine(t, "engine: variable-size vector", Target.Schema(null), t.Clean[row], t.Reference[row]));
                Add("engine: no feature column", t, "the input class has no Features", () => NoFeatures(t));
                var bad = Enumerable.Range(0, rng.Next(1, 8)).Select(_ => (Row: rng.Next(t.Clean.Count), Slot: rng.Next(t.Size),
                    Value: new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1e30f, float.MaxValue }[rng.Next(5)])).ToList();
                Add("Transform: bad rows among good ones", t, $"{bad.Count} bad value(s) in a batch of {t.Clean.Count}", () => Batch(t, bad));
                int wrongBatch = WrongSize(rng, t.Size);
                Add("Transform: wrong vector size", t, $"schema says {wrongBatch} slots, the model has {t.Size}",
                    () => TransformOf(t, "Transform: wrong vector size", t.Clean.Select(f => Resized(f, wrongBatch)).ToList(), Target.Schema(wrongBatch), null));
                Add("Transform: variable-size vector", t, "a vector column of unknown size holding rows of the right length",
                    () => TransformOf(t, "Transform: variable-size vector", t.Clean, Target.Schema(null), t.Reference));
                Add("Transform: no rows", t, "an empty data view", () => TransformOf(t, "Transform: no rows", [], Target.Schema(t.Size), []));
            }
        }
        return trials;
    }

    private static int WrongSize(Random rng, int size)
    {
        int m;
        do m = rng.Next(0, size * 2 + 2);
        while (m == size);
        return m;
    }

    private static float[] Resized(float[] f, int size)
    {
        var r = new float[size];
        Array.Copy(f, r, Math.Min(size, f.Length));
        for (int i = f.Length; i < size; i++) r[i] = 0.5f;
        return r;
    }

    private static TrialOutput Error(string kind, Target t, Exception e, string when)
    {
        var (o, d) = Errors.Classify(e, Documented, "Features");
        return TrialOutput.Of(Row(kind, t.Pipeline), o, $"{t.Name}: {when}: {d}");
    }

    /// <summary>One row with a non-finite or huge value (slot −1: every slot) scored alone and within the clean batch.</summary>
    private static TrialOutput OneBadRow(Target t, string kind, int row, int slot, float value)
    {
        var features = (float[])t.Clean[row].Clone();
        if (slot < 0) Array.Fill(features, value);
        else features[slot] = value;
        double[] alone;
        List<double[]> batch;
        try
        {
            alone = t.Engine(Target.Schema(t.Size))(new ScoringRow { Features = features });
            batch = t.Transform(t.Clean.Select((f, i) => i == row ? features : f), Target.Schema(t.Size));
        }
        catch (Exception e)
        {
            return Error(kind, t, e, "scoring threw");
        }
        var problem = Consistency(t, [(row, alone)], batch) ?? Defined(t, alone, float.IsNaN(value));
        return problem is null
            ? TrialOutput.Of(Row(kind, t.Pipeline), Outcome.Correct, $"{t.Name}: scored [{string.Join(", ", alone.Take(3))}]")
            : TrialOutput.Of(Row(kind, t.Pipeline), Outcome.SilentlyWrong, $"{t.Name}, row {row} slot {slot} = {value}: {problem}");
    }

    /// <summary>The bad rows score as alone and the other rows as in the clean batch, bit for bit.</summary>
    private static string? Consistency(Target t, List<(int Row, double[] Alone)> bad, List<double[]> batch)
    {
        if (batch.Count != t.Clean.Count) return $"Transform gave {batch.Count} rows for {t.Clean.Count}";
        var badRows = bad.Select(b => b.Row).ToHashSet();
        for (int i = 0; i < batch.Count; i++)
        {
            if (badRows.Contains(i)) continue;
            if (Compare.Bitwise([t.Reference[i]], [batch[i]]) is { } d) return $"a good row {i} of the batch changed: {d}";
        }
        foreach (var (row, alone) in bad)
            if (Compare.Bitwise([alone], [batch[row]]) is { } d) return $"row {row} scores differently alone and in Transform: {d}";
        return null;
    }

    /// <summary>Probabilities stay in [0, 1] (or NaN); a NaN input shows as a NaN score.</summary>
    private static string? Defined(Target t, double[] output, bool nanInput)
    {
        int scores = t.Task switch { "binary" => 1, "multiclass" => output.Length - 1, _ => 1 };
        if (nanInput && !output.Take(scores).Any(double.IsNaN))
            return $"a NaN feature gave the finite score [{string.Join(", ", output)}] (NaN was swallowed)";
        var probabilities = t.Task switch { "binary" => output.Skip(1).Take(1), "multiclass" => output.Take(scores), _ => [] };
        if (probabilities.Any(p => !double.IsNaN(p) && p is < 0 or > 1)) return $"a probability outside [0, 1]: [{string.Join(", ", output)}]";
        return null;
    }

    /// <summary>Scores one row through an engine made with <paramref name="schema"/>; expected: a clear error, or <paramref name="expected"/>.</summary>
    private static TrialOutput Engine(Target t, string kind, SchemaDefinition schema, float[]? features, double[]? expected)
    {
        double[] output;
        try
        {
            output = t.Engine(schema)(new ScoringRow { Features = features });
        }
        catch (Exception e)
        {
            return Error(kind, t, e, "threw");
        }
        return Judged(t, kind, [output], expected is null ? null : [expected]);
    }

    private static TrialOutput Judged(Target t, string kind, List<double[]> output, List<double[]>? expected)
    {
        if (expected is null)
            return TrialOutput.Of(Row(kind, t.Pipeline), Outcome.SilentlyWrong, $"{t.Name}: scored [{string.Join(", ", output.FirstOrDefault() ?? [])}] without an error");
        return Compare.Bitwise(expected, output) is { } d
            ? TrialOutput.Of(Row(kind, t.Pipeline), Outcome.SilentlyWrong, $"{t.Name}: {d}")
            : TrialOutput.Of(Row(kind, t.Pipeline), Outcome.Correct, $"{t.Name}: the right scores");
    }

    private static TrialOutput NoFeatures(Target t)
    {
        const string kind = "engine: no feature column";
        try
        {
            object engine = t.Task switch
            {
                "binary" => t.Ml.Model.CreatePredictionEngine<LabelOnlyRow, BinaryScore>(t.Model).Predict(new LabelOnlyRow()),
                "multiclass" => t.Ml.Model.CreatePredictionEngine<LabelOnlyRow, MulticlassScore>(t.Model).Predict(new LabelOnlyRow()),
                _ => t.Ml.Model.CreatePredictionEngine<LabelOnlyRow, RegressionScore>(t.Model).Predict(new LabelOnlyRow()),
            };
            return TrialOutput.Of(Row(kind, t.Pipeline), Outcome.SilentlyWrong, $"{t.Name}: predicted without a feature column");
        }
        catch (Exception e)
        {
            return Error(kind, t, e, "threw");
        }
    }

    private static TrialOutput Batch(Target t, List<(int Row, int Slot, float Value)> bad)
    {
        const string kind = "Transform: bad rows among good ones";
        var rows = t.Clean.Select(f => (float[])f.Clone()).ToList();
        foreach (var (row, slot, value) in bad) rows[row][slot] = value;
        var badRows = bad.Select(b => b.Row).Distinct().ToList();
        List<double[]> batch;
        List<(int, double[])> alone;
        try
        {
            batch = t.Transform(rows, Target.Schema(t.Size));
            var engine = t.Engine(Target.Schema(t.Size));
            alone = badRows.Select(r => (r, engine(new ScoringRow { Features = rows[r] }))).ToList();
        }
        catch (Exception e)
        {
            return Error(kind, t, e, "scoring threw");
        }
        var problem = Consistency(t, alone, batch)
            ?? alone.Select(a => Defined(t, a.Item2, rows[a.Item1].Any(float.IsNaN))).FirstOrDefault(p => p is not null);
        return problem is null
            ? TrialOutput.Of(Row(kind, t.Pipeline), Outcome.Correct, $"{t.Name}: consistent")
            : TrialOutput.Of(Row(kind, t.Pipeline), Outcome.SilentlyWrong, $"{t.Name}: {problem}");
    }

    private static TrialOutput TransformOf(Target t, string kind, List<float[]> rows, SchemaDefinition schema, List<double[]>? expected)
    {
        List<double[]> output;
        try
        {
            output = t.Transform(rows, schema);
        }
        catch (Exception e)
        {
            return Error(kind, t, e, "threw");
        }
        return Judged(t, kind, output, expected);
    }
}
