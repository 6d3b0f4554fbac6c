namespace MLNetBackprop.DependencyInjection;

/// <summary>
/// A thread-safe prediction service over a saved ML.NET model: any number of threads may call
/// <see cref="Predict"/> at once, also while the model is being reloaded. ML.NET's own PredictionEnginePool plays this role
/// in Microsoft.Extensions.ML.
/// </summary>
public interface IBackpropPredictionService<in TInput, out TOutput>
    where TInput : class
    where TOutput : class, new()
{
    /// <summary>Scores one example with a pooled prediction engine of the current model.</summary>
    TOutput Predict(TInput example);

    /// <summary>How many times the model has been (re)loaded: 1 after the first load.</summary>
    int ModelVersion { get; }
}
