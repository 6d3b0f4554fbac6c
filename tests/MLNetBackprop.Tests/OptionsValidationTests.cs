using Microsoft.ML;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Tests;

/// <summary>Issue #15: one ValidationErrors() gives every invalid option at once; the trainer throws the first of them.</summary>
public class OptionsValidationTests
{
    [Fact]
    public void EveryInvalidOptionIsListedOnceByName_InTheOrderOfTheOptions_AndTheTrainerThrowsTheFirst()
    {
        var o = new BackpropTrainerOptions
        {
            HiddenLayers = [8, 0], // the adapter's own rule
            StreamingBlockRows = 0, // the adapter's own rule
            ClassWeights = [1, float.NaN],
            LearningRate = -1, // the core's rule
            Beta2 = 1, // the core's rule
            Dropout = 0.5,
            Optimizer = OptimizerKind.Lbfgs, // with dropout: a rule that involves two options
        };
        var errors = o.ValidationErrors();
        Assert.Equal(["HiddenLayers", "StreamingBlockRows", "ClassWeights", "Dropout", "LearningRate", "Beta2"], errors.Select(e => e.ParamName));
        Assert.Contains("HiddenLayers[1] = 0 must be at least 1", errors[0].Message);
        Assert.Contains("needs a first-order optimizer", errors[3].Message);

        var thrown = Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext(seed: 1).Backprop().Trainer(o));
        Assert.Equal(errors[0].Message, thrown.Message);

        Assert.Empty(new BackpropTrainerOptions().ValidationErrors());
        Assert.Empty(BackpropTrainerOptions.Textbook().ValidationErrors());
    }
}
