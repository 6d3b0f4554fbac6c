using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using MLNetBackprop.Core.Optimizers;
using Xunit.Abstractions;

namespace MLNetBackprop.Tests;

/// <summary>
/// Multi-output regression end to end: the evaluator against hand-computed values and against ML.NET's own
/// Regression.Evaluate on each output alone; cross-validation on ML.NET's folds; PerOutputRegression; Compare on a
/// two-target version of the bundled housing set (MedianHomeValue and NitricOxides from the other 12 columns).
/// </summary>
public sealed class MultiOutputRegressionTests(ITestOutputHelper output)
{
    private static readonly string[] Targets = ["MedianHomeValue", "NitricOxides"];

    public sealed class TwoOutputRow
    {
        [VectorType(2)]
        public float[] Label { get; set; } = [];

        [VectorType(2)]
        public float[] Score { get; set; } = [];
    }

    public sealed class ScalarRow
    {
        public float Label { get; set; }

        public float Score { get; set; }
    }

    private static IDataView TwoOutputs(MLContext ml, float[][] labels, float[][] scores) =>
        ml.Data.LoadFromEnumerable(labels.Select((l, i) => new TwoOutputRow { Label = l, Score = scores[i] }).ToList());

    /// <summary>ML.NET's Regression.Evaluate on slot <paramref name="k"/> alone, as scalar Label and Score columns.</summary>
    private static RegressionMetrics MLNetOnSlot(MLContext ml, IDataView scored, int k, string label = "Label")
    {
        var labels = scored.GetColumn<float[]>(label).ToArray();
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        var rows = labels.Select((l, i) => new ScalarRow { Label = l[k], Score = scores[i][k] }).ToList();
        return ml.Regression.Evaluate(ml.Data.LoadFromEnumerable(rows));
    }

    private static void AssertAgreesWithMLNet(MLContext ml, IDataView scored, MultiOutputRegressionMetrics m, string label = "Label")
    {
        for (int k = 0; k < m.OutputCount; k++)
        {
            var r = MLNetOnSlot(ml, scored, k, label);
            Assert.Equal(r.RSquared, m.PerOutputRSquared[k], 1e-6);
            Assert.Equal(r.RootMeanSquaredError, m.PerOutputRootMeanSquaredError[k], 1e-6 * Math.Max(1, r.RootMeanSquaredError));
            Assert.Equal(r.MeanAbsoluteError, m.PerOutputMeanAbsoluteError[k], 1e-6 * Math.Max(1, r.MeanAbsoluteError));
            Assert.Equal(r.MeanSquaredError, m.PerOutputMeanSquaredError[k], 1e-6 * Math.Max(1, r.MeanSquaredError));
        }
    }

    [Fact]
    public void Evaluate_MatchesHandComputedValues_AndMLNetPerOutput_SkippingNaNLabelsAndScoresPerOutput()
    {
        var ml = new MLContext(seed: 0);
        // Output 0: labels 1 2 3 4, scores 1.5 2 2 5. Output 1: labels 10 NaN 14 12, scores 11 0 NaN 12, so only rows 0 and 3 count.
        var data = TwoOutputs(ml,
            [[1, 10], [2, float.NaN], [3, 14], [4, 12]],
            [[1.5f, 11], [2, 0], [2, float.NaN], [5, 12]]);
        var m = ml.Backprop().EvaluateMultiOutputRegression(data);

        // Output 0: |e| = 0.5 0 1 1 → MAE 0.625, MSE 2.25/4 = 0.5625, RMSE 0.75; ȳ = 2.5, SS_tot = 5, R² = 1 − 2.25/5 = 0.55.
        // Output 1: |e| = 1 0 → MAE 0.5, MSE 0.5, RMSE √0.5; ȳ = 11, SS_tot = 2, R² = 1 − 1/2 = 0.5.
        Assert.Equal(2, m.OutputCount);
        Assert.Equal(["0", "1"], m.OutputNames);
        Assert.Equal([0.55, 0.5], m.PerOutputRSquared.Select(v => Math.Round(v, 12)));
        Assert.Equal([0.625, 0.5], m.PerOutputMeanAbsoluteError);
        Assert.Equal([0.5625, 0.5], m.PerOutputMeanSquaredError);
        Assert.Equal(0.75, m.PerOutputRootMeanSquaredError[0], 15);
        Assert.Equal(Math.Sqrt(0.5), m.PerOutputRootMeanSquaredError[1], 15);
        Assert.Equal([4L, 2L], m.PerOutputRowCount);
        Assert.Equal([0L, 1L], m.PerOutputNaNLabelCount);
        Assert.Equal([0L, 1L], m.PerOutputNaNScoreCount);
        // Uniform averages; the RMSE is the mean of the per-output RMSEs, as scikit-learn's uniform_average.
        Assert.Equal(0.525, m.RSquared, 12);
        Assert.Equal(0.5625, m.MeanAbsoluteError, 15);
        Assert.Equal(0.53125, m.MeanSquaredError, 15);
        Assert.Equal((0.75 + Math.Sqrt(0.5)) / 2, m.RootMeanSquaredError, 15);

        // ML.NET skips the same rows (NaN label, NaN score) and gives the same numbers output by output.
        AssertAgreesWithMLNet(ml, data, m);
    }

    [Fact]
    public void Evaluate_ConstantOutput_HasNaNRSquaredAsMLNet_AndTheAverageIsNaN()
    {
        var ml = new MLContext(seed: 0);
        var data = TwoOutputs(ml, [[3, 1], [3, 2], [3, 4]], [[2, 1], [3, 2], [5, 3]]);
        var m = ml.Backprop().EvaluateMultiOutputRegression(data);
        Assert.True(double.IsNaN(m.PerOutputRSquared[0]));
        Assert.True(double.IsNaN(MLNetOnSlot(ml, data, 0).RSquared));
        Assert.True(double.IsNaN(m.RSquared));
        // Output 1: ȳ = 7/3, SS_tot = 14/3, SS_res = 1 → R² = 1 − 3/14. The other metrics of the constant output stay defined.
        Assert.Equal(1 - 3.0 / 14, m.PerOutputRSquared[1], 12);
        Assert.Equal(1.0, m.PerOutputMeanAbsoluteError[0], 15);
        Assert.Equal(5.0 / 3, m.PerOutputMeanSquaredError[0], 12);
    }

    [Fact]
    public void Evaluate_BadInput_IsRejectedByName()
    {
        var ml = new MLContext(seed: 0);
        var rows = new[] { new { Label = new float[] { 1, 2 }, Score = new float[] { 1, 2, 3 } } };
        var schema = SchemaDefinition.Create(rows[0].GetType());
        schema["Label"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 2);
        schema["Score"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3);
        var mismatched = ml.Data.LoadFromEnumerable(rows, schema);
        var e = Assert.Throws<ArgumentException>(() => ml.Backprop().EvaluateMultiOutputRegression(mismatched));
        Assert.Contains("Column 'Score' (the score column) is Vector<Single, 3> but column 'Label' (the label column) is Vector<Single, 2>", e.Message);
        Assert.Equal("scoreColumnName", e.ParamName);

        var good = TwoOutputs(ml, [[1, 2]], [[1, 2]]);
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Backprop().EvaluateMultiOutputRegression(good, labelColumnName: "Targets"));
        Assert.Contains("Column 'Targets' (the label column) was not found", missing.Message);

        var unlabeled = TwoOutputs(ml, [[1, float.NaN], [2, float.NaN]], [[1, 2], [2, 2]]);
        e = Assert.Throws<ArgumentException>(() => ml.Backprop().EvaluateMultiOutputRegression(unlabeled));
        Assert.Contains("Output 1 ('1') of column 'Label' (the label column) has no row with both a label and a score (rows with a NaN label: 2", e.Message);

        var housing = Datasets.Housing(ml); // Features is a vector of 13, Label a Single: not a pair of the same shape
        e = Assert.Throws<ArgumentException>(() => ml.Backprop().EvaluateMultiOutputRegression(housing, scoreColumnName: "Features"));
        Assert.Contains("the score must have one value per label output", e.Message);
    }

    private static IEstimator<ITransformer> Featurize(MLContext ml) =>
        ml.Transforms.Concatenate("Label", Targets).Append(ml.Transforms.NormalizeMeanVariance("Features"));

    private static BackpropTrainerOptions Mlp(int seed) => new() { HiddenLayers = [32], MaxEpochs = 200, Seed = seed, Optimizer = OptimizerKind.Lbfgs };

    [Fact]
    public void OurMlp_OnHousingTwoTargets_EvaluatesAsMLNetDoesOnEachTargetAlone()
    {
        var ml = new MLContext(seed: 0);
        var split = ml.Data.TrainTestSplit(Datasets.HousingTwoTargets(ml), testFraction: 0.25, seed: 1);
        var model = Featurize(ml).Append(ml.Regression.Trainers.Backprop(Mlp(seed: 1))).Fit(split.TrainSet);
        var scored = model.Transform(split.TestSet);
        var m = ml.Backprop().EvaluateMultiOutputRegression(scored);

        Assert.Equal(Targets, m.OutputNames); // Concatenate of scalar columns names the slots after them
        AssertAgreesWithMLNet(ml, scored, m);
        output.WriteLine($"test R² {string.Join(", ", m.PerOutputRSquared.Select(v => v.ToString("F4")))}, average {m.RSquared:F4}; RMSE {string.Join(", ", m.PerOutputRootMeanSquaredError.Select(v => v.ToString("F4")))}");
        Assert.True(m.PerOutputRSquared.All(r => r > 0.7), $"R² {string.Join(", ", m.PerOutputRSquared)}");
    }

    [Fact]
    public void CrossValidate_UsesMLNetsFolds_AndPerOutputRegressionEqualsMLNetOnEachTargetAlone()
    {
        var mlA = new MLContext(seed: 0);
        var perOutput = mlA.Backprop().PerOutputRegression(label => Poisson(mlA, label));
        var cv = mlA.Backprop().CrossValidateMultiOutputRegression(Datasets.HousingTwoTargets(mlA), Featurize(mlA).Append(perOutput), numberOfFolds: 4, seed: 3);
        Assert.Equal(4, cv.Count);
        Assert.Equal([0, 1, 2, 3], cv.Select(f => f.Fold));
        Assert.Equal(506, cv.Sum(f => f.Metrics.PerOutputRowCount[0]));

        var mlB = new MLContext(seed: 0);
        var data = Datasets.HousingTwoTargets(mlB);
        // The same held-out rows, fold by fold, as ML.NET's own Regression.CrossValidate with the same seed.
        var mlnet = mlB.Regression.CrossValidate(data, mlB.Transforms.CopyColumns("Label", Targets[0]).Append(Poisson(mlB, "Label")), numberOfFolds: 4, seed: 3);
        for (int f = 0; f < 4; f++)
            Assert.Equal(mlnet[f].ScoredHoldOutSet.GetColumn<float>("Label"), cv[f].ScoredHoldOutSet.GetColumn<float[]>("Label").Select(l => l[0]));

        // Each output's metrics equal ML.NET's Regression.Evaluate of a one-target model fitted on the same fold by L-BFGS
        // Poisson (deterministic with one thread). A fresh trainer per fold: ML.NET's CrossValidate reuses one trainer
        // instance across folds, and its L-BFGS then differs from a fresh fit by ~1e-4 in R² from the second fold on.
        var folds = mlB.Data.CrossValidationSplit(data, numberOfFolds: 4, seed: 3);
        for (int k = 0; k < Targets.Length; k++)
        {
            for (int f = 0; f < 4; f++)
            {
                var model = mlB.Transforms.NormalizeMeanVariance("Features").Append(Poisson(mlB, Targets[k])).Fit(folds[f].TrainSet);
                var r = mlB.Regression.Evaluate(model.Transform(folds[f].TestSet), Targets[k]);
                var m = cv[f].Metrics;
                Assert.Equal(r.RSquared, m.PerOutputRSquared[k], 1e-6);
                Assert.Equal(r.RootMeanSquaredError, m.PerOutputRootMeanSquaredError[k], 1e-6 * r.RootMeanSquaredError);
                Assert.Equal(r.MeanAbsoluteError, m.PerOutputMeanAbsoluteError[k], 1e-6 * r.MeanAbsoluteError);
            }
        }
        // The scored hold-out set has the vector Score, and the evaluator agrees with ML.NET on its slots directly.
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 2), cv[0].ScoredHoldOutSet.Schema["Score"].Type);
        AssertAgreesWithMLNet(mlB, cv[0].ScoredHoldOutSet, cv[0].Metrics);
    }

    // One thread: L-BFGS's multi-threaded gradient sums in a varying order, and this test compares to ~1e-6.
    private static IEstimator<ITransformer> Poisson(MLContext ml, string label) =>
        ml.Regression.Trainers.LbfgsPoissonRegression(new LbfgsPoissonRegressionTrainer.Options { LabelColumnName = label, NumberOfThreads = 1 });

    [Fact]
    public void CrossValidate_RejectsAScalarScoreForAVectorLabelBeforeFitting()
    {
        var ml = new MLContext(seed: 0);
        var e = Assert.Throws<ArgumentException>(() => ml.Backprop().CrossValidateMultiOutputRegression(Datasets.HousingTwoTargets(ml),
            Featurize(ml).Append(ml.Regression.Trainers.Sdca())));
        Assert.Contains("wrap one in mlContext.Backprop().PerOutputRegression", e.Message);
    }

    [Fact]
    public void Compare_VectorLabel_ReportsAveragedAndPerOutputMetrics_ForOurMlpAndPerOutputBaselines()
    {
        var options = new ComparisonOptions { NumberOfFolds = 5, Seed = 0, ContinueOnError = true };
        var mlA = new MLContext(seed: 0);
        var result = mlA.Backprop().Compare(Datasets.HousingTwoTargets(mlA), Featurize(mlA), Candidates(mlA), options);

        Assert.Equal(BackpropTask.Regression, result.Task);
        Assert.True(result.IsMultiOutput);
        Assert.Equal(2, result.OutputCount);
        Assert.Equal(["RSquared", "RMSE", "MAE", "RSquared[MedianHomeValue]", "RSquared[NitricOxides]"], result.MetricNames);
        Assert.StartsWith("multi-output regression (2 outputs: MedianHomeValue, NitricOxides), 5-fold cross-validation (seed 0), 506 rows", result.Description);
        output.WriteLine(result.ToMarkdown());

        // Every evaluated row equals this library's CrossValidateMultiOutputRegression on the same folds.
        var mlB = new MLContext(seed: 0);
        var data = Datasets.HousingTwoTargets(mlB);
        var candidates = Candidates(mlB);
        for (int c = 0; c < 2; c++)
        {
            var cv = mlB.Backprop().CrossValidateMultiOutputRegression(data, Featurize(mlB).Append(candidates[c].Item2), numberOfFolds: 5, seed: 0);
            var row = result.Rows[c];
            Assert.Null(row.Error);
            Assert.Equal(cv.Select(f => f.Metrics.RSquared), row.Metric("RSquared")!.Values);
            Assert.Equal(cv.Select(f => f.Metrics.RootMeanSquaredError), row.Metric("RMSE")!.Values);
            Assert.Equal(cv.Select(f => f.Metrics.MeanAbsoluteError), row.Metric("MAE")!.Values);
            Assert.Equal(cv.Select(f => f.Metrics.PerOutputRSquared[1]), row.Metric("RSquared[NitricOxides]")!.Values);
            Assert.Equal(5, row.Models.Count);
        }

        // A bare ML.NET regressor cannot fit the vector label: its row says so and names the way out.
        var bare = result.Rows[2];
        Assert.NotNull(bare.Error);
        Assert.Contains("Candidate 'SDCA (bare)' cannot fit the vector label 'Label'", bare.Error!.Message);
        Assert.Contains("PerOutputRegression", bare.Error.Message);
        Assert.Equal("Backprop MLP", result.Best()!.Name);
        ComparisonTests.AssertRenderingsParseBack(result);
    }

    private static (string, IEstimator<ITransformer>)[] Candidates(MLContext ml) =>
    [
        ("Backprop MLP", ml.Regression.Trainers.Backprop(Mlp(seed: 2))),
        ("L-BFGS Poisson per output", ml.Backprop().PerOutputRegression(label => Poisson(ml, label))),
        ("SDCA (bare)", ml.Regression.Trainers.Sdca(new SdcaRegressionTrainer.Options { NumberOfThreads = 1 })),
    ];

    [Fact]
    public void PerOutputRegression_SavesAndLoadsAsAPlainMLNetModel_WithTheSameScores()
    {
        var ml = new MLContext(seed: 0);
        var data = Datasets.HousingTwoTargets(ml);
        var model = Featurize(ml).Append(ml.Backprop().PerOutputRegression(label => ml.Regression.Trainers.LbfgsPoissonRegression(labelColumnName: label)))
            .Fit(data);
        var before = model.Transform(data).GetColumn<float[]>("Score").ToArray();
        string folder = Path.Combine(Path.GetTempPath(), "mlnetbackprop-peroutput-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string file = Path.Combine(folder, "model.zip");
            ml.Model.Save(model, data.Schema, file);
            var loaded = ml.Model.Load(file, out _);
            var after = loaded.Transform(data).GetColumn<float[]>("Score").ToArray();
            Assert.Equal(before, after);
            // Scoring needs no label: the fitted per-output chain alone scores featurized rows whose label was dropped.
            var featurized = model.Take(model.Count() - 1).Aggregate(data, (view, t) => t.Transform(view));
            var unlabeled = ml.Transforms.DropColumns("Label", "MedianHomeValue", "NitricOxides").Fit(featurized).Transform(featurized);
            Assert.Equal(before, model.LastTransformer.Transform(unlabeled).GetColumn<float[]>("Score").ToArray());
            Assert.Equal(2, before[0].Length);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
