// Distributed: trains one ML.NET pipeline data-parallel over MPI, each process (rank) on its shard of the bundled MNIST
// subset (10,000 rows, 784 pixels), and evaluates and saves the model on rank 0.
//   mpiexec -n 2 dotnet samples/Distributed/bin/Release/net10.0/linux-x64/Distributed.dll [model.zip]
// (build first: dotnet build -c Release samples/Distributed). Without mpiexec it runs as one rank.
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Transforms;
using MLNetBackprop;
using MLNetBackprop.Core.Optimizers;
using MLNetBackprop.Distributed;
using QuickStart;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
using var mpi = MpiAllreduce.Initialize(TimeSpan.FromSeconds(120));
try
{
    var ml = new MLContext(seed: 1);
    // Rank 0 writes the log; the others train silently.
    if (mpi.Rank == 0)
        ml.Log += (_, e) => { if (e.Message.Contains("Backprop", StringComparison.Ordinal)) Console.WriteLine(e.Message); };

    // Every rank loads the file and keeps its row range (with one file per rank, load that file instead). The label's
    // key mapping numbers the classes by value, so every shard numbers them alike; the pixels are already in [0, 1], so
    // no normalizer has to be fitted on every row first.
    var shard = ml.Backprop().Shard(BundledData.Mnist(ml, "mnist10k-train.csv.gz"), mpi.Rank, mpi.Size);
    var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
        .Append(ml.MulticlassClassification.Trainers.Backprop(new BackpropTrainerOptions
        {
            HiddenLayers = [256, 128],
            Activation = MLNetBackprop.Core.Activation.Relu,
            Optimizer = OptimizerKind.Adam,
            BatchSize = 128, // the global batch: 128 / ranks rows per rank and step
            MaxEpochs = 10,
            EarlyStopping = false,
            NumberOfThreads = 1, // one core per rank; raise it when a rank has cores of its own
            GradientAllreduce = mpi,
        }));
    var clock = Stopwatch.StartNew();
    var model = pipeline.Fit(shard);
    clock.Stop();

    if (mpi.Rank == 0)
    {
        var test = BundledData.Mnist(ml, "mnist10k-test.csv.gz");
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
        Console.WriteLine($"{mpi.Size} rank(s), sums {(mpi.UsesSharedMemory ? "through shared memory" : "round the ring in MPI messages")}: trained in {clock.Elapsed.TotalSeconds:F1} s; test accuracy {metrics.MicroAccuracy:F4}, log-loss {metrics.LogLoss:F4}.");
        string path = Path.GetFullPath(args.Length > 0 ? args[0] : "mnist-distributed.zip");
        ml.Model.Save(model, shard.Schema, path);
        Console.WriteLine($"Model saved to {path}.");
    }
    return 0;
}
catch (Exception e)
{
    // One rank's failure must end every rank: MPI_Abort stops the whole job instead of leaving the others waiting.
    Console.Error.WriteLine($"rank {mpi.Rank}: {e.GetType().Name}: {e.Message}");
    mpi.Abort(1);
    return 1;
}
