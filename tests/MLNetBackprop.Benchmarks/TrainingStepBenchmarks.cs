using BenchmarkDotNet.Attributes;
using MLNetBackprop.Benchmarks.SideBySide;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Benchmarks;

/// <summary>
/// One training step — gather a mini-batch, forward, J, backward, update — for the W1 (784-128-10 sigmoid,
/// softmax+CE, SGD with momentum, batch 64) and W2 (784-256-128-10 ReLU, Adam, batch 128) shapes, on the
/// MNIST subset, exactly as <see cref="NetworkTrainer"/>'s first-order loop does it. [MemoryDiagnoser] shows
/// whether the steady state allocates.
/// </summary>
[MemoryDiagnoser]
public class TrainingStepBenchmarks
{
    private TrainingStep _step = null!;

    /// <summary>W1 or W2.</summary>
    [Params("W1", "W2")]
    public string Workload { get; set; } = "W1";

    /// <summary>Threads given to the kernels.</summary>
    [Params(1, 2)]
    public int Threads { get; set; } = 2;

    /// <summary>Network, data, buffers and update rule.</summary>
    [GlobalSetup]
    public void Setup() => _step = new TrainingStep(SideBySide.Workload.ById(Workload), Threads);

    /// <summary>One mini-batch.</summary>
    [Benchmark]
    public double Step() => _step.Next();
}

/// <summary>The body of the trainer's mini-batch loop, with its buffers made once.</summary>
public sealed class TrainingStep
{
    private readonly NeuralNetwork<float> _net;
    private readonly TrainingData<float> _data;
    private readonly MiniBatch<float> _batch = new();
    private readonly NetworkWorkspace<float> _ws;
    private readonly float[] _gradient;
    private readonly IUpdateRule<float> _rule;
    private readonly Regularization _reg;
    private readonly LossFunction _loss;
    private readonly int[] _order;
    private readonly int _batchSize, _threads;
    private readonly double _lr;
    private readonly Random _rng = new(1);
    private int _start;

    /// <summary>Prepares the step for <paramref name="w"/> on the MNIST training rows.</summary>
    public TrainingStep(Workload w, int threads)
    {
        var mnist = Mnist.Load();
        _net = w.CreateNetwork(1);
        _data = TrainingData<float>.FromDense(mnist.TrainX, Mnist.Features, TrainingData<float>.OneHot(mnist.TrainLabels, Mnist.Classes), Mnist.Classes);
        _batchSize = w.BatchSize ?? _data.Count;
        _threads = threads;
        _ws = new NetworkWorkspace<float>(_net, _batchSize);
        _gradient = new float[_net.ParameterCount];
        _rule = w.Optimizer switch
        {
            OptimizerKind.Sgd => new MomentumRule<float>(_net.ParameterCount, w.Momentum, false),
            OptimizerKind.Adam => new AdamRule<float>(_net.ParameterCount, 0.9, 0.999, 1e-8),
            _ => new GradientDescentRule<float>(),
        };
        _reg = new Regularization(w.L2);
        _loss = w.Loss;
        _lr = w.LearningRate;
        _order = Enumerable.Range(0, _data.Count).ToArray();
        _rng.Shuffle(_order);
    }

    /// <summary>One mini-batch: the next rows of the shuffled order (reshuffled at the end of each epoch); returns J.</summary>
    public double Next()
    {
        int m = _data.Count;
        if (_start >= m)
        {
            _rng.Shuffle(_order);
            _start = 0;
        }
        _batch.Gather(_data, _order.AsSpan(_start, Math.Min(_batchSize, m - _start)));
        _start += _batchSize;
        double j = Backpropagation.CostAndGradient(_net, _batch, _loss, _reg, _ws, _gradient, _threads);
        _rule.Step(_net.Parameters, _gradient, _lr, _threads);
        return j;
    }

    /// <summary>
    /// `alloc-check`: bytes allocated (all threads, GC.GetTotalAllocatedBytes(precise)) per step after a warm-up,
    /// and per epoch of NetworkTrainer.Train, for W1 and W2 with 1 and 2 threads.
    /// </summary>
    public static void AllocationCheck()
    {
        foreach (var w in new[] { SideBySide.Workload.W1, SideBySide.Workload.W2 })
        {
            foreach (int threads in new[] { 1, 2 })
            {
                var step = new TrainingStep(w, threads);
                for (int i = 0; i < 300; i++) step.Next(); // tier up, pools, first epochs
                const int Steps = 500;
                long before = GC.GetTotalAllocatedBytes(precise: true);
                for (int i = 0; i < Steps; i++) step.Next();
                long bytes = GC.GetTotalAllocatedBytes(precise: true) - before;

                // The whole trainer: allocation between consecutive EpochCompleted callbacks (epochs 3..6).
                var mnist = Mnist.Load();
                var data = TrainingData<float>.FromDense(mnist.TrainX, Mnist.Features, TrainingData<float>.OneHot(mnist.TrainLabels, Mnist.Classes), Mnist.Classes);
                Console.WriteLine($"{w.Id} threads {threads}: {(double)bytes / Steps:F1} bytes per training step (over {Steps} steps); "
                    + $"NetworkTrainer.Train, epochs 4..6: [{string.Join(", ", TrainerEpochBytes(w, threads, data))}] bytes per epoch");
                // The same rows as sparse data: the first layer's sparse products (transposes, by-column regrouping).
                Console.WriteLine($"{w.Id} threads {threads}, sparse rows: NetworkTrainer.Train, epochs 4..6: [{string.Join(", ", TrainerEpochBytes(w, threads, data.ToSparse()))}] bytes per epoch");
            }
        }
    }

    /// <summary>Bytes allocated by NetworkTrainer.Train between consecutive EpochCompleted callbacks, epochs 4..6.</summary>
    private static IEnumerable<long> TrainerEpochBytes(SideBySide.Workload w, int threads, TrainingData<float> data)
    {
        var perEpoch = new List<long>();
        long last = 0;
        var options = new TrainingOptions
        {
            Loss = w.Loss, Optimizer = w.Optimizer, LearningRate = w.LearningRate, Momentum = w.Momentum,
            L2Regularization = w.L2, BatchSize = w.BatchSize, MaxEpochs = 6, Tolerance = 0, Seed = 1, NumberOfThreads = threads,
            EpochCompleted = r =>
            {
                long now = GC.GetTotalAllocatedBytes(precise: true);
                if (r.Epoch >= 3) perEpoch.Add(now - last);
                last = GC.GetTotalAllocatedBytes(precise: true);
            },
        };
        NetworkTrainer.Train(w.CreateNetwork(1), data, options);
        return perEpoch.Skip(1);
    }
}
