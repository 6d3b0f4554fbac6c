using MLNetBackprop;
using MLNetBackprop.Core;
using ScottPlot;
using SkiaSharp;

namespace QuickStart;

/// <summary>The two PNG charts, drawn with ScottPlot (Skia, headless).</summary>
internal static class Charts
{
    /// <summary>Training cost J (with the L2 penalty) and the monitored loss per epoch.</summary>
    public static void LossCurve(TrainingHistory history, string title, string monitorLabel, string path)
    {
        using var plot = NewPlot();
        double[] epochs = history.Epochs.Select(e => (double)e.Epoch).ToArray();
        var train = plot.Add.ScatterLine(epochs, history.Epochs.Select(e => e.TrainingLoss).ToArray());
        train.LegendText = "training cost J (cross-entropy + L2 penalty)";
        train.LineWidth = 2;
        var monitored = history.Epochs.Where(e => e.ValidationLoss is not null).ToArray();
        if (monitored.Length > 0)
        {
            var test = plot.Add.ScatterLine(monitored.Select(e => (double)e.Epoch).ToArray(), monitored.Select(e => e.ValidationLoss!.Value).ToArray());
            test.LegendText = monitorLabel;
            test.LineWidth = 2;
        }
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel("loss");
        plot.Axes.SetLimitsY(0, history.Epochs.Max(e => Math.Max(e.TrainingLoss, e.ValidationLoss ?? 0)) * 1.05);
        plot.Legend.Alignment = Alignment.UpperRight;
        plot.ShowLegend();
        plot.SavePng(path, 900, 520);
    }

    /// <summary>Grouped bars: each dataset's primary metric (mean over folds, ± one standard deviation) for each trainer.</summary>
    public static void MetricByTrainer(IReadOnlyList<(string Dataset, ComparisonResult Result)> results, string[] trainers, string path)
    {
        using var plot = NewPlot();
        var palette = new ScottPlot.Palettes.Category10();
        int groupWidth = trainers.Length + 1;
        double lowest = 1;
        for (int t = 0; t < trainers.Length; t++)
        {
            var bars = new List<Bar>();
            for (int d = 0; d < results.Count; d++)
            {
                var row = results[d].Result.Rows.FirstOrDefault(r => r.Name == trainers[t]);
                var metric = row?.Metric(results[d].Result.PrimaryMetric);
                if (metric is null) continue;
                lowest = Math.Min(lowest, metric.Mean - (metric.StandardDeviation ?? 0));
                bars.Add(new Bar
                {
                    Position = d * groupWidth + t,
                    Value = metric.Mean,
                    Error = metric.StandardDeviation ?? 0,
                    FillColor = palette.GetColor(t),
                    LineColor = Colors.Black, // the error bar
                    LineWidth = 1,
                    ErrorSize = 0.4,
                });
            }
            var series = plot.Add.Bars(bars);
            series.LegendText = trainers[t];
        }
        var ticks = results.Select((r, d) => new Tick(d * groupWidth + (trainers.Length - 1) / 2.0,
            $"{r.Dataset}\n{Describe(r.Result.PrimaryMetric)}")).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        double floor = Math.Max(0, Math.Floor((lowest - 0.05) * 10) / 10);
        plot.Axes.SetLimits(-1, results.Count * groupWidth - 1, floor, 1.02);
        plot.Title("Primary metric by trainer: mean and ± 1 sd over 5 folds (mnist10k: the given test set); y from "
            + floor.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture));
        plot.YLabel("metric (higher is better)");
        plot.Legend.Alignment = Alignment.LowerRight;
        plot.Legend.Orientation = Orientation.Horizontal;
        plot.ShowLegend(Edge.Bottom);
        plot.SavePng(path, 1000, 560);
    }

    private static string Describe(string metric) => metric switch
    {
        "MicroAccuracy" => "micro-accuracy",
        "RSquared" => "R²",
        _ => metric,
    };

    private static Plot NewPlot()
    {
        var plot = new Plot();
        // DejaVu Sans where installed (the Skia build in use has no font fallback of its own); else Skia's default face.
        string? sans = SKFontManager.Default.FontFamilies.FirstOrDefault(f => f is "DejaVu Sans" or "Liberation Sans" or "Arial");
        if (sans is not null) plot.Font.Set(sans);
        return plot;
    }
}
