// QuickStart: trains the backprop MLP and ML.NET's SDCA, L-BFGS, FastTree and LightGBM on four bundled datasets with
// mlContext.Backprop().Compare(...), prints the comparison tables, and writes them (Markdown, CSV) with two PNG charts.
// Run with: dotnet run -c Release --project samples/QuickStart [output folder]
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Microsoft.ML.Trainers.LightGbm;
using MLNetBackprop;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Optimizers;
using QuickStart;

var wall = Stopwatch.StartNew();
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
string output = args.Length > 0 ? Path.GetFullPath(args[0]) : DefaultOutputFolder();
Directory.CreateDirectory(output);
var ml = new MLContext(seed: 0);
string[] trainers = ["Backprop MLP", "SDCA", "L-BFGS", "FastTree", "LightGBM"];
var results = new List<(string Dataset, ComparisonResult Result)>();

Console.WriteLine($"MLNetBackprop QuickStart on {Environment.ProcessorCount} cores; writing to {output}");
Console.WriteLine("Trainers: Backprop MLP (this library), and ML.NET's SDCA, L-BFGS, FastTree, LightGBM (the task's variant of each).");

// Each featurization ends in a cache checkpoint, as ML.NET recommends for its multi-pass trainers (SDCA, L-BFGS); every
// trainer sees the same cached rows. LightGBM and SDCA run single-threaded: on this 2-core machine shared with other jobs,
// LightGBM's OpenMP threads spin-waited it to 8 times slower than one thread.

// 1. Iris, multiclass, 5-fold cross-validation. Our trainer with its defaults (one hidden layer of 128 tanh units, L-BFGS).
{
    var data = BundledData.Iris(ml);
    var featurize = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.NormalizeMeanVariance("Features"))
        .AppendCacheCheckpoint(ml);
    Run("iris", data, null, featurize,
    [
        ("Backprop MLP", ml.MulticlassClassification.Trainers.Backprop()),
        ("SDCA", ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(new SdcaMaximumEntropyMulticlassTrainer.Options { NumberOfThreads = 1 })),
        ("L-BFGS", ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy()),
        ("FastTree", ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastTree())),
        ("LightGBM", ml.MulticlassClassification.Trainers.LightGbm(new LightGbmMulticlassTrainer.Options { NumberOfThreads = 1 })),
    ]);
}

// 2. Breast cancer, binary, 5-fold cross-validation; 16 missing values imputed with the column mean. Defaults.
{
    var data = BundledData.BreastCancer(ml);
    var featurize = ml.Transforms.ReplaceMissingValues("Features").Append(ml.Transforms.NormalizeMeanVariance("Features"))
        .AppendCacheCheckpoint(ml);
    Run("breast-cancer", data, null, featurize,
    [
        ("Backprop MLP", ml.BinaryClassification.Trainers.Backprop()),
        ("SDCA", ml.BinaryClassification.Trainers.SdcaLogisticRegression(new SdcaLogisticRegressionBinaryTrainer.Options { NumberOfThreads = 1 })),
        ("L-BFGS", ml.BinaryClassification.Trainers.LbfgsLogisticRegression()),
        ("FastTree", ml.BinaryClassification.Trainers.FastTree()),
        ("LightGBM", ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options { NumberOfThreads = 1 })),
    ]);
}

// 3. Boston housing, regression, 5-fold cross-validation. Defaults (targets are standardized inside the trainer).
//    ML.NET's L-BFGS regression trainer is Poisson regression.
{
    var data = BundledData.Housing(ml);
    var featurize = ml.Transforms.NormalizeMeanVariance("Features").AppendCacheCheckpoint(ml);
    Run("housing", data, null, featurize,
    [
        ("Backprop MLP", ml.Regression.Trainers.Backprop()),
        ("SDCA", ml.Regression.Trainers.Sdca(new SdcaRegressionTrainer.Options { NumberOfThreads = 1 })),
        ("L-BFGS", ml.Regression.Trainers.LbfgsPoissonRegression()),
        ("FastTree", ml.Regression.Trainers.FastTree()),
        ("LightGBM", ml.Regression.Trainers.LightGbm(new LightGbmRegressionTrainer.Options { NumberOfThreads = 1 })),
    ]);
}

// 4. MNIST subset, 10 classes, the given 8,000/2,000 split; pixels are already in [0, 1]. Our trainer with stated options:
//    784-256-128-10 ReLU, SGD with momentum 0.9, α = 0.1, batches of 64, λ = 1e-4, 20 epochs, no early stopping, seed 0.
//    Built-ins bounded to keep the run short: SDCA at 10 passes, FastTree (one-versus-all) at 20 trees per class,
//    LightGBM at 50 iterations; L-BFGS at its defaults.
{
    var train = BundledData.Mnist(ml, "mnist10k-train.csv.gz");
    var test = BundledData.Mnist(ml, "mnist10k-test.csv.gz");
    var featurize = ml.Transforms.Conversion.MapValueToKey("Label").AppendCacheCheckpoint(ml);
    var mlp = new BackpropTrainerOptions
    {
        HiddenLayers = [256, 128],
        Activation = Activation.Relu,
        Optimizer = OptimizerKind.Sgd,
        LearningRate = 0.1,
        Momentum = 0.9,
        BatchSize = 64,
        L2Regularization = 1e-4,
        EarlyStopping = false,
        Tolerance = 0,
        MaxEpochs = 20,
        Seed = 0,
    };

    // The loss curve: the same trainer fitted with the test set passed as validation data. Without early stopping the
    // validation set is only monitored (loss and accuracy per epoch), so this is the same network Compare fits below.
    Console.WriteLine();
    Console.WriteLine("== mnist10k: the Backprop MLP epoch by epoch, test set monitored (not used for training)");
    var monitored = mlp.Clone();
    monitored.EpochCompleted = e => Console.WriteLine(
        $"  epoch {e.Epoch,2}  J {e.TrainingLoss:F4}  test loss {e.ValidationLoss:F4}  test accuracy {e.ValidationAccuracy:P2}  {e.Elapsed.TotalSeconds,5:F1} s");
    var keyed = featurize.Fit(train);
    var curve = ml.MulticlassClassification.Trainers.Backprop(monitored).Fit(keyed.Transform(train), keyed.Transform(test));
    Charts.LossCurve(curve.History, "Backprop MLP on the MNIST subset: 784-256-128-10 ReLU, SGD momentum 0.9, α 0.1, batch 64",
        "test loss (monitored only)", Path.Combine(output, "loss-curve.png"));

    Run("mnist10k", train, test, featurize,
    [
        ("Backprop MLP", ml.MulticlassClassification.Trainers.Backprop(mlp)),
        ("SDCA", ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(new SdcaMaximumEntropyMulticlassTrainer.Options
            { NumberOfThreads = 1, MaximumNumberOfIterations = 10 })),
        ("L-BFGS", ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy()),
        ("FastTree", ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20))),
        ("LightGBM", ml.MulticlassClassification.Trainers.LightGbm(new LightGbmMulticlassTrainer.Options
            { NumberOfThreads = 1, NumberOfIterations = 50 })),
    ]);
}

// Summary, files and charts.
string summary = Summary(results, trainers);
Console.WriteLine();
Console.WriteLine("== Summary: primary metric (mean ± sd over folds) and fit time per fold");
Console.WriteLine(summary);
var markdown = new StringBuilder();
markdown.Append("## Summary: primary metric (mean ± sd over folds) and fit time per fold\n\n").Append(summary).Append('\n');
foreach (var (name, result) in results)
    markdown.Append($"## {name}: {result.Description}\n\n").Append(result.ToMarkdown()).Append('\n');
File.WriteAllText(Path.Combine(output, "comparison.md"), markdown.ToString());
File.WriteAllText(Path.Combine(output, "comparison.csv"), string.Concat(results.Select((r, i) =>
    string.Join('\n', r.Result.ToCsv().TrimEnd('\n').Split('\n').Skip(i == 0 ? 0 : 1).Select((line, j) => (i == 0 && j == 0 ? "Dataset," : r.Dataset + ",") + line)) + "\n")));
Charts.MetricByTrainer(results, trainers, Path.Combine(output, "metric-by-trainer.png"));
if (!SkiaSharp.SKFontManager.Default.FontFamilies.Any())
    Console.WriteLine("Note: no fonts were found, so the charts have no text; install a font package (e.g. fonts-dejavu-core).");
Console.WriteLine();
Console.WriteLine($"Wrote comparison.md, comparison.csv, loss-curve.png and metric-by-trainer.png to {output}");
Console.WriteLine($"Finished in {wall.Elapsed.TotalSeconds:F0} s.");

void Run(string dataset, IDataView data, IDataView? test, IEstimator<ITransformer> featurize, (string, IEstimator<ITransformer>)[] candidates)
{
    var options = new ComparisonOptions { NumberOfFolds = 5, Seed = 0, Progress = Progress.Show };
    Console.WriteLine();
    Console.WriteLine($"== {dataset}");
    var result = test is null
        ? ml.Backprop().Compare(data, featurize, candidates, options)
        : ml.Backprop().Compare(data, test, featurize, candidates, options);
    Console.WriteLine();
    Console.Write(result.ToText());
    results.Add((dataset, result));
}

static string Summary(List<(string Dataset, ComparisonResult Result)> results, string[] trainers)
{
    var sb = new StringBuilder("| Trainer |");
    foreach (var (name, r) in results) sb.Append($" {name} {r.PrimaryMetric} | fit (s) |");
    sb.Append("\n|---|").Append(string.Concat(Enumerable.Repeat("---:|---:|", results.Count))).Append('\n');
    foreach (var t in trainers)
    {
        sb.Append($"| {t} |");
        foreach (var (_, r) in results)
        {
            var row = r.Rows.First(x => x.Name == t);
            var m = row.Metric(r.PrimaryMetric);
            bool best = r.Best() == row;
            string value = m is null ? "failed" : m.StandardDeviation is { } sd ? $"{m.Mean:F4} ± {sd:F4}" : $"{m.Mean:F4}";
            sb.Append(best ? $" **{value}** |" : $" {value} |").Append($" {row.FitSeconds?.Mean:F2} |");
        }
        sb.Append('\n');
    }
    return sb.ToString();
}

static string DefaultOutputFolder()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "QuickStart.csproj"))) return Path.Combine(dir.FullName, "output");
    return Path.Combine(Directory.GetCurrentDirectory(), "output");
}
