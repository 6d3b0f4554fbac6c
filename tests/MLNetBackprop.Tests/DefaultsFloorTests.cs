using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop.Tests;

/// <summary>
/// Issue #14's floor on three of the panel's small noisy sets, in CI: the default trainer, with no options, is not below
/// the best of ML.NET's linear trainers (SDCA, L-BFGS) by more than max(0.01, 2 SE of the fold-paired difference) in AUC,
/// or 0.02 in R², on the same 5 folds of <c>Compare</c>, with the panel's featurization. These are the sets where the
/// fixed λ = 1e-3 failed (birthwt-bwt R² −1.57 against L-BFGS's 0.035, birthwt-low AUC 0.553 against 0.659; the panel
/// report in tests/MLNetBackprop.Benchmarks/results has the full table), plus Servo, where the network must still beat
/// a straight line clearly (0.85 against 0.73).
/// </summary>
public sealed class DefaultsFloorTests
{
    private static string PanelFile(string name) => Path.Combine(AppContext.BaseDirectory, "data", "panel", name);

    public static TheoryData<string> Sets => new() { "birthwt-bwt", "birthwt-low", "Servo" };

    [Theory]
    [MemberData(nameof(Sets))]
    public void TheDefaultMlpHoldsTheLinearFloor(string set)
    {
        var ml = new MLContext(seed: 0);
        var (data, featurize, task, candidates) = set switch
        {
            "birthwt-bwt" => Birthwt(ml, "bwt"),
            "birthwt-low" => Birthwt(ml, "low"),
            _ => Servo(ml),
        };
        var result = ml.Backprop().Compare(data, featurize, candidates, new ComparisonOptions { NumberOfFolds = 5, Seed = 0, Task = task });
        double[] Folds(string name) => result.Rows.Single(r => r.Name == name).Metric(result.PrimaryMetric)!.Values.ToArray();

        var ours = Folds("ours");
        var best = new[] { "SDCA", "L-BFGS" }.Select(n => (Name: n, Folds: Folds(n))).MaxBy(t => t.Folds.Average());
        var diff = ours.Zip(best.Folds, (a, b) => a - b).ToArray();
        double mean = diff.Average();
        double se = Math.Sqrt(diff.Sum(d => (d - mean) * (d - mean)) / (diff.Length - 1) / diff.Length);
        double allowed = task == BackpropTask.Regression ? 0.02 : Math.Max(0.01, 2 * se);
        Assert.True(mean >= -allowed,
            $"{set}: ours {ours.Average():F4}, {best.Name} {best.Folds.Average():F4}; difference {mean:F4} ± {se:F4}, allowed −{allowed:F4}");
        if (set == "Servo")
            Assert.True(mean > 0.05, $"Servo: ours {ours.Average():F4} should clearly beat {best.Name} {best.Folds.Average():F4}");
    }

    internal static (IDataView, IEstimator<ITransformer>, BackpropTask, (string, IEstimator<ITransformer>)[]) Birthwt(MLContext ml, string label)
    {
        string[] numeric = ["age", "lwt", "smoke", "ptl", "ht", "ui", "ftv"];
        var columns = new List<TextLoader.Column>
        {
            new("race", DataKind.String, 3),
            new("Label", label == "low" ? DataKind.Boolean : DataKind.Single, label == "low" ? 0 : 9),
        };
        int[] at = [1, 2, 4, 5, 6, 7, 8];
        for (int i = 0; i < numeric.Length; i++) columns.Add(new TextLoader.Column(numeric[i], DataKind.Single, at[i]));
        var data = ml.Data.LoadFromTextFile(PanelFile("birthwt.csv"), columns.ToArray(), separatorChar: ',', hasHeader: true, allowQuoting: true);
        var featurize = Featurize(ml, numeric, ["race"]);
        return label == "low"
            ? (data, featurize, BackpropTask.BinaryClassification,
                [("ours", ml.BinaryClassification.Trainers.Backprop()),
                 ("SDCA", ml.BinaryClassification.Trainers.SdcaLogisticRegression(new() { NumberOfThreads = 1 })),
                 ("L-BFGS", ml.BinaryClassification.Trainers.LbfgsLogisticRegression())])
            : (data, featurize, BackpropTask.Regression, Regressors(ml));
    }

    private static (IDataView, IEstimator<ITransformer>, BackpropTask, (string, IEstimator<ITransformer>)[]) Servo(MLContext ml)
    {
        var data = ml.Data.LoadFromTextFile(PanelFile("Servo.csv"),
            [new("Motor", DataKind.String, 0), new("Screw", DataKind.String, 1), new("Pgain", DataKind.Single, 2),
             new("Vgain", DataKind.Single, 3), new("Label", DataKind.Single, 4)],
            separatorChar: ',', hasHeader: true, allowQuoting: true);
        return (data, Featurize(ml, ["Pgain", "Vgain"], ["Motor", "Screw"]), BackpropTask.Regression, Regressors(ml));
    }

    private static (string, IEstimator<ITransformer>)[] Regressors(MLContext ml) =>
    [
        ("ours", ml.Regression.Trainers.Backprop()),
        ("SDCA", ml.Regression.Trainers.Sdca(new() { NumberOfThreads = 1 })),
        ("L-BFGS", ml.Regression.Trainers.LbfgsPoissonRegression()),
    ];

    /// <summary>The panel's featurization: categorical columns one-hot, then everything concatenated and standardized.</summary>
    private static IEstimator<ITransformer> Featurize(MLContext ml, string[] numeric, string[] categorical) =>
        ml.Transforms.Categorical.OneHotEncoding(categorical.Select(c => new InputOutputColumnPair(c + ".onehot", c)).ToArray())
            .Append(ml.Transforms.Concatenate("Features", [.. numeric, .. categorical.Select(c => c + ".onehot")]))
            .Append(ml.Transforms.NormalizeMeanVariance("Features", fixZero: false))
            .AppendCacheCheckpoint(ml);
}
