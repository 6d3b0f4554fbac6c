using Microsoft.ML.Data;

namespace MLNetBackprop;

/// <summary>The metrics a comparison reports, read from ML.NET's metric objects; which a task reports is its head's (<see cref="Heads.TaskHead.MetricNames"/>).</summary>
internal static class TaskMetrics
{
    public const string Auc = "AUC";
    public const string Accuracy = "Accuracy";
    public const string F1 = "F1";
    public const string Auprc = "AUPRC";
    public const string LogLoss = "LogLoss";
    public const string MicroAccuracy = "MicroAccuracy";
    public const string MacroAccuracy = "MacroAccuracy";
    public const string RSquared = "RSquared";
    public const string Rmse = "RMSE";
    public const string Mae = "MAE";

    private static readonly HashSet<string> LowerIsBetter = [LogLoss, Rmse, Mae, "FitSeconds"];

    public static bool HigherIsBetter(string metric) => !LowerIsBetter.Contains(metric);

    /// <summary>The name of one output's R² in a multi-output comparison, e.g. "RSquared[NitricOxides]".</summary>
    public static string PerOutputRSquared(string output) => $"{RSquared}[{output}]";

    /// <summary>Name → value for one fold's metrics object.</summary>
    public static IReadOnlyList<(string Name, double Value)> Read(object metrics) => metrics switch
    {
        CalibratedBinaryClassificationMetrics c =>
            [(Auc, c.AreaUnderRocCurve), (Accuracy, c.Accuracy), (F1, c.F1Score), (Auprc, c.AreaUnderPrecisionRecallCurve), (LogLoss, c.LogLoss)],
        BinaryClassificationMetrics b =>
            [(Auc, b.AreaUnderRocCurve), (Accuracy, b.Accuracy), (F1, b.F1Score), (Auprc, b.AreaUnderPrecisionRecallCurve)],
        MulticlassClassificationMetrics m => [(MicroAccuracy, m.MicroAccuracy), (MacroAccuracy, m.MacroAccuracy), (LogLoss, m.LogLoss)],
        RegressionMetrics r => [(RSquared, r.RSquared), (Rmse, r.RootMeanSquaredError), (Mae, r.MeanAbsoluteError)],
        MultiOutputRegressionMetrics m =>
            [(RSquared, m.RSquared), (Rmse, m.RootMeanSquaredError), (Mae, m.MeanAbsoluteError),
                .. m.OutputNames.Select((n, k) => (PerOutputRSquared(n), m.PerOutputRSquared[k]))],
        _ => throw new ArgumentException($"Unexpected metrics type {metrics.GetType()}.", nameof(metrics)),
    };
}
