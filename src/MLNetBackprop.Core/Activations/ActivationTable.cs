namespace MLNetBackprop.Core.Activations;

/// <summary>Every activation's <see cref="ActivationInfo"/>, indexed by its <see cref="Activation"/> value.</summary>
internal static class ActivationTable
{
    private static readonly ActivationInfo[] s_all =
    [
        Sigmoid.Info, Tanh.Info, Relu.Info, LeakyRelu.Info, Identity.Info, Softmax.Info, Silu.Info,
    ];

    static ActivationTable()
    {
        for (int i = 0; i < s_all.Length; i++)
            if ((int)s_all[i].Kind != i) throw new InvalidOperationException($"The activation table's entry {i} is {s_all[i].Kind}.");
    }

    /// <summary>Whether <paramref name="f"/> is a defined activation.</summary>
    public static bool IsDefined(Activation f) => (uint)f < (uint)s_all.Length;

    /// <summary>The entry of <paramref name="f"/> (which must be defined).</summary>
    public static ActivationInfo Get(Activation f) =>
        IsDefined(f) ? s_all[(int)f] : throw new ArgumentOutOfRangeException(nameof(f), f, "Unknown activation.");
}
