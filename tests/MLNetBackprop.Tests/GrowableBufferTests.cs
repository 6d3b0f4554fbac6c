using Xunit;

namespace MLNetBackprop.Tests;

public class GrowableBufferTests
{
    [Fact]
    public void APreSizedBufferFilledExactlyIsHandedOverWithoutACopy()
    {
        var buffer = new GrowableBuffer<float>(6);
        buffer.AddRange([1f, 2f, 3f]);
        buffer.AddRange([4f, 5f]);
        buffer.Add(6f);
        var span = buffer.Span;
        var array = buffer.ToArray();
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], array);
        Assert.True(System.Runtime.CompilerServices.Unsafe.AreSame(ref array[0], ref System.Runtime.InteropServices.MemoryMarshal.GetReference(span)));
    }

    [Fact]
    public void AnUndersizedBufferGrowsAndTrimsToItsCount()
    {
        var buffer = new GrowableBuffer<int>(0);
        var expected = new List<int>();
        var rng = new Random(3);
        for (int i = 0; i < 500; i++)
        {
            var chunk = Enumerable.Range(i * 10, rng.Next(0, 40)).ToArray();
            buffer.AddRange(chunk);
            expected.AddRange(chunk);
            buffer.Add(-i);
            expected.Add(-i);
        }
        Assert.Equal(expected.Count, buffer.Count);
        Assert.Equal(expected, buffer.ToArray());
        buffer.Clear();
        Assert.Equal(0, buffer.Count);
        Assert.Empty(buffer.ToArray());
    }
}
