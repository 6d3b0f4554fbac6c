using MLNetBackprop.Core;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Benchmarks.SideBySide;

/// <summary>One training workload of the side-by-side comparison (see /work/shared/BENCHMARKS.md for the peers' figures).</summary>
/// <param name="Id">W1, W2, W3.</param>
/// <param name="Title">Short description for the table.</param>
/// <param name="Sizes">Layer sizes, input first.</param>
/// <param name="Hidden">Hidden activation.</param>
/// <param name="Output">Output activation.</param>
/// <param name="Loss">Data term of J.</param>
/// <param name="Optimizer">Update rule.</param>
/// <param name="LearningRate">α.</param>
/// <param name="Momentum">μ (SGD only).</param>
/// <param name="L2">λ on the weights only, added to the gradient (not decoupled).</param>
/// <param name="BatchSize">Mini-batch size; null for the full batch.</param>
/// <param name="Epochs">Epochs (full-batch: iterations).</param>
/// <param name="GlorotInit">true: U(±√(6/(fan_in+fan_out))); false: the UFLDL rule U(±√(6/(fan_in+fan_out+1))). Biases zero.</param>
public sealed record Workload(string Id, string Title, int[] Sizes, Activation Hidden, Activation Output, LossFunction Loss,
    OptimizerKind Optimizer, double LearningRate, double Momentum, double L2, int? BatchSize, int Epochs, bool GlorotInit)
{
    /// <summary>W1: 784-128-10 sigmoid, softmax + cross-entropy, SGD lr 0.1 momentum 0.9, L2 1e-4, batch 64, 10 epochs.</summary>
    public static readonly Workload W1 = new("W1", "784-128-10 sigmoid, softmax+CE, SGD 0.1 mom 0.9, L2 1e-4, batch 64",
        [784, 128, 10], Activation.Sigmoid, Activation.Softmax, LossFunction.CrossEntropy, OptimizerKind.Sgd, 0.1, 0.9, 1e-4, 64, 10, true);

    /// <summary>W2: 784-256-128-10 ReLU, softmax + cross-entropy, Adam lr 1e-3, L2 1e-4, batch 128, 10 epochs.</summary>
    public static readonly Workload W2 = new("W2", "784-256-128-10 ReLU, softmax+CE, Adam 1e-3, L2 1e-4, batch 128",
        [784, 256, 128, 10], Activation.Relu, Activation.Softmax, LossFunction.CrossEntropy, OptimizerKind.Adam, 1e-3, 0, 1e-4, 128, 10, true);

    /// <summary>W3: 784-64-10 sigmoid/sigmoid, squared-error J with λ 1e-4, full-batch gradient descent lr 0.5, 100 iterations.</summary>
    public static readonly Workload W3 = new("W3", "784-64-10 sigmoid, squared-error J, λ 1e-4, full-batch GD 0.5",
        [784, 64, 10], Activation.Sigmoid, Activation.Sigmoid, LossFunction.SquaredError, OptimizerKind.GradientDescent, 0.5, 0, 1e-4, null, 100, false);

    /// <summary>The training workloads by id (W4 scores the network trained by W2).</summary>
    public static Workload ById(string id) => id.ToUpperInvariant() switch
    {
        "W1" => W1,
        "W2" or "W4" => W2,
        "W3" => W3,
        _ => throw new ArgumentException($"Unknown workload '{id}' (W1, W2, W3, W4)."),
    };

    /// <summary>Weights and biases, W⁰ b⁰ W¹ b¹ …</summary>
    public int ParameterCount
    {
        get
        {
            int p = 0;
            for (int l = 0; l + 1 < Sizes.Length; l++) p += Sizes[l + 1] * Sizes[l] + Sizes[l + 1];
            return p;
        }
    }

    /// <summary>Activations of the non-input layers.</summary>
    public Activation[] Activations => [.. Enumerable.Repeat(Hidden, Sizes.Length - 2), Output];

    /// <summary>
    /// The initial weights both libraries start from: one n_{l+1} × n_l row-major matrix per layer (torch's
    /// Linear weight is [out, in] too), drawn in double from <paramref name="seed"/>. Biases start at zero.
    /// </summary>
    public float[][] InitialWeights(int seed)
    {
        var rng = new Random(seed);
        var result = new float[Sizes.Length - 1][];
        for (int l = 0; l < result.Length; l++)
        {
            int nIn = Sizes[l], nOut = Sizes[l + 1];
            double r = Math.Sqrt(6.0 / (nIn + nOut + (GlorotInit ? 0 : 1)));
            var w = new float[nOut * nIn];
            for (int i = 0; i < w.Length; i++) w[i] = (float)((rng.NextDouble() * 2 - 1) * r);
            result[l] = w;
        }
        return result;
    }

    /// <summary>A network of this shape holding <see cref="InitialWeights"/>(<paramref name="seed"/>) and zero biases.</summary>
    public NeuralNetwork<float> CreateNetwork(int seed)
    {
        var net = new NeuralNetwork<float>(Sizes, Activations);
        var w = InitialWeights(seed);
        for (int l = 0; l < w.Length; l++)
        {
            w[l].CopyTo(net.Weights(l));
            net.Biases(l).Clear();
        }
        return net;
    }
}
