using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit.Abstractions;

namespace MLNetBackprop.Tests;

/// <summary>Class weights (explicit, and "balanced" as scikit-learn and Keras define it) for imbalanced data.</summary>
public sealed class ClassWeightTests(ITestOutputHelper output)
{
    /// <summary>
    /// Shuttle (UCI Statlog, 58,000 rows, 7 classes, 78 % one class, two classes of 10 and 13 rows): balanced class weights
    /// raise macro-accuracy (the mean of the per-class recalls) on held-out rows, the measure where the rare classes count.
    /// </summary>
    [Fact]
    public void BalancedClassWeightsRaiseMacroAccuracyOnShuttle()
    {
        var ml = new MLContext(seed: 0);
        var columns = Enumerable.Range(0, 9).Select(i => new TextLoader.Column($"V{i + 1}", DataKind.Single, i))
            .Append(new TextLoader.Column("Class", DataKind.String, 9)).ToArray();
        var data = ml.Data.LoadFromTextFile(Path.Combine(AppContext.BaseDirectory, "data", "panel", "Shuttle.csv"), columns,
            separatorChar: ',', hasHeader: true, allowQuoting: true);
        var split = ml.Data.TrainTestSplit(data, 0.2, seed: 1);
        var featurize = ml.Transforms.Conversion.MapValueToKey("Label", "Class", keyData: ml.Transforms.SelectColumns("Class").Fit(data).Transform(data))
            .Append(ml.Transforms.Concatenate("Features", columns.Take(9).Select(c => c.Name).ToArray()))
            .Append(ml.Transforms.NormalizeMeanVariance("Features"));
        var f = featurize.Fit(split.TrainSet);
        var train = ml.Data.Cache(f.Transform(split.TrainSet));
        var test = f.Transform(split.TestSet);

        double Macro(bool balance)
        {
            var model = ml.MulticlassClassification.Trainers.Backprop(new BackpropTrainerOptions { BalanceClasses = balance, Seed = 3 }).Fit(train);
            var m = ml.MulticlassClassification.Evaluate(model.Transform(test));
            output.WriteLine($"BalanceClasses = {balance}: macro-accuracy {m.MacroAccuracy:F4}, micro {m.MicroAccuracy:F4}");
            return m.MacroAccuracy;
        }
        double plain = Macro(false), balanced = Macro(true);
        Assert.True(balanced > plain + 0.02, $"balanced macro-accuracy {balanced:F4} against {plain:F4} without");
    }

    [Fact]
    public void ExplicitWeightsComposeWithExampleWeights_AndBadOnesAreNamed()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.NormalizeMeanVariance("Features").Fit(Datasets.BreastCancer(ml)).Transform(Datasets.BreastCancer(ml));
        data = ml.Data.Cache(ml.Transforms.ReplaceMissingValues("Features").Fit(data).Transform(data));
        var o = new BackpropTrainerOptions { HiddenLayers = [4], L2Regularization = 1e-3, MaxEpochs = 40, Seed = 2 };

        // Weight 0 on the negative class: the network only ever sees positives, so it calls (almost) everything positive.
        var onlyPositives = o.Clone();
        onlyPositives.ClassWeights = [0, 1];
        var predicted = ml.BinaryClassification.Trainers.Backprop(onlyPositives).Fit(data).Transform(data).GetColumn<bool>("PredictedLabel").ToArray();
        Assert.True(predicted.Count(p => p) > 0.95 * predicted.Length, $"{predicted.Count(p => p)} of {predicted.Length} predicted positive");

        // Class weights [2, 2] are the same as doubling every example weight: the same model, bit for bit in its scores
        // up to the scale the mean loss divides out.
        var doubled = o.Clone();
        doubled.ClassWeights = [2, 2];
        var a = ml.BinaryClassification.Trainers.Backprop(doubled).Fit(data).Transform(data).GetColumn<float>("Score").ToArray();
        var b = ml.BinaryClassification.Trainers.Backprop(o).Fit(data).Transform(data).GetColumn<float>("Score").ToArray();
        Assert.Equal(b, a, (x, y) => Math.Abs(x - y) < 1e-4f);

        var wrongLength = o.Clone();
        wrongLength.ClassWeights = [1, 1, 1];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.BinaryClassification.Trainers.Backprop(wrongLength).Fit(data));
        Assert.Equal("ClassWeights", e.ParamName);
        var negative = o.Clone();
        negative.ClassWeights = [1, -1];
        Assert.Equal("ClassWeights", Assert.Throws<ArgumentOutOfRangeException>(() => ml.BinaryClassification.Trainers.Backprop(negative)).ParamName);
        var regression = new BackpropTrainerOptions { BalanceClasses = true };
        Assert.Equal("BalanceClasses", Assert.Throws<ArgumentException>(() =>
            ml.Regression.Trainers.Backprop(regression).Fit(ml.Data.Cache(Datasets.Housing(ml)))).ParamName);
    }
}
