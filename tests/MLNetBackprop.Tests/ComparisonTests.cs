using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Tests;

/// <summary>
/// mlContext.Backprop().Compare on real bundled data: its metrics equal what ML.NET's own CrossValidate, TrainTestSplit
/// and Evaluate give with the same seed, and its Markdown and CSV renderings parse back to the same numbers.
/// </summary>
public sealed class ComparisonTests
{
    private static BackpropTrainerOptions Small(int seed) => new() { HiddenLayers = [16], MaxEpochs = 60, Seed = seed, Optimizer = OptimizerKind.Lbfgs };

    // A chain ending in a cache checkpoint: Compare appends each trainer with the chain's own Append, which keeps it.
    private static IEstimator<ITransformer> BreastCancerFeaturizer(MLContext ml) =>
        ml.Transforms.ReplaceMissingValues("Features").Append(ml.Transforms.NormalizeMeanVariance("Features")).AppendCacheCheckpoint(ml);

    private static (string, IEstimator<ITransformer>)[] BinaryCandidates(MLContext ml) =>
    [
        ("Backprop", ml.BinaryClassification.Trainers.Backprop(Small(seed: 1))),
        ("L-BFGS", ml.BinaryClassification.Trainers.LbfgsLogisticRegression()),
    ];

    private static (string, IEstimator<ITransformer>)[] RegressionCandidates(MLContext ml) =>
    [
        ("Backprop", ml.Regression.Trainers.Backprop(Small(seed: 2))),
        ("SDCA", ml.Regression.Trainers.Sdca(new SdcaRegressionTrainer.Options { NumberOfThreads = 1 })),
        ("L-BFGS Poisson", ml.Regression.Trainers.LbfgsPoissonRegression()),
    ];

    [Fact]
    public void BinaryCrossValidation_MetricsEqualMLNetCrossValidate()
    {
        var mlA = new MLContext(seed: 0);
        var result = mlA.Backprop().Compare(Datasets.BreastCancer(mlA), BreastCancerFeaturizer(mlA), BinaryCandidates(mlA),
            new ComparisonOptions { NumberOfFolds = 5, Seed = 7 });

        Assert.Equal(BackpropTask.BinaryClassification, result.Task);
        Assert.Equal(["AUC", "Accuracy", "F1", "AUPRC", "LogLoss"], result.MetricNames);
        Assert.Equal(5, result.FoldCount);
        Assert.Contains("5-fold cross-validation (seed 7), 699 rows", result.Description);

        var mlB = new MLContext(seed: 0);
        var data = Datasets.BreastCancer(mlB);
        var featurize = BreastCancerFeaturizer(mlB);
        var candidates = BinaryCandidates(mlB);
        for (int c = 0; c < candidates.Length; c++)
        {
            var cv = mlB.BinaryClassification.CrossValidate(data, featurize.Append(candidates[c].Item2), numberOfFolds: 5, seed: 7);
            var row = result.Rows[c];
            Assert.Equal(candidates[c].Item1, row.Name);
            AssertFolds(cv.Select(f => f.Metrics.AreaUnderRocCurve), row.Metric("AUC")!);
            AssertFolds(cv.Select(f => f.Metrics.Accuracy), row.Metric("Accuracy")!);
            AssertFolds(cv.Select(f => f.Metrics.F1Score), row.Metric("F1")!);
            AssertFolds(cv.Select(f => f.Metrics.AreaUnderPrecisionRecallCurve), row.Metric("AUPRC")!);
            AssertFolds(cv.Select(f => f.Metrics.LogLoss), row.Metric("LogLoss")!);
            Assert.Equal(5, row.FitTimes.Count);
            Assert.Equal(5, row.Models.Count);
            Assert.True(row.ScoringRowsPerSecond > 0);
            Assert.Null(row.Error);
        }
        Assert.True(result.Rows[0].Metric("AUC")!.Mean > 0.98, result.ToText());
        AssertRenderingsParseBack(result);
    }

    [Fact]
    public void RegressionCrossValidation_MetricsEqualMLNetCrossValidate()
    {
        var mlA = new MLContext(seed: 0);
        var result = mlA.Backprop().Compare(Datasets.Housing(mlA), mlA.Transforms.NormalizeMeanVariance("Features"), RegressionCandidates(mlA),
            new ComparisonOptions { NumberOfFolds = 4, Seed = 3 });

        Assert.Equal(BackpropTask.Regression, result.Task);
        Assert.Equal(["RSquared", "RMSE", "MAE"], result.MetricNames);

        var mlB = new MLContext(seed: 0);
        var data = Datasets.Housing(mlB);
        var featurize = mlB.Transforms.NormalizeMeanVariance("Features");
        var candidates = RegressionCandidates(mlB);
        for (int c = 0; c < candidates.Length; c++)
        {
            var cv = mlB.Regression.CrossValidate(data, featurize.Append(candidates[c].Item2), numberOfFolds: 4, seed: 3);
            var row = result.Rows[c];
            AssertFolds(cv.Select(f => f.Metrics.RSquared), row.Metric("RSquared")!);
            AssertFolds(cv.Select(f => f.Metrics.RootMeanSquaredError), row.Metric("RMSE")!);
            AssertFolds(cv.Select(f => f.Metrics.MeanAbsoluteError), row.Metric("MAE")!);
        }
        Assert.Equal("Backprop", result.Best()!.Name);
        Assert.Equal("Backprop", result.Best("RMSE")!.Name);
        AssertRenderingsParseBack(result);
    }

    [Fact]
    public void MulticlassTrainTestSplit_MetricsEqualMLNetTrainTestSplitAndEvaluate()
    {
        var options = new ComparisonOptions { Protocol = ComparisonProtocol.TrainTestSplit, TestFraction = 0.3, Seed = 5 };
        var mlA = new MLContext(seed: 0);
        var result = mlA.Backprop().Compare(Datasets.Iris(mlA), IrisFeaturizer(mlA), IrisCandidates(mlA), options);
        Assert.Equal(BackpropTask.MulticlassClassification, result.Task);
        Assert.Equal(1, result.FoldCount);
        Assert.Contains("train/test split 70/30 (seed 5)", result.Description);

        // Same order of calls on a fresh MLContext as inside Compare (SDCA's random stream depends on it).
        var mlB = new MLContext(seed: 0);
        var data = Datasets.Iris(mlB);
        var featurize = IrisFeaturizer(mlB);
        var candidates = IrisCandidates(mlB);
        var split = mlB.Data.TrainTestSplit(data, testFraction: 0.3, seed: 5);
        for (int c = 0; c < candidates.Length; c++)
        {
            var model = featurize.Append(candidates[c].Item2).Fit(split.TrainSet);
            var metrics = mlB.MulticlassClassification.Evaluate(model.Transform(split.TestSet));
            var row = result.Rows[c];
            AssertFolds([metrics.MicroAccuracy], row.Metric("MicroAccuracy")!);
            AssertFolds([metrics.MacroAccuracy], row.Metric("MacroAccuracy")!);
            AssertFolds([metrics.LogLoss], row.Metric("LogLoss")!);
            Assert.Null(row.Metric("MicroAccuracy")!.StandardDeviation);
        }
        AssertRenderingsParseBack(result);
    }

    [Fact]
    public void GivenTrainAndTestSets_MatchFitAndEvaluate_AndReportProgress()
    {
        var mlA = new MLContext(seed: 0);
        var (trainA, testA) = IrisHalves(mlA);
        var progress = new List<ComparisonProgress>();
        var result = mlA.Backprop().Compare(trainA, testA, IrisFeaturizer(mlA), IrisCandidates(mlA), new ComparisonOptions { Progress = progress.Add });
        Assert.Contains("given train/test sets (75/75 rows)", result.Description);

        var mlB = new MLContext(seed: 0);
        var (trainB, testB) = IrisHalves(mlB);
        var model = IrisFeaturizer(mlB).Append(IrisCandidates(mlB)[0].Item2).Fit(trainB);
        var metrics = mlB.MulticlassClassification.Evaluate(model.Transform(testB));
        Assert.Equal(metrics.MicroAccuracy, result.Rows[0].Metric("MicroAccuracy")!.Mean);

        // Per candidate: fit starting, fit finished (with its time), candidate done (with its row).
        Assert.Equal(6, progress.Count);
        Assert.Null(progress[0].FitTime);
        Assert.NotNull(progress[1].FitTime);
        Assert.Same(result.Rows[0], progress[2].Row);
        Assert.Equal("[2/2] SDCA: fold 1/1 fitted in", progress[4].ToString()[..30]);
    }

    [Fact]
    public void FailingCandidate_IsRecordedWhenContinuingOnError_AndThrowsOtherwise()
    {
        var ml = new MLContext(seed: 0);
        var data = Datasets.Housing(ml);
        (string, IEstimator<ITransformer>)[] candidates =
        [
            ("wrong column", ml.Regression.Trainers.Backprop(featureColumnName: "NoSuchColumn")),
            ("Backprop", ml.Regression.Trainers.Backprop(Small(seed: 0))),
        ];
        var options = new ComparisonOptions { NumberOfFolds = 2, Seed = 0, ContinueOnError = true };
        var result = ml.Backprop().Compare(data, ml.Transforms.NormalizeMeanVariance("Features"), candidates, options);
        Assert.NotNull(result.Rows[0].Error);
        Assert.Empty(result.Rows[0].Metrics);
        Assert.Null(result.Rows[1].Error);
        Assert.Same(result.Rows[1], result.Best());
        Assert.Contains("wrong column failed:", result.ToText());
        AssertRenderingsParseBack(result);

        options.ContinueOnError = false;
        Assert.ThrowsAny<ArgumentException>(() => ml.Backprop().Compare(data, ml.Transforms.NormalizeMeanVariance("Features"), candidates, options));
    }

    [Fact]
    public void BadArguments_AreRejectedWithClearMessages()
    {
        var ml = new MLContext(seed: 0);
        var data = Datasets.Iris(ml);
        var featurize = IrisFeaturizer(ml);
        var e = Assert.Throws<ArgumentException>(() => ml.Backprop().Compare(data, featurize, []));
        Assert.Contains("at least one candidate", e.Message);
        e = Assert.Throws<ArgumentException>(() => ml.Backprop().Compare(data, featurize,
            [("same", ml.MulticlassClassification.Trainers.Backprop()), ("same", ml.MulticlassClassification.Trainers.Backprop())]));
        Assert.Contains("more than once", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Backprop().Compare(data, featurize, IrisCandidates(ml), new ComparisonOptions { NumberOfFolds = 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Backprop().Compare(data, featurize, IrisCandidates(ml), new ComparisonOptions { TestFraction = 1 }));
        e = Assert.Throws<ArgumentException>(() => ml.Backprop().Compare(data, featurize, IrisCandidates(ml), new ComparisonOptions { LabelColumnName = "Nope" }));
        Assert.Contains("'Nope'", e.Message);
        // Without MapValueToKey the Single label means regression, which the key-label candidates cannot fit; the task is reported.
        e = Assert.Throws<ArgumentException>(() => ml.Backprop().Compare(data, ml.Transforms.Conversion.ConvertType("Label", outputKind: DataKind.Double),
            IrisCandidates(ml)));
        Assert.Contains("Double", e.Message);
    }

    private static IEstimator<ITransformer> IrisFeaturizer(MLContext ml) =>
        ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.NormalizeMeanVariance("Features"));

    private static (string, IEstimator<ITransformer>)[] IrisCandidates(MLContext ml) =>
    [
        ("Backprop", ml.MulticlassClassification.Trainers.Backprop(Small(seed: 3))),
        ("SDCA", ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(new SdcaMaximumEntropyMulticlassTrainer.Options { NumberOfThreads = 1, MaximumNumberOfIterations = 20 })),
    ];

    private static (IDataView Train, IDataView Test) IrisHalves(MLContext ml)
    {
        var rows = ml.Data.CreateEnumerable<Datasets.DenseRow>(Datasets.Iris(ml), reuseRowObject: false).ToList();
        var schema = SchemaDefinition.Create(typeof(Datasets.DenseRow));
        schema["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 4);
        return (ml.Data.LoadFromEnumerable(rows.Where((_, i) => i % 2 == 0).ToList(), schema),
            ml.Data.LoadFromEnumerable(rows.Where((_, i) => i % 2 == 1).ToList(), schema));
    }

    private static void AssertFolds(IEnumerable<double> expected, MetricSummary actual)
    {
        var e = expected.ToArray();
        Assert.Equal(e.Length, actual.Values.Count);
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - actual.Values[i]) <= 1e-12 * Math.Max(1, Math.Abs(e[i])),
                $"{actual.Name} fold {i}: ML.NET {e[i]:R}, Compare {actual.Values[i]:R}");
        Assert.Equal(e.Average(), actual.Mean, 12);
        if (e.Length > 1)
        {
            double mean = e.Average();
            Assert.Equal(Math.Sqrt(e.Sum(v => (v - mean) * (v - mean)) / (e.Length - 1)), actual.StandardDeviation!.Value, 12);
        }
    }

    /// <summary>Markdown cells parse back to the values rounded as printed; CSV cells parse back exactly.</summary>
    internal static void AssertRenderingsParseBack(ComparisonResult result)
    {
        var inv = CultureInfo.InvariantCulture;

        var md = result.ToMarkdown(decimals: 4).TrimEnd('\n').Split('\n');
        Assert.Equal(result.Rows.Count + 2, md.Length);
        var header = Cells(md[0]);
        Assert.Equal(["Trainer", .. result.MetricNames, "Fit time (s)", "Scoring (rows/s)"], header);
        for (int r = 0; r < result.Rows.Count; r++)
        {
            var row = result.Rows[r];
            var cells = Cells(md[r + 2]);
            Assert.Equal(row.Name, cells[0]);
            for (int m = 0; m < result.MetricNames.Count; m++)
            {
                var summary = row.Metric(result.MetricNames[m]);
                if (summary is null)
                {
                    Assert.True(cells[m + 1] is "—" or "failed", cells[m + 1]);
                    continue;
                }
                var parts = cells[m + 1].Split(" ± ");
                Assert.Equal(Math.Round(summary.Mean, 4), double.Parse(parts[0], inv), 9);
                if (summary.StandardDeviation is { } sd) Assert.Equal(Math.Round(sd, 4), double.Parse(parts[1], inv), 9);
                else Assert.Single(parts);
            }
            if (row.Error is null)
            {
                Assert.Equal(Math.Round(row.FitSeconds!.Mean, 3), double.Parse(cells[^2].Split(" ± ")[0], inv), 9);
                Assert.Equal(Math.Round(row.ScoringRowsPerSecond), double.Parse(cells[^1], NumberStyles.Number, inv), 9);
            }
        }

        var csv = result.ToCsv().TrimEnd('\n').Split('\n');
        Assert.Equal(result.Rows.Count + 1, csv.Length);
        var columns = csv[0].Split(',');
        Assert.Equal("Trainer", columns[0]);
        for (int r = 0; r < result.Rows.Count; r++)
        {
            var row = result.Rows[r];
            var cells = row.Error is null ? csv[r + 1].Split(',') : csv[r + 1][..csv[r + 1].IndexOf(",\"", StringComparison.Ordinal)].Split(',');
            Assert.Equal(row.Name, cells[0]);
            foreach (var name in result.MetricNames)
            {
                var summary = row.Metric(name);
                string mean = cells[Array.IndexOf(columns, name)], sd = cells[Array.IndexOf(columns, name + "_sd")];
                if (summary is null)
                {
                    Assert.Equal("", mean);
                    continue;
                }
                Assert.Equal(summary.Mean, double.Parse(mean, inv));
                if (summary.StandardDeviation is { } s) Assert.Equal(s, double.Parse(sd, inv));
                else Assert.Equal("", sd);
            }
            if (row.Error is null)
            {
                Assert.Equal(row.FitSeconds!.Mean, double.Parse(cells[Array.IndexOf(columns, "FitSeconds")], inv));
                Assert.Equal(row.ScoringRowsPerSecond, double.Parse(cells[Array.IndexOf(columns, "ScoringRowsPerSecond")], inv));
                Assert.Equal(row.FitTimes.Count, int.Parse(cells[Array.IndexOf(columns, "Folds")], inv));
            }
        }

        var text = result.ToText();
        Assert.StartsWith(result.Description + "\n", text);
        foreach (var row in result.Rows) Assert.Contains(row.Name, text);
    }

    private static string[] Cells(string markdownLine) =>
        markdownLine.Trim().Trim('|').Split(" | ").Select(c => c.Trim()).ToArray();
}
