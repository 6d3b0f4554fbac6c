using System.Numerics;

namespace MLNetBackprop.Core.Diagnostics;

/// <summary>
/// Compares the backpropagation gradient with central finite differences,
/// ∂J/∂θ_i ≈ (J(θ + ε e_i) − J(θ − ε e_i)) / 2ε, for every parameter. The same generic code that trains in float
/// runs here in double, so the check tests the real implementation.
/// </summary>
public static class GradientCheck
{
    /// <summary>
    /// Runs the check on <paramref name="network"/> (left unchanged) over all rows of <paramref name="data"/>.
    /// Costs two cost evaluations per parameter: meant for small networks.
    /// </summary>
    public static GradientCheckResult Run(NeuralNetwork<double> network, TrainingData<double> data, LossFunction loss,
        Regularization regularization, double epsilon = 1e-4)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(data);
        if (!double.IsFinite(epsilon) || epsilon <= 0)
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "epsilon must be finite and positive.");
        var analytic = new double[network.ParameterCount];
        Backpropagation.CostAndGradient(network, data, loss, regularization, analytic);
        var numeric = new double[network.ParameterCount];
        var p = network.Parameters;
        for (int i = 0; i < p.Length; i++)
        {
            double saved = p[i];
            p[i] = saved + epsilon;
            double plus = Backpropagation.Cost(network, data, loss, regularization);
            p[i] = saved - epsilon;
            double minus = Backpropagation.Cost(network, data, loss, regularization);
            p[i] = saved;
            numeric[i] = (plus - minus) / (2 * epsilon);
        }
        return GradientCheckResult.Compare(analytic, numeric);
    }
}
