using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using MLNetBackprop.Core.Kernels;

namespace MLNetBackprop.Core;

/// <summary>
/// A read-only snapshot of a trained network, laid out for scoring one row at a time: each weight matrix is stored
/// transposed (n_l × n_{l+1}), so the single-row product streams contiguous rows of weights through vector
/// multiply-adds instead of gathering columns. Every output element still gets the same chain of operations as in a
/// batch, so a row scored here is bitwise the row <see cref="NeuralNetwork{T}.Predict(ReadOnlySpan{T}, Span{T}, int)"/>
/// gives in a batch. Thread-safe; changing the source network afterwards does not change the snapshot.
/// </summary>
/// <remarks>
/// A layer input that is mostly zeros (image pixels, one-hot features, the output of a ReLU layer) is multiplied by
/// the weight rows of its non-zero elements only. That changes no bit of the result (see
/// <see cref="Kernels.GemmSparseRow{T}"/>): a term 0 · w adds nothing to a fused multiply-add chain that starts at +0
/// when w is finite, so it is done only when every weight of the snapshot is finite (otherwise 0 · ∞ = NaN must show).
/// </remarks>
public sealed class NetworkPredictor<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] _sizes;
    private readonly Layer[] _layers;
    private readonly T[][] _transposedWeights;

    /// <summary>
    /// Row length of each transposed weight matrix: n_{l+1} rounded up to whole 256-bit vectors, zero-padded, so the
    /// one-row product of a narrow layer (10 classes) runs as independent vector chains instead of a vector and
    /// scalar chains one after the other. The padding columns are computed and ignored; the others keep their bits
    /// (each element's operations do not depend on its neighbours).
    /// </summary>
    private readonly int[] _strides;
    private readonly T[][] _biases;
    private readonly int _maxWidth;
    private readonly bool _weightsFinite;

    /// <summary>Inputs with at most this fraction of non-zeros (times 1024) take the zero-skipping product.</summary>
    private const int SparseFractionOf1024 = 768;

    [ThreadStatic]
    private static int[]? t_indices;

    [ThreadStatic]
    private static T[]? t_values;

    [ThreadStatic]
    private static T[]? t_z;

    [ThreadStatic]
    private static T[]? t_dense;

    [ThreadStatic]
    private static T[]? t_a0;

    [ThreadStatic]
    private static T[]? t_a1;

    /// <summary>Snapshots <paramref name="network"/>'s current weights.</summary>
    public NetworkPredictor(NeuralNetwork<T> network)
    {
        ArgumentNullException.ThrowIfNull(network);
        _sizes = network.LayerSizes.ToArray();
        _layers = network.Layers.ToArray();
        _transposedWeights = new T[_layers.Length][];
        _strides = new int[_layers.Length];
        int lanes = Math.Max(1, 32 / Unsafe.SizeOf<T>());
        _biases = new T[_layers.Length][];
        for (int l = 0; l < _layers.Length; l++)
        {
            int nIn = _sizes[l], nOut = _sizes[l + 1];
            var w = network.Weights(l);
            int stride = (nOut + lanes - 1) / lanes * lanes;
            var wt = new T[nIn * stride];
            for (int o = 0; o < nOut; o++)
                for (int i = 0; i < nIn; i++)
                    wt[i * stride + o] = w[o * nIn + i];
            _transposedWeights[l] = wt;
            _strides[l] = stride;
            _biases[l] = network.Biases(l).ToArray();
        }
        _maxWidth = Math.Max(_sizes.Max(), _strides.Max());
        _weightsFinite = _transposedWeights.All(w => !w.Any(x => !T.IsFinite(x)));
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
        CheckOutputs(output, logits);
        Run(input, default, default, output, logits);
    }

    /// <summary>
    /// h(x) for one sparse row given by its <paramref name="indices"/> (strictly increasing, in [0, InputSize)) and
    /// <paramref name="values"/>; bitwise what <see cref="Predict(ReadOnlySpan{T}, Span{T}, Span{T})"/> gives for the
    /// same row written out densely. Fills <paramref name="logits"/> (the output layer's z) when it is not empty.
    /// </summary>
    public void PredictSparse(ReadOnlySpan<int> indices, ReadOnlySpan<T> values, Span<T> output, Span<T> logits = default)
    {
        if (indices.Length != values.Length)
            throw new ArgumentException($"{indices.Length} indices but {values.Length} values.", nameof(values));
        CheckOutputs(output, logits);
        int previous = -1;
        foreach (int j in indices)
        {
            if (j <= previous || j >= InputSize)
                throw new ArgumentOutOfRangeException(nameof(indices), j, $"Sparse indices must be strictly increasing and in [0, {InputSize}).");
            previous = j;
        }
        if (!SkipsZeros)
        {
            // 0 · ∞ must give NaN as in the dense product: write the row out (into a per-thread buffer).
            var dense = (t_dense is { } td && td.Length >= InputSize ? td : t_dense = new T[InputSize]).AsSpan(0, InputSize);
            dense.Clear();
            for (int t = 0; t < indices.Length; t++) dense[indices[t]] = values[t];
            Run(dense, default, default, output, logits);
            return;
        }
        Run(default, indices, values, output, logits);
    }

    /// <summary>
    /// h(x) for <paramref name="inputs"/>.Length / InputSize dense rows (row-major) into <paramref name="outputs"/>
    /// (rows × OutputSize), each row bitwise as <see cref="Predict(ReadOnlySpan{T}, Span{T})"/> scores it alone.
    /// Blocks of rows are shared among up to <paramref name="maxThreads"/> threads (the result does not depend on the
    /// thread count). Within a block, a first layer whose inputs are mostly zeros multiplies each row's non-zeros by
    /// one L2-sized block of weight columns at a time; every other product is one GEMM over the block.
    /// </summary>
    public unsafe void PredictBatch(ReadOnlySpan<T> inputs, Span<T> outputs, int maxThreads = 1)
    {
        if (inputs.Length % InputSize != 0)
            throw new ArgumentException($"The input length {inputs.Length} is not a multiple of the input size {InputSize}.", nameof(inputs));
        int rows = inputs.Length / InputSize;
        if (outputs.Length < (long)rows * OutputSize)
            throw new ArgumentException($"The output span needs {(long)rows * OutputSize} elements, it has {outputs.Length}.", nameof(outputs));
        ArgumentOutOfRangeException.ThrowIfLessThan(maxThreads, 1);
        int blocks = (rows + BatchBlockRows - 1) / BatchBlockRows;
        int threads = Math.Min(Math.Min(maxThreads, Environment.ProcessorCount), blocks);
        int d = InputSize, k = OutputSize;
        if (threads <= 1)
        {
            for (int b = 0; b < blocks; b++)
            {
                int r0 = b * BatchBlockRows, n = Math.Min(BatchBlockRows, rows - r0);
                RunBlock(inputs.Slice(r0 * d, n * d), n, outputs.Slice(r0 * k, n * k));
            }
            return;
        }
        fixed (T* pin = inputs, pout = outputs)
        {
            T* x = pin, y = pout;
            Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = threads }, b =>
            {
                int r0 = b * BatchBlockRows, n = Math.Min(BatchBlockRows, rows - r0);
                RunBlock(new ReadOnlySpan<T>(x + (long)r0 * d, n * d), n, new Span<T>(y + (long)r0 * k, n * k));
            });
        }
    }

    /// <summary>Rows per block of <see cref="PredictBatch"/>: enough for an efficient GEMM in the later layers, few enough
    /// that the block's activations stay in L2 (128 rows measured no faster).</summary>
    private const int BatchBlockRows = 64;

    /// <summary>Weight bytes of one column block of the sparse first layer (kept in L2 while the block's rows pass).</summary>
    private const int SparseColumnBlockBytes = 256 * 1024;

    [ThreadStatic]
    private static T[]? t_blockZ;

    [ThreadStatic]
    private static T[]? t_blockA;

    [ThreadStatic]
    private static T[]? t_blockValues;

    [ThreadStatic]
    private static int[]? t_blockIndices;

    private void RunBlock(ReadOnlySpan<T> x, int rows, Span<T> y)
    {
        int size = rows * _maxWidth;
        var z = t_blockZ is { } bz && bz.Length >= size ? bz : t_blockZ = new T[BatchBlockRows * _maxWidth];
        var a = t_blockA is { } ba && ba.Length >= size ? ba : t_blockA = new T[BatchBlockRows * _maxWidth];
        var steps = new BlockSteps(this, x, z, a, y);
        ForwardPass.Run(_layers, ref steps, x, rows);
    }

    /// <summary>
    /// The batch-scoring walk: one GEMM over the block against the transposed weights (or the zero-skipping first
    /// layer); layers alternate between two buffers and f is applied in place (element-wise, so the same values as into
    /// a separate buffer); the last layer's a goes to the caller's output.
    /// </summary>
    private readonly ref struct BlockSteps(NetworkPredictor<T> predictor, ReadOnlySpan<T> x, T[] z, T[] a, Span<T> y) : IForwardSteps<T>
    {
        private readonly ReadOnlySpan<T> _x = x;
        private readonly Span<T> _y = y;

        public Span<T> Multiply(in Layer layer, ReadOnlySpan<T> input, int rows)
        {
            int l = layer.Index, nIn = layer.InputSize, nOut = layer.OutputSize;
            var zl = (l % 2 == 0 ? z : a).AsSpan(0, rows * nOut);
            if (l > 0 || !predictor.TrySparseFirstLayer(_x, rows, zl))
                Gemm.Multiply(false, false, rows, nOut, nIn, T.One, input, nIn, predictor._transposedWeights[l], predictor._strides[l], T.Zero, zl, nOut);
            return zl;
        }

        public ReadOnlySpan<T> Bias(in Layer layer) => predictor._biases[layer.Index];

        public Span<T> Output(in Layer layer, Span<T> z, int rows) => layer.IsOutput ? _y.Slice(0, rows * layer.OutputSize) : z;

        public void Activated(in Layer layer, ReadOnlySpan<T> z, Span<T> a, int rows) { }
    }

    /// <summary>
    /// z = x · W₀ᵀ over the non-zeros of the block's rows, one block of weight columns at a time; false (nothing
    /// written) when zeros are not to be skipped or the block is not sparse enough for it to pay.
    /// </summary>
    private bool TrySparseFirstLayer(ReadOnlySpan<T> x, int rows, Span<T> z)
    {
        if (!SkipsZeros) return false;
        int nIn = _sizes[0], nOut = _sizes[1];
        int capacity = BatchBlockRows * nIn + GemmSparseRow<T>.CompressSlack;
        var indices = t_blockIndices is { } bi && bi.Length >= capacity ? bi : t_blockIndices = new int[capacity];
        var values = t_blockValues is { } bv && bv.Length >= capacity ? bv : t_blockValues = new T[capacity];
        Span<int> rowStart = rows <= 256 ? stackalloc int[rows + 1] : new int[rows + 1];
        int total = 0;
        for (int r = 0; r < rows; r++)
        {
            rowStart[r] = total;
            int length = nIn + GemmSparseRow<T>.CompressSlack;
            total += GemmSparseRow<T>.Compress(x.Slice(r * nIn, nIn), indices.AsSpan(total, length), values.AsSpan(total, length));
        }
        rowStart[rows] = total;
        if ((long)total * 1024 > (long)rows * nIn * SparseFractionOf1024) return false;
        int vector = Math.Max(1, 32 / Unsafe.SizeOf<T>());
        int columns = Math.Max(16 * vector, SparseColumnBlockBytes / (nIn * Unsafe.SizeOf<T>()) / (16 * vector) * (16 * vector));
        var w = _transposedWeights[0];
        for (int j0 = 0; j0 < nOut; j0 += columns)
        {
            int width = Math.Min(columns, nOut - j0);
            for (int r = 0; r < rows; r++)
            {
                int from = rowStart[r], count = rowStart[r + 1] - from;
                GemmSparseRow<T>.Multiply(nIn, width, indices.AsSpan(from, count), values.AsSpan(from, count), w.AsSpan(j0), _strides[0], z.Slice(r * nOut + j0, width));
            }
        }
        return true;
    }

    private void CheckOutputs(Span<T> output, Span<T> logits)
    {
        if (output.Length < OutputSize)
            throw new ArgumentException($"The output span needs {OutputSize} elements, it has {output.Length}.", nameof(output));
        if (!logits.IsEmpty && logits.Length < OutputSize)
            throw new ArgumentException($"The logits span needs {OutputSize} elements, it has {logits.Length}.", nameof(logits));
    }

    /// <summary>
    /// The forward pass for one row: dense <paramref name="input"/>, or (when it is empty) the sparse first-layer input
    /// <paramref name="indices"/>/<paramref name="values"/>.
    /// </summary>
    private void Run(ReadOnlySpan<T> input, ReadOnlySpan<int> indices, ReadOnlySpan<T> values, Span<T> output, Span<T> logits)
    {
        var steps = new RowSteps(this, indices, values, Scratch(ref t_z), Scratch(ref t_a0), Scratch(ref t_a1), output, logits);
        ForwardPass.Run(_layers, ref steps, input, 1);
    }

    /// <summary>
    /// The one-row walk: z = a · Wᵀ with Wᵀ stored n_in × n_out, so the plain row-times-matrix product, computed over the
    /// padded width and used over n_out; the sparse first-layer input when the row came as indices and values; layers
    /// alternate between two buffers; the last layer's a goes to the output and its z to the logits when asked for.
    /// </summary>
    private readonly ref struct RowSteps(NetworkPredictor<T> predictor, ReadOnlySpan<int> indices, ReadOnlySpan<T> values,
        T[] z, T[] a0, T[] a1, Span<T> output, Span<T> logits) : IForwardSteps<T>
    {
        private readonly ReadOnlySpan<int> _indices = indices;
        private readonly ReadOnlySpan<T> _values = values;
        private readonly Span<T> _output = output;
        private readonly Span<T> _logits = logits;

        public Span<T> Multiply(in Layer layer, ReadOnlySpan<T> a, int rows)
        {
            int l = layer.Index;
            var padded = z.AsSpan(0, predictor._strides[l]);
            if (l == 0 && a.IsEmpty) // a sparse first-layer input
                GemmSparseRow<T>.Multiply(layer.InputSize, padded.Length, _indices, _values, predictor._transposedWeights[l], padded.Length, padded);
            else
                predictor.Multiply(l, a, padded);
            return z.AsSpan(0, layer.OutputSize);
        }

        public ReadOnlySpan<T> Bias(in Layer layer) => predictor._biases[layer.Index];

        public Span<T> Output(in Layer layer, Span<T> z, int rows) =>
            layer.IsOutput ? _output.Slice(0, layer.OutputSize) : (layer.Index % 2 == 0 ? a0 : a1).AsSpan(0, layer.OutputSize);

        public void Activated(in Layer layer, ReadOnlySpan<T> z, Span<T> a, int rows)
        {
            if (layer.IsOutput && !_logits.IsEmpty) z.CopyTo(_logits);
        }
    }

    /// <summary>z = a · W_lᵀ over the padded width, over the non-zeros of a only when they are few enough to pay for finding them.</summary>
    private void Multiply(int l, ReadOnlySpan<T> a, Span<T> z)
    {
        int nIn = _sizes[l], nOut = _strides[l];
        // Zeros are looked for in the input and after an activation whose outputs often are exactly zero (ReLU: about
        // half); sigmoid, tanh, leaky ReLU, SiLU and identity outputs almost never are.
        if (SkipsZeros && (l == 0 || _layers[l - 1].Function.OftenExactlyZero))
        {
            int capacity = _maxWidth + GemmSparseRow<T>.CompressSlack;
            var indices = t_indices is { } ti && ti.Length >= capacity ? ti : t_indices = new int[capacity];
            var values = t_values is { } tv && tv.Length >= capacity ? tv : t_values = new T[capacity];
            int nnz = GemmSparseRow<T>.Compress(a, indices, values);
            if ((long)nnz * 1024 <= (long)nIn * SparseFractionOf1024)
            {
                GemmSparseRow<T>.Multiply(nIn, nOut, indices.AsSpan(0, nnz), values.AsSpan(0, nnz), _transposedWeights[l], nOut, z);
                return;
            }
        }
        Gemm.Multiply(false, false, 1, nOut, nIn, T.One, a, nIn, _transposedWeights[l], nOut, T.Zero, z, nOut);
    }

    /// <summary>
    /// Whether zero inputs are skipped (default true; it never changes a bit of the result, only the speed). The
    /// benchmarks turn it off to measure the plain dense product.
    /// </summary>
    internal bool SkipZeroInputs { get; set; } = true;

    private bool SkipsZeros => SkipZeroInputs && _weightsFinite;

    private T[] Scratch(ref T[]? buffer)
    {
        if (buffer is null || buffer.Length < _maxWidth) buffer = new T[_maxWidth];
        return buffer;
    }
}
