using System.Numerics;
using MLNetBackprop.Core.Activations;
using MLNetBackprop.Core.Kernels;

namespace MLNetBackprop.Core;

/// <summary>
/// Weight layer l of a network as every walk of the forward pass sees it: it maps layer l (n_l units) to layer l + 1
/// (n_{l+1} units) through f.
/// </summary>
internal readonly record struct Layer(int Index, int InputSize, int OutputSize, Activation Activation, bool IsOutput)
{
    /// <summary>The activation's table entry: its arithmetic, ONNX form and the rest.</summary>
    public ActivationInfo Function => ActivationTable.Get(Activation);

    /// <summary>The weight layers of a network with these <paramref name="sizes"/> (input first) and one activation per non-input layer.</summary>
    public static Layer[] Of(IReadOnlyList<int> sizes, IReadOnlyList<Activation> activations)
    {
        var layers = new Layer[activations.Count];
        for (int l = 0; l < layers.Length; l++)
            layers[l] = new Layer(l, sizes[l], sizes[l + 1], activations[l], l == layers.Length - 1);
        return layers;
    }
}

/// <summary>
/// What differs between the walks of the forward pass (training over a mini-batch, batch scoring, one-row scoring): the
/// product z = a · Wᵀ of each layer (the dense GEMM, the one-row product over transposed weights, the sparse first
/// layer), where z and a are kept, and what happens to a once it is computed (dropout while training). The bias and
/// the activation are the same in every walk, so <see cref="ForwardPass.Run{T, TSteps}"/> does them.
/// </summary>
internal interface IForwardSteps<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// Z^(l+1) = A^(l) · W^(l)ᵀ for <paramref name="rows"/> rows into a buffer of the walk's choosing, returned as
    /// rows × n_{l+1}. <paramref name="a"/> is the previous layer's output; for the first layer it is the walk's dense
    /// input, or empty when the walk's input is sparse (the walk holds it).
    /// </summary>
    Span<T> Multiply(in Layer layer, ReadOnlySpan<T> a, int rows);

    /// <summary>b^(l), added to every row of Z^(l+1).</summary>
    ReadOnlySpan<T> Bias(in Layer layer);

    /// <summary>Where A^(l+1) = f(Z^(l+1)) goes (rows × n_{l+1}); may be <paramref name="z"/> itself (f is element-wise per row).</summary>
    Span<T> Output(in Layer layer, Span<T> z, int rows);

    /// <summary>Called with Z^(l+1) and A^(l+1) once A^(l+1) is computed and before the next layer reads it.</summary>
    void Activated(in Layer layer, ReadOnlySpan<T> z, Span<T> a, int rows);
}

/// <summary>
/// The forward pass, written once: for each layer, Z^(l+1) = A^(l) · W^(l)ᵀ + b^(l) and A^(l+1) = f(Z^(l+1)). The
/// training step (<see cref="Backpropagation"/>), batch scoring and one-row scoring (<see cref="NetworkPredictor{T}"/>)
/// walk <see cref="Layer"/> lists with it and differ only in their <see cref="IForwardSteps{T}"/>; the ONNX export walks
/// the same list, writing the same three steps as graph nodes. Every element of z gets the same operations in the same
/// order in every walk, which is what keeps a row scored alone bitwise equal to the row in a training batch.
/// </summary>
internal static class ForwardPass
{
    /// <summary>
    /// Runs <paramref name="layers"/> over <paramref name="rows"/> rows; the output is in the last layer's
    /// <see cref="IForwardSteps{T}.Output"/>. The bias and f of a large batch are shared among up to
    /// <paramref name="maxThreads"/> threads (the steps' products choose their own threads).
    /// </summary>
    public static void Run<T, TSteps>(ReadOnlySpan<Layer> layers, ref TSteps steps, ReadOnlySpan<T> input, int rows, int maxThreads = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TSteps : IForwardSteps<T>, allows ref struct
    {
        ReadOnlySpan<T> a = input;
        foreach (ref readonly var layer in layers)
        {
            // Z^(l+1) = A^(l) · W^(l)ᵀ
            var z = steps.Multiply(in layer, a, rows);
            // + b^(l), then A^(l+1) = f(Z^(l+1)), a few rows at a time
            var next = steps.Output(in layer, z, rows);
            RowPasses.BiasAndActivation(z, steps.Bias(in layer), next, layer.OutputSize, layer.Function.Kernel, maxThreads);
            steps.Activated(in layer, z, next, rows);
            a = next;
        }
    }
}
