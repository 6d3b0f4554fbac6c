using System.Reflection;

namespace MLNetBackprop.Interop;

/// <summary>
/// Calls generic code with a type argument known only at run time. ML.NET's IDataView API is generic over a column's .NET
/// type (ValueGetter&lt;T&gt;, VBuffer&lt;T&gt;, Annotations.GetValue&lt;T&gt;, LoadFromEnumerable&lt;T&gt;), while a schema gives that type
/// only as a value, DataViewType.RawType: a key column's KeyValues may hold text or any primitive. ML.NET's own code
/// bridges the two with Utils.MarshalInvoke, which is internal (Microsoft.ML.Core, Utilities/Utils.cs, a [BestFriend]
/// member; no ML.NET issue asks to expose it), so a third-party component has to use reflection. This is the library's
/// one MakeGenericMethod for it: callers write the typed code as an <see cref="IFunc{TResult}"/>, checked by the
/// compiler, and only the type argument goes through reflection. Checked against ML.NET 6.0.0 (InteropTests).
/// </summary>
internal static class ItemTypeDispatch
{
    /// <summary>Code generic in the item type <c>T</c>.</summary>
    internal interface IFunc<out TResult>
    {
        /// <summary>The code, for <typeparamref name="T"/> = the run-time type given to <see cref="Invoke"/>.</summary>
        TResult Invoke<T>();
    }

    private static readonly MethodInfo CallMethod =
        typeof(ItemTypeDispatch).GetMethod(nameof(Call), BindingFlags.NonPublic | BindingFlags.Static)!;

    /// <summary>
    /// <paramref name="func"/>'s <c>Invoke&lt;T&gt;()</c> with T = <paramref name="type"/> (for a column, its
    /// DataViewType.RawType); an exception it throws comes through as itself.
    /// </summary>
    public static TResult Invoke<TResult>(Type type, IFunc<TResult> func) =>
        (TResult)CallMethod.MakeGenericMethod(type, typeof(TResult)).Invoke(null, BindingFlags.DoNotWrapExceptions, null, [func], null)!;

    private static TResult Call<T, TResult>(IFunc<TResult> func) => func.Invoke<T>();
}
