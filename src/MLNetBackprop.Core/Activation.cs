namespace MLNetBackprop.Core;

/// <summary>The activation function f applied element-wise to a layer's pre-activation z.</summary>
public enum Activation
{
    /// <summary>Logistic sigmoid f(z) = 1 / (1 + e^(−z)), f'(z) = f(z)(1 − f(z)). The default, as in the textbook derivation.</summary>
    Sigmoid = 0,
    /// <summary>Hyperbolic tangent f(z) = tanh z, f'(z) = 1 − f(z)².</summary>
    Tanh = 1,
    /// <summary>Rectified linear unit f(z) = max(0, z), f'(z) = 1 for z &gt; 0 and 0 otherwise.</summary>
    Relu = 2,
    /// <summary>Leaky ReLU f(z) = z for z &gt; 0 and 0.01·z otherwise.</summary>
    LeakyRelu = 3,
    /// <summary>Identity f(z) = z (linear output for regression).</summary>
    Identity = 4,
    /// <summary>Softmax over the whole layer, a_k = e^(z_k) / Σ_j e^(z_j). Output layer only.</summary>
    Softmax = 5,
    /// <summary>
    /// SiLU (swish) f(z) = z·σ(z), f'(z) = σ(z)(1 + z(1 − σ(z))): smooth, non-monotonic just below zero, unbounded above;
    /// common in recent networks. Its layers start with He's initialization, as ReLU's do.
    /// </summary>
    Silu = 6,
}
