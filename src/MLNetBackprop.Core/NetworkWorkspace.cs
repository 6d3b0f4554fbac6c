using System.Numerics;

namespace MLNetBackprop.Core;

/// <summary>
/// The per-layer buffers of a forward and backward pass for up to <see cref="Capacity"/> rows: the
/// pre-activations z^(l), activations a^(l) and error terms δ^(l). Reused from batch to batch so that the
/// steady state allocates nothing. After a pass they can be read to see the math at work.
/// </summary>
/// <remarks>Layer indices follow <see cref="NeuralNetwork{T}"/>: 0 is the input, which has no z or δ.</remarks>
public sealed class NetworkWorkspace<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] _sizes;
    private readonly T[][] _z;
    private readonly T[][] _a;
    private readonly T[][] _delta;

    /// <summary>Buffers for <paramref name="network"/>'s shape and up to <paramref name="capacity"/> rows.</summary>
    public NetworkWorkspace(NeuralNetwork<T> network, int capacity)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _sizes = network.LayerSizes.ToArray();
        Capacity = capacity;
        int layers = _sizes.Length;
        _z = new T[layers][];
        _a = new T[layers][];
        _delta = new T[layers][];
        _z[0] = [];
        _a[0] = [];
        _delta[0] = [];
        for (int l = 1; l < layers; l++)
        {
            long len = (long)capacity * _sizes[l];
            _z[l] = new T[len];
            _a[l] = new T[len];
            _delta[l] = new T[len];
        }
    }

    /// <summary>The most rows one pass may hold.</summary>
    public int Capacity { get; }

    /// <summary>Rows of the last forward pass.</summary>
    public int Rows { get; internal set; }

    /// <summary>True when this workspace fits the layer sizes of <paramref name="network"/>.</summary>
    public bool Fits(NeuralNetwork<T> network) => network.LayerSizes.SequenceEqual(_sizes);

    /// <summary>z^(l) of the last pass, rows × n_l (layer l ≥ 1).</summary>
    public ReadOnlySpan<T> Z(int l) => _z[l].AsSpan(0, Rows * _sizes[l]);

    /// <summary>a^(l) = f(z^(l)) of the last pass, rows × n_l (layer l ≥ 1).</summary>
    public ReadOnlySpan<T> A(int l) => _a[l].AsSpan(0, Rows * _sizes[l]);

    /// <summary>δ^(l) of the last backward pass, rows × n_l (layer l ≥ 1), unscaled by 1/m as in the derivation.</summary>
    public ReadOnlySpan<T> Delta(int l) => _delta[l].AsSpan(0, Rows * _sizes[l]);

    internal Span<T> ZBuffer(int l, int rows) => _z[l].AsSpan(0, rows * _sizes[l]);

    internal Span<T> ABuffer(int l, int rows) => _a[l].AsSpan(0, rows * _sizes[l]);

    internal Span<T> DeltaBuffer(int l, int rows) => _delta[l].AsSpan(0, rows * _sizes[l]);

    private T[] _transposedWeightScratch = [];

    /// <summary>Scratch for W⁰ᵀ (n_0 × n_1) in the sparse first-layer forward pass, allocated on first use and then reused.</summary>
    internal Span<T> TransposedWeightScratch(int length)
    {
        if (_transposedWeightScratch.Length < length) _transposedWeightScratch = new T[length];
        return _transposedWeightScratch;
    }

    private T[][]? _keep;
    private T[][]? _unmasked;

    /// <summary>
    /// True while a training pass applies inverted dropout: each hidden activation is multiplied by its entry of the
    /// mask (0 with probability p, 1/(1 − p) otherwise), drawn by <see cref="DrawDropout"/> or set by
    /// <see cref="SetDropoutMask"/>. Scoring and loss monitoring never use it.
    /// </summary>
    internal bool DropoutActive { get; set; }

    /// <summary>Draws a fresh dropout mask for every hidden layer and <paramref name="rows"/> rows.</summary>
    internal void DrawDropout(double rate, Random rng, int rows)
    {
        EnsureDropoutBuffers();
        T kept = T.CreateTruncating(1 / (1 - rate));
        for (int l = 1; l < _sizes.Length - 1; l++)
        {
            var mask = _keep![l].AsSpan(0, rows * _sizes[l]);
            for (int i = 0; i < mask.Length; i++) mask[i] = rng.NextDouble() < rate ? T.Zero : kept;
        }
    }

    /// <summary>Sets hidden layer <paramref name="l"/>'s mask (rows × n_l entries), for gradient checks with a fixed mask.</summary>
    internal void SetDropoutMask(int l, ReadOnlySpan<T> mask)
    {
        EnsureDropoutBuffers();
        mask.CopyTo(_keep![l]);
    }

    internal Span<T> DropoutMask(int l, int rows) => _keep![l].AsSpan(0, rows * _sizes[l]);

    /// <summary>a^(l) before the mask, which the derivative f'(z) of tanh and sigmoid is computed from.</summary>
    internal Span<T> UnmaskedBuffer(int l, int rows) => _unmasked![l].AsSpan(0, rows * _sizes[l]);

    private void EnsureDropoutBuffers()
    {
        if (_keep is not null) return;
        _keep = new T[_sizes.Length][];
        _unmasked = new T[_sizes.Length][];
        for (int l = 0; l < _sizes.Length; l++)
        {
            bool hidden = l > 0 && l < _sizes.Length - 1;
            _keep[l] = hidden ? new T[(long)Capacity * _sizes[l]] : [];
            _unmasked[l] = hidden ? new T[(long)Capacity * _sizes[l]] : [];
        }
    }

    /// <summary>The network's output h(x) for the last pass, rows × n_L.</summary>
    public ReadOnlySpan<T> Output(int rows) => _a[^1].AsSpan(0, rows * _sizes[^1]);
}
