using System.IO.MemoryMappedFiles;
using System.Numerics;
using System.Numerics.Tensors;
using MLNetBackprop.Core.Distributed;

namespace MLNetBackprop.Distributed;

/// <summary>
/// The ranks' sum through one block of memory that every rank of the job has mapped: the path
/// <see cref="MpiAllreduce.Sum{T}"/> takes when all the ranks run on one machine. It adds in <see cref="RingOrder"/>'s
/// order, as the ring over MPI does, so the two paths give the same bits.
/// </summary>
/// <remarks>
/// <para>
/// The block is a file in /dev/shm that rank 0 creates and every rank maps. Rank 0 deletes the name once every rank
/// has it mapped, so nothing is left behind when the job ends, however it ends. The memory is allocated in full
/// when the file is created, so a full /dev/shm is an error at set-up, not a SIGBUS in the middle of a sum.
/// </para>
/// <para>Layout: one 128-byte line per rank, then two sets (by the call's parity) of one slot per rank.</para>
/// <para>
/// Each rank's line holds four values. Arrived is the number of the last call whose values the rank has written to
/// its slot. Finished is the last call whose chunk the rank has summed. Bytes, one per parity, is a call's length.
/// </para>
/// <para>A sum runs in three steps:</para>
/// <list type="number">
/// <item>Every rank writes its values and arrives.</item>
/// <item>Rank r sums chunk r of every slot, in the ring's order, into its own slot, and finishes.</item>
/// <item>Every rank copies each finished chunk out.</item>
/// </list>
/// <para>
/// A reduce-scatter is the first two steps, with the sum kept in the rank's own values; an allgather of the own chunks
/// is the first and the last, with nothing to sum in between. Each of those needs one wait.
/// </para>
/// <para>
/// Nobody overwrites a slot that somebody still reads, because of the parity. A rank writes set p again only at the
/// call after next. To get there, every rank must have arrived at the next call, and each arrives only after it has
/// finished reading this call's slots. So two waits a sum, and one for the others, are enough.
/// </para>
/// <para>
/// Only the lines are shared state, each written by its own rank alone. The writes of a call's values are ordered
/// before its counter by a volatile write, and a reader's counter read is ordered before it reads the values.
/// </para>
/// </remarks>
internal sealed unsafe class SharedSegment : IDisposable
{
    private const int LineBytes = 128; // two cache lines: a rank's counters share none with another's, even with the adjacent-line prefetch
    // Bytes by the call's parity, like the slots: after a one-wait call a rank may already write the next call's length
    // while a slower one still compares this call's.
    private const int ArrivedAt = 0, FinishedAt = 8, BytesAt = 16;
    private const long Alignment = 4096;

    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly long _header;
    private readonly int _rank, _size;
    private long _call;
    private bool _disposed;

    private SharedSegment(MemoryMappedFile file, MemoryMappedViewAccessor view, int rank, int size, long capacity)
    {
        _file = file;
        _view = view;
        _rank = rank;
        _size = size;
        Capacity = capacity;
        _header = HeaderBytes(size);
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + view.PointerOffset;
    }

    /// <summary>The largest sum, in bytes, the slots hold.</summary>
    public long Capacity { get; }

    internal const string FolderVariable = "MLNETBACKPROP_MPI_SHARED_MEMORY_FOLDER";

    /// <summary>
    /// The folder of the files: MLNETBACKPROP_MPI_SHARED_MEMORY_FOLDER when set (another RAM file system, when /dev/shm
    /// is too small, as Docker's 64 MB default can be), else /dev/shm on Linux; none elsewhere, and then the ring is used.
    /// </summary>
    public static string? Folder
    {
        get
        {
            if (!OperatingSystem.IsLinux()) return null;
            string? named = Environment.GetEnvironmentVariable(FolderVariable);
            if (!string.IsNullOrWhiteSpace(named)) return named;
            return Directory.Exists("/dev/shm") ? "/dev/shm" : null;
        }
    }

    public static string PathOf(string folder, long token) => Path.Combine(folder, $"mlnetbackprop-sum-{token:x16}");

    private static long HeaderBytes(int size) => RoundUp((long)size * LineBytes, Alignment);

    /// <summary>The file's length for <paramref name="size"/> ranks and slots of <paramref name="capacity"/> bytes.</summary>
    public static long FileBytes(int size, long capacity) => HeaderBytes(size) + 2L * size * capacity;

    /// <summary>A capacity for sums of <paramref name="bytes"/>: rounded up so that every slot starts on a page.</summary>
    public static long CapacityFor(long bytes) => Math.Max(Alignment * 16, RoundUp(bytes, Alignment));

    private static long RoundUp(long value, long multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>Rank 0: creates the file, with all its memory allocated, and maps it. Throws IOException when that fails.</summary>
    public static SharedSegment Create(string path, int size, long capacity)
    {
        long length = FileBytes(size, capacity);
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.ReadWrite | FileShare.Delete,
            PreallocationSize = length,
        };
        // Readable and writable by the job's user alone (Folder is null off Linux, so this is never skipped in use).
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        var stream = new FileStream(path, options);
        try
        {
            // The preallocation allocates the blocks (fallocate); the length must be set as well.
            stream.SetLength(length);
            return Map(stream, 0, size, capacity);
        }
        catch
        {
            stream.Dispose();
            File.Delete(path);
            throw;
        }
    }

    /// <summary>Another rank: maps the file rank 0 created. Throws IOException when it cannot.</summary>
    public static SharedSegment Open(string path, int rank, int size, long capacity)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        try
        {
            if (stream.Length != FileBytes(size, capacity))
                throw new IOException($"'{path}' has {stream.Length} bytes where {FileBytes(size, capacity)} were expected.");
            return Map(stream, rank, size, capacity);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    private static SharedSegment Map(FileStream stream, int rank, int size, long capacity)
    {
        var file = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
        try
        {
            var view = file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.ReadWrite);
            return new SharedSegment(file, view, rank, size, capacity);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private long* Line(int rank, int at) => (long*)(_base + (long)rank * LineBytes + at);

    private byte* Slot(long call, int rank) => _base + _header + ((call & 1) * _size + rank) * Capacity;

    /// <summary>
    /// One sum (see the class remarks). <paramref name="wait"/> waits until a rank's counter reaches the call, or throws
    /// naming that rank, and throws when a rank was called with another length.
    /// </summary>
    /// <returns>False, with nothing summed, when the values do not fit in <see cref="Capacity"/> (then on every rank:
    /// they all have the same length and the same capacity); the caller sets up a larger segment and calls again.</returns>
    public bool Sum<T, TWait>(Span<T> values, ref TWait wait) where T : unmanaged, IFloatingPointIeee754<T> where TWait : struct, IPeerWait
    {
        int n = values.Length, size = _size, r = _rank;
        var (ownStart, ownLength) = RingOrder.Chunk(n, size, r);
        // Every chunk but one's own: the others read those; one's own chunk is summed from the private copy.
        long call = Publish(values, ownStart, ownLength, theRangeOnly: false, ref wait);
        if (call == 0) return false;

        // Chunk r: ((g_r + g_{r+1}) + g_{r+2}) + …, as RingOrder.Sum adds it, left in this rank's slot for the others.
        var acc = new Span<T>(Slot(call, r) + (long)ownStart * sizeof(T), ownLength);
        if (size > 1)
        {
            TensorPrimitives.Add(values.Slice(ownStart, ownLength), Chunk<T>(call, (r + 1) % size, ownStart, ownLength), acc);
            for (int j = 2; j < size; j++)
                TensorPrimitives.Add(acc, Chunk<T>(call, (r + j) % size, ownStart, ownLength), acc);
        }
        else values.Slice(ownStart, ownLength).CopyTo(acc);
        Volatile.Write(ref *Line(r, FinishedAt), call);

        for (int j = 0; j < size; j++)
        {
            int k = (r + j) % size; // one's own chunk first: it is ready
            if (k != r) wait.Until(Line(k, FinishedAt), call, k);
            var (start, length) = RingOrder.Chunk(n, size, k);
            Chunk<T>(call, k, start, length).CopyTo(values.Slice(start, length));
        }
        return true;
    }

    /// <summary>
    /// The reduce-scatter (<see cref="MpiAllreduce.ReduceScatter{T}"/>): every rank writes every chunk but its own chunk
    /// c = r + 1 (<see cref="RingOrder.OwnedChunk"/>) and arrives; rank r sums chunk c in the ring's order, which starts
    /// from rank c's values and ends with its own, straight into <paramref name="values"/>. One wait.
    /// </summary>
    /// <returns>False, with nothing summed, when the values do not fit (as <see cref="Sum{T, TWait}"/>).</returns>
    public bool ReduceScatter<T, TWait>(Span<T> values, ref TWait wait) where T : unmanaged, IFloatingPointIeee754<T> where TWait : struct, IPeerWait
    {
        int n = values.Length, size = _size, r = _rank, c = RingOrder.OwnedChunk(r, size);
        var (start, length) = RingOrder.Chunk(n, size, c);
        long call = Publish(values, start, length, theRangeOnly: false, ref wait);
        if (call == 0) return false;

        // ((g_c + g_{c+1}) + …) + g_r, as RingOrder.Sum adds chunk c; the partial sums go in this rank's slot, whose
        // chunk c nobody reads (it is this rank's to finish).
        var own = values.Slice(start, length);
        if (size == 2)
            TensorPrimitives.Add(Chunk<T>(call, c, start, length), own, own);
        else
        {
            var acc = Chunk<T>(call, r, start, length);
            TensorPrimitives.Add(Chunk<T>(call, c, start, length), Chunk<T>(call, (c + 1) % size, start, length), acc);
            for (int j = 2; j < size - 1; j++)
                TensorPrimitives.Add(acc, Chunk<T>(call, (c + j) % size, start, length), acc);
            TensorPrimitives.Add(acc, own, own);
        }
        return true;
    }

    /// <summary>
    /// The allgather of the own chunks (<see cref="MpiAllreduce.AllgatherChunks{T}"/>): every rank writes its own chunk
    /// and arrives, then copies every other rank's own chunk out. One wait.
    /// </summary>
    /// <returns>False, with nothing gathered, when the values do not fit (as <see cref="Sum{T, TWait}"/>).</returns>
    public bool AllgatherChunks<T, TWait>(Span<T> values, ref TWait wait) where T : unmanaged, IFloatingPointIeee754<T> where TWait : struct, IPeerWait
    {
        int n = values.Length, size = _size, r = _rank;
        var (ownStart, ownLength) = RingOrder.Owned(n, size, r);
        long call = Publish(values, ownStart, ownLength, theRangeOnly: true, ref wait);
        if (call == 0) return false;
        for (int k = 0; k < size; k++)
        {
            if (k == r) continue;
            var (start, length) = RingOrder.Owned(n, size, k);
            Chunk<T>(call, k, start, length).CopyTo(values.Slice(start, length));
        }
        return true;
    }

    /// <summary>
    /// Starts the next call: records its length in this rank's line, writes <paramref name="values"/> into this rank's
    /// slot (all but [start, start + length), or with <paramref name="theRangeOnly"/> only that range), moves the Arrived
    /// counter on, waits for every other rank's and compares the lengths. Throws (through <paramref name="wait"/>) on a
    /// dead peer or another length.
    /// </summary>
    /// <returns>The call's number, or 0 when the values do not fit in <see cref="Capacity"/> (then nothing was written,
    /// on every rank alike: they all have the same length and the same capacity).</returns>
    private long Publish<T, TWait>(Span<T> values, int start, int length, bool theRangeOnly, ref TWait wait)
        where T : unmanaged where TWait : struct, IPeerWait
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long call = ++_call;
        int n = values.Length;
        long bytes = (long)n * sizeof(T);
        bool fits = bytes <= Capacity;
        int bytesAt = BytesAt + 8 * (int)(call & 1);
        *Line(_rank, bytesAt) = bytes;
        if (fits)
        {
            var slot = new Span<T>(Slot(call, _rank), n);
            if (theRangeOnly) values.Slice(start, length).CopyTo(slot.Slice(start, length));
            else
            {
                values[..start].CopyTo(slot);
                values[(start + length)..].CopyTo(slot[(start + length)..]);
            }
        }
        Volatile.Write(ref *Line(_rank, ArrivedAt), call);
        for (int k = 0; k < _size; k++)
        {
            if (k == _rank) continue;
            wait.Until(Line(k, ArrivedAt), call, k);
            long theirs = Volatile.Read(ref *Line(k, bytesAt));
            if (theirs != bytes) wait.Mismatch(bytes, theirs, k);
        }
        return fits ? call : 0;
    }

    private Span<T> Chunk<T>(long call, int rank, int start, int length) where T : unmanaged =>
        new((T*)Slot(call, rank) + start, length);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }
}

/// <summary>How <see cref="SharedSegment.Sum{T, TWait}"/> waits for a peer, and what it does when the peer fails.</summary>
internal unsafe interface IPeerWait
{
    /// <summary>Returns once *<paramref name="counter"/> ≥ <paramref name="call"/>; throws, naming <paramref name="peer"/>, at the deadline.</summary>
    void Until(long* counter, long call, int peer);

    /// <summary>Throws: <paramref name="peer"/> was called with <paramref name="theirs"/> bytes where this rank has <paramref name="mine"/>.</summary>
    void Mismatch(long mine, long theirs, int peer);
}
