using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop.Campaign;

/// <summary>
/// Whether a trained model's scores on its own training rows are sound: finite, and not absurd — for classification
/// |logit| ≤ 1e3, probabilities in [0, 1] (summing to 1 for multiclass) and a log-loss at most twice the entropy of the
/// label prior (a model no better than guessing passes; one that is confidently wrong does not); for regression R² > −10.
/// </summary>
public static class Judge
{
    /// <summary>Null when sound, else what is wrong.</summary>
    public static string? Problem(string task, IDataView scored, string labelColumn) => task switch
    {
        "binary" => Binary(scored, labelColumn),
        "multiclass" => Multiclass(scored, labelColumn),
        _ => Regression(scored, labelColumn),
    };

    private static string F(double x) => x.ToString("G4", CultureInfo.InvariantCulture);

    private static string? Binary(IDataView scored, string labelColumn)
    {
        var score = scored.GetColumn<float>("Score").ToArray();
        var p = scored.GetColumn<float>("Probability").ToArray();
        var label = scored.Schema[labelColumn].Type == BooleanDataViewType.Instance
            ? scored.GetColumn<bool>(labelColumn).ToArray()
            : scored.GetColumn<float>(labelColumn).Select(v => v > 0).ToArray();
        double positive = label.Count(l => l) / (double)Math.Max(1, label.Length);
        double prior = Entropy([positive, 1 - positive]);
        double loss = label.Select((l, i) => -Math.Log(Math.Clamp(l ? p[i] : 1 - p[i], 1e-15, 1))).DefaultIfEmpty(0).Average();
        double accuracy = label.Where((l, i) => l == p[i] > 0.5f).Count() / (double)Math.Max(1, label.Length);
        string context = $" (training log-loss {F(loss)}, the prior's {F(prior)}; accuracy {F(accuracy)})";
        for (int i = 0; i < score.Length; i++)
        {
            if (!float.IsFinite(score[i]) || !float.IsFinite(p[i])) return $"row {i}: Score {F(score[i])}, Probability {F(p[i])}";
            if (Math.Abs(score[i]) > 1e3) return $"row {i}: Score (logit) {F(score[i])}{context}";
            if (p[i] is < 0 or > 1) return $"row {i}: Probability {F(p[i])}";
        }
        return loss > 2 * prior + 1e-9 ? $"training log-loss more than twice the prior's{context}" : null;
    }

    private static string? Multiclass(IDataView scored, string labelColumn)
    {
        var score = scored.GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
        var label = scored.GetColumn<uint>(labelColumn).ToArray();
        int k = score.Length == 0 ? 0 : score[0].Length;
        for (int i = 0; i < score.Length; i++)
        {
            if (score[i].Any(s => !float.IsFinite(s) || s is < 0 or > 1)) return $"row {i}: Score [{string.Join(", ", score[i].Select(s => F(s)))}]";
            if (Math.Abs(score[i].Sum() - 1) > 1e-3) return $"row {i}: probabilities sum to {F(score[i].Sum())}";
        }
        var counts = new double[k];
        foreach (var l in label) if (l >= 1 && l <= k) counts[l - 1]++;
        double prior = Entropy(counts.Select(c => c / Math.Max(1, label.Length)).ToArray());
        double loss = label.Select((l, i) => l >= 1 && l <= k ? -Math.Log(Math.Clamp(score[i][l - 1], 1e-15, 1)) : 0).DefaultIfEmpty(0).Average();
        return loss > 2 * prior + 1e-9 ? $"training log-loss {F(loss)}, more than twice the prior's {F(prior)}" : null;
    }

    private static string? Regression(IDataView scored, string labelColumn)
    {
        var score = scored.GetColumn<float>("Score").ToArray();
        var label = scored.GetColumn<float>(labelColumn).ToArray();
        for (int i = 0; i < score.Length; i++)
            if (!float.IsFinite(score[i])) return $"row {i}: Score {F(score[i])}";
        if (label.Length == 0) return null;
        double mean = label.Average(l => (double)l);
        double sst = label.Sum(l => ((double)l - mean) * ((double)l - mean));
        double sse = label.Select((l, i) => ((double)l - score[i]) * ((double)l - score[i])).Sum();
        if (sst == 0) return sse == 0 || score.All(s => Math.Abs(s - label[0]) <= 1e-3 * Math.Max(1, Math.Abs(label[0]))) ? null : $"constant targets {F(label[0])}, scores up to {F(score.Max(s => Math.Abs(s)))}";
        double r2 = 1 - sse / sst;
        return r2 > -10 ? null : $"training R² {F(r2)} (scores {F(score.Min())} … {F(score.Max())}, targets {F(label.Min())} … {F(label.Max())})";
    }

    private static double Entropy(double[] p) => -p.Where(x => x > 0).Sum(x => x * Math.Log(x));
}
