using System.Numerics;
using System.Numerics.Tensors;
using MLNetBackprop.Core.Activations;
using MLNetBackprop.Core.Kernels;

namespace MLNetBackprop.Core;

/// <summary>
/// The cost J(W, b) and its gradient by backpropagation, over a whole mini-batch in matrix form.
/// </summary>
/// <remarks>
/// With m examples (or Σw with example weights), f the activation and layer l mapping to l + 1:
/// <code>
/// forward:   Z^(l+1) = A^(l) · W^(l)ᵀ + b^(l)      A^(l+1) = f(Z^(l+1))
/// cost:      J = (1/m) Σ_i loss(h(x_i), y_i) + (λ/2) Σ_l ‖W^(l)‖² + λ₁ Σ_l |W^(l)|
/// output:    δ^(L) = −(y − a^(L)) ⊙ f'(z^(L))       (squared error; cross-entropy: a^(L) − y)
/// hidden:    δ^(l) = (δ^(l+1) · W^(l)) ⊙ f'(z^(l))  (row form of (W^(l))ᵀ δ^(l+1))
/// gradient:  ∂J/∂W^(l) = (1/m) δ^(l+1)ᵀ · A^(l) + λ W^(l) + λ₁ sign(W^(l))
///            ∂J/∂b^(l) = (1/m) Σ_i δ_i^(l+1)
/// </code>
/// With example weights the i-th output row δ_i^(L) is multiplied by w_i and m becomes Σ w_i.
/// </remarks>
public static class Backpropagation
{
    /// <summary>
    /// J and ∂J/∂θ over all rows of <paramref name="data"/> as one batch; <paramref name="gradient"/> is laid out
    /// like <see cref="NeuralNetwork{T}.Parameters"/>. The z, a and δ of every layer are left in
    /// <paramref name="workspace"/> when one is given.
    /// </summary>
    public static double CostAndGradient<T>(NeuralNetwork<T> network, TrainingData<T> data, LossFunction loss,
        Regularization regularization, Span<T> gradient, NetworkWorkspace<T>? workspace = null, int maxThreads = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(data);
        CheckCompatible(network, data, loss);
        regularization.Validate();
        if (gradient.Length != network.ParameterCount)
            throw new ArgumentException($"The gradient span has {gradient.Length} elements; the network has {network.ParameterCount} parameters.", nameof(gradient));
        workspace ??= new NetworkWorkspace<T>(network, data.Count);
        return CostAndGradient(network, MiniBatch<T>.Whole(data), loss, regularization, workspace, gradient, maxThreads);
    }

    /// <summary>J over all rows of <paramref name="data"/> (no gradient).</summary>
    public static double Cost<T>(NeuralNetwork<T> network, TrainingData<T> data, LossFunction loss, Regularization regularization, int maxThreads = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(data);
        CheckCompatible(network, data, loss);
        regularization.Validate();
        return DataLoss(network, data, loss, maxThreads) + Penalty(network, regularization);
    }

    /// <summary>Throws when the data's widths do not match the network or the loss does not fit its output activation.</summary>
    public static void CheckCompatible<T>(NeuralNetwork<T> network, TrainingData<T> data, LossFunction loss)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (data.FeatureCount != network.InputSize)
            throw new ArgumentException($"The data has {data.FeatureCount} features; the network's input layer has {network.InputSize} units.", nameof(data));
        if (data.TargetCount != network.OutputSize)
            throw new ArgumentException($"The data has {data.TargetCount} targets per row; the network's output layer has {network.OutputSize} units.", nameof(data));
        CheckLoss(network.OutputActivation, loss);
    }

    internal static void CheckLoss(Activation output, LossFunction loss)
    {
        if (loss is not (LossFunction.SquaredError or LossFunction.CrossEntropy))
            throw new ArgumentOutOfRangeException(nameof(loss), loss, "Unknown loss function.");
        if (loss == LossFunction.CrossEntropy && output is not (Activation.Sigmoid or Activation.Softmax))
            throw new ArgumentException($"Cross-entropy needs a Sigmoid or Softmax output layer, not {output}.", nameof(loss));
    }

    /// <summary>Mean (weighted) data loss without the penalty, evaluated in chunks.</summary>
    internal static double DataLoss<T>(NeuralNetwork<T> network, TrainingData<T> data, LossFunction loss, int maxThreads,
        NetworkWorkspace<T>? workspace = null)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        Evaluate(network, data, loss, maxThreads, workspace, out _);

    /// <summary>
    /// Mean (weighted) data loss without the penalty, and the (weighted) accuracy when the output is a classifier:
    /// softmax (arg-max against arg-max of the target) or a single sigmoid unit (threshold ½).
    /// </summary>
    internal static double Evaluate<T>(NeuralNetwork<T> network, TrainingData<T> data, LossFunction loss, int maxThreads,
        NetworkWorkspace<T>? workspace, out double? accuracy)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int chunk = workspace?.Capacity ?? Math.Min(data.Count, 1024);
        workspace ??= new NetworkWorkspace<T>(network, chunk);
        bool classifier = network.OutputActivation == Activation.Softmax
            || (network.OutputActivation == Activation.Sigmoid && network.OutputSize == 1);
        int k = network.OutputSize;
        var batch = new MiniBatch<T>();
        var rows = new int[Math.Min(chunk, data.Count)];
        double total = 0, weightSum = 0, correct = 0;
        for (int start = 0; start < data.Count; start += chunk)
        {
            int n = Math.Min(chunk, data.Count - start);
            for (int i = 0; i < n; i++) rows[i] = start + i;
            batch.Gather(data, rows.AsSpan(0, n));
            Forward(network, batch.Input, n, workspace, maxThreads);
            total += SumLoss(network, batch, loss, workspace);
            weightSum += batch.WeightSum;
            if (!classifier) continue;
            var output = workspace.Output(n);
            for (int r = 0; r < n; r++)
            {
                var a = output.Slice(r * k, k);
                var y = batch.Targets.Slice(r * k, k);
                bool hit = k == 1
                    ? (a[0] > T.CreateTruncating(0.5)) == (y[0] > T.CreateTruncating(0.5))
                    : TensorPrimitives.IndexOfMax(a) == TensorPrimitives.IndexOfMax(y);
                if (hit) correct += batch.Weights.IsEmpty ? 1 : double.CreateTruncating(batch.Weights[r]);
            }
        }
        accuracy = classifier ? correct / weightSum : null;
        return total / weightSum;
    }

    /// <summary>Forward pass: fills z^(l) and a^(l) of every layer for <paramref name="rows"/> rows.</summary>
    internal static void Forward<T>(NeuralNetwork<T> network, BatchInput<T> input, int rows, NetworkWorkspace<T> ws, int maxThreads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ws.Rows = rows;
        var steps = new TrainingSteps<T>(network, input, ws, maxThreads);
        ForwardPass.Run(network.Layers, ref steps, input.IsSparse ? default : input.Dense, rows, maxThreads);
    }

    /// <summary>
    /// The training walk of the forward pass: the mini-batch GEMM against W as stored (n_out × n_in, so transposed in
    /// the product), or the sparse product for a sparse first layer; every z and a kept in the workspace for the
    /// backward pass; inverted dropout on the hidden layers.
    /// </summary>
    private readonly ref struct TrainingSteps<T>(NeuralNetwork<T> network, BatchInput<T> input, NetworkWorkspace<T> ws, int maxThreads)
        : IForwardSteps<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly BatchInput<T> _input = input;

        public Span<T> Multiply(in Layer layer, ReadOnlySpan<T> a, int rows)
        {
            int l = layer.Index, nIn = layer.InputSize, nOut = layer.OutputSize;
            var z = ws.ZBuffer(l + 1, rows);
            if (l == 0 && _input.IsSparse)
                SparseKernels.MultiplyByTransposed(_input.RowStart, _input.Indices, _input.Values, rows, network.Weights(0), nIn, nOut, z,
                    ws.TransposedWeightScratch(nIn * nOut), maxThreads);
            else
                Gemm.Multiply(false, true, rows, nOut, nIn, T.One, a, nIn, network.Weights(l), nIn, T.Zero, z, nOut, maxThreads);
            return z;
        }

        public ReadOnlySpan<T> Bias(in Layer layer) => network.Biases(layer.Index);

        public Span<T> Output(in Layer layer, Span<T> z, int rows) => ws.ABuffer(layer.Index + 1, rows);

        public void Activated(in Layer layer, ReadOnlySpan<T> z, Span<T> a, int rows)
        {
            // Inverted dropout on a hidden layer while training: a^(l+1) ⊙= mask, the unmasked a kept for f'.
            if (!ws.DropoutActive || layer.IsOutput) return;
            a.CopyTo(ws.UnmaskedBuffer(layer.Index + 1, rows));
            TensorPrimitives.Multiply(a, ws.DropoutMask(layer.Index + 1, rows), a);
        }
    }

    /// <summary>Σ_i w_i · loss(a_i, y_i) over the batch after a forward pass (not yet divided by Σw).</summary>
    internal static double SumLoss<T>(NeuralNetwork<T> network, MiniBatch<T> batch, LossFunction loss, NetworkWorkspace<T> ws)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = batch.Rows, k = network.OutputSize, L = network.LayerSizes.Count - 1;
        var a = ws.ABuffer(L, rows);
        var z = ws.ZBuffer(L, rows);
        var y = batch.Targets;
        var w = batch.Weights;
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            var ar = a.Slice(r * k, k);
            var zr = z.Slice(r * k, k);
            var yr = y.Slice(r * k, k);
            double l = ExampleLoss(network.OutputActivation, loss, ar, zr, yr);
            total += w.IsEmpty ? l : double.CreateTruncating(w[r]) * l;
        }
        return total;
    }

    /// <summary>The loss of one example, computed from the logits where that is the stable way.</summary>
    private static double ExampleLoss<T>(Activation output, LossFunction loss, ReadOnlySpan<T> a, ReadOnlySpan<T> z, ReadOnlySpan<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        double sum = 0;
        if (loss == LossFunction.SquaredError)
        {
            // ½‖h(x) − y‖²
            for (int j = 0; j < a.Length; j++)
            {
                double d = double.CreateTruncating(a[j]) - double.CreateTruncating(y[j]);
                sum += d * d;
            }
            return 0.5 * sum;
        }
        if (output == Activation.Sigmoid)
        {
            // −[y ln σ(z) + (1 − y) ln(1 − σ(z))] = max(z, 0) − z·y + ln(1 + e^(−|z|))
            for (int j = 0; j < a.Length; j++)
            {
                double zj = double.CreateTruncating(z[j]), yj = double.CreateTruncating(y[j]);
                sum += Math.Max(zj, 0) - zj * yj + Math.Log(1 + Math.Exp(-Math.Abs(zj)));
            }
            return sum;
        }
        // softmax: −Σ y_k ln a_k = Σ y_k (logsumexp(z) − z_k)
        double max = double.NegativeInfinity;
        for (int j = 0; j < z.Length; j++) max = Math.Max(max, double.CreateTruncating(z[j]));
        double s = 0;
        for (int j = 0; j < z.Length; j++) s += Math.Exp(double.CreateTruncating(z[j]) - max);
        double lse = max + Math.Log(s);
        for (int j = 0; j < z.Length; j++) sum += double.CreateTruncating(y[j]) * (lse - double.CreateTruncating(z[j]));
        return sum;
    }

    /// <summary>(λ/2) Σ W² + λ₁ Σ |W| over every weight matrix (biases excluded).</summary>
    internal static double Penalty<T>(NeuralNetwork<T> network, Regularization reg)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!reg.IsActive) return 0;
        double sq = 0, abs = 0;
        for (int l = 0; l < network.WeightLayerCount; l++)
        {
            var w = network.Weights(l);
            if (reg.L2 != 0) sq += SumOfSquares(w);
            if (reg.L1 != 0) abs += SumOfMagnitudes(w);
        }
        return 0.5 * reg.L2 * sq + reg.L1 * abs;
    }

    /// <summary>Adds the penalty's gradient, λ₂ W + λ₁ sign(W), to the weight parts of <paramref name="gradient"/> (biases are not decayed).</summary>
    internal static void AddPenaltyGradient<T>(NeuralNetwork<T> network, Regularization reg, Span<T> gradient)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!reg.IsActive) return;
        T l2 = T.CreateTruncating(reg.L2), l1 = T.CreateTruncating(reg.L1);
        for (int l = 0; l < network.WeightLayerCount; l++)
        {
            var w = network.Weights(l);
            var g = gradient.Slice(network.WeightOffset(l), w.Length);
            if (reg.L2 != 0) TensorPrimitives.MultiplyAdd(w, l2, g, g);
            if (reg.L1 != 0)
                for (int i = 0; i < w.Length; i++)
                    g[i] += w[i] > T.Zero ? l1 : w[i] < T.Zero ? -l1 : w[i] == T.Zero ? T.Zero : w[i];
        }
    }

    /// <summary>
    /// <paramref name="destination"/> = <paramref name="scale"/> · <paramref name="source"/> + the penalty's gradient
    /// (λ₂ W + λ₁ sign(W) on the weights; biases are not decayed), in one pass over the weights where the two steps took
    /// two, with their bits: what <c>TensorPrimitives.Multiply(source, scale, destination)</c> followed by
    /// <see cref="AddPenaltyGradient{T}"/> gives. Only the parameters in [<paramref name="start"/>, start +
    /// <paramref name="length"/>) are written (a data-parallel rank's own chunk); by default, all of them.
    /// </summary>
    internal static void ScaleAndAddPenaltyGradient<T>(NeuralNetwork<T> network, Regularization reg, ReadOnlySpan<T> source, T scale, Span<T> destination,
        int start = 0, int length = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int end = length < 0 ? network.ParameterCount : start + length;
        T l2 = T.CreateTruncating(reg.L2), l1 = T.CreateTruncating(reg.L1);
        for (int l = 0; l < network.WeightLayerCount; l++)
        {
            int wo = network.WeightOffset(l), wl = network.LayerSizes[l] * network.LayerSizes[l + 1];
            int from = Math.Max(wo, start), to = Math.Min(wo + wl, end);
            if (from < to)
            {
                var w = network.Weights(l).Slice(from - wo, to - from);
                var g = destination[from..to];
                if (reg.L2 != 0) ElementwiseLoop.ScaledSum<T>(w, l2, source[from..to], scale, g);
                else TensorPrimitives.Multiply(source[from..to], scale, g);
                if (reg.L1 != 0)
                    for (int i = 0; i < w.Length; i++)
                        g[i] += w[i] > T.Zero ? l1 : w[i] < T.Zero ? -l1 : w[i] == T.Zero ? T.Zero : w[i];
            }
            int bo = network.BiasOffset(l), bl = network.LayerSizes[l + 1];
            from = Math.Max(bo, start);
            to = Math.Min(bo + bl, end);
            if (from < to) TensorPrimitives.Multiply(source[from..to], scale, destination[from..to]);
        }
    }

    // Vectorized sums in T: the penalty is reported, never differentiated, and float's rounding here is far below J's.
    private static double SumOfSquares<T>(ReadOnlySpan<T> w) where T : unmanaged, IFloatingPointIeee754<T> =>
        double.CreateTruncating(TensorPrimitives.SumOfSquares(w));

    private static double SumOfMagnitudes<T>(ReadOnlySpan<T> w) where T : unmanaged, IFloatingPointIeee754<T> =>
        double.CreateTruncating(TensorPrimitives.SumOfMagnitudes(w));

    /// <summary>
    /// Forward pass, J, backward pass and ∂J/∂θ for one batch. Returns J (data term + penalty). With
    /// <paramref name="weightedSum"/> false (the formula), the data term's gradient is the mean over the batch,
    /// (1/m) Σ; with it true, the weighted sum Σ (m times the mean), for a caller that adds several batches' sums and
    /// divides once (the data-parallel step). The cost returned is the mean either way.
    /// </summary>
    internal static double CostAndGradient<T>(NeuralNetwork<T> network, MiniBatch<T> batch, LossFunction loss,
        Regularization reg, NetworkWorkspace<T> ws, Span<T> gradient, int maxThreads, bool weightedSum = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = batch.Rows;
        Forward(network, batch.Input, rows, ws, maxThreads);
        double dataLoss = SumLoss(network, batch, loss, ws) / batch.WeightSum;
        Backward(network, batch, loss, reg, ws, gradient, maxThreads, weightedSum);
        return dataLoss + Penalty(network, reg);
    }

    /// <summary>The δ rules and the gradient, after <see cref="Forward{T}"/> on the same batch.</summary>
    internal static void Backward<T>(NeuralNetwork<T> network, MiniBatch<T> batch, LossFunction loss,
        Regularization reg, NetworkWorkspace<T> ws, Span<T> gradient, int maxThreads, bool weightedSum = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var sizes = network.LayerSizes;
        int rows = batch.Rows, L = sizes.Count - 1;

        // Output layer: δ^(L) = −(y − a^(L)) ⊙ f'(z^(L)), or a^(L) − y for cross-entropy with its canonical output.
        var deltaL = ws.DeltaBuffer(L, rows);
        TensorPrimitives.Subtract(ws.ABuffer(L, rows), batch.Targets, deltaL);
        if (loss == LossFunction.SquaredError)
        {
            if (network.OutputActivation == Activation.Softmax)
                Softmax.MultiplyByJacobian<T>(ws.ABuffer(L, rows), deltaL, sizes[L]);
            else
                ActivationTable.Get(network.OutputActivation).Kernel.MultiplyByDerivative<T>(ws.ZBuffer(L, rows), ws.ABuffer(L, rows), deltaL);
        }
        var weights = batch.Weights;
        if (!weights.IsEmpty)
            for (int r = 0; r < rows; r++)
                TensorPrimitives.Multiply(deltaL.Slice(r * sizes[L], sizes[L]), weights[r], deltaL.Slice(r * sizes[L], sizes[L]));

        T invM = weightedSum ? T.One : T.CreateTruncating(1.0 / batch.WeightSum);
        var input = batch.Input;
        for (int l = L - 1; l >= 0; l--)
        {
            int nIn = sizes[l], nOut = sizes[l + 1];
            ReadOnlySpan<T> deltaNext = ws.DeltaBuffer(l + 1, rows);
            var gradW = gradient.Slice(network.WeightOffset(l), nOut * nIn);
            var gradB = gradient.Slice(network.BiasOffset(l), nOut);

            // ∂J/∂W^(l) = (1/m) δ^(l+1)ᵀ · A^(l) + λ W^(l). The λW term rides in the product's epilogue
            // (C = α·AB + β·C with C preset to W and β = λ), saving a pass over the weights; the sparse product
            // gives the dense one's bits.
            var w = network.Weights(l);
            bool l2InGemm = reg.L2 != 0;
            if (l2InGemm) w.CopyTo(gradW);
            T beta = l2InGemm ? T.CreateTruncating(reg.L2) : T.Zero;
            if (l == 0 && input.IsSparse)
                SparseKernels.TransposedTimesSparse(deltaNext, nOut, input.RowStart, input.Indices, input.Values, rows, nIn, invM, beta,
                    gradW, maxThreads);
            else
            {
                ReadOnlySpan<T> a = l == 0 ? input.Dense : ws.ABuffer(l, rows);
                Gemm.Multiply(true, false, nOut, nIn, rows, invM, deltaNext, nOut, a, nIn, beta, gradW, nIn, maxThreads);
            }

            // ∂J/∂b^(l) = (1/m) Σ_i δ_i^(l+1)
            gradB.Clear();
            for (int r = 0; r < rows; r++) TensorPrimitives.Add(gradB, deltaNext.Slice(r * nOut, nOut), gradB);
            TensorPrimitives.Multiply(gradB, invM, gradB);

            // + λ₁ sign(W^(l)); biases are not decayed.
            if (reg.L1 != 0)
            {
                // sign(W) with sign(0) = 0; a NaN weight propagates NaN (T.Sign would throw), which the trainer reports as divergence.
                T l1 = T.CreateTruncating(reg.L1);
                for (int i = 0; i < w.Length; i++)
                    gradW[i] += w[i] > T.Zero ? l1 : w[i] < T.Zero ? -l1 : w[i] == T.Zero ? T.Zero : w[i];
            }

            // Hidden layer: δ^(l) = (δ^(l+1) · W^(l)) ⊙ f'(z^(l)); the input layer has no δ.
            if (l > 0)
            {
                var delta = ws.DeltaBuffer(l, rows);
                Gemm.Multiply(false, false, rows, nIn, nOut, T.One, deltaNext, nOut, w, nIn, T.Zero, delta, nIn, maxThreads);
                if (ws.DropoutActive)
                {
                    // With dropout a^(l) = mask ⊙ f(z^(l)), so δ^(l) = (δ^(l+1) · W^(l)) ⊙ f'(z^(l)) ⊙ mask.
                    RowPasses.MultiplyByDerivative<T>(ws.ZBuffer(l, rows), ws.UnmaskedBuffer(l, rows), delta, nIn, network.Layers[l - 1].Function.Kernel, maxThreads);
                    TensorPrimitives.Multiply(delta, ws.DropoutMask(l, rows), delta);
                }
                else
                    RowPasses.MultiplyByDerivative<T>(ws.ZBuffer(l, rows), ws.ABuffer(l, rows), delta, nIn, network.Layers[l - 1].Function.Kernel, maxThreads);
            }
        }
    }
}
