namespace MLNetBackprop;

/// <summary>How a comparison (<see cref="ComparisonCatalogExtensions"/>) splits one data view.</summary>
public enum ComparisonProtocol
{
    /// <summary>
    /// k-fold cross-validation with ML.NET's <c>CrossValidate</c> of the task's catalog: every candidate sees the same
    /// folds; metrics are the mean and standard deviation over the folds. The default.
    /// </summary>
    CrossValidation = 0,

    /// <summary>One train/test split with ML.NET's <c>Data.TrainTestSplit</c>: every candidate sees the same split.</summary>
    TrainTestSplit = 1,
}
