using MLNetBackprop.Core;
using MLNetBackprop.Heads;

namespace MLNetBackprop;

/// <summary>
/// The trained state of a backpropagation model in a plain form: the network (layer sizes, activations, float
/// weights and biases), the target scaling of regression models and the class names of multiclass models.
/// Immutable: accessors return copies, so a transformer can score from many threads at once.
/// </summary>
public sealed class BackpropModelParameters
{
    private readonly NeuralNetwork<float> _network;
    private readonly float[] _targetMean;
    private readonly float[] _targetScale;
    private readonly string[] _classNames;

    internal BackpropModelParameters(BackpropTask task, NeuralNetwork<float> network, float[] targetMean, float[] targetScale, string[] classNames,
        bool vectorOutput)
    {
        Task = task;
        VectorOutput = vectorOutput;
        Head = TaskHead.For(task, vectorOutput);
        _network = network;
        Predictor = network.CreatePredictor();
        _targetMean = targetMean;
        _targetScale = targetScale;
        _classNames = classNames;
    }

    /// <summary>The task the model was trained for (never <see cref="BackpropTask.Auto"/>).</summary>
    public BackpropTask Task { get; }

    /// <summary>
    /// True when the Score column is a vector: multiclass, and regression on a vector label (multi-output regression).
    /// </summary>
    public bool VectorOutput { get; }

    /// <summary>Number of input features.</summary>
    public int InputSize => _network.InputSize;

    /// <summary>Number of output units: 1 for binary classification and scalar regression, K otherwise.</summary>
    public int OutputSize => _network.OutputSize;

    /// <summary>Sizes of all layers, input first, output last.</summary>
    public IReadOnlyList<int> LayerSizes => _network.LayerSizes.ToArray();

    /// <summary>Activation of each non-input layer, the output activation last.</summary>
    public IReadOnlyList<Activation> Activations => _network.Activations.ToArray();

    /// <summary>Number of weight matrices (layers − 1).</summary>
    public int WeightLayerCount => _network.WeightLayerCount;

    /// <summary>A copy of the n_{l+1} × n_l weight matrix from layer l to layer l + 1, row-major (element [j·n_l + i] connects unit i to unit j).</summary>
    public float[] GetWeights(int layer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, WeightLayerCount);
        return _network.Weights(layer).ToArray();
    }

    /// <summary>A copy of the bias vector of layer l + 1.</summary>
    public float[] GetBiases(int layer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, WeightLayerCount);
        return _network.Biases(layer).ToArray();
    }

    /// <summary>A deep copy of the trained network, for inspection or further training with the core library.</summary>
    public NeuralNetwork<float> CloneNetwork() => _network.Clone();

    /// <summary>
    /// Regression: the mean subtracted from each target before training (the prediction is network output × scale + mean).
    /// Empty for classification.
    /// </summary>
    public IReadOnlyList<float> TargetMean => _targetMean.ToArray();

    /// <summary>Regression: the standard deviation each target was divided by (1 when not standardized). Empty for classification.</summary>
    public IReadOnlyList<float> TargetScale => _targetScale.ToArray();

    /// <summary>Multiclass: the class names (the label's key values as text), in key order; empty when the label had none.</summary>
    public IReadOnlyList<string> ClassNames => _classNames.ToArray();

    /// <summary>
    /// A summary in the manner of Keras's <c>model.summary()</c>: the task, one line per layer (units, activation,
    /// parameters), the parameter count, and the class names or the target scaling.
    /// </summary>
    public override string ToString() => ModelSummary.Describe(this);

    /// <summary>
    /// The weight decay λ the network was trained with (the searched one when it was searched), which a warm start
    /// from this model reuses when its options leave λ automatic; set by the transformer that holds the model.
    /// </summary>
    internal double? TrainedL2Regularization { get; set; }

    /// <summary>What the task does with the network's outputs (from <see cref="Task"/> and <see cref="VectorOutput"/>).</summary>
    internal TaskHead Head { get; }

    internal NeuralNetwork<float> Network => _network;

    /// <summary>The network laid out for one-row-at-a-time scoring (the network is not changed after training).</summary>
    internal NetworkPredictor<float> Predictor { get; }

    internal float[] Mean => _targetMean;

    internal float[] Scale => _targetScale;

    internal string[] ClassNameArray => _classNames;
}
