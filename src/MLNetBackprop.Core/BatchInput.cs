using System.Numerics;

namespace MLNetBackprop.Core;

/// <summary>The input rows of one forward pass: either dense (rows × n, row-major) or compressed sparse rows.</summary>
internal readonly ref struct BatchInput<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public readonly ReadOnlySpan<T> Dense;
    public readonly ReadOnlySpan<int> RowStart;
    public readonly ReadOnlySpan<int> Indices;
    public readonly ReadOnlySpan<T> Values;

    private BatchInput(ReadOnlySpan<T> dense, ReadOnlySpan<int> rowStart, ReadOnlySpan<int> indices, ReadOnlySpan<T> values)
    {
        Dense = dense;
        RowStart = rowStart;
        Indices = indices;
        Values = values;
    }

    public bool IsSparse => !RowStart.IsEmpty;

    public static BatchInput<T> FromDense(ReadOnlySpan<T> rows) => new(rows, default, default, default);

    /// <summary>Sparse rows; rowStart has rows + 1 entries and need not start at 0.</summary>
    public static BatchInput<T> FromSparse(ReadOnlySpan<int> rowStart, ReadOnlySpan<int> indices, ReadOnlySpan<T> values) =>
        new(default, rowStart, indices, values);
}
