namespace MLNetBackprop;

/// <summary>
/// An append-only array for reading a data set: pre-sized when the row count is known (then the finished array is
/// the buffer itself, no copy), otherwise grown by half its size at a time. List&lt;T&gt; would double its capacity and
/// then copy into a new array, holding up to three times the data at the peak.
/// </summary>
internal sealed class GrowableBuffer<T>(long capacity)
{
    private T[] _items = new T[Math.Clamp(capacity, 0, Array.MaxLength)];

    public int Count { get; private set; }

    public ReadOnlySpan<T> Span => _items.AsSpan(0, Count);

    public void Add(T item)
    {
        if (Count == _items.Length) Grow(1);
        _items[Count++] = item;
    }

    public void AddRange(ReadOnlySpan<T> items)
    {
        if (_items.Length - Count < items.Length) Grow(items.Length);
        items.CopyTo(_items.AsSpan(Count));
        Count += items.Length;
    }

    public void Clear() => Count = 0;

    /// <summary>The backing array (its first <see cref="Count"/> items are the buffer's), for views that must not copy.</summary>
    public T[] Buffer => _items;

    /// <summary>The items as an array of exactly <see cref="Count"/> elements (the buffer itself when it is full).</summary>
    public T[] ToArray()
    {
        if (Count == _items.Length) return _items;
        Array.Resize(ref _items, Count);
        return _items;
    }

    private void Grow(int atLeast)
    {
        long wanted = Math.Max((long)Count + atLeast, _items.Length + Math.Max(16, _items.Length / 2L));
        if ((long)Count + atLeast > Array.MaxLength)
            throw new InvalidOperationException($"The training set needs more than {Array.MaxLength:N0} values in one array.");
        Array.Resize(ref _items, (int)Math.Min(wanted, Array.MaxLength));
    }
}
