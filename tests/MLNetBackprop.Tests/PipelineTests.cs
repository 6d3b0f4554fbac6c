using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop.Tests;

/// <summary>End-to-end behaviour inside ML.NET for each task: Evaluate, CrossValidate, TrainTestSplit, prediction engines, PFI.</summary>
public sealed class PipelineTests
{
    public sealed class BinaryInput
    {
        public bool Label { get; set; }

        [VectorType(9)]
        public float[] Features { get; set; } = [];
    }

    public sealed class BinaryOutput
    {
        public float Score { get; set; }
        public float Probability { get; set; }
        public bool PredictedLabel { get; set; }
    }

    public sealed class IrisInput
    {
        public float Label { get; set; }

        [VectorType(4)]
        public float[] Features { get; set; } = [];
    }

    public sealed class HousingInput
    {
        public float Label { get; set; }

        [VectorType(13)]
        public float[] Features { get; set; } = [];
    }

    public sealed class MulticlassOutput
    {
        public float[] Score { get; set; } = [];
        public float PredictedLabelValue { get; set; }
    }

    public sealed class RegressionOutput
    {
        public float Score { get; set; }
    }

    [Fact]
    public void BinaryClassification_WorksWithEvaluateCrossValidateSplitPredictionEngineAndPfi()
    {
        var ml = new MLContext(seed: 1);
        var data = Datasets.BreastCancer(ml);
        var split = ml.Data.TrainTestSplit(data, testFraction: 0.3, seed: 1);
        var pipeline = ml.Transforms.ReplaceMissingValues("Features")
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(ml.BinaryClassification.Trainers.Backprop(hiddenLayers: [16]));
        var model = pipeline.Fit(split.TrainSet);
        var scored = model.Transform(split.TestSet);

        Assert.Equal(NumberDataViewType.Single, scored.Schema["Score"].Type);
        Assert.Equal(NumberDataViewType.Single, scored.Schema["Probability"].Type);
        Assert.Equal(BooleanDataViewType.Instance, scored.Schema["PredictedLabel"].Type);

        var metrics = ml.BinaryClassification.Evaluate(scored);
        Assert.True(metrics.AreaUnderRocCurve > 0.98, $"AUC {metrics.AreaUnderRocCurve}");
        Assert.True(metrics.Accuracy > 0.93, $"accuracy {metrics.Accuracy}");

        var cv = ml.BinaryClassification.CrossValidate(data, pipeline, numberOfFolds: 3, seed: 1);
        Assert.Equal(3, cv.Count);
        Assert.All(cv, f => Assert.True(f.Metrics.AreaUnderRocCurve > 0.97));

        // The prediction engine gives exactly what Transform gives, and the three columns agree with each other.
        var fromTransform = ml.Data.CreateEnumerable<BinaryOutput>(scored, reuseRowObject: false).ToList();
        var inputs = ml.Data.CreateEnumerable<BinaryInput>(
            ml.Transforms.ReplaceMissingValues("Features").Fit(split.TestSet).Transform(split.TestSet), reuseRowObject: false).ToList();
        var engine = ml.Model.CreatePredictionEngine<BinaryInput, BinaryOutput>(model);
        for (int i = 0; i < inputs.Count; i++)
        {
            var p = engine.Predict(inputs[i]);
            Assert.Equal(fromTransform[i].Score, p.Score);
            Assert.Equal(fromTransform[i].Probability, p.Probability);
            Assert.Equal(fromTransform[i].PredictedLabel, p.PredictedLabel);
            Assert.Equal(1 / (1 + Math.Exp(-p.Score)), p.Probability, 1e-4);
            Assert.Equal(p.Score > 0, p.PredictedLabel);
        }

        var trainer = model.LastTransformer;
        var prepared = model.Take(2).Aggregate(split.TestSet, (d, t) => t.Transform(d));
        var pfi = ml.BinaryClassification.PermutationFeatureImportance(trainer, prepared, permutationCount: 1);
        Assert.Equal(9, pfi.Length);
        Assert.Contains(pfi, m => m.AreaUnderRocCurve.Mean < -0.001);
    }

    [Fact]
    public void MulticlassClassification_ScoresWithSlotNamesAndMapsPredictedLabelBackToValues()
    {
        var ml = new MLContext(seed: 1);
        var data = Datasets.Iris(ml);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(ml.MulticlassClassification.Trainers.Backprop())
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"));
        var split = ml.Data.TrainTestSplit(data, testFraction: 0.3, seed: 1);
        var model = pipeline.Fit(split.TrainSet);
        var scored = model.Transform(split.TestSet);

        var score = scored.Schema["Score"];
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 3), score.Type);
        var slotNames = default(VBuffer<ReadOnlyMemory<char>>);
        score.GetSlotNames(ref slotNames);
        Assert.Equal(["0", "1", "2"], slotNames.DenseValues().Select(s => s.ToString()));
        Assert.Equal(new KeyDataViewType(typeof(uint), 3), scored.Schema["PredictedLabel"].Type);

        var metrics = ml.MulticlassClassification.Evaluate(scored);
        Assert.True(metrics.MicroAccuracy > 0.9, $"micro-accuracy {metrics.MicroAccuracy}");

        var rows = ml.Data.CreateEnumerable<MulticlassOutput>(scored, reuseRowObject: false).ToList();
        var labels = split.TestSet.GetColumn<float>("Label").ToList();
        Assert.All(rows, r => Assert.Equal(1, r.Score.Sum(), 1e-4));
        Assert.True(rows.Zip(labels).Count(p => p.First.PredictedLabelValue == p.Second) > 0.9 * rows.Count);

        var engine = ml.Model.CreatePredictionEngine<IrisInput, MulticlassOutput>(model);
        var inputs = ml.Data.CreateEnumerable<IrisInput>(split.TestSet, reuseRowObject: false).ToList();
        for (int i = 0; i < inputs.Count; i++)
        {
            var p = engine.Predict(inputs[i]);
            Assert.Equal(rows[i].Score, p.Score);
            Assert.Equal(rows[i].PredictedLabelValue, p.PredictedLabelValue);
        }

        var cv = ml.MulticlassClassification.CrossValidate(data, pipeline, numberOfFolds: 3, seed: 1);
        Assert.All(cv, f => Assert.True(f.Metrics.MicroAccuracy > 0.85));
    }

    [Fact]
    public void Regression_PredictsInOriginalUnitsAndSupportsPredictionEngineCrossValidationAndPfi()
    {
        var ml = new MLContext(seed: 1);
        var data = Datasets.Housing(ml);
        var split = ml.Data.TrainTestSplit(data, testFraction: 0.2, seed: 1);
        var pipeline = ml.Transforms.NormalizeMeanVariance("Features").Append(ml.Regression.Trainers.Backprop(hiddenLayers: [32]));
        var model = pipeline.Fit(split.TrainSet);
        var scored = model.Transform(split.TestSet);
        Assert.Equal(NumberDataViewType.Single, scored.Schema["Score"].Type);
        var metrics = ml.Regression.Evaluate(scored);
        Assert.True(metrics.RSquared > 0.7, $"R² {metrics.RSquared}");

        var model1 = model.LastTransformer.Model;
        Assert.Equal(BackpropTask.Regression, model1.Task);
        Assert.InRange(model1.TargetMean[0], 20, 25);   // median home values in $1000s
        Assert.InRange(model1.TargetScale[0], 7, 11);
        Assert.Equal([13, 32, 1], model1.LayerSizes);
        Assert.Equal(32 * 13, model1.GetWeights(0).Length);
        Assert.Equal(32, model1.GetBiases(0).Length);
        Assert.NotEmpty(model.LastTransformer.History.Epochs);

        var scores = scored.GetColumn<float>("Score").ToList();
        var engine = ml.Model.CreatePredictionEngine<HousingInput, RegressionOutput>(model);
        var inputs = ml.Data.CreateEnumerable<HousingInput>(split.TestSet, reuseRowObject: false).ToList();
        for (int i = 0; i < inputs.Count; i++) Assert.Equal(scores[i], engine.Predict(inputs[i]).Score);

        var cv = ml.Regression.CrossValidate(data, pipeline, numberOfFolds: 3, seed: 1);
        Assert.All(cv, f => Assert.True(f.Metrics.RSquared > 0.6));

        var normalized = model.First().Transform(split.TestSet);
        var pfi = ml.Regression.PermutationFeatureImportance(model.LastTransformer, normalized, permutationCount: 1);
        Assert.Equal(13, pfi.Length);
        Assert.True(pfi.Max(m => m.RootMeanSquaredError.Mean) > 0.5);
    }

    public sealed class MultiOutputRow
    {
        [VectorType(2)]
        public float[] Label { get; set; } = [];

        [VectorType(3)]
        public float[] Features { get; set; } = [];
    }

    [Fact]
    public void VectorLabel_TrainsMultiOutputRegressionWithVectorScore()
    {
        var rng = new Random(3);
        var rows = Enumerable.Range(0, 400).Select(_ =>
        {
            var x = new[] { (float)rng.NextDouble() * 2 - 1, (float)rng.NextDouble() * 2 - 1, (float)rng.NextDouble() * 2 - 1 };
            return new MultiOutputRow { Features = x, Label = [100 + 50 * x[0] - 20 * x[1], x[0] * x[2]] };
        }).ToList();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.Backprop().Trainer(hiddenLayers: [32]).Fit(data);
        Assert.Equal(BackpropTask.Regression, model.Task);
        Assert.True(model.Model.VectorOutput);
        var scored = model.Transform(data);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 2), scored.Schema["Score"].Type);
        var scores = scored.GetColumn<float[]>("Score").ToList();
        for (int k = 0; k < 2; k++)
        {
            double mean = rows.Average(r => r.Label[k]);
            double ssTot = rows.Sum(r => Math.Pow(r.Label[k] - mean, 2));
            double ssRes = rows.Select((r, i) => Math.Pow(r.Label[k] - scores[i][k], 2)).Sum();
            Assert.True(1 - ssRes / ssTot > 0.95, $"output {k}: R² {1 - ssRes / ssTot}");
        }
    }

    [Fact]
    public void GetOutputSchema_OfThePipelineListsTheOutputColumnsForEachTask()
    {
        var ml = new MLContext(seed: 1);
        var binary = Datasets.BreastCancer(ml);
        var shape = ml.Transforms.ReplaceMissingValues("Features").Append(ml.Backprop().Trainer())
            .GetOutputSchema(SchemaShapes.FromSchema(binary.Schema));
        Assert.Contains(shape, c => c.Name == "Probability" && c.ItemType == NumberDataViewType.Single);
        Assert.Contains(shape, c => c.Name == "PredictedLabel" && c.ItemType == BooleanDataViewType.Instance);

        var iris = Datasets.Iris(ml);
        var shape2 = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Backprop().Trainer())
            .GetOutputSchema(SchemaShapes.FromSchema(iris.Schema));
        var predicted = shape2.Single(c => c.Name == "PredictedLabel");
        Assert.True(predicted.IsKey);
        Assert.Contains(predicted.Annotations, a => a.Name == "KeyValues");
        Assert.Contains(shape2.Single(c => c.Name == "Score").Annotations, a => a.Name == "SlotNames");
    }

    [Fact]
    public void Transformer_ScoresFromManyThreadsAtOnceWithTheSameResults()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(ml.Transforms.NormalizeMeanVariance("Features").Fit(Datasets.Housing(ml)).Transform(Datasets.Housing(ml)));
        var model = ml.Regression.Trainers.Backprop(hiddenLayers: [16], maxEpochs: 20).Fit(data);
        var scored = model.Transform(data);
        var serial = scored.GetColumn<float>("Score").ToArray();
        var results = new float[8][];
        Parallel.For(0, 8, t =>
        {
            var list = new List<float>();
            using var cursor = scored.GetRowCursor(scored.Schema.Where(c => c.Name == "Score"));
            var getter = cursor.GetGetter<float>(scored.Schema["Score"]);
            float v = 0;
            while (cursor.MoveNext()) { getter(ref v); list.Add(v); }
            results[t] = list.ToArray();
        });
        Assert.All(results, r => Assert.Equal(serial, r));
    }
}
