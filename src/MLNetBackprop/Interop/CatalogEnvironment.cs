using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace MLNetBackprop.Interop;

/// <summary>
/// Reaches the host environment behind ML.NET's trainer catalogs and the cancellation flag behind
/// <c>MLContext.CancelExecution()</c>. ML.NET (checked on 5.0.1 and 6.0.0; pinned by InteropTests) exposes neither publicly
/// (the catalog's environment sits behind the internal IInternalCatalog interface, the flag behind the internal
/// ICancelable: ML.NET issue #2795 made the cancellation mechanism internal, reachable only through the experimental
/// package's CancelExecution, and 6.0.0 still gives a component no public way to poll it), so both are read by
/// reflection, once, and fail soft or with a clear message if a later ML.NET version renames them. A third-party
/// trainer has no public way to reach either: ML.NET's own trainers take the environment from the catalog's
/// protected-internal host (Microsoft.ML.Data, TrainCatalog.cs) and poll ICancelable in their loops.
/// </summary>
internal static class CatalogEnvironment
{
    private static readonly PropertyInfo? EnvironmentProperty =
        typeof(TrainCatalogBase).Assembly.GetType("Microsoft.ML.Data.IInternalCatalog")?.GetProperty("Environment");

    private static readonly Type? CancelableType = typeof(IHostEnvironment).Assembly.GetType("Microsoft.ML.Runtime.ICancelable");

    private static readonly PropertyInfo? IsCanceledProperty = CancelableType?.GetProperty("IsCanceled");

    /// <summary>True when both internal members were found in the ML.NET in use (the test pins it).</summary>
    internal static bool MembersFound => EnvironmentProperty is not null && CancelableType is not null && IsCanceledProperty is not null;

    /// <summary>The environment (the MLContext's) a trainer catalog was made from.</summary>
    public static IHostEnvironment Get(TrainCatalogBase.CatalogInstantiatorBase catalog)
    {
        if (EnvironmentProperty?.GetValue(catalog) is IHostEnvironment env) return env;
        throw new InvalidOperationException(
            "Could not reach the MLContext behind this ML.NET trainer catalog (this ML.NET version is not supported); use mlContext.Backprop().Trainer(...) instead.");
    }

    /// <summary>True when <paramref name="environment"/> (an MLContext's host) has been canceled; false when it cannot tell.</summary>
    public static bool IsCanceled(object environment) =>
        CancelableType is not null && IsCanceledProperty is not null && CancelableType.IsInstanceOfType(environment)
        && IsCanceledProperty.GetValue(environment) is true;

    /// <summary>
    /// Cancels <paramref name="source"/> when <paramref name="environment"/> is canceled (MLContext.CancelExecution): at
    /// once if it already is, then by polling every <paramref name="periodMilliseconds"/> until the returned handle is
    /// disposed. ML.NET offers no callback for its cancellation (the flag is behind the internal ICancelable), so a
    /// poll is the only route; the trainer also checks after every epoch.
    /// </summary>
    public static IDisposable CancelWhenCanceled(object environment, CancellationTokenSource source, int periodMilliseconds = 50)
    {
        var poll = new Timer(_ =>
        {
            try
            {
                if (IsCanceled(environment)) source.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The training has already returned and disposed its source.
            }
        }, null, periodMilliseconds, periodMilliseconds);
        if (IsCanceled(environment)) source.Cancel();
        return poll;
    }
}
