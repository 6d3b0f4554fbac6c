using MLNetBackprop.Core;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Core.Tests;

/// <summary>Bad options, shapes and data are rejected before training, with messages that name what is wrong.</summary>
public class ValidationTests
{
    public static TheoryData<string, Action<TrainingOptions>> BadOptions() => new()
    {
        { nameof(TrainingOptions.L2Regularization), o => o.L2Regularization = -1 },
        { nameof(TrainingOptions.L1Regularization), o => o.L1Regularization = double.NaN },
        { nameof(TrainingOptions.LearningRate), o => o.LearningRate = 0 },
        { nameof(TrainingOptions.LearningRate), o => o.LearningRate = double.PositiveInfinity },
        { nameof(TrainingOptions.Momentum), o => o.Momentum = 1 },
        { nameof(TrainingOptions.Beta1), o => o.Beta1 = -0.1 },
        { nameof(TrainingOptions.Beta2), o => o.Beta2 = 1 },
        { nameof(TrainingOptions.Epsilon), o => o.Epsilon = 0 },
        { nameof(TrainingOptions.LbfgsMemory), o => o.LbfgsMemory = 0 },
        { nameof(TrainingOptions.BatchSize), o => o.BatchSize = 0 },
        { nameof(TrainingOptions.MaxEpochs), o => o.MaxEpochs = 0 },
        { nameof(TrainingOptions.MaxGradientEvaluations), o => o.MaxGradientEvaluations = -5 },
        { nameof(TrainingOptions.Tolerance), o => o.Tolerance = -1e-3 },
        { nameof(TrainingOptions.NoImprovementEpochs), o => o.NoImprovementEpochs = 0 },
        { nameof(TrainingOptions.PowerT), o => o.PowerT = -1 },
        { nameof(TrainingOptions.AdaptiveDivisor), o => o.AdaptiveDivisor = 1 },
        { nameof(TrainingOptions.ValidationFraction), o => o.ValidationFraction = 1 },
        { nameof(TrainingOptions.EarlyStoppingPatience), o => o.EarlyStoppingPatience = 0 },
        { nameof(TrainingOptions.NumberOfThreads), o => o.NumberOfThreads = 0 },
        { nameof(TrainingOptions.Optimizer), o => o.Optimizer = (OptimizerKind)42 },
        { nameof(TrainingOptions.Loss), o => o.Loss = (LossFunction)7 },
        { nameof(TrainingOptions.LearningRateSchedule), o => o.LearningRateSchedule = (LearningRateSchedule)9 },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void EveryInvalidOptionIsRejectedByName(string option, Action<TrainingOptions> spoil)
    {
        var opts = new TrainingOptions();
        spoil(opts);
        var net = NeuralNetwork<float>.Create(2, [3], 1);
        var data = TrainingData<float>.FromDense([0, 1, 1, 0], 2, [1, 0], 1);
        var before = net.Parameters.ToArray();
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => NetworkTrainer.Train(net, data, opts));
        Assert.Equal(option, ex.ParamName);
        Assert.Contains(option, ex.Message);
        Assert.Equal(before, net.Parameters.ToArray());
    }

    [Fact]
    public void ValidationErrorsListsEveryBadOptionAtOnce_AllOfTheTable()
    {
        // Every spoiler of the table above applied to one options object: each option is named once, in declaration order.
        var opts = new TrainingOptions();
        foreach (var row in BadOptions()) ((Action<TrainingOptions>)row[1])(opts);
        var named = opts.ValidationErrors().Select(e => e.ParamName).ToArray();
        var expected = BadOptions().Select(row => (string)row[0]).Distinct().ToArray();
        Assert.Equal(expected.Order(), named.Order());
        Assert.Equal(named.Length, named.Distinct().Count());
        Assert.Empty(new TrainingOptions().ValidationErrors());
    }

    [Fact]
    public void NonFiniteFeatureIsReportedWithItsRowAndColumn()
    {
        var ex = Assert.Throws<ArgumentException>(() => TrainingData<float>.FromDense([0, 1, 2, float.NaN, 4, 5], 3, [1, 0], 1));
        Assert.Contains("Feature 0 of row 1", ex.Message);
        var inf = Assert.Throws<ArgumentException>(() => TrainingData<double>.FromDense([0, 1, double.PositiveInfinity, 3], 2, [1, 0], 1));
        Assert.Contains("Feature 0 of row 1", inf.Message);
    }

    [Fact]
    public void NonFiniteTargetOrBadWeightIsReportedWithItsRow()
    {
        var target = Assert.Throws<ArgumentException>(() => TrainingData<float>.FromDense([0, 1, 2, 3], 2, [1, float.NaN], 1));
        Assert.Contains("row 1", target.Message);
        var weight = Assert.Throws<ArgumentException>(() => TrainingData<float>.FromDense([0, 1, 2, 3], 2, [1, 0], 1, [1, -2]));
        Assert.Contains("row 1", weight.Message);
        var zero = Assert.Throws<ArgumentException>(() => TrainingData<float>.FromDense([0, 1, 2, 3], 2, [1, 0], 1, [0, 0]));
        Assert.Contains("sum to zero", zero.Message);
    }

    [Fact]
    public void EmptyDataIsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => TrainingData<float>.FromDense([], 3, [], 1));
        Assert.Contains("no rows", ex.Message);
    }

    [Fact]
    public void SparseStructureErrorsNameTheRow()
    {
        var ex = Assert.Throws<ArgumentException>(() => TrainingData<float>.FromSparse([0, 1, 3], [0, 2, 1], [1, 1, 1], 3, [0, 1], 1));
        Assert.Contains("Row 1", ex.Message);
        var range = Assert.Throws<ArgumentException>(() => TrainingData<float>.FromSparse([0, 1], [5], [1], 3, [0], 1));
        Assert.Contains("Row 0", range.Message);
    }

    [Fact]
    public void ShapeMismatchBetweenDataAndNetworkIsRejected()
    {
        var net = NeuralNetwork<float>.Create(3, [4], 2);
        var data = TrainingData<float>.FromDense([0, 1, 2, 3], 2, [1, 0, 0, 1], 2);
        var ex = Assert.Throws<ArgumentException>(() => NetworkTrainer.Train(net, data, new TrainingOptions()));
        Assert.Contains("2 features", ex.Message);
        Assert.Contains("3 units", ex.Message);
    }

    [Fact]
    public void CrossEntropyNeedsASigmoidOrSoftmaxOutput()
    {
        var net = NeuralNetwork<float>.Create(2, [4], 1, Activation.Tanh, Activation.Identity);
        var data = TrainingData<float>.FromDense([0, 1, 2, 3], 2, [1, 0], 1);
        var ex = Assert.Throws<ArgumentException>(() => NetworkTrainer.Train(net, data, new TrainingOptions { Loss = LossFunction.CrossEntropy }));
        Assert.Contains("Identity", ex.Message);
    }

    [Fact]
    public void InvalidArchitecturesAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new NeuralNetwork<float>([3, 0, 1], [Activation.Sigmoid, Activation.Sigmoid]));
        Assert.Throws<ArgumentException>(() => new NeuralNetwork<float>([3], []));
        Assert.Throws<ArgumentException>(() => new NeuralNetwork<float>([3, 4, 1], [Activation.Sigmoid]));
        var hiddenSoftmax = Assert.Throws<ArgumentException>(() => new NeuralNetwork<float>([3, 4, 2], [Activation.Softmax, Activation.Sigmoid]));
        Assert.Contains("Layer 1", hiddenSoftmax.Message);
        Assert.Throws<ArgumentException>(() => new NeuralNetwork<float>([3, 1], [Activation.Softmax]));
    }

    [Theory]
    [InlineData(new[] { 2, 46341, 46341, 1 }, 2147719987L)] // 46341² alone exceeds int.MaxValue
    [InlineData(new[] { 1, 65536, 65536, 1 }, 4295229441L)] // 65536² wraps to 0 in int
    [InlineData(new[] { 46341, 46341, 1 }, 2147580964L)] // the first bias offset exceeds int.MaxValue
    public void ANetworkTooLargeForAnArrayIsRejectedByNameWithItsParameterCount(int[] sizes, long parameters)
    {
        var acts = Enumerable.Repeat(Activation.Tanh, sizes.Length - 2).Append(Activation.Identity).ToArray();
        var ex = Assert.Throws<ArgumentException>(() => new NeuralNetwork<float>(sizes, acts));
        Assert.Equal("layerSizes", ex.ParamName);
        Assert.Contains($"{parameters} parameters", ex.Message);
        Assert.Contains(Array.MaxLength.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message);
    }

    [Fact]
    public void EarlyStoppingNeedsAtLeastTwoRows()
    {
        var net = NeuralNetwork<float>.Create(2, [3], 1);
        var data = TrainingData<float>.FromDense([0, 1], 2, [1], 1);
        var ex = Assert.Throws<ArgumentException>(() => NetworkTrainer.Train(net, data, new TrainingOptions { EarlyStopping = true }));
        Assert.Contains("validation", ex.Message);
    }
}
