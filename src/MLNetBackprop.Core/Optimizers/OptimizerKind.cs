namespace MLNetBackprop.Core.Optimizers;

/// <summary>How the parameters are moved along the gradient.</summary>
public enum OptimizerKind
{
    /// <summary>
    /// The textbook update W := W − α ∂J/∂W, b := b − α ∂J/∂b. Full batch (one step per epoch over all m
    /// examples) unless a batch size is set. The default.
    /// </summary>
    GradientDescent = 0,
    /// <summary>Mini-batch stochastic gradient descent with (optionally Nesterov) momentum.</summary>
    Sgd = 1,
    /// <summary>Adam (Kingma and Ba, 2015): per-parameter step sizes from running moments of the gradient.</summary>
    Adam = 2,
    /// <summary>
    /// Limited-memory BFGS: a full-batch quasi-Newton method with a strong-Wolfe line search, as UFLDL trains.
    /// Ignores the learning rate, momentum and batch size; one epoch is one iteration.
    /// </summary>
    Lbfgs = 3,
}
