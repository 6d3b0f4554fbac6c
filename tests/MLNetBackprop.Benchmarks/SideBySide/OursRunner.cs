using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core;

namespace MLNetBackprop.Benchmarks.SideBySide;

/// <summary>This library's side of one side-by-side run (one workload, in its own process).</summary>
public static class OursRunner
{
    /// <summary>Compute threads for both libraries.</summary>
    public const int Threads = 2;

    /// <summary>Seed of the initial weights (the same for both libraries).</summary>
    public const int InitSeed = 1;

    /// <summary>Runs <paramref name="workload"/>; W2 saves its trained parameters to <paramref name="paramsFile"/>, W4 loads them from there.</summary>
    /// <remarks>
    /// With <paramref name="skipZeros"/> false (the `ours-dense` library of the harness) the first layer multiplies the
    /// dense rows, zeros included, as TorchSharp does: the training data's compressed-row copy is dropped and the
    /// predictor does not skip zeros. Results are bitwise the same either way.
    /// </remarks>
    public static RunRecord Run(string workload, int round, string? paramsFile, Mnist data, bool skipZeros = true)
    {
        var w = Workload.ById(workload);
        var record = new RunRecord { Library = skipZeros ? "ours" : "ours-dense", Workload = workload.ToUpperInvariant(), Round = round, Threads = Threads };
        NeuralNetwork<float> net;
        if (record.Workload == "W4" && paramsFile is not null && File.Exists(paramsFile))
        {
            net = w.CreateNetwork(InitSeed);
            byte[] bytes = File.ReadAllBytes(paramsFile);
            if (bytes.Length != net.ParameterCount * sizeof(float))
                throw new InvalidDataException($"{paramsFile} holds {bytes.Length} bytes, expected {net.ParameterCount * sizeof(float)}.");
            MemoryMarshal.Cast<byte, float>(bytes).CopyTo(net.Parameters);
            record.Note = "scores the network trained by this round's W2 run";
        }
        else
        {
            // A first, untimed training of the same workload: .NET's tiered JIT (TensorPrimitives' loops included)
            // reaches its optimized code after about a second of work, which would otherwise fall in the timed epochs.
            Train(w, round, data, new RunRecord { Library = record.Library, Workload = record.Workload }, skipZeros);
            net = Train(w, round, data, record, skipZeros);
            if (record.Workload == "W2" && paramsFile is not null)
                File.WriteAllBytes(paramsFile, MemoryMarshal.AsBytes(net.Parameters).ToArray());
            if (record.Workload == "W4") record.Note = "trained W2 itself (no saved W2 parameters)";
        }

        var outputs = new float[data.TestCount * Mnist.Classes];
        net.Predict(data.TestX, outputs, new NetworkWorkspace<float>(net, data.TestCount), Threads);
        record.TestAccuracy = Mnist.Accuracy(outputs, Mnist.Classes, data.TestLabels);
        if (record.Workload == "W4")
        {
            Score(net, data, record, skipZeros);
            record.PeakRssMiB = ProcStats.PeakRssMiB();
            if (skipZeros)
            {
                ScoreThroughMlNet(data, round, record);
                record.PeakRssMiBWithMlNet = ProcStats.PeakRssMiB();
            }
        }
        else
        {
            record.PeakRssMiB = ProcStats.PeakRssMiB();
        }
        return record;
    }

    private static NeuralNetwork<float> Train(Workload w, int round, Mnist data, RunRecord record, bool skipZeros)
    {
        var net = w.CreateNetwork(InitSeed);
        var train = TrainingData<float>.FromDense(data.TrainX, Mnist.Features,
            TrainingData<float>.OneHot(data.TrainLabels, Mnist.Classes), Mnist.Classes);
        if (!skipZeros) train = train.WithoutSparseCopy();
        var seconds = new List<double>(w.Epochs);
        long last = 0;
        var options = new TrainingOptions
        {
            Loss = w.Loss,
            Optimizer = w.Optimizer,
            LearningRate = w.LearningRate,
            Momentum = w.Momentum,
            L2Regularization = w.L2,
            BatchSize = w.BatchSize,
            MaxEpochs = w.Epochs,
            Tolerance = 0,
            Shuffle = true,
            Seed = round,
            NumberOfThreads = Threads,
            EpochCompleted = r =>
            {
                long now = Stopwatch.GetTimestamp();
                seconds.Add(Stopwatch.GetElapsedTime(last, now).TotalSeconds);
                last = now;
            },
        };
        var before = ProcStats.CpuSnapshot.Take();
        last = Stopwatch.GetTimestamp();
        var result = NetworkTrainer.Train(net, train, options);
        (record.ForeignCpuPercent, record.StealPercent) = ProcStats.CpuSnapshot.Take().Since(before);
        record.EpochSeconds = [.. seconds];
        record.FinalLoss = result.History.Epochs[^1].TrainingLoss;
        record.Summarize(w.ParameterCount, data.TrainCount);
        return net;
    }

    /// <summary>
    /// In-memory scoring: the test rows as one batch (a <see cref="NetworkPredictor{T}"/>'s PredictBatch, and the
    /// training-side NeuralNetwork.Predict GEMM for reference), then one row at a time with the predictor, for the
    /// trained W2 net and for a 784-128-10 net (W1's shape and initial weights: the one-row target).
    /// </summary>
    private static void Score(NeuralNetwork<float> net, Mnist data, RunRecord record, bool skipZeros)
    {
        int n = data.TestCount, k = Mnist.Classes, d = Mnist.Features;
        var before = ProcStats.CpuSnapshot.Take();
        var predictor = net.CreatePredictor();
        predictor.SkipZeroInputs = skipZeros;
        var outputs = new float[n * k];
        record.BatchRowsPerSecond = n / TimeMedian(21, () => predictor.PredictBatch(data.TestX, outputs, Threads));
        var batchWs = new NetworkWorkspace<float>(net, n);
        record.BatchGemmRowsPerSecond = n / TimeMedian(21, () => net.Predict(data.TestX, outputs, batchWs, Threads));

        var one = new float[k];
        (record.SingleRowMedianMicros, record.SingleRowLoopRowsPerSecond) =
            OneRowMedianMicros(n, i => predictor.Predict(data.TestX.AsSpan(i * d, d), one));
        var w1 = Workload.W1.CreateNetwork(InitSeed).CreatePredictor();
        w1.SkipZeroInputs = skipZeros;
        (record.W1ShapeSingleRowMedianMicros, _) = OneRowMedianMicros(n, i => w1.Predict(data.TestX.AsSpan(i * d, d), one));
        (record.ForeignCpuPercent, record.StealPercent) = ProcStats.CpuSnapshot.Take().Since(before);
    }

    /// <summary>
    /// Scores the <paramref name="rows"/> test rows one at a time: a warm-up of at least 1.5 s (as <see cref="TimeMedian"/>),
    /// then three timed passes; returns the median over passes of each pass's median µs per row, and the rows/s of the
    /// last pass as a whole. Used for both libraries.
    /// </summary>
    internal static (double MedianMicros, double LoopRowsPerSecond) OneRowMedianMicros(int rows, Action<int> scoreRow)
    {
        long warm0 = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(warm0).TotalSeconds < 1.5)
            for (int i = 0; i < rows; i++) scoreRow(i);
        var micros = new double[rows];
        var medians = new double[3];
        double loopSeconds = 0;
        for (int pass = 0; pass < medians.Length; pass++)
        {
            long loop0 = Stopwatch.GetTimestamp();
            medians[pass] = TimedPassMedianMicros(rows, scoreRow, micros);
            loopSeconds = Stopwatch.GetElapsedTime(loop0).TotalSeconds;
        }
        return (Stats.Median(medians), rows / loopSeconds);
    }

    /// <summary>Scores rows 0..<paramref name="rows"/>-1 once, timing each call into <paramref name="micros"/>; returns the median µs.</summary>
    internal static double TimedPassMedianMicros(int rows, Action<int> scoreRow, double[] micros)
    {
        for (int i = 0; i < rows; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            scoreRow(i);
            micros[i] = (Stopwatch.GetTimestamp() - t0) * 1e6 / Stopwatch.Frequency; // raw ticks: a TimeSpan rounds to 0.1 µs
        }
        return Stats.Median(micros);
    }

    /// <summary>
    /// Median seconds of <paramref name="repetitions"/> calls after a warm-up of at least 50 calls and 1.5 s, so that
    /// .NET's tiered JIT has replaced the first, unoptimized code (TensorPrimitives' element-wise loops run about 5 times
    /// slower before that); the same warm-up is used for both libraries.
    /// </summary>
    internal static double TimeMedian(int repetitions, Action action)
    {
        long warm0 = Stopwatch.GetTimestamp();
        for (int w = 0; w < 50 || Stopwatch.GetElapsedTime(warm0).TotalSeconds < 1.5; w++) action();
        var s = new double[repetitions];
        for (int r = 0; r < repetitions; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            action();
            s[r] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        return Stats.Median(s);
    }

    /// <summary>
    /// An MNIST row for ML.NET. The label is the digit 0..9; declared as a key of 10 values, LoadFromEnumerable
    /// stores it as key digit + 1 (0 is the missing key); PredictedLabel comes back as that raw key.
    /// </summary>
    public sealed class MnistRow
    {
        /// <summary>The digit 0..9 (a key of 10 values through the schema definition).</summary>
        public uint Label { get; set; }

        /// <summary>The pixels.</summary>
        [VectorType(Mnist.Features)]
        public float[] Features { get; set; } = [];
    }

    /// <summary>Only the pixels, for scoring.</summary>
    public sealed class MnistFeatures
    {
        /// <summary>The pixels.</summary>
        [VectorType(Mnist.Features)]
        public float[] Features { get; set; } = [];
    }

    /// <summary>What the multiclass transformer adds.</summary>
    public sealed class MnistPrediction
    {
        /// <summary>Class probabilities.</summary>
        public float[] Score { get; set; } = [];

        /// <summary>The predicted key as stored: digit + 1 (0 would be missing).</summary>
        public uint PredictedLabel { get; set; }
    }

    /// <summary>
    /// The adapter has no way to wrap an already trained network, so a BackpropTransformer of the same
    /// architecture (784-256-128-10 ReLU, softmax) is trained briefly (2 epochs, Adam) and scored through
    /// ML.NET: Transform + a cursor over Score, and a PredictionEngine one row at a time.
    /// </summary>
    private static void ScoreThroughMlNet(Mnist data, int round, RunRecord record)
    {
        int d = Mnist.Features;
        var ml = new MLContext(seed: round);
        var trainRows = Enumerable.Range(0, data.TrainCount)
            .Select(i => new MnistRow { Label = (uint)data.TrainLabels[i], Features = data.TrainX.AsSpan(i * d, d).ToArray() }).ToList();
        var testRows = Enumerable.Range(0, data.TestCount)
            .Select(i => new MnistFeatures { Features = data.TestX.AsSpan(i * d, d).ToArray() }).ToArray();
        var trainer = ml.MulticlassClassification.Trainers.Backprop(new BackpropTrainerOptions
        {
            HiddenLayers = [256, 128],
            Activation = Activation.Relu,
            Optimizer = Core.Optimizers.OptimizerKind.Adam,
            LearningRate = 1e-3,
            L2Regularization = 1e-4,
            BatchSize = 128,
            MaxEpochs = 2,
            Tolerance = 0,
            EarlyStopping = false,
            Seed = round,
            NumberOfThreads = Threads,
        });
        var schema = SchemaDefinition.Create(typeof(MnistRow));
        schema["Label"].ColumnType = new KeyDataViewType(typeof(uint), Mnist.Classes);
        BackpropTransformer model = trainer.Fit(ml.Data.LoadFromEnumerable(trainRows, schema));

        var before = ProcStats.CpuSnapshot.Take();
        IDataView testView = ml.Data.LoadFromEnumerable(testRows);
        double transformSeconds = TimeMedian(7, () =>
        {
            IDataView scored = model.Transform(testView);
            var column = scored.Schema["Score"];
            using var cursor = scored.GetRowCursor([column]);
            var getter = cursor.GetGetter<VBuffer<float>>(column);
            VBuffer<float> v = default;
            while (cursor.MoveNext()) getter(ref v);
        });
        record.MlNetTransformRowsPerSecond = data.TestCount / transformSeconds;

        var engine = ml.Model.CreatePredictionEngine<MnistFeatures, MnistPrediction>(model);
        var prediction = new MnistPrediction();
        var micros = new double[testRows.Length];
        int correct = 0;
        double loopSeconds = 0;
        // Warm up for 1.5 s (tiered JIT, as for the in-memory figures), then two passes; the second is kept.
        long warm0 = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(warm0).TotalSeconds < 1.5)
            for (int i = 0; i < testRows.Length; i++) engine.Predict(testRows[i], ref prediction);
        for (int pass = 0; pass < 2; pass++)
        {
            correct = 0;
            long loop0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < testRows.Length; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                engine.Predict(testRows[i], ref prediction);
                micros[i] = (Stopwatch.GetTimestamp() - t0) * 1e6 / Stopwatch.Frequency; // raw ticks: a TimeSpan rounds to 0.1 µs
                if (prediction.PredictedLabel == (uint)data.TestLabels[i] + 1) correct++;
            }
            loopSeconds = Stopwatch.GetElapsedTime(loop0).TotalSeconds;
        }
        record.MlNetEngineRowsPerSecond = testRows.Length / loopSeconds;
        record.MlNetEngineMedianMicros = Stats.Median(micros);
        record.MlNetAdapterAccuracy = (double)correct / testRows.Length;
        var (foreign, _) = ProcStats.CpuSnapshot.Take().Since(before);
        record.ForeignCpuPercent = Math.Max(record.ForeignCpuPercent, foreign);
    }
}
