using Microsoft.ML.Data;

namespace MLNetBackprop;

/// <summary>Small helpers over DataViewType (ML.NET keeps its own GetValueCount internal).</summary>
internal static class DataViewTypeExtensions
{
    /// <summary>Number of values in one cell: the vector size (0 when unknown), else 1.</summary>
    public static int SlotCount(this DataViewType type) => type is VectorDataViewType v ? v.Size : 1;
}
