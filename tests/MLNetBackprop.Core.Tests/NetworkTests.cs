using MLNetBackprop.Core;

namespace MLNetBackprop.Core.Tests;

/// <summary>Initialization, parameter layout, precision and the prediction entry points.</summary>
public class NetworkTests
{
    [Fact]
    public void InitializationFollowsTheGlorotRuleForSigmoidAndHeForRelu()
    {
        var net = new NeuralNetwork<double>([50, 30, 10], [Activation.Relu, Activation.Sigmoid]);
        net.Initialize(7);
        double he = Math.Sqrt(6.0 / 50), glorot = Math.Sqrt(6.0 / (30 + 10 + 1));
        var w0 = net.Weights(0).ToArray();
        var w1 = net.Weights(1).ToArray();
        Assert.All(w0, w => Assert.InRange(w, -he, he));
        Assert.All(w1, w => Assert.InRange(w, -glorot, glorot));
        // The draws fill the range: the extremes come within 5% of the bound.
        Assert.True(w0.Max() > 0.95 * he && w0.Min() < -0.95 * he);
        Assert.True(w1.Max() > 0.95 * glorot && w1.Min() < -0.95 * glorot);
        Assert.All(net.Biases(0).ToArray(), b => Assert.Equal(0, b));
        Assert.All(net.Biases(1).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public void FloatAndDoubleNetworksFromOneSeedHoldTheSameWeights()
    {
        var f = NeuralNetwork<float>.Create(5, [4], 3, seed: 11);
        var d = NeuralNetwork<double>.Create(5, [4], 3, seed: 11);
        for (int i = 0; i < f.ParameterCount; i++) Assert.Equal((float)d.Parameters[i], f.Parameters[i]);
    }

    [Fact]
    public void FloatGradientAgreesWithTheDoubleGradient()
    {
        var rng = new Random(5);
        var d = NeuralNetwork<double>.Create(20, [16, 8], 4, Activation.Tanh, Activation.Softmax, seed: 3);
        var f = d.ConvertTo<float>();
        var x = TestData.Uniform(rng, 64 * 20, -1, 1);
        var y = TestData.Targets(rng, 64, 4, LossFunction.CrossEntropy, Activation.Softmax);
        var gd = new double[d.ParameterCount];
        var gf = new float[f.ParameterCount];
        double jd = Backpropagation.CostAndGradient(d, TrainingData<double>.FromDense(x, 20, y, 4), LossFunction.CrossEntropy, new Regularization(0.01), gd);
        double jf = Backpropagation.CostAndGradient(f, TrainingData<float>.FromDense(x.Select(v => (float)v).ToArray(), 20, y.Select(v => (float)v).ToArray(), 4),
            LossFunction.CrossEntropy, new Regularization(0.01), gf);
        Assert.Equal(jd, jf, 5);
        double diff = 0, norm = 0;
        for (int i = 0; i < gd.Length; i++) { diff += Math.Pow(gd[i] - gf[i], 2); norm += gd[i] * gd[i]; }
        Assert.True(Math.Sqrt(diff / norm) < 1e-5, $"relative difference {Math.Sqrt(diff / norm)}");
    }

    [Fact]
    public void ParametersAreLaidOutLayerByLayerWeightsThenBiases()
    {
        var net = new NeuralNetwork<float>([3, 2, 1], [Activation.Sigmoid, Activation.Identity]);
        Assert.Equal(3 * 2 + 2 + 2 * 1 + 1, net.ParameterCount);
        net.Weights(0)[5] = 1; // W_{1,2}: into hidden unit 1 from input 2
        net.Biases(0)[1] = 2;
        net.Weights(1)[0] = 3;
        net.Biases(1)[0] = 4;
        Assert.Equal([0, 0, 0, 0, 0, 1, 0, 2, 3, 0, 4], net.Parameters.ToArray());
    }

    [Fact]
    public void BatchRowByRowAndSparsePredictionsAgree()
    {
        var rng = new Random(2);
        var net = NeuralNetwork<float>.Create(12, [9], 3, Activation.Relu, Activation.Softmax, seed: 4);
        int rows = 300; // more than one prediction chunk
        var x = new float[rows * 12];
        for (int i = 0; i < x.Length; i++) x[i] = rng.Next(3) == 0 ? (float)rng.NextDouble() : 0;
        var batch = new float[rows * 3];
        net.Predict(x, batch, maxThreads: 2);
        var ws = new NetworkWorkspace<float>(net, 1);
        var one = new float[3];
        for (int r = 0; r < rows; r++)
        {
            var row = x.AsSpan(r * 12, 12);
            Assert.Equal(batch.AsSpan(r * 3, 3).ToArray(), net.Predict(row));
            var idx = new List<int>();
            var val = new List<float>();
            for (int j = 0; j < 12; j++) if (row[j] != 0) { idx.Add(j); val.Add(row[j]); }
            net.PredictSparse(idx.ToArray(), val.ToArray(), one, ws);
            for (int k = 0; k < 3; k++) Assert.True(Math.Abs(batch[r * 3 + k] - one[k]) < 1e-6, $"row {r} output {k}: sparse {one[k]} vs dense {batch[r * 3 + k]}");
            Assert.Equal(1f, one.Sum(), 5);
        }
    }

    [Fact]
    public void OutputActivationsStayFiniteForHugeLogits()
    {
        // Logits far beyond float's exp range (e^89 overflows) must give probabilities, not NaN.
        var net = new NeuralNetwork<float>([1, 3], [Activation.Softmax]);
        new float[] { 1000, 0, -1000 }.CopyTo(net.Weights(0));
        var p = net.Predict([1f]);
        Assert.Equal([1f, 0f, 0f], p);
        Assert.Equal([0f, 0f, 1f], net.Predict([-1f]));
        var sigmoid = new NeuralNetwork<float>([1, 1], [Activation.Sigmoid]);
        sigmoid.Weights(0)[0] = 1000;
        Assert.Equal(1f, sigmoid.Predict([1f])[0]);
        Assert.Equal(0f, sigmoid.Predict([-1f])[0]);
    }

    [Theory]
    [InlineData(784, new[] { 128 }, 10, Activation.Relu, Activation.Softmax)]
    [InlineData(13, new[] { 64, 32 }, 1, Activation.Tanh, Activation.Identity)]
    [InlineData(5, new int[0], 1, Activation.Sigmoid, Activation.Sigmoid)]
    [InlineData(37, new[] { 3, 17 }, 5, Activation.LeakyRelu, Activation.Tanh)]
    [InlineData(21, new[] { 19, 6 }, 3, Activation.Silu, Activation.Softmax)]
    public void ThePredictorScoresEachRowBitwiseAsTheBatchDoes(int inputs, int[] hidden, int outputs, Activation h, Activation o)
    {
        var rng = new Random(inputs);
        var net = NeuralNetwork<float>.Create(inputs, hidden, outputs, h, o, seed: 3);
        for (int l = 0; l < net.WeightLayerCount; l++)
            for (int i = 0; i < net.Biases(l).Length; i++) net.Biases(l)[i] = (float)(rng.NextDouble() - 0.5);
        int rows = 50;
        var x = new float[rows * inputs];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        var batch = new float[rows * outputs];
        net.Predict(x, batch, maxThreads: 2);
        var predictor = net.CreatePredictor();
        var one = new float[outputs];
        var logits = new float[outputs];
        var ws = new NetworkWorkspace<float>(net, 1);
        for (int r = 0; r < rows; r++)
        {
            predictor.Predict(x.AsSpan(r * inputs, inputs), one, logits);
            Assert.Equal(batch.AsSpan(r * outputs, outputs).ToArray(), one);
            net.Predict(x.AsSpan(r * inputs, inputs), new float[outputs], ws);
            Assert.Equal(ws.Z(net.LayerSizes.Count - 1).ToArray(), logits);
        }
        var all = new float[rows * outputs];
        predictor.PredictBatch(x, all, maxThreads: 2);
        Assert.Equal(batch, all);
        // A snapshot: later changes to the network do not reach it.
        net.Weights(0)[0] += 1;
        predictor.Predict(x.AsSpan(0, inputs), one);
        Assert.Equal(batch.AsSpan(0, outputs).ToArray(), one);
    }

    [Theory]
    [InlineData(784, new[] { 128 }, 10, Activation.Sigmoid, Activation.Softmax)]
    [InlineData(784, new[] { 256, 128 }, 10, Activation.Relu, Activation.Softmax)]
    [InlineData(30, new[] { 9 }, 1, Activation.Tanh, Activation.Identity)]
    [InlineData(300, new[] { 33 }, 2, Activation.Silu, Activation.Sigmoid)]
    public void MostlyZeroRowsScoreBitwiseAsTheBatchDenseSparseAndOnAnyThreadCount(int inputs, int[] hidden, int outputs, Activation h, Activation o)
    {
        // Rows like MNIST's (about 80 % zeros, some −0) take the zero-skipping product; every way of scoring them gives
        // the batch's bits: one row dense, one row sparse, and PredictBatch on 1 and 2 threads.
        var rng = new Random(inputs + hidden.Length);
        var net = NeuralNetwork<float>.Create(inputs, hidden, outputs, h, o, seed: 5);
        for (int l = 0; l < net.WeightLayerCount; l++)
            for (int i = 0; i < net.Biases(l).Length; i++) net.Biases(l)[i] = (float)(rng.NextDouble() - 0.5);
        // 300 rows = three blocks of PredictBatch: two mostly zero (the sparse first layer), the last one dense (GEMM).
        int rows = 300;
        var x = new float[rows * inputs];
        for (int i = 0; i < x.Length; i++)
            x[i] = i >= 256 * inputs || rng.NextDouble() < 0.2 ? (float)rng.NextDouble() : rng.Next(4) == 0 ? -0f : 0f;
        x.AsSpan(0, inputs).Clear(); // an all-zero row
        var batch = new float[rows * outputs];
        net.Predict(x, batch, maxThreads: 2);
        var predictor = net.CreatePredictor();
        var one = new float[outputs];
        for (int r = 0; r < rows; r++)
        {
            var row = x.AsSpan(r * inputs, inputs);
            predictor.Predict(row, one);
            Assert.Equal(batch.AsSpan(r * outputs, outputs).ToArray(), one);
            var indices = Enumerable.Range(0, inputs).Where(j => x[r * inputs + j] != 0).ToArray();
            var values = indices.Select(j => x[r * inputs + j]).ToArray();
            var sparse = new float[outputs];
            predictor.PredictSparse(indices, values, sparse);
            Assert.Equal(one, sparse);
        }
        foreach (int threads in new[] { 1, 2 })
        {
            var all = new float[rows * outputs];
            predictor.PredictBatch(x, all, threads);
            Assert.Equal(batch, all);
        }
    }

    [Fact]
    public void AnInfiniteWeightStillGivesNaNForAZeroInputAsTheDenseProductDoes()
    {
        // 0 · ∞ = NaN in the batch product; skipping zero inputs would hide it, so the predictor must not skip.
        var net = NeuralNetwork<float>.Create(20, [4], 1, Activation.Tanh, Activation.Identity, seed: 1);
        net.Weights(0)[3] = float.PositiveInfinity; // unit 0, input 3
        var x = new float[20];
        x[10] = 0.5f;
        var batch = new float[1];
        net.Predict(x, batch);
        Assert.True(float.IsNaN(batch[0]));
        var predictor = net.CreatePredictor();
        var one = new float[1];
        predictor.Predict(x, one);
        Assert.True(float.IsNaN(one[0]));
        predictor.PredictSparse([10], [0.5f], one);
        Assert.True(float.IsNaN(one[0]));
    }

    [Fact]
    public void PredictSparseAndPredictBatchRejectBadInputByName()
    {
        var predictor = NeuralNetwork<float>.Create(6, [3], 2, seed: 1).CreatePredictor();
        var output = new float[2];
        Assert.Equal("indices", Assert.Throws<ArgumentOutOfRangeException>(() => predictor.PredictSparse([2, 2], [1f, 1f], output)).ParamName);
        Assert.Equal("indices", Assert.Throws<ArgumentOutOfRangeException>(() => predictor.PredictSparse([6], [1f], output)).ParamName);
        Assert.Equal("values", Assert.Throws<ArgumentException>(() => predictor.PredictSparse([1, 2], [1f], output)).ParamName);
        Assert.Equal("output", Assert.Throws<ArgumentException>(() => predictor.PredictSparse([1], [1f], new float[1])).ParamName);
        Assert.Equal("inputs", Assert.Throws<ArgumentException>(() => predictor.PredictBatch(new float[13], new float[10])).ParamName);
        Assert.Equal("outputs", Assert.Throws<ArgumentException>(() => predictor.PredictBatch(new float[12], new float[3])).ParamName);
        Assert.Equal("maxThreads", Assert.Throws<ArgumentOutOfRangeException>(() => predictor.PredictBatch(new float[12], new float[4], 0)).ParamName);
    }

    [Fact]
    public void CloneIsDeepAndConvertKeepsTheShape()
    {
        var net = NeuralNetwork<float>.Create(4, [3], 2, seed: 1);
        var copy = net.Clone();
        copy.Parameters[0] += 1;
        Assert.NotEqual(net.Parameters[0], copy.Parameters[0]);
        var d = net.ConvertTo<double>();
        Assert.Equal(net.LayerSizes, d.LayerSizes);
        Assert.Equal(net.Activations, d.Activations);
    }
}
