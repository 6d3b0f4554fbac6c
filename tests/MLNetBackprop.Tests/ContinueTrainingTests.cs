using Microsoft.ML;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Tests;

/// <summary>Warm start (<c>Fit(data, initialModel)</c>) and <c>ContinueTraining</c> (issue #16 item 1).</summary>
public sealed class ContinueTrainingTests
{
    /// <summary>Housing (506 rows, 13 features), normalized to zero mean and unit variance.</summary>
    private static IDataView Housing(MLContext ml)
    {
        var raw = Datasets.Housing(ml);
        return ml.Transforms.NormalizeMeanVariance("Features").Fit(raw).Transform(raw);
    }

    private static BackpropTrainerOptions Options(OptimizerKind optimizer, int epochs, double dropout = 0) => new()
    {
        HiddenLayers = [16],
        Optimizer = optimizer,
        MaxEpochs = epochs,
        EarlyStopping = false,
        Dropout = dropout,
        Nesterov = optimizer == OptimizerKind.Sgd,
        LearningRate = optimizer == OptimizerKind.Sgd ? 0.01 : null,
        Seed = 7,
        NumberOfThreads = 1,
    };

    private static float[][] Weights(BackpropModelParameters m) =>
        Enumerable.Range(0, m.WeightLayerCount).SelectMany(l => new[] { m.GetWeights(l), m.GetBiases(l) }).ToArray();

    [Theory]
    [InlineData(OptimizerKind.Adam, 0.0)]
    [InlineData(OptimizerKind.Adam, 0.2)]
    [InlineData(OptimizerKind.Sgd, 0.0)]
    public void TwentyEpochsThenTwentyMore_AreBitForBitFortyInOneGo(OptimizerKind optimizer, double dropout)
    {
        var ml = new MLContext(seed: 1);
        var data = Housing(ml);
        var once = ml.Backprop().Trainer(Options(optimizer, 40, dropout)).Fit(data);
        var first = ml.Backprop().Trainer(Options(optimizer, 20, dropout)).Fit(data);
        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("Backprop: continuing", StringComparison.Ordinal)) lock (messages) messages.Add(e.Message); };
        var continued = ml.Backprop().ContinueTraining(first, data, 20);

        Assert.Equal(StopReason.MaxEpochs, once.History.StopReason);
        Assert.Equal(40, continued.History.Epochs.Count);
        Assert.Equal(Enumerable.Range(1, 40), continued.History.Epochs.Select(e => e.Epoch));
        Assert.Equal(40, continued.History.BestEpoch);
        Assert.Equal(once.History.TrainingLoss, continued.History.TrainingLoss); // exact doubles, every epoch
        Assert.Equal(Weights(once.Model), Weights(continued.Model));              // exact floats
        Assert.Equal(once.History.Epochs[^1].GradientEvaluations, continued.History.Epochs[^1].GradientEvaluations);
        string log = Assert.Single(messages);
        Assert.Contains("after epoch 20 with the optimizer state of the earlier training", log);
        if (optimizer == OptimizerKind.Adam) Assert.Contains("t = ", log);
        // The loss kept falling across the seam: the continuation trained, it did not restart.
        Assert.True(continued.History.TrainingLoss[39] < continued.History.TrainingLoss[19],
            $"loss at epoch 40 {continued.History.TrainingLoss[39]} is not below epoch 20's {continued.History.TrainingLoss[19]}");
    }

    [Fact]
    public void WithoutTheOptimizerState_TheContinuationDiffers_AndTheLogSaysWhy()
    {
        // Control for the test above: a trainer whose β₁ differs may not reuse Adam's moments; it then starts afresh,
        // which changes the weights (so the equality above depends on the carried state).
        var ml = new MLContext(seed: 1);
        var data = Housing(ml);
        var once = ml.Backprop().Trainer(Options(OptimizerKind.Adam, 40)).Fit(data);
        var first = ml.Backprop().Trainer(Options(OptimizerKind.Adam, 20)).Fit(data);
        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("Backprop: continuing", StringComparison.Ordinal)) lock (messages) messages.Add(e.Message); };
        var other = first.Options;
        other.Beta1 = 0.8;
        var continued = ml.Backprop().Trainer(other).ContinueTraining(first, data, 20);

        Assert.Contains("with a fresh Adam state: Adam's options differ (Beta1 0.9 → 0.8", Assert.Single(messages));
        Assert.Equal(40, continued.History.Epochs.Count);
        Assert.Equal(first.History.TrainingLoss, continued.History.TrainingLoss.Take(20));
        Assert.NotEqual(Weights(once.Model)[0], Weights(continued.Model)[0]);
    }

    [Fact]
    public void OnStreamedData_TwentyThenTwentyMore_AreFortyInOneGo_AndTheInMemoryModel()
    {
        // Shuffle off: the stream gives the view's order every epoch, so there is no row order to resume, and the
        // continued streamed run must be the one long in-memory run bit for bit (Adam's moments and t carried over).
        var ml = new MLContext(seed: 1);
        var data = Housing(ml);
        BackpropTrainerOptions Opts(int epochs, DataLoadingMode loading)
        {
            var o = Options(OptimizerKind.Adam, epochs);
            o.Shuffle = false;
            o.DataLoading = loading;
            o.StreamingBlockRows = 128; // raised to one 200-row batch: 506 rows come in blocks of 200, 200 and 106
            return o;
        }
        var inMemory = ml.Backprop().Trainer(Opts(40, DataLoadingMode.InMemory)).Fit(data);
        var first = ml.Backprop().Trainer(Opts(20, DataLoadingMode.Streaming)).Fit(data);
        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("Backprop: continuing", StringComparison.Ordinal) || e.Message.Contains("data loading", StringComparison.Ordinal)) lock (messages) messages.Add(e.Message); };
        var continued = ml.Backprop().ContinueTraining(first, data, 20);

        Assert.Contains(messages, m => m.Contains("data loading: streaming", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("after epoch 20 with the optimizer state of the earlier training (Adam, t = ", StringComparison.Ordinal));
        Assert.Equal(Enumerable.Range(1, 40), continued.History.Epochs.Select(e => e.Epoch));
        Assert.Equal(inMemory.History.TrainingLoss, continued.History.TrainingLoss);
        Assert.Equal(Weights(inMemory.Model), Weights(continued.Model));
    }

    [Fact]
    public void AStreamedWarmStart_KeepsTheInitialModelsTargetScaling()
    {
        var ml = new MLContext(seed: 1);
        var data = Housing(ml);
        var cold = ml.Backprop().Trainer(Options(OptimizerKind.Adam, 20)).Fit(data);
        // The first 200 rows have another mean and spread of the label than all 506: the scan would scale them otherwise.
        var part = ml.Data.TakeRows(data, 200);
        var o = Options(OptimizerKind.Adam, 5);
        o.DataLoading = DataLoadingMode.Streaming;
        var warm = ml.Backprop().Trainer(o).Fit(part, cold.Model);
        var fresh = ml.Backprop().Trainer(o).Fit(part);

        Assert.Equal(cold.Model.TargetMean, warm.Model.TargetMean);
        Assert.Equal(cold.Model.TargetScale, warm.Model.TargetScale);
        Assert.NotEqual(fresh.Model.TargetMean, warm.Model.TargetMean);
        // Scaled as the initial network was trained, its first epoch starts near where the cold run ended on these rows,
        // not at a fresh network's loss.
        Assert.True(warm.History.TrainingLoss[0] < fresh.History.TrainingLoss[0] / 2,
            $"warm epoch 1 loss {warm.History.TrainingLoss[0]} vs fresh epoch 1 loss {fresh.History.TrainingLoss[0]}");
    }

    [Fact]
    public void WarmStart_BeginsAtTheInitialModelsLoss_FarBelowAColdStart()
    {
        var ml = new MLContext(seed: 1);
        var data = Housing(ml);
        var trainer = ml.Backprop().Trainer(Options(OptimizerKind.Adam, 60));
        var cold = trainer.Fit(data);
        var warm = trainer.Fit(data, cold.Model);

        double coldFirst = cold.History.TrainingLoss[0], coldLast = cold.History.TrainingLoss[^1], warmFirst = warm.History.TrainingLoss[0];
        Assert.Equal(60, warm.History.Epochs.Count); // a new training: its own history, numbered from 1
        Assert.Equal(1, warm.History.Epochs[0].Epoch);
        // Measured (J on standardized targets, penalty included): cold epoch 1 0.398, cold epoch 60 0.1285; warm epoch 1
        // 0.1300, within 1.2% of where the cold run ended (a fresh Adam's first steps move it a little), a third of a cold
        // start's; warm epoch 60 0.102.
        Assert.True(Math.Abs(warmFirst - coldLast) < 0.05 * coldLast, $"warm epoch 1 loss {warmFirst} vs initial model's final {coldLast}");
        Assert.True(warmFirst < coldFirst / 3, $"warm epoch 1 loss {warmFirst} vs cold epoch 1 loss {coldFirst}");
        Assert.True(warm.History.TrainingLoss[^1] < coldLast, $"warm final {warm.History.TrainingLoss[^1]} vs cold final {coldLast}");
        // Regression keeps the initial model's target scaling.
        Assert.Equal(cold.Model.TargetMean, warm.Model.TargetMean);
        Assert.Equal(cold.Model.TargetScale, warm.Model.TargetScale);
    }

    [Fact]
    public void WarmStart_WithAutomaticWeightDecay_ReusesTheSearchedLambda()
    {
        // Defaults on 506 rows: L-BFGS with λ chosen by cross-validation. A warm start does not search again.
        var ml = new MLContext(seed: 1);
        var data = Housing(ml);
        var trainer = ml.Backprop().Trainer(new BackpropTrainerOptions { HiddenLayers = [8], Seed = 3, MaxEpochs = 100 });
        var cold = trainer.Fit(data);
        var selection = Assert.IsType<WeightDecaySelection>(cold.History.WeightDecaySelection);
        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("Backprop: ", StringComparison.Ordinal)) lock (messages) messages.Add(e.Message); };
        var warm = trainer.Fit(data, cold.Model);

        Assert.Null(warm.History.WeightDecaySelection);
        Assert.DoesNotContain(messages, m => m.Contains("cross-validation", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains(FormattableString.Invariant(
            $"warm start: weight decay λ = {selection.ChosenL2Regularization:G3}, the one the initialModel was trained with"), StringComparison.Ordinal));
        // L-BFGS from the optimum it was refit to: the first iteration's J is at most the cold run's last.
        Assert.True(warm.History.TrainingLoss[0] <= cold.History.TrainingLoss[^1] * 1.0001,
            $"warm first {warm.History.TrainingLoss[0]} vs cold last {cold.History.TrainingLoss[^1]}");
    }

    [Fact]
    public void TheInitialModel_IsNotChanged_AndContinuingItTwiceGivesTheSameModel()
    {
        var ml = new MLContext(seed: 1);
        var data = Housing(ml);
        var first = ml.Backprop().Trainer(Options(OptimizerKind.Adam, 10)).Fit(data);
        var before = Weights(first.Model);
        var history = first.History.TrainingLoss.ToArray();

        var warm = ml.Backprop().Trainer(Options(OptimizerKind.Adam, 10)).Fit(data, first.Model);
        var a = ml.Backprop().ContinueTraining(first, data, 10);
        var b = ml.Backprop().ContinueTraining(first, data, 10);

        Assert.Equal(before, Weights(first.Model));
        Assert.Equal(history, first.History.TrainingLoss);
        Assert.NotEqual(before[0], Weights(warm.Model)[0]);
        Assert.NotEqual(before[0], Weights(a.Model)[0]);
        Assert.Equal(Weights(a.Model), Weights(b.Model)); // the optimizer state kept on `first` was not advanced either
        Assert.Equal(a.History.TrainingLoss, b.History.TrainingLoss);
    }

    [Fact]
    public void MismatchedInitialModels_AreNamed()
    {
        var ml = new MLContext(seed: 1);
        var housing = Housing(ml);
        var model = ml.Backprop().Trainer(Options(OptimizerKind.Adam, 3)).Fit(housing).Model;

        var trainer = ml.Backprop().Trainer(Options(OptimizerKind.Adam, 3));
        var features = Assert.Throws<ArgumentException>(() => trainer.Fit(Datasets.GeneratedRegression(ml), model));
        Assert.Equal("initialModel", features.ParamName);
        Assert.StartsWith("The initialModel has 13 inputs but the 'Features' column has 11 slots.", features.Message);

        var task = Assert.Throws<ArgumentException>(() => trainer.Fit(Datasets.BreastCancer(ml), model));
        Assert.StartsWith("The initialModel was trained for Regression; the label column 'Label' makes this BinaryClassification.", task.Message);

        var wider = Options(OptimizerKind.Adam, 3);
        wider.HiddenLayers = [32];
        var layers = Assert.Throws<ArgumentException>(() => ml.Backprop().Trainer(wider).Fit(housing, model));
        Assert.StartsWith("The initialModel has hidden layers [16] but the option HiddenLayers is [32].", layers.Message);

        var relu = Options(OptimizerKind.Adam, 3);
        relu.Activation = Activation.Relu;
        var activations = Assert.Throws<ArgumentException>(() => ml.Backprop().Trainer(relu).Fit(housing, model));
        Assert.Contains("but the options Activation and OutputActivation give [Relu, Identity]", activations.Message);

        var transformer = ml.Backprop().Trainer(Options(OptimizerKind.Adam, 3)).Fit(housing);
        var continued = Assert.Throws<ArgumentException>(() => ml.Backprop().ContinueTraining(transformer, Datasets.GeneratedRegression(ml), 5));
        Assert.Equal("model", continued.ParamName);
        Assert.StartsWith("The model has 13 inputs but the 'Features' column has 11 slots.", continued.Message);
        var epochs = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Backprop().ContinueTraining(transformer, housing, 0));
        Assert.Equal("epochs", epochs.ParamName);
    }

    [Fact]
    public void ALoadedModel_ContinuesItsHistory_WithAFreshOptimizer()
    {
        string folder = Path.Combine(Path.GetTempPath(), "mlnetbackprop-continue-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var ml = new MLContext(seed: 1);
            var data = Housing(ml);
            var first = ml.Backprop().Trainer(Options(OptimizerKind.Adam, 20)).Fit(data);
            var inMemory = ml.Backprop().ContinueTraining(first, data, 20);
            string path = Path.Combine(folder, "model.zip");
            ml.Backprop().SaveModel(first, data.Schema, path);
            var read = ml.Backprop().LoadModel(path, out _);
            var loaded = read as BackpropTransformer ?? Assert.Single(((IEnumerable<ITransformer>)read).OfType<BackpropTransformer>());

            var messages = new List<string>();
            ml.Log += (_, e) => { if (e.Message.Contains("Backprop: continuing", StringComparison.Ordinal)) lock (messages) messages.Add(e.Message); };
            var continued = ml.Backprop().ContinueTraining(loaded, data, 20);

            Assert.Contains("after epoch 20 with a fresh Adam state: the earlier run left no optimizer state", Assert.Single(messages));
            Assert.Equal(Enumerable.Range(1, 40), continued.History.Epochs.Select(e => e.Epoch));
            Assert.Equal(first.History.TrainingLoss, continued.History.TrainingLoss.Take(20));
            // A fresh Adam (and a restarted shuffle stream) is a different computation from the in-memory continuation.
            Assert.NotEqual(inMemory.History.TrainingLoss[20], continued.History.TrainingLoss[20]);
            Assert.True(continued.History.TrainingLoss[^1] < first.History.TrainingLoss[^1]);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
