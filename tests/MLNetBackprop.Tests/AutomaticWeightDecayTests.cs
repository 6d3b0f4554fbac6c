using Microsoft.ML;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Tests;

/// <summary>The default λ is chosen from the data, reported, reproducible, and saved with the model.</summary>
public sealed class AutomaticWeightDecayTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetbackprop-l2-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static (MLContext Ml, IDataView Data) Housing(int seed = 1)
    {
        var ml = new MLContext(seed);
        var data = ml.Transforms.NormalizeMeanVariance("Features").Fit(Datasets.Housing(ml)) is var n
            ? n.Transform(Datasets.Housing(ml)) : null!;
        return (ml, ml.Data.Cache(data));
    }

    [Fact]
    public void TheDefaultChoosesLambdaByCrossValidation_ReportsIt_AndSavesIt()
    {
        var (ml, data) = Housing();
        var messages = new List<string>();
        ml.Log += (_, e) => { lock (messages) messages.Add(e.Message); };
        var model = ml.Regression.Trainers.Backprop(hiddenLayers: [16], maxEpochs: 60).Fit(data);

        var sel = model.History.WeightDecaySelection;
        Assert.NotNull(sel);
        Assert.Equal(3, sel.Folds);
        Assert.False(sel.AveragedFoldModels);
        Assert.Equal([1, 0.1, 0.01, 0.001], sel.Candidates.Select(c => c.L2Regularization));
        Assert.All(sel.Candidates, c => Assert.True(double.IsFinite(c.ValidationLoss) && c.ValidationLoss > 0));
        Assert.Equal(sel.Candidates.MinBy(c => c.ValidationLoss)!.L2Regularization, sel.ChosenL2Regularization);
        // Housing's signal is strong and non-linear: λ = 1 (a nearly constant network) must lose clearly.
        Assert.True(sel.Candidates[0].ValidationLoss > 1.5 * sel.Candidates.Min(c => c.ValidationLoss));
        Assert.Null(model.Options.L2Regularization); // the options say what the user asked: automatic
        Assert.Equal([13, 16, 1], model.Model.LayerSizes);
        Assert.Contains(messages, m => m.Contains("weight decay chosen by 3-fold cross-validation: λ = ", StringComparison.Ordinal));

        string path = Path.Combine(_folder, "m.zip");
        ml.Backprop().SaveModel(model, data.Schema, path);
        var back = ml.Backprop().LoadModel(path, out _);
        var loaded = back as BackpropTransformer ?? ((IEnumerable<ITransformer>)back).OfType<BackpropTransformer>().Single();
        Assert.Equal(sel.ChosenL2Regularization, loaded.History.WeightDecaySelection!.ChosenL2Regularization);
        Assert.Equal(sel.Candidates, loaded.History.WeightDecaySelection.Candidates);
    }

    [Fact]
    public void TheSameSeedGivesTheSameModel_AFixedLambdaOrAValidationSetSkipsTheSearch()
    {
        var (ml, data) = Housing(5);
        var a = new MLContext(5).Regression.Trainers.Backprop(hiddenLayers: [8], maxEpochs: 30).Fit(data);
        var b = new MLContext(5).Regression.Trainers.Backprop(hiddenLayers: [8], maxEpochs: 30).Fit(data);
        Assert.Equal(a.Model.CloneNetwork().Parameters.ToArray(), b.Model.CloneNetwork().Parameters.ToArray());

        var fixedL2 = ml.Regression.Trainers.Backprop(new BackpropTrainerOptions { HiddenLayers = [8], MaxEpochs = 30, L2Regularization = 0.01 }).Fit(data);
        Assert.Null(fixedL2.History.WeightDecaySelection);
        var split = ml.Data.TrainTestSplit(data, 0.2, seed: 1);
        var withValidation = ml.Regression.Trainers.Backprop(hiddenLayers: [8], maxEpochs: 30).Fit(split.TrainSet, split.TestSet);
        Assert.Null(withValidation.History.WeightDecaySelection);
        var large = ml.Regression.Trainers.Backprop(new BackpropTrainerOptions { HiddenLayers = [8], MaxEpochs = 30, WeightDecaySearchMaxRows = 100 }).Fit(data);
        Assert.Null(large.History.WeightDecaySelection);
    }

    [Fact]
    public void TheTextbookPresetIsTheSeedsMethod()
    {
        var o = BackpropTrainerOptions.Textbook();
        Assert.Equal((Activation.Sigmoid, Activation.Sigmoid, LossFunction.SquaredError, OptimizerKind.GradientDescent),
            (o.Activation, o.OutputActivation, o.Loss, o.Optimizer));
        Assert.Equal(1e-4, o.L2Regularization);
        var ml = new MLContext(2);
        var data = ml.Transforms.NormalizeMinMax("Features").Fit(Datasets.BreastCancer(ml)).Transform(Datasets.BreastCancer(ml));
        data = ml.Transforms.ReplaceMissingValues("Features").Fit(data).Transform(data);
        o.HiddenLayers = [4];
        o.MaxEpochs = 20;
        var model = ml.BinaryClassification.Trainers.Backprop(o).Fit(data);
        Assert.Null(model.History.WeightDecaySelection);
        Assert.All(model.History.Epochs, e => Assert.Equal(0.5, e.LearningRate));
        Assert.Equal([Activation.Sigmoid, Activation.Sigmoid], model.Model.Activations);
    }

    [Theory]
    [InlineData("WeightDecayFolds")]
    [InlineData("WeightDecayCandidates")]
    [InlineData("WeightDecaySearchMaxRows")]
    public void InvalidSearchOptionsAreRefusedByName(string option)
    {
        var o = new BackpropTrainerOptions();
        switch (option)
        {
            case "WeightDecayFolds": o.WeightDecayFolds = 1; break;
            case "WeightDecayCandidates": o.WeightDecayCandidates = [0.1, double.NaN]; break;
            default: o.WeightDecaySearchMaxRows = -1; break;
        }
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext().Regression.Trainers.Backprop(o));
        Assert.Equal(option, e.ParamName);
        Assert.Contains(option, e.Message);
    }
}
