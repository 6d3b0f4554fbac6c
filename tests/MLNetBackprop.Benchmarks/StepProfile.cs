using MLNetBackprop.Benchmarks.SideBySide;
using MLNetBackprop.Core.Optimizers;
using System.Diagnostics;
using System.Numerics.Tensors;
using MLNetBackprop.Core;

/// <summary>
/// `step-profile`: the parts of one W2 training step (784-256-128-10, one thread) timed apart: the forward and backward
/// pass at batch 16, 64 and 128 and over the full batch on one and two threads, a real training epoch's step, the Adam
/// update alone and in turn with the product, the penalty and the finite check on the gradient. The step's cost that
/// does not shrink with the batch (the update and the cache traffic it causes) is what limits data-parallel speed-up at a
/// fixed global batch.
/// </summary>
internal static class StepProfile
{
    public static void Run()
    {
        var (all, net) = W2();
        var g = new float[net.ParameterCount];
        var reg = new Regularization(L2: 1e-4);
        // Every batch size once before any is timed: the first one timed otherwise pays for the tiered JIT's later tiers
        // (seen: 0.33 ms at batch 16 measured first, 0.18 ms measured after the others).
        var batches = new[] { 16, 64, 128 }.Select(b => (b, all.Subset(Enumerable.Range(0, b).ToArray()), new NetworkWorkspace<float>(net, b))).ToArray();
        foreach (var (_, sub, ws) in batches) Time(() => Backpropagation.CostAndGradient(net, sub, LossFunction.CrossEntropy, reg, g, ws, 1));
        foreach (var (b, sub, ws) in batches)
        {
            double t = Time(() => Backpropagation.CostAndGradient(net, sub, LossFunction.CrossEntropy, reg, g, ws, 1));
            Console.WriteLine($"CostAndGradient batch {b}: {t * 1000:F3} ms");
        }
        // The full batch (gradient descent, L-BFGS) on one and two threads: the GEMMs share the work, the element-wise passes
        // over the batch (bias, activation, f') are what is left for one thread.
        var full = new NetworkWorkspace<float>(net, all.Count);
        foreach (int threads in new[] { 1, 2 })
        {
            double t = TimeFew(() => Backpropagation.CostAndGradient(net, all, LossFunction.CrossEntropy, reg, g, full, threads), 9);
            Console.WriteLine($"CostAndGradient full batch {all.Count}, {threads} thread(s): {t * 1000:F2} ms");
        }
        // A step in real training costs more than its parts timed in a loop: the update writes 4 × 0.94 MB (θ, g, m, v)
        // between one step's products and the next, so the weights come from further out in the cache, and the rows of a
        // shuffled batch are gathered from all over the 25 MB of data.
        foreach (bool shuffle in new[] { true, false })
        {
            var trained = new NeuralNetwork<float>([784, 256, 128, 10], [Activation.Relu, Activation.Relu, Activation.Softmax]);
            trained.Initialize(1);
            var epochs = new List<double>();
            var clock = Stopwatch.StartNew();
            double last = 0;
            var result = NetworkTrainer.Train(trained, all, new TrainingOptions
            {
                Loss = LossFunction.CrossEntropy, Optimizer = OptimizerKind.Adam, LearningRate = 1e-3, L2Regularization = 1e-4, BatchSize = 128,
                MaxEpochs = 24, Tolerance = 0, Shuffle = shuffle, Seed = 1, NumberOfThreads = 1,
                EpochCompleted = _ =>
                {
                    double now = clock.Elapsed.TotalSeconds;
                    epochs.Add(now - last);
                    last = now;
                },
            });
            double median = epochs.Skip(8).Order().ElementAt((epochs.Count - 8) / 2);
            int steps = (all.Count + 127) / 128;
            Console.WriteLine($"Training, Adam batch 128{(shuffle ? "" : ", no shuffling")}: {median * 1000:F1} ms per epoch, {median * 1000 / steps:F3} ms per step");
        }
        var adam = new AdamRule<float>(net.ParameterCount, 0.9, 0.999, 1e-8);
        Console.WriteLine($"Adam step: {Time(() => adam.Step(net.Parameters, g, 1e-9, 1)) * 1000:F3} ms");
        {
            var (_, sub, ws) = batches[2];
            double pair = Time(() =>
            {
                Backpropagation.CostAndGradient(net, sub, LossFunction.CrossEntropy, reg, g, ws, 1);
                adam.Step(net.Parameters, g, 1e-9, 1);
            });
            Console.WriteLine($"CostAndGradient batch 128 and the Adam step in turn (as in training): {pair * 1000:F3} ms");
        }
        Console.WriteLine($"Penalty: {Time(() => Backpropagation.Penalty(net, reg)) * 1000:F3} ms");
        Console.WriteLine($"TensorPrimitives.Sum: {Time(() => TensorPrimitives.Sum(g)) * 1000:F3} ms");
        Console.WriteLine($"FiniteCheck.All (the per-step guard): {Time(() => MLNetBackprop.Core.Kernels.FiniteCheck.All<float>(g)) * 1000:F3} ms");
        Console.WriteLine($"Multiply in place (one read and write pass): {Time(() => TensorPrimitives.Multiply(g, 1f, g)) * 1000:F3} ms");
    }

    private static double TimeFew(Action a, int runs)
    {
        a();
        a();
        var times = new double[runs];
        for (int k = 0; k < runs; k++)
        {
            long t0 = Stopwatch.GetTimestamp();
            a();
            times[k] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        Array.Sort(times);
        return times[runs / 2];
    }

    /// <summary>
    /// The bundled 8,000 MNIST training rows with one-hot targets, and the W2 network (784-256-128-10, ReLU, softmax)
    /// initialized from seed 1: what the step profile and the distributed benchmark time.
    /// </summary>
    internal static (TrainingData<float> All, NeuralNetwork<float> Net) W2()
    {
        var data = Mnist.Load();
        var all = TrainingData<float>.FromDense(data.TrainX, Mnist.Features, TrainingData<float>.OneHot(data.TrainLabels, Mnist.Classes), Mnist.Classes);
        var net = new NeuralNetwork<float>([784, 256, 128, 10], [Activation.Relu, Activation.Relu, Activation.Softmax]);
        net.Initialize(1);
        return (all, net);
    }

    /// <summary>The median of 15 runs of 100 calls, after 200 calls of warm-up: seconds per call.</summary>
    internal static double Time(Action a)
    {
        for (int i = 0; i < 200; i++) a();
        var times = new double[15];
        for (int k = 0; k < times.Length; k++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < 100; i++) a();
            times[k] = Stopwatch.GetElapsedTime(t0).TotalSeconds / 100;
        }
        Array.Sort(times);
        return times[times.Length / 2];
    }
}
