using System.Globalization;
using MLNetBackprop.Benchmarks.SideBySide;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Benchmarks;

/// <summary>
/// `predict-quick`: in-memory scoring of the 2,000 MNIST test rows with the W1 (784-128-10 sigmoid) and W2
/// (784-256-128-10 ReLU) networks after one training epoch: one row at a time (median µs) and the whole batch
/// (rows/s), with the zero-skipping product on and off, and the training-side batch forward (GEMM over the batch).
/// Every variant gives the same bits (the tests check it); only the time differs.
/// </summary>
public static class PredictHarness
{
    /// <summary>Runs the table.</summary>
    public static void Run()
    {
        var data = Mnist.Load();
        double zeros = data.TestX.Count(v => v == 0) / (double)data.TestX.Length;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"MNIST test rows: {data.TestCount}, {zeros:P1} of the pixels are zero"));
        Console.WriteLine("| network | path | one row: median µs | batch rows/s, 1 thread | batch rows/s, 2 threads |");
        Console.WriteLine("|---|---|---:|---:|---:|");
        foreach (var (name, hidden, act) in new[] { ("784-128-10 sigmoid", new[] { 128 }, Activation.Sigmoid), ("784-256-128-10 ReLU", new[] { 256, 128 }, Activation.Relu) })
        {
            var net = NeuralNetwork<float>.Create(Mnist.Features, hidden, Mnist.Classes, act, Activation.Softmax, seed: 1);
            var train = TrainingData<float>.FromDense(data.TrainX, Mnist.Features, TrainingData<float>.OneHot(data.TrainLabels, Mnist.Classes), Mnist.Classes);
            NetworkTrainer.Train(net, train, new TrainingOptions
            {
                Loss = LossFunction.CrossEntropy, Optimizer = OptimizerKind.Adam, LearningRate = 1e-3, BatchSize = 128, MaxEpochs = 1, Tolerance = 0, Seed = 1,
            });
            var outputs = new float[data.TestCount * Mnist.Classes];
            var ws1 = new NetworkWorkspace<float>(net, data.TestCount);
            double gemm1 = data.TestCount / SideBySide.OursRunner.TimeMedian(21, () => net.Predict(data.TestX, outputs, ws1, 1));
            double gemm2 = data.TestCount / SideBySide.OursRunner.TimeMedian(21, () => net.Predict(data.TestX, outputs, ws1, 2));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | NeuralNetwork.Predict (GEMM over the batch) | | {gemm1:N0} | {gemm2:N0} |"));
            foreach (bool skip in new[] { false, true })
            {
                var predictor = net.CreatePredictor();
                predictor.SkipZeroInputs = skip;
                double oneRow = OneRowMedianMicros(predictor, data);
                double b1 = data.TestCount / SideBySide.OursRunner.TimeMedian(21, () => predictor.PredictBatch(data.TestX, outputs, 1));
                double b2 = data.TestCount / SideBySide.OursRunner.TimeMedian(21, () => predictor.PredictBatch(data.TestX, outputs, 2));
                string path = skip ? "NetworkPredictor, zero inputs skipped (default)" : "NetworkPredictor, dense product";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {path} | {oneRow:F2} | {b1:N0} | {b2:N0} |"));
            }
        }
    }

    /// <summary>The side-by-side harness's one-row timing (1.5 s warm-up, median of three passes' medians).</summary>
    private static double OneRowMedianMicros(NetworkPredictor<float> predictor, Mnist data)
    {
        int d = Mnist.Features;
        var one = new float[Mnist.Classes];
        return SideBySide.OursRunner.OneRowMedianMicros(data.TestCount, i => predictor.Predict(data.TestX.AsSpan(i * d, d), one)).MedianMicros;
    }
}
