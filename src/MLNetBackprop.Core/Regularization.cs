namespace MLNetBackprop.Core;

/// <summary>
/// Penalties on the weights (never on the biases) added to the cost:
/// (λ₂/2) Σ W² (L2 weight decay, a Gaussian prior on the weights) and λ₁ Σ |W| (L1, a Laplace prior).
/// Both may be used at once.
/// </summary>
/// <param name="L2">λ₂ ≥ 0, the weight-decay coefficient λ of the textbook cost. Gradient term λ₂ W.</param>
/// <param name="L1">λ₁ ≥ 0. Gradient term λ₁ sign(W) (0 at W = 0).</param>
public readonly record struct Regularization(double L2 = 0, double L1 = 0)
{
    /// <summary>No penalty.</summary>
    public static Regularization None => default;

    /// <summary>True when either coefficient is non-zero.</summary>
    public bool IsActive => L2 != 0 || L1 != 0;

    /// <summary>Throws if a coefficient is negative or not finite, naming it.</summary>
    public void Validate()
    {
        if (!double.IsFinite(L2) || L2 < 0)
            throw new ArgumentOutOfRangeException(nameof(L2), L2, "The L2 coefficient λ must be finite and non-negative.");
        if (!double.IsFinite(L1) || L1 < 0)
            throw new ArgumentOutOfRangeException(nameof(L1), L1, "The L1 coefficient must be finite and non-negative.");
    }
}
