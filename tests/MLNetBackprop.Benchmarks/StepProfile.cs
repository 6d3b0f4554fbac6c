using MLNetBackprop.Benchmarks.SideBySide;
using MLNetBackprop.Core.Optimizers;
using System.Diagnostics;
using System.Numerics.Tensors;
using MLNetBackprop.Core;

/// <summary>
/// `step-profile`: the parts of one W2 training step (784-256-128-10, one thread) timed apart: the forward and backward
/// pass at batch 16, 64 and 128, the Adam update, the penalty and the finite check on the gradient. The step's cost that
/// does not shrink with the batch (the weight-sized passes) is what limits data-parallel speed-up at a fixed global batch.
/// </summary>
internal static class StepProfile
{
    public static void Run()
    {
        var data = Mnist.Load();
        var all = TrainingData<float>.FromDense(data.TrainX, Mnist.Features, TrainingData<float>.OneHot(data.TrainLabels, Mnist.Classes), Mnist.Classes);
        var net = new NeuralNetwork<float>([784, 256, 128, 10], [Activation.Relu, Activation.Relu, Activation.Softmax]);
        net.Initialize(1);
        var g = new float[net.ParameterCount];
        var reg = new Regularization(L2: 1e-4);
        foreach (int b in new[] { 16, 64, 128 })
        {
            var sub = all.Subset(Enumerable.Range(0, b).ToArray());
            var ws = new NetworkWorkspace<float>(net, b);
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
        var adam = new AdamRule<float>(net.ParameterCount, 0.9, 0.999, 1e-8);
        Console.WriteLine($"Adam step: {Time(() => adam.Step(net.Parameters, g, 1e-9, 1)) * 1000:F3} ms");
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

    private static double Time(Action a)
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
