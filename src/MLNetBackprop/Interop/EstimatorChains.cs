using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop.Interop;

/// <summary>
/// Appends an estimator to a pipeline held as <see cref="IEstimator{TTransformer}"/> the way a caller holding the
/// concrete <see cref="EstimatorChain{TLastTransformer}"/> would. ML.NET's IEstimator extension Append does not extend a
/// chain: it nests it as one element of a new chain (by design, ML.NET issue #2820), which loses the cache checkpoints
/// the chain's AppendCacheCheckpoint set (ML.NET issue #4926: SDCA then runs several times slower). The chain's own
/// Append keeps them, but it is a member of the generic type EstimatorChain&lt;TLastTransformer&gt;, whose type argument
/// is known only at run time here, so it is found by reflection. Checked against ML.NET 6.0.0 (InteropTests).
/// </summary>
internal static class EstimatorChains
{
    /// <summary>
    /// <paramref name="pipeline"/> followed by <paramref name="estimator"/>: the chain extended in place of being nested
    /// when <paramref name="pipeline"/> is an EstimatorChain, else ML.NET's extension Append.
    /// </summary>
    public static IEstimator<ITransformer> Append(IEstimator<ITransformer> pipeline, IEstimator<ITransformer> estimator)
    {
        var type = pipeline.GetType();
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(EstimatorChain<>))
        {
            var append = type.GetMethods().Single(m => m.Name == nameof(EstimatorChain<ITransformer>.Append) && m.IsGenericMethodDefinition
                && m.GetParameters().Length == 2);
            return (IEstimator<ITransformer>)append.MakeGenericMethod(typeof(ITransformer))
                .Invoke(pipeline, System.Reflection.BindingFlags.DoNotWrapExceptions, null, [estimator, TransformerScope.Everything], null)!;
        }
        return pipeline.Append(estimator);
    }
}
