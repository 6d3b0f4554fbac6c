using System.Numerics;
using System.Numerics.Tensors;
using MLNetBackprop.Core.Kernels;

namespace MLNetBackprop.Core;

/// <summary>
/// A read-only snapshot of a trained network, laid out for scoring one row at a time: each weight matrix is stored
/// transposed (n_l × n_{l+1}), so the single-row product streams contiguous rows of weights through vector
/// multiply-adds instead of gathering columns. Every output element still gets the same chain of operations as in a
/// batch, so a row scored here is bitwise the row <see cref="NeuralNetwork{T}.Predict(ReadOnlySpan{T}, Span{T}, int)"/>
/// gives in a batch. Thread-safe; changing the source network afterwards does not change the snapshot.
/// </summary>
public sealed class NetworkPredictor<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] _sizes;
    private readonly Activation[] _activations;
    private readonly T[][] _transposedWeights;
    private readonly T[][] _biases;
    private readonly int _maxWidth;

    [ThreadStatic]
    private static T[]? t_z;

    [ThreadStatic]
    private static T[]? t_a0;

    [ThreadStatic]
    private static T[]? t_a1;

    /// <summary>Snapshots <paramref name="network"/>'s current weights.</summary>
    public NetworkPredictor(NeuralNetwork<T> network)
    {
        ArgumentNullException.ThrowIfNull(network);
        _sizes = network.LayerSizes.ToArray();
        _activations = network.Activations.ToArray();
        _transposedWeights = new T[_activations.Length][];
        _biases = new T[_activations.Length][];
        for (int l = 0; l < _activations.Length; l++)
        {
            int nIn = _sizes[l], nOut = _sizes[l + 1];
            var w = network.Weights(l);
            var wt = new T[nIn * nOut];
            for (int o = 0; o < nOut; o++)
                for (int i = 0; i < nIn; i++)
                    wt[i * nOut + o] = w[o * nIn + i];
            _transposedWeights[l] = wt;
            _biases[l] = network.Biases(l).ToArray();
        }
        _maxWidth = _sizes.Max();
    }

    /// <summary>Width of the input.</summary>
    public int InputSize => _sizes[0];

    /// <summary>Width of the output.</summary>
    public int OutputSize => _sizes[^1];

    /// <summary>h(x) for one dense row.</summary>
    public void Predict(ReadOnlySpan<T> input, Span<T> output) => Predict(input, output, default);

    /// <summary>
    /// h(x) for one dense row, and the output layer's pre-activation z (the logits) when <paramref name="logits"/> is
    /// not empty.
    /// </summary>
    public void Predict(ReadOnlySpan<T> input, Span<T> output, Span<T> logits)
    {
        if (input.Length != InputSize)
            throw new ArgumentException($"The row has {input.Length} values; the network's input layer has {InputSize} units.", nameof(input));
        if (output.Length < OutputSize)
            throw new ArgumentException($"The output span needs {OutputSize} elements, it has {output.Length}.", nameof(output));
        if (!logits.IsEmpty && logits.Length < OutputSize)
            throw new ArgumentException($"The logits span needs {OutputSize} elements, it has {logits.Length}.", nameof(logits));
        var z = Scratch(ref t_z);
        var a0 = Scratch(ref t_a0);
        var a1 = Scratch(ref t_a1);
        ReadOnlySpan<T> a = input;
        int last = _activations.Length - 1;
        for (int l = 0; l <= last; l++)
        {
            int nIn = _sizes[l], nOut = _sizes[l + 1];
            var zl = z.AsSpan(0, nOut);
            // z = a · Wᵀ (Wᵀ stored n_in × n_out, so this is the plain row-times-matrix product), + b
            Gemm.Multiply(false, false, 1, nOut, nIn, T.One, a, nIn, _transposedWeights[l], nOut, T.Zero, zl, nOut);
            TensorPrimitives.Add(zl, _biases[l], zl);
            if (l == last)
            {
                if (!logits.IsEmpty) zl.CopyTo(logits);
                ActivationFunctions.Apply(_activations[l], zl, output.Slice(0, nOut), nOut);
                return;
            }
            var next = (l % 2 == 0 ? a0 : a1).AsSpan(0, nOut);
            ActivationFunctions.Apply(_activations[l], zl, next, nOut);
            a = next;
        }
    }

    private T[] Scratch(ref T[]? buffer)
    {
        if (buffer is null || buffer.Length < _maxWidth) buffer = new T[_maxWidth];
        return buffer;
    }
}
