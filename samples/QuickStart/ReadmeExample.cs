using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop;

namespace QuickStart;

/// <summary>
/// The README's quick start. The code between the readme markers is the README's code block, word for word: it is
/// compiled with this sample, and the tests (ReadmeTests) check the README still equals it and run it.
/// </summary>
public static class ReadmeExample
{
    /// <summary>Runs the README's example on the bundled breast-cancer file and returns its comparison.</summary>
    public static ComparisonResult Run(string dataPath)
    {
        // <readme>
        var ml = new MLContext(seed: 0);

        // Wisconsin breast cancer: label 0/1, 9 numeric features, 16 missing values ('?', read as NaN).
        IDataView data = ml.Data.LoadFromTextFile(dataPath,
            [new TextLoader.Column("Label", DataKind.Boolean, 0), new TextLoader.Column("Features", DataKind.Single, 1, 9)]);

        // Featurize, append the backprop trainer, fit on 80 % of the rows and evaluate on the rest.
        var featurize = ml.Transforms.ReplaceMissingValues("Features")
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .AppendCacheCheckpoint(ml); // for ML.NET's multi-pass trainers below; ours reads the rows once
        var split = ml.Data.TrainTestSplit(data, testFraction: 0.2, seed: 0);
        var model = featurize.Append(ml.BinaryClassification.Trainers.Backprop(hiddenLayers: [64])).Fit(split.TrainSet);
        var metrics = ml.BinaryClassification.Evaluate(model.Transform(split.TestSet));
        Console.WriteLine($"Test AUC {metrics.AreaUnderRocCurve:F4}, accuracy {metrics.Accuracy:F4}");

        // Compare with ML.NET's built-in trainers on the same five cross-validation folds.
        ComparisonResult table = ml.Backprop().Compare(data, featurize,
        [
            ("Backprop MLP", ml.BinaryClassification.Trainers.Backprop()),
            ("SDCA logistic", ml.BinaryClassification.Trainers.SdcaLogisticRegression()),
            ("L-BFGS logistic", ml.BinaryClassification.Trainers.LbfgsLogisticRegression()),
        ], new ComparisonOptions { NumberOfFolds = 5, Seed = 0 });
        Console.WriteLine(table.ToText());
        // </readme>
        return table;
    }
}
