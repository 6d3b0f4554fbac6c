namespace MLNetBackprop.Core;

/// <summary>The per-example data term of the cost J.</summary>
public enum LossFunction
{
    /// <summary>
    /// Squared error ½‖h(x) − y‖², averaged over the examples: exactly the textbook cost. The default.
    /// Works with every output activation.
    /// </summary>
    SquaredError = 0,
    /// <summary>
    /// Cross-entropy. With a sigmoid output it is the logistic loss −[y ln a + (1 − y) ln(1 − a)] summed over
    /// the output units (binary or multi-label); with a softmax output it is −Σ_k y_k ln a_k (multiclass).
    /// Requires a sigmoid or softmax output; the output delta is then simply a − y.
    /// </summary>
    CrossEntropy = 1,
}
