using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop.Interop;

/// <summary>
/// A key column's KeyValues annotation, whose item type is known only at run time (see <see cref="ItemTypeDispatch"/>
/// for the ML.NET limitation: ML.NET reads and builds such annotations with its internal Utils.MarshalInvoke). Checked
/// against ML.NET 6.0.0 (InteropTests).
/// </summary>
internal static class KeyValues
{
    /// <summary>The annotation's name, as ML.NET's AnnotationUtils.Kinds.KeyValues spells it.</summary>
    public const string Name = "KeyValues";

    /// <summary>
    /// A getter for a KeyValues annotation of items of <paramref name="item"/>'s type that yields an empty vector: a
    /// schema-shape stand-in (GetOutputSchema knows the key values' type, not the values).
    /// </summary>
    public static Delegate EmptyGetter(PrimitiveDataViewType item) => ItemTypeDispatch.Invoke(item.RawType, new EmptyGetterFunc());

    /// <summary>The key values in <paramref name="annotations"/>'s <paramref name="keyValues"/> column, as invariant text.</summary>
    public static string[] ReadAsText(DataViewSchema.Annotations annotations, DataViewSchema.Column keyValues) =>
        keyValues.Type is VectorDataViewType { ItemType: var item }
            ? ItemTypeDispatch.Invoke(item.RawType, new ReadAsTextFunc(annotations))
            : throw new ArgumentException($"The annotation {keyValues.Name} is not a vector.", nameof(keyValues));

    private readonly struct EmptyGetterFunc : ItemTypeDispatch.IFunc<Delegate>
    {
        public Delegate Invoke<T>() => (ValueGetter<VBuffer<T>>)((ref VBuffer<T> v) => v = default!);
    }

    private readonly struct ReadAsTextFunc(DataViewSchema.Annotations annotations) : ItemTypeDispatch.IFunc<string[]>
    {
        public string[] Invoke<T>()
        {
            var buffer = default(VBuffer<T>);
            annotations.GetValue(Name, ref buffer);
            var dense = new T[buffer.Length];
            buffer.CopyTo(dense);
            return dense.Select(v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "").ToArray();
        }
    }
}
