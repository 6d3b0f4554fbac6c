using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Optimizers;
using Xunit.Abstractions;

namespace MLNetBackprop.Tests;

/// <summary>
/// Seeded random schemas (label types, key counts, vector sizes, wrong types, missing columns), data (NaN, ±∞, huge values,
/// all-zero and sparse rows, empty data) and options through the whole ML.NET path. Every failure must be a documented
/// exception type with a message; every model returned must score finite values. Set MLNETBACKPROP_FUZZ_CASES for a
/// longer run.
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    public sealed class FuzzRow
    {
        public float LabelF { get; set; }
        public bool LabelB { get; set; }
        public uint LabelK { get; set; }
        public double LabelD { get; set; }
        public VBuffer<float> Features { get; set; }
        public float Weight { get; set; }
    }

    private static bool Documented(Exception e) =>
        e is ArgumentException or InvalidOperationException or TrainingDivergedException or OperationCanceledException;

    [Fact]
    public void RandomSchemasDataAndOptionsFailOnlyWithDocumentedExceptions()
    {
        int cases = int.TryParse(Environment.GetEnvironmentVariable("MLNETBACKPROP_FUZZ_CASES"), out int n) ? n : 150;
        int first = int.TryParse(Environment.GetEnvironmentVariable("MLNETBACKPROP_FUZZ_FIRST"), out int f) ? f : 0; // to replay one case
        var clock = Stopwatch.StartNew();
        int trained = 0, refused = 0, run = 0;
        for (int c = first; c < first + cases && (cases > 150 || clock.Elapsed < TimeSpan.FromSeconds(30)); c++, run++)
        {
            var rng = new Random(c);
            try
            {
                if (RunCase(rng)) trained++;
            }
            catch (Exception e) when (Documented(e))
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message), $"case {c}: {e.GetType().Name} without a message");
                if (cases == 1) output.WriteLine($"case {c}: {e.GetType().Name}: {e.Message}");
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"case {c}: undocumented {e.GetType().FullName}: {e.Message}\n{e.StackTrace}");
            }
        }
        output.WriteLine($"{run} cases: {trained} trained and scored, {refused} refused with a documented exception");
        Assert.True(trained >= run / 5, $"only {trained} of {run} cases trained");
        Assert.True(refused >= run / 10, $"only {refused} of {run} cases were refused; the generator is not hostile enough");
    }

    private static bool RunCase(Random rng)
    {
        var ml = new MLContext(rng.Next());
        int size = rng.Next(1, 7), keyCount = rng.Next(1, 5), rows = rng.Next(6) == 0 ? rng.Next(0, 3) : rng.Next(5, 60);
        bool hostile = rng.Next(3) == 0;
        var list = new List<FuzzRow>();
        for (int r = 0; r < rows; r++)
        {
            var values = new float[size];
            for (int j = 0; j < size; j++)
                values[j] = (hostile ? rng.Next(40) : rng.Next(5, 40)) switch
                {
                    0 => float.NaN,
                    1 => float.NegativeInfinity,
                    2 => 3e38f,
                    3 => -1e20f,
                    < 15 => 0,
                    _ => (float)(rng.NextDouble() * 6 - 3),
                };
            VBuffer<float> features;
            if (rng.Next(2) == 0)
                features = new VBuffer<float>(size, values);
            else
            {
                var idx = Enumerable.Range(0, size).Where(j => values[j] != 0).ToArray();
                features = new VBuffer<float>(size, idx.Length, idx.Select(j => values[j]).ToArray(), idx);
            }
            list.Add(new FuzzRow
            {
                Features = features,
                LabelF = hostile && rng.Next(30) == 0 ? float.NaN : (float)(rng.NextDouble() * 100),
                LabelB = rng.Next(2) == 0,
                LabelK = (uint)(hostile && rng.Next(30) == 0 ? 0 : rng.Next(1, keyCount + 1)),
                LabelD = rng.NextDouble(),
                Weight = hostile && rng.Next(20) == 0 ? -1 : (float)rng.NextDouble() + 0.1f,
            });
        }
        var schema = SchemaDefinition.Create(typeof(FuzzRow));
        schema["Features"].ColumnType = rng.Next(12) == 0 ? new VectorDataViewType(NumberDataViewType.Single) : new VectorDataViewType(NumberDataViewType.Single, size);
        schema["LabelK"].ColumnType = new KeyDataViewType(typeof(uint), keyCount);
        var data = ml.Data.LoadFromEnumerable(list, schema);

        string[] labels = ["LabelF", "LabelB", "LabelK", "LabelK", "LabelB", "LabelD", "Missing"];
        var opts = new BackpropTrainerOptions
        {
            LabelColumnName = labels[rng.Next(labels.Length)],
            FeatureColumnName = rng.Next(25) == 0 ? "LabelF" : "Features",
            ExampleWeightColumnName = rng.Next(4) switch { 0 => "Weight", 1 when rng.Next(4) == 0 => "LabelD", _ => null },
            HiddenLayers = Enumerable.Range(0, rng.Next(0, 3)).Select(_ => rng.Next(1, 10)).ToArray(),
            Activation = (Activation)rng.Next(0, 5),
            Optimizer = rng.Next(5) == 0 ? null : (OptimizerKind)rng.Next(0, 4),
            LearningRate = rng.Next(4) == 0 ? Math.Pow(10, rng.Next(-4, 3)) : null,
            BatchSize = rng.Next(3) == 0 ? rng.Next(1, 40) : null,
            MaxEpochs = rng.Next(1, 6),
            EarlyStopping = rng.Next(3) switch { 0 => true, 1 => false, _ => null },
            SkipInvalidRows = rng.Next(2) == 0,
            DivergenceBackoff = rng.Next(2) == 0,
            NumberOfThreads = rng.Next(1, 3),
            L1Regularization = rng.Next(5) == 0 ? 0.01 : 0,
        };
        var model = ml.Backprop().Trainer(opts).Fit(data);
        var m = model.Model;
        for (int l = 0; l < m.LayerSizes.Count - 1; l++)
            Assert.All(m.GetWeights(l), w => Assert.True(float.IsFinite(w), "non-finite weight in a returned model"));
        // A NaN score is acceptable only for a row whose own features overflow float arithmetic (|x| > 1e18, or ±∞/NaN
        // that a skipping trainer never saw); a row of ordinary values must score a number.
        var extreme = list.Select(r => r.Features.DenseValues().Any(v => !float.IsFinite(v) || Math.Abs(v) > 1e18f)).ToArray();
        var scored = model.Transform(data);
        var score = scored.Schema["Score"];
        using var cursor = scored.GetRowCursor([score]);
        bool vector = score.Type is VectorDataViewType;
        var vectorGetter = vector ? cursor.GetGetter<VBuffer<float>>(score) : null;
        var scalarGetter = vector ? null : cursor.GetGetter<float>(score);
        var v = default(VBuffer<float>);
        float s = 0;
        for (int row = 0; cursor.MoveNext(); row++)
        {
            bool nan;
            if (vector) { vectorGetter!(ref v); nan = v.DenseValues().Any(float.IsNaN); }
            else { scalarGetter!(ref s); nan = float.IsNaN(s); }
            Assert.False(nan && !extreme[row],
                $"row {row} of ordinary values scored NaN: features [{string.Join(", ", list[row].Features.DenseValues())}], label {opts.LabelColumnName}, " +
                $"layers [{string.Join(", ", m.LayerSizes)}], {model.Options.Optimizer}, {model.Options.Activation}, skip {opts.SkipInvalidRows}, epochs {model.History.Epochs.Count}, " +
                $"last loss {model.History.Epochs.LastOrDefault()?.TrainingLoss}");
        }
        return true;
    }
}
