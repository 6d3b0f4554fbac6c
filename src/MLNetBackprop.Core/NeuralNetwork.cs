using System.Numerics;
using MLNetBackprop.Core.Activations;
using MLNetBackprop.Core.Kernels;

namespace MLNetBackprop.Core;

/// <summary>
/// A fully connected feed-forward network h_{W,b}: layer sizes n_1 … n_L, weights W^(l) and biases b^(l)
/// for every pair of adjacent layers, and an activation per non-input layer.
/// </summary>
/// <remarks>
/// <para>Indexing: layer 0 is the input. <see cref="Weights(int)"/>(l) is the matrix that maps layer l to layer
/// l + 1 (the textbook's W^(l+1) with its 1-based layers), stored row-major as n_{l+1} × n_l, so the element
/// W_ji (from unit i of layer l to unit j of layer l + 1) is at [j · n_l + i].</para>
/// <para>All parameters live in one contiguous array (W⁰, b⁰, W¹, b¹, …), so optimizers update the whole
/// network with one vector operation.</para>
/// </remarks>
/// <typeparam name="T">float for fast training, double for exact checks; the code is the same.</typeparam>
public sealed class NeuralNetwork<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] _sizes;
    private readonly Activation[] _activations;
    private readonly Layer[] _layers;
    private readonly int[] _weightOffsets;
    private readonly int[] _biasOffsets;
    private readonly T[] _parameters;

    /// <summary>Creates a network with all parameters zero; call <see cref="Initialize(int)"/> to draw weights.</summary>
    /// <param name="layerSizes">Input size, hidden layer sizes, output size; at least two entries, all positive.</param>
    /// <param name="activations">One activation per non-input layer (layerSizes.Count − 1 entries); the last is the output activation.</param>
    /// <exception cref="ArgumentException">
    /// The sizes or activations are invalid, or the network would have more parameters than an array can hold
    /// (<see cref="Array.MaxLength"/>; the parameter name is layerSizes).
    /// </exception>
    public NeuralNetwork(IReadOnlyList<int> layerSizes, IReadOnlyList<Activation> activations)
    {
        ArgumentNullException.ThrowIfNull(layerSizes);
        ArgumentNullException.ThrowIfNull(activations);
        if (layerSizes.Count < 2)
            throw new ArgumentException("A network needs at least an input and an output layer.", nameof(layerSizes));
        for (int l = 0; l < layerSizes.Count; l++)
            if (layerSizes[l] <= 0)
                throw new ArgumentOutOfRangeException(nameof(layerSizes), $"Layer {l} has size {layerSizes[l]}; every layer needs at least one unit.");
        if (activations.Count != layerSizes.Count - 1)
            throw new ArgumentException($"Expected {layerSizes.Count - 1} activations (one per non-input layer), got {activations.Count}.", nameof(activations));
        for (int l = 0; l < activations.Count; l++)
        {
            bool output = l == activations.Count - 1;
            if (!ActivationTable.IsDefined(activations[l]))
                throw new ArgumentOutOfRangeException(nameof(activations), $"Activation {(int)activations[l]} of layer {l + 1} is not defined.");
            if (!output && !ActivationTable.Get(activations[l]).Hidden)
                throw new ArgumentException($"Layer {l + 1} is hidden; {activations[l]} is allowed only on the output layer.", nameof(activations));
            if (output && activations[l] == Activation.Softmax && layerSizes[^1] < 2)
                throw new ArgumentException("Softmax needs at least two output units; use Sigmoid for a single output.", nameof(activations));
        }

        _sizes = layerSizes.ToArray();
        _activations = activations.ToArray();
        _layers = Layer.Of(_sizes, _activations);
        // Count first, in a type no list of int sizes can overflow; past this check every offset fits in an int.
        Int128 count = 0;
        for (int l = 0; l < _activations.Length; l++) count += (Int128)_sizes[l + 1] * (_sizes[l] + 1L);
        if (count > Array.MaxLength)
            throw new ArgumentException(
                $"The network would have {count} parameters, more than an array can hold ({Array.MaxLength}); use fewer or narrower layers.",
                nameof(layerSizes));
        _weightOffsets = new int[_activations.Length];
        _biasOffsets = new int[_activations.Length];
        int offset = 0;
        for (int l = 0; l < _activations.Length; l++)
        {
            _weightOffsets[l] = offset;
            offset += _sizes[l + 1] * _sizes[l];
            _biasOffsets[l] = offset;
            offset += _sizes[l + 1];
        }
        _parameters = new T[offset];
    }

    /// <summary>Creates a network with one activation for every hidden layer and its weights drawn from <paramref name="seed"/>.</summary>
    public static NeuralNetwork<T> Create(int inputSize, IReadOnlyList<int> hiddenSizes, int outputSize,
        Activation hiddenActivation = Activation.Sigmoid, Activation outputActivation = Activation.Sigmoid, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(hiddenSizes);
        var sizes = new List<int> { inputSize };
        sizes.AddRange(hiddenSizes);
        sizes.Add(outputSize);
        var acts = Enumerable.Repeat(hiddenActivation, hiddenSizes.Count).Append(outputActivation).ToArray();
        var net = new NeuralNetwork<T>(sizes, acts);
        net.Initialize(seed);
        return net;
    }

    /// <summary>Sizes of all layers, input first.</summary>
    public IReadOnlyList<int> LayerSizes => _sizes;

    /// <summary>Activation of each non-input layer; entry l belongs to layer l + 1, the last is the output activation.</summary>
    public IReadOnlyList<Activation> Activations => _activations;

    /// <summary>The weight layers in order, as the forward pass walks them (<see cref="ForwardPass"/>).</summary>
    internal ReadOnlySpan<Layer> Layers => _layers;

    /// <summary>Number of weight matrices (layers − 1).</summary>
    public int WeightLayerCount => _activations.Length;

    /// <summary>Width of the input layer.</summary>
    public int InputSize => _sizes[0];

    /// <summary>Width of the output layer.</summary>
    public int OutputSize => _sizes[^1];

    /// <summary>The output activation.</summary>
    public Activation OutputActivation => _activations[^1];

    /// <summary>Total number of weights and biases.</summary>
    public int ParameterCount => _parameters.Length;

    /// <summary>All parameters W⁰, b⁰, W¹, b¹, … in one span (writable).</summary>
    public Span<T> Parameters => _parameters;

    /// <summary>The n_{l+1} × n_l weight matrix from layer l to layer l + 1, row-major (writable).</summary>
    public Span<T> Weights(int l) => _parameters.AsSpan(_weightOffsets[l], _sizes[l + 1] * _sizes[l]);

    /// <summary>The bias vector of layer l + 1 (writable).</summary>
    public Span<T> Biases(int l) => _parameters.AsSpan(_biasOffsets[l], _sizes[l + 1]);

    internal int WeightOffset(int l) => _weightOffsets[l];

    internal int BiasOffset(int l) => _biasOffsets[l];

    /// <summary>
    /// Draws every weight from <paramref name="seed"/> and sets every bias to zero. Sigmoid, tanh, identity and
    /// softmax layers use the UFLDL/Glorot rule U(±√(6 / (n_in + n_out + 1))); ReLU, leaky ReLU and SiLU layers use
    /// He's rule U(±√(6 / n_in)). The draws are made in double, so float and double networks created with the
    /// same seed hold the same weights up to rounding.
    /// </summary>
    public void Initialize(int seed)
    {
        var rng = new Random(seed);
        for (int l = 0; l < _activations.Length; l++)
        {
            int nIn = _sizes[l], nOut = _sizes[l + 1];
            double r = ActivationTable.Get(_activations[l]).InitBound(nIn, nOut);
            var w = Weights(l);
            for (int i = 0; i < w.Length; i++) w[i] = T.CreateTruncating((rng.NextDouble() * 2 - 1) * r);
            Biases(l).Clear();
        }
    }

    /// <summary>
    /// One network that computes the mean of the members' output pre-activations z^(n_l), so after the output activation
    /// it is their average for identity outputs and their averaged logits for sigmoid and softmax outputs. The members
    /// must have the same input and output sizes and activations; their hidden layers are laid side by side (the first
    /// layer's weights stacked, deeper hidden layers block-diagonal, the output layer's weights divided by the member
    /// count and its biases averaged), so the result has the sum of the members' hidden widths.
    /// </summary>
    /// <exception cref="ArgumentException">No members, or members of different depths, activations, input or output sizes.</exception>
    public static NeuralNetwork<T> Average(IReadOnlyList<NeuralNetwork<T>> members)
    {
        ArgumentNullException.ThrowIfNull(members);
        if (members.Count == 0) throw new ArgumentException("Averaging needs at least one network.", nameof(members));
        var first = members[0];
        int layers = first.WeightLayerCount;
        foreach (var m in members)
            if (m.WeightLayerCount != layers || m.InputSize != first.InputSize || m.OutputSize != first.OutputSize
                || !m.Activations.SequenceEqual(first.Activations))
                throw new ArgumentException("The networks to average must have the same depth, activations, input and output sizes.", nameof(members));
        if (members.Count == 1) return first.Clone();

        var sizes = new int[layers + 1];
        sizes[0] = first.InputSize;
        sizes[layers] = first.OutputSize;
        for (int l = 1; l < layers; l++) sizes[l] = members.Sum(m => m.LayerSizes[l]);
        var result = new NeuralNetwork<T>(sizes, first.Activations.ToArray());
        T share = T.One / T.CreateTruncating(members.Count);
        int[] rowOffset = new int[layers + 1]; // where member m's units start in each layer (inputs and outputs are shared)
        foreach (var m in members)
        {
            for (int l = 0; l < layers; l++)
            {
                int nIn = m.LayerSizes[l], nOut = m.LayerSizes[l + 1];
                int bigIn = sizes[l];
                bool output = l == layers - 1;
                int inStart = l == 0 ? 0 : rowOffset[l];
                int outStart = output ? 0 : rowOffset[l + 1];
                var w = m.Weights(l);
                var bw = result.Weights(l);
                var b = m.Biases(l);
                var bb = result.Biases(l);
                for (int j = 0; j < nOut; j++)
                {
                    var src = w.Slice(j * nIn, nIn);
                    var dst = bw.Slice((outStart + j) * bigIn + inStart, nIn);
                    if (output)
                    {
                        for (int i = 0; i < nIn; i++) dst[i] += src[i] * share;
                        bb[j] += b[j] * share;
                    }
                    else
                    {
                        src.CopyTo(dst);
                        bb[outStart + j] = b[j];
                    }
                }
            }
            for (int l = 1; l < layers; l++) rowOffset[l] += m.LayerSizes[l];
        }
        return result;
    }

    /// <summary>A deep copy.</summary>
    public NeuralNetwork<T> Clone()
    {
        var copy = new NeuralNetwork<T>(_sizes, _activations);
        _parameters.CopyTo(copy._parameters, 0);
        return copy;
    }

    /// <summary>A copy with the parameters converted to another precision.</summary>
    public NeuralNetwork<TOther> ConvertTo<TOther>() where TOther : unmanaged, IFloatingPointIeee754<TOther>
    {
        var copy = new NeuralNetwork<TOther>(_sizes, _activations);
        var dst = copy.Parameters;
        for (int i = 0; i < _parameters.Length; i++) dst[i] = TOther.CreateTruncating(_parameters[i]);
        return copy;
    }

    /// <summary>True when every parameter is finite.</summary>
    public bool IsFinite() => Kernels.FiniteCheck.All<T>(_parameters);

    /// <summary>Copies all parameters from another network of the same shape.</summary>
    public void CopyParametersFrom(NeuralNetwork<T> other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!other._sizes.AsSpan().SequenceEqual(_sizes))
            throw new ArgumentException("The networks have different layer sizes.", nameof(other));
        other._parameters.CopyTo(_parameters, 0);
    }

    /// <summary>
    /// Forward pass for a batch of dense rows: <paramref name="outputs"/>[rows × OutputSize] = h(inputs[rows × InputSize]).
    /// Thread-safe: uses a workspace of its own per call.
    /// </summary>
    public void Predict(ReadOnlySpan<T> inputs, Span<T> outputs, int maxThreads = 1)
    {
        int rows = CheckRows(inputs, outputs);
        Predict(inputs, outputs, new NetworkWorkspace<T>(this, Math.Clamp(rows, 1, PredictChunk)), maxThreads);
    }

    private const int PredictChunk = 256;

    /// <summary>
    /// Forward pass for a batch of dense rows using a caller-owned workspace (no allocation; one workspace per
    /// thread). Rows are processed in chunks of the workspace's capacity.
    /// </summary>
    public void Predict(ReadOnlySpan<T> inputs, Span<T> outputs, NetworkWorkspace<T> workspace, int maxThreads = 1)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        if (!workspace.Fits(this)) throw new ArgumentException("The workspace was made for a network of another shape.", nameof(workspace));
        int rows = CheckRows(inputs, outputs);
        int chunk = workspace.Capacity;
        for (int start = 0; start < rows; start += chunk)
        {
            int n = Math.Min(chunk, rows - start);
            Backpropagation.Forward(this, BatchInput<T>.FromDense(inputs.Slice(start * InputSize, n * InputSize)), n, workspace, maxThreads);
            workspace.Output(n).CopyTo(outputs.Slice(start * OutputSize, n * OutputSize));
        }
    }

    /// <summary>
    /// Forward pass for one sparse row given by its non-zero <paramref name="indices"/> (increasing, in
    /// [0, InputSize)) and <paramref name="values"/>, using a caller-owned workspace.
    /// </summary>
    public void PredictSparse(ReadOnlySpan<int> indices, ReadOnlySpan<T> values, Span<T> output, NetworkWorkspace<T> workspace)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        if (!workspace.Fits(this)) throw new ArgumentException("The workspace was made for a network of another shape.", nameof(workspace));
        if (indices.Length != values.Length) throw new ArgumentException("indices and values differ in length.", nameof(values));
        if (output.Length < OutputSize) throw new ArgumentException($"The output span needs {OutputSize} elements.", nameof(output));
        foreach (int j in indices)
            if ((uint)j >= (uint)InputSize) throw new ArgumentOutOfRangeException(nameof(indices), j, $"Index outside [0, {InputSize}).");
        Span<int> rowStart = [0, indices.Length];
        Backpropagation.Forward(this, BatchInput<T>.FromSparse(rowStart, indices, values), 1, workspace, 1);
        workspace.Output(1).CopyTo(output);
    }

    private int CheckRows(ReadOnlySpan<T> inputs, Span<T> outputs)
    {
        if (inputs.Length % InputSize != 0)
            throw new ArgumentException($"The input length {inputs.Length} is not a multiple of the input size {InputSize}.", nameof(inputs));
        int rows = inputs.Length / InputSize;
        if (outputs.Length < rows * OutputSize)
            throw new ArgumentException($"The output span needs {rows * OutputSize} elements, it has {outputs.Length}.", nameof(outputs));
        return rows;
    }

    /// <summary>A read-only snapshot of the current weights laid out for fast single-row scoring (see <see cref="NetworkPredictor{T}"/>).</summary>
    public NetworkPredictor<T> CreatePredictor() => new(this);

    /// <summary>
    /// Forward pass for one row. Allocates the result and a workspace per call: for repeated scoring use
    /// <see cref="CreatePredictor"/> (or a caller-owned workspace).
    /// </summary>
    public T[] Predict(ReadOnlySpan<T> input)
    {
        var output = new T[OutputSize];
        Predict(input, output);
        return output;
    }
}
