using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using MLNetBackprop.Core.Distributed;
using MLNetBackprop.Distributed;

namespace MLNetBackprop.Distributed.Worker;

/// <summary>
/// One rank of an MPI job: <c>mpiexec -n N dotnet MLNetBackprop.Distributed.Worker.dll &lt;mode&gt; …</c>. Exit code 0 is
/// success, 1 a wrong result, 2 the expected DistributedTrainingException, 64 bad arguments.
/// </summary>
public static partial class Program
{
    public static int Main(string[] args)
    {
        // A new mode is one case here and one method below.
        switch (args.Length > 0 ? args[0] : "")
        {
            case "ring-sum" when args.Length is 2 or 3:
                return RingSum(Int(args[1]), args.Length == 3 ? Int(args[2]) : null);
            case "die-in-sum" when args.Length is 3 or 4 && args[2] is "exit" or "kill" && (args.Length == 3 || args[3] == "later"):
                return DieInSum(double.Parse(args[1], CultureInfo.InvariantCulture), args[2], args.Length == 4);
            case "hang-in-sum" when args.Length is 2 or 3 && (args.Length == 2 || args[2] == "later"):
                return HangInSum(double.Parse(args[1], CultureInfo.InvariantCulture), args.Length == 3);
            case "length-mismatch" when args.Length is 3 or 4 && (args.Length == 3 || args[3] == "later"):
                return LengthMismatch(Int(args[1]), Int(args[2]), args.Length == 4);
            case "train" when args.Length == 2:
                return Train(args[1]);
            case "train-threads" when args.Length == 3 || (args.Length == 4 && args[3] == "whole"):
                return TrainThreads(args[1], Int(args[2]), split: args.Length == 3);
            case "sum-latency" when args.Length == 3:
                return SumLatency(Int(args[1]), Int(args[2]));
            default:
                Console.Error.WriteLine("""
                    usage: MLNetBackprop.Distributed.Worker <mode> ...
                      ring-sum <n> [maxMessageBytes]   Sum, ReduceScatter, AllgatherChunks and Allgather checked bit for bit against RingOrder.Sum
                      die-in-sum <timeoutSeconds> exit|kill [later]   rank 1 dies before the first Sum (or, later, the
                                                       second); the others must report it
                      hang-in-sum <timeoutSeconds> [later]   rank 1 hangs before a Sum; rank 0 reports it and aborts the job
                      length-mismatch <n0> <n> [later] rank 0 sums n0 values, the others n (later: after a Sum of n
                                                       values on every rank): the error must name the peer
                      sum-latency <n> <iterations>     median time of one Sum of n floats
                      train adam|lbfgs                 trains on this rank's shard over MPI; prints the weights' hash
                      train-threads adam|lbfgs <N> [whole]   the same N ranks as threads of one process (N = 1: one process
                                                       alone); whole: the first-order steps sum the whole gradient, as
                                                       over the ring, instead of splitting the sum as over shared memory
                    """);
                return 64;
        }
    }

    /// <summary>
    /// A rank's failure report, on stderr and, when MLNETBACKPROP_WORKER_REPORTS names a folder, in its file there. The
    /// file is what tests read: MPI_Abort ends the job at once, and mpiexec's forwarding of the ranks' stderr can lose
    /// the last lines (seen once in CI: a job that aborted with nothing on stderr).
    /// </summary>
    private static void Report(int rank, string line)
    {
        Console.Error.WriteLine(line);
        Console.Error.Flush();
        if (Environment.GetEnvironmentVariable("MLNETBACKPROP_WORKER_REPORTS") is { Length: > 0 } dir)
            File.AppendAllText(Path.Combine(dir, $"rank-{rank}.txt"), line + Environment.NewLine);
    }

    private static int Int(string s) => int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture);

    /// <summary>
    /// Rank r's value at index i. Large values of alternating sign with small fractions: adding the ranks in another
    /// order than the ring's rounds differently, so an order error shows in the bits.
    /// </summary>
    private static T Value<T>(int r, int i, int call) where T : IFloatingPointIeee754<T>
    {
        // The scale keeps the fractions within the type's precision, where they round differently by order.
        double scale = typeof(T) == typeof(float) ? 1e3 : 1e8;
        double big = ((i + r + call) % 2 == 0 ? 1 : -1) * scale * (r + 1);
        double small = (r * 31 + i * 17 + call * 5) % 97 / 97.0 * 0.75 + r * 0.01;
        return T.CreateTruncating(big + small);
    }

    private static T[][] Parts<T>(int size, int n, int call) where T : IFloatingPointIeee754<T>
    {
        var parts = new T[size][];
        for (int r = 0; r < size; r++)
        {
            parts[r] = new T[n];
            for (int i = 0; i < n; i++) parts[r][i] = Value<T>(r, i, call);
        }
        return parts;
    }

    /// <summary>Sums this rank's part and compares bit for bit with RingOrder.Sum over every rank's parts (rebuilt here).</summary>
    private static bool CheckSum<T>(MpiAllreduce mpi, int n, int call, out T[] result, out int naiveDiffers)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var parts = Parts<T>(mpi.Size, n, call);
        result = (T[])parts[mpi.Rank].Clone();
        mpi.Sum<T>(result);
        var expected = new T[n];
        RingOrder.Sum(parts, expected);
        naiveDiffers = 0;
        for (int i = 0; i < n; i++)
        {
            T naive = parts[0][i];
            for (int r = 1; r < mpi.Size; r++) naive += parts[r][i];
            if (!BitEquals(naive, expected[i])) naiveDiffers++;
        }
        for (int i = 0; i < n; i++)
            if (!BitEquals(result[i], expected[i]))
            {
                Console.Error.WriteLine($"rank {mpi.Rank}: {typeof(T).Name} sum #{call} differs at index {i} of {n}: {result[i]} where RingOrder.Sum gives {expected[i]}");
                return false;
            }
        return true;
    }

    /// <summary>
    /// The split sum: ReduceScatter must leave this rank's own chunk (RingOrder.Owned) with RingOrder.Sum's bits, and
    /// AllgatherChunks must give every rank each owner's chunk. Returns the gathered values (the same on every rank).
    /// </summary>
    private static bool CheckSharded<T>(MpiAllreduce mpi, int n, int call, out T[] gathered) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var parts = Parts<T>(mpi.Size, n, call);
        var mine = (T[])parts[mpi.Rank].Clone();
        mpi.ReduceScatter<T>(mine);
        var expected = new T[n];
        RingOrder.Sum(parts, expected);
        var (start, length) = RingOrder.Owned(n, mpi.Size, mpi.Rank);
        for (int i = start; i < start + length; i++)
            if (!BitEquals(mine[i], expected[i]))
            {
                Console.Error.WriteLine($"rank {mpi.Rank}: {typeof(T).Name} reduce-scatter #{call} differs at index {i} of {n}: {mine[i]} where RingOrder.Sum gives {expected[i]}");
                gathered = [];
                return false;
            }
        // Each rank's own chunk holds its sum; the rest its own part, which the gather must overwrite.
        mpi.AllgatherChunks<T>(mine);
        for (int r = 0; r < mpi.Size; r++)
        {
            var (s, len) = RingOrder.Owned(n, mpi.Size, r);
            for (int i = s; i < s + len; i++)
                if (!BitEquals(mine[i], expected[i]))
                {
                    Console.Error.WriteLine($"rank {mpi.Rank}: {typeof(T).Name} allgather #{call} gave {mine[i]} at index {i} (rank {r}'s chunk) where the sum is {expected[i]}");
                    gathered = [];
                    return false;
                }
        }
        gathered = mine;
        return true;
    }

    private static bool BitEquals<T>(T a, T b) where T : unmanaged =>
        MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in a)).SequenceEqual(MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in b)));

    private static ulong Fnv1a(ReadOnlySpan<byte> bytes, ulong hash = 14695981039346656037UL)
    {
        foreach (byte b in bytes) hash = (hash ^ b) * 1099511628211UL;
        return hash;
    }

    private static int RingSum(int n, int? maxMessageBytes)
    {
        using var mpi = MpiAllreduce.Initialize(TimeSpan.FromSeconds(30));
        if (maxMessageBytes is int m) mpi.MaxMessageBytes = m;
        int rank = mpi.Rank, size = mpi.Size;

        // float, double, then float again with other values: consecutive calls must not mix their messages, and the
        // reused receive buffer must not leak the previous call's bytes.
        if (!CheckSum(mpi, n, 0, out float[] f, out int naiveF)
            || !CheckSum(mpi, n, 1, out double[] d, out int naiveD)
            || !CheckSum(mpi, n, 2, out float[] f2, out _)
            || !CheckSharded(mpi, n, 3, out float[] g)
            || !CheckSharded(mpi, n, 4, out double[] g2))
            return 1;

        // After the first calls a Sum allocates nothing: a training step calls it once per batch.
        var again = new float[n];
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int k = 0; k < 5; k++)
        {
            mpi.Sum<float>(again);
            mpi.ReduceScatter<float>(again);
            mpi.AllgatherChunks<float>(again);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (allocated != 0)
        {
            Console.Error.WriteLine($"rank {rank}: 5 calls each of Sum, ReduceScatter and AllgatherChunks allocated {allocated} bytes");
            return 1;
        }

        long[] mine = [rank, n, rank * 1_000_000_007L ^ n];
        var all = new long[size * mine.Length];
        mpi.Allgather(mine, all);
        for (int r = 0; r < size; r++)
            if (all[3 * r] != r || all[3 * r + 1] != n || all[3 * r + 2] != (r * 1_000_000_007L ^ n))
            {
                Console.Error.WriteLine($"rank {rank}: allgather gave [{string.Join(", ", all)}]");
                return 1;
            }
        mpi.Allgather([], []);

        ulong hash = Fnv1a(MemoryMarshal.AsBytes(f.AsSpan()));
        hash = Fnv1a(MemoryMarshal.AsBytes(d.AsSpan()), hash);
        hash = Fnv1a(MemoryMarshal.AsBytes(f2.AsSpan()), hash);
        hash = Fnv1a(MemoryMarshal.AsBytes(g.AsSpan()), hash);
        hash = Fnv1a(MemoryMarshal.AsBytes(g2.AsSpan()), hash);
        Console.WriteLine($"rank {rank}: ring-sum ok {hash:x16}");
        Console.WriteLine(Transport(mpi));
        Console.WriteLine($"rank {rank}: size {size}, n {n}, the naive rank order differs from the ring's at {naiveF} float and {naiveD} double values");
        return 0;
    }

    /// <summary>"rank R: transport shared|ring": which path the sums took, so that a test knows what it tested.</summary>
    private static string Transport(MpiAllreduce mpi) => $"rank {mpi.Rank}: transport {(mpi.UsesSharedMemory ? "shared" : "ring")}";

    /// <summary>
    /// The collectives before a rank fails: an Allgather, so that the ranks have talked (as in training, mid-run); with
    /// <paramref name="later"/> also one Sum, so that the failure comes after the sums' path is set up.
    /// </summary>
    private static void Before(MpiAllreduce mpi, bool later)
    {
        var all = new long[mpi.Size];
        mpi.Allgather([mpi.Rank], all);
        if (later)
        {
            mpi.Sum<float>(new float[1000]);
            Console.WriteLine(Transport(mpi));
            Console.Out.Flush();
        }
    }

    private static int DieInSum(double timeoutSeconds, string how, bool later)
    {
        using var mpi = MpiAllreduce.Initialize(TimeSpan.FromSeconds(timeoutSeconds));
        Before(mpi, later);
        if (mpi.Rank == 1)
        {
            Console.Out.Flush();
            if (how == "kill") Process.GetCurrentProcess().Kill(); // SIGKILL: no exit handler runs
            Environment.Exit(3);
        }
        var values = new float[1000];
        var watch = Stopwatch.StartNew();
        try
        {
            mpi.Sum<float>(values);
            Console.Error.WriteLine($"rank {mpi.Rank}: the sum completed although rank 1 died");
            return 1;
        }
        catch (DistributedTrainingException e)
        {
            Report(mpi.Rank, $"rank {mpi.Rank} (after {watch.Elapsed.TotalSeconds:0.0} s, peer {e.PeerRank}): {e.Message}");
            return 2;
        }
    }

    /// <summary>
    /// A rank that hangs, which mpiexec cannot see: only the timeout notices it, and Abort is what ends the job, the
    /// hung rank included.
    /// </summary>
    private static int HangInSum(double timeoutSeconds, bool later)
    {
        using var mpi = MpiAllreduce.Initialize(TimeSpan.FromSeconds(timeoutSeconds));
        Before(mpi, later);
        if (mpi.Rank == 1)
        {
            Thread.Sleep(TimeSpan.FromMinutes(10));
            return 1;
        }
        try
        {
            mpi.Sum<float>(new float[1000]);
            Console.Error.WriteLine($"rank {mpi.Rank}: the sum completed although rank 1 hangs");
            return 1;
        }
        catch (DistributedTrainingException e)
        {
            Report(mpi.Rank, $"rank {mpi.Rank} (peer {e.PeerRank}): {e.Message}");
            mpi.Abort(2);
            return 1;
        }
    }

    /// <summary>
    /// Ranks that disagree on the buffer's length. Over the ring: when rank 0's first chunk is larger than rank 1
    /// expects, MPI itself reports the error (a truncated message); when smaller, MpiAllreduce's own count check does.
    /// Over shared memory the ranks compare the lengths themselves, at set-up (the first Sum) or in the segment's
    /// header (later). Every way must come back as an exception naming the peer.
    /// </summary>
    private static int LengthMismatch(int n0, int n, bool later)
    {
        using var mpi = MpiAllreduce.Initialize(TimeSpan.FromSeconds(10));
        if (later) mpi.Sum<float>(new float[n]);
        try
        {
            mpi.Sum<float>(new float[mpi.Rank == 0 ? n0 : n]);
            Console.Error.WriteLine($"rank {mpi.Rank}: the sum completed although the lengths differ");
            return 1;
        }
        catch (DistributedTrainingException e)
        {
            Report(mpi.Rank, $"rank {mpi.Rank} (peer {e.PeerRank}): {e.Message}");
            // The first rank to fail ends the job, so that the others do not wait out their timeout.
            mpi.Abort(2);
            return 1;
        }
    }

    private static int SumLatency(int n, int iterations)
    {
        using var mpi = MpiAllreduce.Initialize();
        var values = new float[n];
        for (int i = 0; i < n; i++) values[i] = i * 1e-6f;
        for (int k = 0; k < 50; k++) mpi.Sum<float>(values);
        var times = new double[iterations];
        for (int k = 0; k < iterations; k++)
        {
            long start = Stopwatch.GetTimestamp();
            mpi.Sum<float>(values);
            times[k] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        Array.Sort(times);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"rank {mpi.Rank}: sum-latency size {mpi.Size}, n {n} ({n * 4L} bytes), {iterations} calls: median {times[iterations / 2]:0.0} µs, min {times[0]:0.0} µs, p90 {times[iterations * 9 / 10]:0.0} µs"));
        return 0;
    }
}
