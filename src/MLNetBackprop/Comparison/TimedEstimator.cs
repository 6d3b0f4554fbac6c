using System.Diagnostics;
using Microsoft.ML;

namespace MLNetBackprop;

/// <summary>
/// Wraps a candidate trainer: delegates everything and records how long each Fit took. The fitted transformer is the
/// trainer's own, unchanged, so the pipeline scores and evaluates exactly as without the wrapper.
/// </summary>
internal sealed class TimedEstimator(IEstimator<ITransformer> inner, Action<int>? starting, Action<int, TimeSpan>? finished) : IEstimator<ITransformer>
{
    private readonly List<TimeSpan> _fitTimes = [];

    public IReadOnlyList<TimeSpan> FitTimes
    {
        get
        {
            lock (_fitTimes) return _fitTimes.ToArray();
        }
    }

    public ITransformer Fit(IDataView input)
    {
        int fold;
        lock (_fitTimes) fold = _fitTimes.Count + 1;
        starting?.Invoke(fold);
        var clock = Stopwatch.StartNew();
        var model = inner.Fit(input);
        var elapsed = clock.Elapsed;
        lock (_fitTimes) _fitTimes.Add(elapsed);
        finished?.Invoke(fold, elapsed);
        return model;
    }

    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => inner.GetOutputSchema(inputSchema);
}
