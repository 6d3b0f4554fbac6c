namespace MLNetBackprop;

/// <summary>The prediction task a <see cref="BackpropTrainer"/> solves.</summary>
public enum BackpropTask
{
    /// <summary>
    /// Follow the label column's type: Boolean → <see cref="BinaryClassification"/>, key → <see cref="MulticlassClassification"/>,
    /// Single or a known-size vector of Single → <see cref="Regression"/>. The default.
    /// </summary>
    Auto = 0,

    /// <summary>
    /// Two classes; one sigmoid output unit. Label Boolean, or Single (values &gt; 0 are the positive class).
    /// Output columns: Score (Single, the logit), Probability (Single), PredictedLabel (Boolean).
    /// </summary>
    BinaryClassification = 1,

    /// <summary>
    /// K classes; K softmax output units. Label a key type with K values (use MapValueToKey).
    /// Output columns: Score (vector of K Single, the class probabilities, with SlotNames), PredictedLabel (key, with the label's KeyValues).
    /// </summary>
    MulticlassClassification = 2,

    /// <summary>
    /// Regression. Label Single (output column Score, Single) or a known-size vector of K Single (multi-output regression;
    /// output column Score, vector of K Single). Targets are standardized for training and mapped back when scoring.
    /// </summary>
    /// <remarks>
    /// Every target must lie within ±3.4e35 (float's largest value / 1000): predictions are mapped back as network output ×
    /// standard deviation + mean in Single, and nearer float's range (±3.4e38) they overflow to ±∞ for ordinary rows. A
    /// target beyond the bound stops Fit with an error naming the label column and the row (or, with SkipInvalidRows, drops
    /// the row); rescale such a label first.
    /// </remarks>
    Regression = 3,
}
