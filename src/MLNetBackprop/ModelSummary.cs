using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop;

/// <summary>
/// The text of <see cref="BackpropModelParameters.ToString"/> and <see cref="BackpropTransformer.ToString"/>: what
/// Keras's <c>model.summary()</c> shows (layers, units, activations, parameters per layer and in total), plus what only
/// a trained model knows (the options that decided the fit, why it stopped, the epoch it holds, the feature names).
/// </summary>
internal static class ModelSummary
{
    /// <summary>How many feature names the summary lists before it says "… and N more".</summary>
    internal const int MaxFeatureNames = 20;

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Describe(BackpropModelParameters m)
    {
        var sb = new StringBuilder();
        string outputs = m.OutputSize == 1 ? "1 output" : string.Create(Inv, $"{m.OutputSize} outputs");
        sb.Append(Inv, $"Backprop network: {m.Head.Describe(m.OutputSize)}, {m.InputSize} inputs → {outputs}").AppendLine();
        var sizes = m.LayerSizes;
        var acts = m.Activations;
        var rows = new List<string[]> { new[] { "Layer", "Units", "Activation", "Parameters" }, new[] { "input", Count(sizes[0]), "", "" } };
        long total = 0;
        for (int l = 0; l < acts.Count; l++)
        {
            long p = (long)sizes[l + 1] * sizes[l] + sizes[l + 1];
            total += p;
            string name = l == acts.Count - 1 ? "output" : string.Create(Inv, $"hidden {l + 1}");
            rows.Add([name, Count(sizes[l + 1]), acts[l].ToString(), Count(p)]);
        }
        AppendTable(sb, rows);
        sb.Append(Inv, $"Total parameters: {Count(total)} ({Count(total - Biases(sizes))} weights, {Count(Biases(sizes))} biases)").AppendLine();
        if (m.ClassNameArray.Length > 0)
            sb.Append("Classes: ").AppendJoin(", ", m.ClassNameArray).AppendLine();
        if (m.Head.ScalesTargets && m.Mean.Length > 0)
            sb.Append("Targets: prediction = output × ").Append(Join(m.Scale)).Append(" + ").Append(Join(m.Mean)).AppendLine();
        return sb.ToString().TrimEnd();
    }

    public static string Describe(BackpropTransformer t)
    {
        var sb = new StringBuilder();
        var o = t.Options;
        sb.Append(Inv, $"BackpropTransformer: {t.Model.Head.Describe(t.Model.OutputSize)} of '{t.LabelColumnName}' from '{t.FeatureColumnName}' ({t.Model.InputSize} features)").AppendLine();
        sb.AppendLine(Describe(t.Model));
        sb.Append("Trained with: ").Append(Optimizer(o)).Append(", loss ").Append(o.Loss?.ToString() ?? "default")
          .Append(", ").Append(WeightDecay(t)).AppendLine();
        var extras = new List<string>();
        if (o.Dropout > 0) extras.Add(string.Create(Inv, $"dropout {o.Dropout:G3}"));
        if (o.L1Regularization > 0) extras.Add(string.Create(Inv, $"L1 {o.L1Regularization:G3}"));
        if (o.BalanceClasses) extras.Add("balanced class weights");
        if (o.ClassWeights is { } cw) extras.Add("class weights [" + Join(cw) + "]");
        if (o.ExampleWeightColumnName is { } w) extras.Add($"example weights from '{w}'");
        if (o.EarlyStopping == true) extras.Add(string.Create(Inv, $"early stopping (patience {o.EarlyStoppingPatience})"));
        extras.Add(string.Create(Inv, $"max {o.MaxEpochs} epochs"));
        if (o.Seed is { } seed) extras.Add(string.Create(Inv, $"seed {seed}"));
        sb.Append("              ").AppendJoin(", ", extras).AppendLine();
        var h = t.History;
        sb.Append(Inv, $"Outcome: {h.StopReason} after {h.Epochs.Count} epochs; the model holds epoch {h.BestEpoch}");
        if (h.BestEpoch > 0 && h.BestEpoch <= h.Epochs.Count)
        {
            var best = h.Epochs[h.BestEpoch - 1];
            sb.Append(Inv, $" (training loss {best.TrainingLoss:G4}");
            if (best.ValidationLoss is { } v) sb.Append(Inv, $", validation loss {v:G4}");
            sb.Append(')');
        }
        sb.AppendLine();
        if (t.FeatureNames is { Count: > 0 } names)
        {
            sb.Append("Features: ").AppendJoin(", ", names.Take(MaxFeatureNames));
            if (names.Count > MaxFeatureNames) sb.Append(Inv, $", … and {names.Count - MaxFeatureNames} more");
            sb.AppendLine();
        }
        return sb.ToString().TrimEnd();
    }

    /// <summary>The slot names of a vector column, or null when it has none (or they are all empty).</summary>
    public static string[]? SlotNames(DataViewSchema.Column column)
    {
        if (column.Annotations.Schema.GetColumnOrNull("SlotNames") is not { Type: VectorDataViewType { ItemType: TextDataViewType } } sn
            || sn.Type.SlotCount() != column.Type.SlotCount())
            return null;
        var buffer = default(VBuffer<ReadOnlyMemory<char>>);
        column.Annotations.GetValue("SlotNames", ref buffer);
        var names = new string[buffer.Length];
        int i = 0;
        foreach (var v in buffer.DenseValues()) names[i++] = v.ToString();
        return names.All(string.IsNullOrEmpty) ? null : names;
    }

    private static string Optimizer(BackpropTrainerOptions o)
    {
        string batch = o.BatchSize is { } b ? string.Create(Inv, $", batch {b}") : "";
        string rate = o.LearningRate is { } r ? string.Create(Inv, $", learning rate {r:G3}") : "";
        return o.Optimizer switch
        {
            OptimizerKind.Lbfgs => string.Create(Inv, $"L-BFGS (full batch, memory {o.LbfgsMemory})"),
            null => "the default optimizer",
            var k => k + batch + rate,
        };
    }

    private static string WeightDecay(BackpropTransformer t)
    {
        if (t.History.WeightDecaySelection is { } sel)
            return string.Create(Inv, $"λ {sel.ChosenL2Regularization:G3} (chosen by {sel.Folds}-fold cross-validation among {Join(sel.Candidates.Select(c => c.L2Regularization))})");
        if (t.Options.L2Regularization is { } l2)
            return string.Create(Inv, $"λ {l2:G3}");
        return string.Create(Inv, $"λ {Defaults.FixedL2Regularization:G3} (automatic, not searched)");
    }

    private static long Biases(IReadOnlyList<int> sizes)
    {
        long b = 0;
        for (int l = 1; l < sizes.Count; l++) b += sizes[l];
        return b;
    }

    private static string Count(long n) => n.ToString("N0", Inv);

    private static string Join(IEnumerable<float> values) => string.Join(", ", values.Select(v => v.ToString("G4", Inv)));

    private static string Join(IEnumerable<double> values) => string.Join(", ", values.Select(v => v.ToString("G3", Inv)));

    private static void AppendTable(StringBuilder sb, List<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var r in rows)
        {
            for (int c = 0; c < r.Length; c++)
            {
                if (c > 0) sb.Append("  ");
                // Names and activations left-aligned, counts right-aligned.
                sb.Append(c is 1 or 3 ? r[c].PadLeft(widths[c]) : r[c].PadRight(widths[c]));
            }
            sb.TrimEndSpaces().AppendLine();
        }
    }

    private static StringBuilder TrimEndSpaces(this StringBuilder sb)
    {
        int n = sb.Length;
        while (n > 0 && sb[n - 1] == ' ') n--;
        sb.Length = n;
        return sb;
    }
}
