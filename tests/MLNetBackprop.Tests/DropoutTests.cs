using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core.Optimizers;
using Xunit.Abstractions;

namespace MLNetBackprop.Tests;

/// <summary>Dropout through the trainer: a smaller train–test gap on a small noisy set, and no effect at scoring.</summary>
public sealed class DropoutTests(ITestOutputHelper output)
{
    /// <summary>
    /// birthwt as regression (189 rows, 10 features, noise far larger than the signal), a wide network with no weight
    /// decay and no early stopping, trained long enough to fit the noise: dropout 0.5 narrows the gap between training
    /// and held-out R².
    /// </summary>
    [Fact]
    public void DropoutNarrowsTheTrainTestGapOfAnOverfittingNetwork()
    {
        var ml = new MLContext(seed: 1);
        var (raw, featurize, _, _) = DefaultsFloorTests.Birthwt(ml, "bwt");
        var data = ml.Data.Cache(featurize.Fit(raw).Transform(raw));
        var split = ml.Data.TrainTestSplit(data, 0.3, seed: 2);

        (double Train, double Test) Fit(double dropout)
        {
            var model = ml.Regression.Trainers.Backprop(new BackpropTrainerOptions
            {
                HiddenLayers = [256], Dropout = dropout, L2Regularization = 0, Optimizer = OptimizerKind.Adam, LearningRate = 0.003,
                EarlyStopping = false, MaxEpochs = 300, Tolerance = 0, Seed = 4,
            }).Fit(split.TrainSet);
            double train = ml.Regression.Evaluate(model.Transform(split.TrainSet)).RSquared;
            double test = ml.Regression.Evaluate(model.Transform(split.TestSet)).RSquared;
            output.WriteLine($"dropout {dropout}: train R² {train:F4}, test R² {test:F4}, gap {train - test:F4}");
            return (train, test);
        }
        var plain = Fit(0);
        var dropped = Fit(0.5);
        Assert.True(plain.Train - plain.Test > 0.05, $"the network without dropout should overfit: gap {plain.Train - plain.Test:F4}");
        Assert.True(dropped.Train - dropped.Test < 0.6 * (plain.Train - plain.Test),
            $"gap with dropout {dropped.Train - dropped.Test:F4} against {plain.Train - plain.Test:F4} without");
    }

    [Fact]
    public void DropoutPicksAFirstOrderOptimizer_AndScoringIsDeterministic()
    {
        var ml = new MLContext(seed: 3);
        var data = ml.Data.Cache(ml.Transforms.NormalizeMeanVariance("Features").Fit(Datasets.Housing(ml)).Transform(Datasets.Housing(ml)));
        var model = ml.Regression.Trainers.Backprop(new BackpropTrainerOptions { HiddenLayers = [8], Dropout = 0.2, MaxEpochs = 5 }).Fit(data);
        Assert.Equal(OptimizerKind.Adam, model.Options.Optimizer);
        Assert.Null(model.History.WeightDecaySelection);
        var a = model.Transform(data).GetColumn<float>("Score").ToArray();
        var b = model.Transform(data).GetColumn<float>("Score").ToArray();
        Assert.Equal(a, b); // no mask at scoring
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.Regression.Trainers.Backprop(new BackpropTrainerOptions { Dropout = 0.2, Optimizer = OptimizerKind.Lbfgs }));
        Assert.Equal("Dropout", e.ParamName);
    }
}
