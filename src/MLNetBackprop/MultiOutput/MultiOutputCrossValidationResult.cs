using Microsoft.ML;

namespace MLNetBackprop;

/// <summary>
/// One fold of <see cref="MultiOutputRegressionCatalogExtensions.CrossValidateMultiOutputRegression"/>: the same members
/// as ML.NET's <c>TrainCatalogBase.CrossValidationResult&lt;T&gt;</c>, whose constructor is not public.
/// </summary>
public sealed class MultiOutputCrossValidationResult
{
    internal MultiOutputCrossValidationResult(ITransformer model, MultiOutputRegressionMetrics metrics, IDataView scoredHoldOutSet, int fold)
    {
        Model = model;
        Metrics = metrics;
        ScoredHoldOutSet = scoredHoldOutSet;
        Fold = fold;
    }

    /// <summary>The metrics of this fold's held-out rows.</summary>
    public MultiOutputRegressionMetrics Metrics { get; }

    /// <summary>The model fitted on the other folds.</summary>
    public ITransformer Model { get; }

    /// <summary>The held-out rows scored by <see cref="Model"/>.</summary>
    public IDataView ScoredHoldOutSet { get; }

    /// <summary>The 0-based fold number.</summary>
    public int Fold { get; }
}
