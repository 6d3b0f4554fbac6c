using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using MLNetBackprop.Core.Distributed;
using static MLNetBackprop.Distributed.MpiNative;

namespace MLNetBackprop.Distributed;

/// <summary>
/// <see cref="IGradientAllreduce"/> over MPI (MPICH): the processes started by <c>mpiexec</c> are the ranks. The sum is
/// a ring allreduce of our own over point-to-point messages, so that it adds in <see cref="RingOrder"/>'s fixed order
/// (MPI_Allreduce leaves the order to the library) and every rank ends with the same bits.
/// </summary>
/// <remarks>
/// <para>
/// When every rank runs on one machine, the sums go through a block of memory they all map instead
/// (<see cref="UsesSharedMemory"/>), in the same order and with the same bits. That path copies each value fewer times
/// than MPICH's messages do, and makes no MPI call once it is set up. MLNETBACKPROP_MPI_SHARED_MEMORY=0 turns it off.
/// </para>
/// <para>
/// Every wait has a deadline (<see cref="Timeout"/>): a rank that dies or hangs makes the others throw
/// <see cref="DistributedTrainingException"/> instead of waiting for ever. After such a failure this instance refuses
/// further operations, since the ranks are no longer in step; the process should stop (or call <see cref="Abort"/>).
/// Calls are serialized by a lock, so the instance may be used from any thread, one operation at a time.
/// </para>
/// </remarks>
public sealed unsafe class MpiAllreduce : IShardedAllreduce, IDisposable
{
    internal const string TimeoutVariable = "MLNETBACKPROP_MPI_TIMEOUT_SECONDS";
    internal const string SharedMemoryVariable = "MLNETBACKPROP_MPI_SHARED_MEMORY";
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    // Tags: the operation in the high bits, the call's sequence number in the low 12, so that a message of one call can
    // never be taken for one of the next call or of another operation. MPI guarantees tags up to 32767 (MPI_TAG_UB).
    private const int SumOperation = 1, AllgatherOperation = 2, ReduceScatterOperation = 3, AllgatherChunksOperation = 4, SequenceBits = 12;

    private const string SumName = "the gradient sum", AllgatherName = "the allgather";

    private static readonly Lock InstanceLock = new();
    private static MpiAllreduce? _live;

    // Receive buffers abandoned after a failure: MPI may still write into a request it could not cancel, so the memory
    // must never be reused; keeping them referenced from here keeps them out of the GC's hands for good.
    private static readonly List<byte[]> Abandoned = [];

    private readonly Lock _lock = new();
    private readonly bool _ownsMpi;
    private readonly long _timeoutTicks;
    private byte[] _receive = [];
    private int _sequence;
    private bool _disposed, _broken;

    // The shared-memory path: wanted unless MLNETBACKPROP_MPI_SHARED_MEMORY says no; decided with the other ranks at
    // the first Sum; _shared is null from then on when any rank cannot (or will not) map the segment.
    private readonly bool _sharedWanted;
    private bool _sharedDecided;
    private SharedSegment? _shared;

    /// <summary>
    /// The largest message sent, in bytes. MPI counts are ints, so a chunk above this goes in several messages. It must
    /// be the same on every rank; only tests change it (to exercise the splitting with small buffers).
    /// </summary>
    internal int MaxMessageBytes { get; set; } = 1 << 30;

    private MpiAllreduce(int rank, int size, TimeSpan timeout, bool ownsMpi, bool sharedWanted)
    {
        _sharedWanted = sharedWanted;
        Rank = rank;
        Size = size;
        Timeout = timeout;
        _ownsMpi = ownsMpi;
        _timeoutTicks = (long)Math.Min(timeout.TotalSeconds * Stopwatch.Frequency, long.MaxValue / 2);
    }

    /// <summary>
    /// Initializes MPI (unless the host process already did) and returns this process's view of the ranks. One instance
    /// per process: MPI can be initialized only once.
    /// </summary>
    /// <param name="timeout">
    /// How long any wait for a peer may last before the operation fails. When null: the number of seconds in the
    /// environment variable MLNETBACKPROP_MPI_TIMEOUT_SECONDS if set, else 60 s.
    /// </param>
    /// <exception cref="DllNotFoundException">MPICH's library was not found, or the library found is not MPICH.</exception>
    /// <exception cref="InvalidOperationException">MPI is already in use by another instance, was finalized, or failed to start.</exception>
    public static MpiAllreduce Initialize(TimeSpan? timeout = null)
    {
        TimeSpan t = timeout ?? TimeoutFromEnvironment() ?? DefaultTimeout;
        if (t <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(timeout), t, "The timeout must be positive.");
        bool sharedWanted = SharedMemoryFromEnvironment();
        lock (InstanceLock)
        {
            if (_live is not null)
                throw new InvalidOperationException("MPI is already in use by an MpiAllreduce in this process; use that instance (MPI can be initialized once per process).");
            Load();
            int finalized = 0, initialized = 0;
            Check(MPI_Finalized(&finalized), "MPI_Finalized");
            if (finalized != 0)
                throw new InvalidOperationException("MPI was finalized in this process and cannot be initialized again.");
            Check(MPI_Initialized(&initialized), "MPI_Initialized");
            bool owns = false;
            if (initialized == 0)
            {
                int provided = 0;
                // SERIALIZED, not SINGLE: the caller's thread may change between calls (async code, thread pools);
                // the instance's lock makes the calls one at a time.
                Check(MPI_Init_thread(null, null, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
                owns = true;
                if (provided < MPI_THREAD_SERIALIZED)
                {
                    MPI_Finalize();
                    throw new InvalidOperationException($"MPI provides thread level {provided}; MpiAllreduce needs MPI_THREAD_SERIALIZED ({MPI_THREAD_SERIALIZED}).");
                }
            }
            // MPI's default handler aborts the whole job on any error; returned codes let us say which peer failed.
            Check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
            int rank = 0, size = 0;
            Check(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
            Check(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
            return _live = new MpiAllreduce(rank, size, t, owns, sharedWanted);
        }
    }

    private static TimeSpan? TimeoutFromEnvironment()
    {
        string? text = Environment.GetEnvironmentVariable(TimeoutVariable);
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) || !(seconds > 0) || double.IsInfinity(seconds))
            throw new InvalidOperationException($"{TimeoutVariable} is '{text}'; it must be a positive number of seconds.");
        return TimeSpan.FromSeconds(seconds);
    }

    private static bool SharedMemoryFromEnvironment()
    {
        string? text = Environment.GetEnvironmentVariable(SharedMemoryVariable)?.Trim();
        if (string.IsNullOrEmpty(text)) return true;
        if (text is "1" || text.Equals("true", StringComparison.OrdinalIgnoreCase) || text.Equals("on", StringComparison.OrdinalIgnoreCase)) return true;
        if (text is "0" || text.Equals("false", StringComparison.OrdinalIgnoreCase) || text.Equals("off", StringComparison.OrdinalIgnoreCase)) return false;
        throw new InvalidOperationException($"{SharedMemoryVariable} is '{text}'; it must be 1, true or on (the default), or 0, false or off.");
    }

    private static void Check(int code, string call)
    {
        if (code != MPI_SUCCESS)
            throw new InvalidOperationException($"{call} failed: {ErrorString(code)}");
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <summary>How long any wait for a peer may last before the operation throws <see cref="DistributedTrainingException"/>.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>
    /// True when the sums go through memory that every rank has mapped, rather than round the ring in MPI messages. The
    /// ranks decide it together at the first <see cref="Sum{T}"/>, <see cref="ReduceScatter{T}"/>,
    /// <see cref="AllgatherChunks{T}"/> or <see cref="PrepareSplit{T}"/>: it holds when all of them run on one machine
    /// with a /dev/shm that each can map, and none has MLNETBACKPROP_MPI_SHARED_MEMORY set to 0. False before that.
    /// Both paths add in <see cref="RingOrder"/>'s order and give the same bits.
    /// </summary>
    public bool UsesSharedMemory
    {
        get
        {
            lock (_lock) return _shared is not null;
        }
    }

    /// <summary>
    /// Agrees with the other ranks on a shared segment for sums of <paramref name="bytes"/> (larger than
    /// <paramref name="oldCapacity"/> when growing one), and maps it, or leaves <see cref="_shared"/> null for good. The
    /// first time it also compares the lengths the ranks were called with. Every step that waits on a peer is one of
    /// the ring's MPI exchanges, with its timeout; every rank reaches the same decision from the same gathered values.
    /// </summary>
    private void SetUpSharedMemory(long bytes, long? oldCapacity)
    {
        _sharedDecided = true;
        _shared?.Dispose();
        _shared = null;
        string? folder = SharedSegment.Folder;
        bool want = _sharedWanted && folder is not null;
        // Doubling: a run whose sums grow one by one sets up a segment only a few times.
        long capacity = SharedSegment.CapacityFor(oldCapacity is long old ? Math.Max(bytes, 2 * old) : bytes);
        long token = 0;
        string? path = null;
        SharedSegment? segment = null;
        try
        {
            if (want && Rank == 0)
            {
                token = Random.Shared.NextInt64(1, long.MaxValue);
                path = SharedSegment.PathOf(folder!, token);
                try
                {
                    segment = SharedSegment.Create(path, Size, capacity);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // /dev/shm is full, read-only or not ours: the ring, which needs none of it.
                    token = 0;
                    path = null;
                }
            }
            Span<long> mine = [want ? 1 : 0, bytes, token];
            var all = new long[3 * Size];
            AllgatherCore(mine, all, SumName);
            for (int k = 0; k < Size; k++)
                if (all[3 * k + 1] != bytes) ThrowMismatch(bytes, all[3 * k + 1], k);
            bool everyone = all[2] != 0;
            for (int k = 0; k < Size; k++) everyone &= all[3 * k] == 1;
            if (!everyone) return;
            if (Rank != 0)
            {
                try
                {
                    segment = SharedSegment.Open(SharedSegment.PathOf(folder!, all[2]), Rank, Size, capacity);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Another machine (its /dev/shm has no such file), or another container: the ring for every rank.
                    segment = null;
                }
            }
            Span<long> opened = [segment is null ? 0 : 1];
            var allOpened = new long[Size];
            AllgatherCore(opened, allOpened, SumName);
            if (allOpened.Contains(0)) return;
            _shared = segment;
            segment = null;
        }
        finally
        {
            segment?.Dispose();
            // Every rank that could map it has; the memory lives on in the mappings, and no name is left to clean up.
            if (path is not null) File.Delete(path);
        }
    }

    [DoesNotReturn]
    private void ThrowMismatch(long mine, long theirs, int peer)
    {
        _broken = true;
        throw new DistributedTrainingException(
            $"Rank {Rank} was called with {mine} bytes during {SumName} and rank {peer} with {theirs}: the ranks called it with buffers of different lengths; every rank stops.",
            Rank, peer);
    }

    /// <summary>The shared segment's waits: the deadline, the back-off and the messages of the ring's <see cref="Wait"/>.</summary>
    private readonly struct PeerWait(MpiAllreduce owner) : IPeerWait
    {
        public void Until(long* counter, long call, int peer)
        {
            if (Volatile.Read(ref *counter) >= call) return;
            var clock = new WaitClock(owner._timeoutTicks);
            while (Volatile.Read(ref *counter) < call)
            {
                if (clock.Expired)
                {
                    owner._broken = true;
                    throw new DistributedTrainingException(
                        $"Rank {owner.Rank} received nothing from rank {peer} for {Seconds(owner.Timeout)} during {SumName}: rank {peer} died, hangs or is far slower; every rank stops.",
                        owner.Rank, peer);
                }
                clock.Pause();
            }
        }

        public void Mismatch(long mine, long theirs, int peer) => owner.ThrowMismatch(mine, theirs, peer);
    }

    /// <inheritdoc/>
    /// <exception cref="DistributedTrainingException">A peer sent nothing within <see cref="Timeout"/>, or MPI reported an error.</exception>
    public void Sum<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T> => Collective(SharedCall.Sum, values);

    /// <inheritdoc/>
    /// <exception cref="DistributedTrainingException">A peer sent nothing within <see cref="Timeout"/>, or MPI reported an error.</exception>
    public void ReduceScatter<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T> => Collective(SharedCall.ReduceScatter, values);

    /// <inheritdoc/>
    /// <exception cref="DistributedTrainingException">A peer sent nothing within <see cref="Timeout"/>, or MPI reported an error.</exception>
    public void AllgatherChunks<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T> => Collective(SharedCall.AllgatherChunks, values);

    /// <summary>One of the three through shared memory when the ranks use it, else round the ring (a sum is both halves, under one tag).</summary>
    private void Collective<T>(SharedCall call, Span<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        lock (_lock)
        {
            ThrowIfUnusable();
            if (Size == 1 || Shared(call, values)) return;
            int tag = NextTag(call switch
            {
                SharedCall.Sum => SumOperation,
                SharedCall.ReduceScatter => ReduceScatterOperation,
                _ => AllgatherChunksOperation,
            });
            if (call != SharedCall.AllgatherChunks) RingReduceScatter(values, tag);
            if (call != SharedCall.ReduceScatter) RingAllgather(values, tag);
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// True when the sums go through shared memory, where the split step's extra 4-value sum costs microseconds. False
    /// round the ring: there it costs 2(N − 1) more messages a step, each paying the network's latency (about 20 µs
    /// between machines), more than the update it saves on a network of W2's size. Sets up the shared path if no sum has
    /// yet.
    /// </remarks>
    public bool PrepareSplit<T>(int length) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        lock (_lock)
        {
            ThrowIfUnusable();
            if (Size == 1) return false;
            if (!_sharedDecided) SetUpSharedMemory((long)length * sizeof(T), null);
            return _shared is not null;
        }
    }

    private enum SharedCall { Sum, ReduceScatter, AllgatherChunks }

    /// <summary>
    /// Runs <paramref name="call"/> through the shared segment and returns true, or returns false when the ranks use
    /// the ring (decided with them at the first call, and for good when a larger segment cannot be had).
    /// </summary>
    private bool Shared<T>(SharedCall call, Span<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (_sharedDecided && _shared is null) return false;
        long bytes = (long)values.Length * sizeof(T);
        if (!_sharedDecided) SetUpSharedMemory(bytes, null);
        for (int attempt = 0; _shared is not null; attempt++)
        {
            var wait = new PeerWait(this);
            bool done = call switch
            {
                SharedCall.Sum => _shared.Sum(values, ref wait),
                SharedCall.ReduceScatter => _shared.ReduceScatter(values, ref wait),
                _ => _shared.AllgatherChunks(values, ref wait),
            };
            if (done) return true;
            if (attempt > 0) throw new UnreachableException("The new segment is too small.");
            // Too long for the slots, on every rank alike (the lengths were compared): a larger segment, or the ring.
            SetUpSharedMemory(bytes, _shared.Capacity);
        }
        return false;
    }

    /// <summary>
    /// The ring's reduce-scatter: after step s, the chunk received holds ranks c … c + s + 1 summed in that order; the
    /// receiver adds its own values last, as RingOrder.Sum does. Rank r ends holding chunk r + 1 summed
    /// (<see cref="RingOrder.OwnedChunk"/>).
    /// </summary>
    private void RingReduceScatter<T>(Span<T> values, int tag) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = values.Length, size = Size, r = Rank;
        long maxChunkBytes = (long)RingOrder.Chunk(n, size, 0).Length * sizeof(T);
        EnsureReceiveBuffer(maxChunkBytes);
        fixed (T* data = values)
        {
            var add = new AddSink<T> { Data = data };
            for (int s = 0; s < size - 1; s++)
            {
                var send = RingOrder.Chunk(n, size, Mod(r - s, size));
                var recv = RingOrder.Chunk(n, size, Mod(r - s - 1, size));
                Step((byte*)data, (long)send.Start * sizeof(T), (long)send.Length * sizeof(T),
                    (long)recv.Start * sizeof(T), (long)recv.Length * sizeof(T), sizeof(T), tag, SumName, ref add);
            }
        }
    }

    /// <summary>The ring's allgather: rank r holds finished chunk r + 1; the finished chunks go round unchanged.</summary>
    private void RingAllgather<T>(Span<T> values, int tag) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = values.Length, size = Size, r = Rank;
        long maxChunkBytes = (long)RingOrder.Chunk(n, size, 0).Length * sizeof(T);
        EnsureReceiveBuffer(maxChunkBytes);
        fixed (T* data = values)
        {
            var copy = new CopySink { Data = (byte*)data };
            for (int s = 0; s < size - 1; s++)
            {
                var send = RingOrder.Chunk(n, size, Mod(r + 1 - s, size));
                var recv = RingOrder.Chunk(n, size, Mod(r - s, size));
                Step((byte*)data, (long)send.Start * sizeof(T), (long)send.Length * sizeof(T),
                    (long)recv.Start * sizeof(T), (long)recv.Length * sizeof(T), sizeof(T), tag, SumName, ref copy);
            }
        }
    }

    /// <inheritdoc/>
    /// <exception cref="DistributedTrainingException">A peer sent nothing within <see cref="Timeout"/>, or MPI reported an error.</exception>
    public void Allgather(ReadOnlySpan<long> mine, Span<long> all)
    {
        lock (_lock)
        {
            ThrowIfUnusable();
            AllgatherCore(mine, all, AllgatherName);
        }
    }

    private void AllgatherCore(ReadOnlySpan<long> mine, Span<long> all, string operation)
    {
        int m = mine.Length, size = Size, r = Rank;
        if ((long)all.Length != (long)size * m)
            throw new ArgumentException($"'all' has {all.Length} values; it must have Size × mine.Length = {size} × {m} = {(long)size * m}.", nameof(all));
        mine.CopyTo(all.Slice(r * m, m));
        if (size == 1) return;
        int tag = NextTag(AllgatherOperation);
        long blockBytes = (long)m * sizeof(long);
        EnsureReceiveBuffer(blockBytes);
        fixed (long* data = all)
        {
            var copy = new CopySink { Data = (byte*)data };
            for (int s = 0; s < size - 1; s++)
            {
                long send = Mod(r - s, size) * blockBytes, recv = Mod(r - s - 1, size) * blockBytes;
                Step((byte*)data, send, blockBytes, recv, blockBytes, sizeof(long), tag, operation, ref copy);
            }
        }
    }

    private static readonly TimeSpan AbortGrace = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Ends every rank of the job at once (MPI_Abort on MPI_COMM_WORLD): what a rank that caught a
    /// <see cref="DistributedTrainingException"/> may call so that no peer waits out its own timeout.
    /// </summary>
    /// <param name="errorCode">The exit code mpiexec reports.</param>
    public void Abort(int errorCode)
    {
        // MPI_Abort kills the job at once, and mpiexec forwards a rank's output asynchronously: the error message a rank
        // has just written can be lost with it (seen in CI). Flush, and give the forwarding a moment; best effort only.
        Console.Out.Flush();
        Console.Error.Flush();
        Thread.Sleep(AbortGrace);
        int code = MPI_Abort(MPI_COMM_WORLD, errorCode);
        // MPI_Abort does not return when it works.
        throw new InvalidOperationException($"MPI_Abort failed: {ErrorString(code)}");
    }

    /// <summary>
    /// Finalizes MPI, once, if this instance initialized it. After a failed operation it does not: MPI_Finalize may wait
    /// for the rank that failed, and the process is about to end anyway.
    /// </summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            _shared?.Dispose();
            _shared = null;
            if (_ownsMpi && !_broken) MPI_Finalize();
        }
        lock (InstanceLock)
            if (_live == this) _live = null;
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_broken)
            throw new InvalidOperationException("An earlier collective operation failed; the ranks are out of step and this MpiAllreduce cannot be used again.");
    }

    private int NextTag(int operation) => (operation << SequenceBits) | (_sequence++ & ((1 << SequenceBits) - 1));

    private static int Mod(int a, int m) => ((a % m) + m) % m;

    private void EnsureReceiveBuffer(long bytes)
    {
        long needed = Math.Min(bytes, MaxMessageBytes);
        // Pinned (in the pinned object heap) so that MPI may hold its address across the polling loop, and kept from
        // call to call so that a training step allocates nothing.
        if (_receive.Length < needed) _receive = GC.AllocateUninitializedArray<byte>((int)needed, pinned: true);
    }

    private interface ISink
    {
        /// <summary>Takes the bytes received for [offset, offset + received.Length) of the buffer.</summary>
        void Accept(ReadOnlySpan<byte> received, long offset);
    }

    private struct AddSink<T> : ISink where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* Data;

        public readonly void Accept(ReadOnlySpan<byte> received, long offset)
        {
            var own = new Span<T>((byte*)Data + offset, received.Length / sizeof(T));
            // received + own, in this operand order: the accumulated sum is the left operand, as in RingOrder.Sum.
            TensorPrimitives.Add(MemoryMarshal.Cast<byte, T>(received), own, own);
        }
    }

    private struct CopySink : ISink
    {
        public byte* Data;

        public readonly void Accept(ReadOnlySpan<byte> received, long offset) =>
            received.CopyTo(new Span<byte>(Data + offset, received.Length));
    }

    /// <summary>
    /// One step of a ring: sends [sendOffset, +sendBytes) of <paramref name="data"/> to the next rank while receiving
    /// recvBytes from the previous one, in messages of at most <see cref="MaxMessageBytes"/>, each handed to the sink.
    /// </summary>
    private void Step<TSink>(byte* data, long sendOffset, long sendBytes, long recvOffset, long recvBytes, int elementSize,
        int tag, string operation, ref TSink sink) where TSink : struct, ISink
    {
        int next = Mod(Rank + 1, Size), previous = Mod(Rank - 1, Size);
        // Whole elements per message, so that the sink never sees half a value.
        long segment = Math.Max(elementSize, MaxMessageBytes / elementSize * elementSize);
        // An empty chunk still travels as one empty message: a dead peer is noticed, and both sides count alike.
        long sendCount = Math.Max(1, (sendBytes + segment - 1) / segment), recvCount = Math.Max(1, (recvBytes + segment - 1) / segment);
        fixed (byte* receive = _receive)
        {
            for (long k = 0; k < Math.Max(sendCount, recvCount); k++)
            {
                int sendRequest = MPI_REQUEST_NULL, recvRequest = MPI_REQUEST_NULL;
                int recvLength = k < recvCount ? (int)Math.Min(segment, recvBytes - k * segment) : -1;
                int sendLength = k < sendCount ? (int)Math.Min(segment, sendBytes - k * segment) : -1;
                // The receive is posted first so that the peer's message lands directly in it.
                if (recvLength >= 0)
                    Fail(MPI_Irecv(receive, recvLength, MPI_BYTE, previous, tag, MPI_COMM_WORLD, &recvRequest), previous, "receiving from", operation, &sendRequest, &recvRequest);
                if (sendLength >= 0)
                    Fail(MPI_Isend(data + sendOffset + k * segment, sendLength, MPI_BYTE, next, tag, MPI_COMM_WORLD, &sendRequest), next, "sending to", operation, &sendRequest, &recvRequest);
                Wait(&sendRequest, next, &recvRequest, previous, recvLength, operation);
                if (recvLength > 0) sink.Accept(new ReadOnlySpan<byte>(receive, recvLength), recvOffset + k * segment);
            }
        }
    }

    /// <summary>
    /// Polls both requests until they complete or nothing has come for <see cref="Timeout"/>. Polling (MPI_Test) rather
    /// than MPI_Wait is what makes a deadline possible: MPI_Wait on a dead peer blocks for ever.
    /// </summary>
    private void Wait(int* sendRequest, int next, int* recvRequest, int previous, int expectedBytes, string operation)
    {
        var clock = new WaitClock(_timeoutTicks);
        while (true)
        {
            int flag = 0;
            if (*recvRequest != MPI_REQUEST_NULL)
            {
                MpiStatus status;
                Fail(MPI_Test(recvRequest, &flag, &status), previous, "receiving from", operation, sendRequest, recvRequest);
                if (flag != 0)
                {
                    *recvRequest = MPI_REQUEST_NULL;
                    int count = 0;
                    Fail(MPI_Get_count(&status, MPI_BYTE, &count), previous, "receiving from", operation, sendRequest, recvRequest);
                    if (count != expectedBytes)
                        Throw($"Rank {Rank} received {count} bytes from rank {previous} during {operation} where {expectedBytes} were expected: the ranks called it with buffers of different lengths; every rank stops.",
                            previous, sendRequest, recvRequest);
                }
            }
            if (*sendRequest != MPI_REQUEST_NULL)
            {
                Fail(MPI_Test(sendRequest, &flag, StatusIgnore), next, "sending to", operation, sendRequest, recvRequest);
                if (flag != 0) *sendRequest = MPI_REQUEST_NULL;
            }
            if (*recvRequest == MPI_REQUEST_NULL && *sendRequest == MPI_REQUEST_NULL) return;

            if (clock.Expired)
            {
                if (*recvRequest != MPI_REQUEST_NULL)
                    Throw($"Rank {Rank} received nothing from rank {previous} for {Seconds(Timeout)} during {operation}: rank {previous} died, hangs or is far slower; every rank stops.",
                        previous, sendRequest, recvRequest);
                Throw($"Rank {Rank} could not send to rank {next} for {Seconds(Timeout)} during {operation}: rank {next} died, hangs or is far slower; every rank stops.",
                    next, sendRequest, recvRequest);
            }
            clock.Pause();
        }
    }

    /// <summary>
    /// The deadline and the back-off of every wait for a peer, over MPI or shared memory: spin first (a peer in step
    /// answers within microseconds), then yield after 50 µs, then sleep after 5 ms, so that a rank waiting for a slower
    /// one does not take a core from it when ranks outnumber cores.
    /// </summary>
    private struct WaitClock(long timeoutTicks)
    {
        private readonly long _start = Stopwatch.GetTimestamp();
        private long _now;

        /// <summary>Reads the clock: true once the timeout has passed since the wait began.</summary>
        public bool Expired => (_now = Stopwatch.GetTimestamp()) > _start + timeoutTicks;

        /// <summary>Gives the core up as long as the wait has lasted calls for (by the last <see cref="Expired"/>).</summary>
        public readonly void Pause()
        {
            long waited = _now - _start;
            if (waited > Stopwatch.Frequency / 200) Thread.Sleep(1);
            else if (waited > Stopwatch.Frequency / 20_000) Thread.Yield();
            else Thread.SpinWait(8);
        }
    }

    private void Fail(int code, int peer, string doing, string operation, int* sendRequest, int* recvRequest)
    {
        if (code == MPI_SUCCESS) return;
        Throw($"Rank {Rank} failed {doing} rank {peer} during {operation}: {ErrorString(code)}; every rank stops.", peer, sendRequest, recvRequest);
    }

    [DoesNotReturn]
    private void Throw(string message, int peer, int* sendRequest, int* recvRequest)
    {
        _broken = true;
        if (*recvRequest != MPI_REQUEST_NULL)
        {
            MPI_Cancel(recvRequest);
            MPI_Request_free(recvRequest);
        }
        // A send is not cancelled (deprecated in MPI 4.1); freed, it completes or dies with the peer on its own.
        if (*sendRequest != MPI_REQUEST_NULL) MPI_Request_free(sendRequest);
        lock (Abandoned) Abandoned.Add(_receive);
        _receive = [];
        throw new DistributedTrainingException(message, Rank, peer);
    }

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";
}
