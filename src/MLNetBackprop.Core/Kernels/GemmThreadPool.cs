using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace MLNetBackprop.Core.Kernels;

/// <summary>A unit of work split into independent parts, numbered 0..parts-1.</summary>
internal interface IGemmParallelJob
{
    /// <summary>Runs one part. Parts may run in any order, on any thread.</summary>
    void Execute(int part);
}

/// <summary>
/// A tiny persistent pool for the GEMM kernels: the caller runs parts itself and up to
/// <c>threads - 1</c> background workers claim the rest. Nothing is allocated per run, and a worker
/// spins briefly after a run (GEMM calls come back to back in training) before it sleeps.
/// Parts are claimed from one 64-bit ticket (generation | part count | next part), so a late worker
/// can never claim a part of a newer run. If the pool is busy (another thread is running a GEMM),
/// the caller simply runs all parts itself; results do not depend on who runs a part.
/// </summary>
internal static class GemmThreadPool
{
    private const long SpinMicroseconds = 100; // a worker spins this long after a run before it sleeps

    private static readonly object s_runGate = new();
    private static readonly object s_sleepGate = new();
    private static readonly long s_spinTimestampTicks = Math.Max(1, Stopwatch.Frequency * SpinMicroseconds / 1_000_000);
    private static Thread[] s_workers = [];

    // ticket = generation << 32 | parts << 16 | next part
    private static long s_ticket;
    private static IGemmParallelJob? s_job;
    private static int s_pending;
    private static int s_sleepers;
    private static Exception? s_error;

    /// <summary>Largest number of threads the pool will use (the machine's processor count).</summary>
    public static int MaxThreads => Environment.ProcessorCount;

    /// <summary>Runs all <paramref name="parts"/> of <paramref name="job"/> with at most <paramref name="threads"/> threads.</summary>
    public static void Run(IGemmParallelJob job, int parts, int threads)
    {
        if (parts <= 0)
        {
            return;
        }
        threads = Math.Min(Math.Min(threads, parts), MaxThreads);
        if (threads <= 1 || parts > ushort.MaxValue || !Monitor.TryEnter(s_runGate))
        {
            for (int p = 0; p < parts; p++)
            {
                job.Execute(p);
            }
            return;
        }

        try
        {
            EnsureWorkers(threads - 1);
            s_job = job;
            s_error = null;
            Volatile.Write(ref s_pending, parts);
            long generation = (Volatile.Read(ref s_ticket) >> 32) + 1;
            Interlocked.Exchange(ref s_ticket, (generation << 32) | ((long)parts << 16));
            if (Volatile.Read(ref s_sleepers) > 0)
            {
                lock (s_sleepGate)
                {
                    Monitor.PulseAll(s_sleepGate);
                }
            }

            Drain(generation);
            SpinWait spin = default;
            while (Volatile.Read(ref s_pending) != 0)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }
            s_job = null;
            Exception? error = s_error;
            s_error = null;
            if (error is not null)
            {
                ExceptionDispatchInfo.Capture(error).Throw();
            }
        }
        finally
        {
            Monitor.Exit(s_runGate);
        }
    }

    /// <summary>Claims and runs parts of the given generation until none are left.</summary>
    private static void Drain(long generation)
    {
        while (true)
        {
            long t = Volatile.Read(ref s_ticket);
            if ((t >> 32) != generation)
            {
                return;
            }
            int parts = (int)((t >> 16) & 0xFFFF);
            int next = (int)(t & 0xFFFF);
            if (next >= parts)
            {
                return;
            }
            if (Interlocked.CompareExchange(ref s_ticket, t + 1, t) != t)
            {
                continue;
            }
            // A claimed, unfinished part keeps s_pending above zero, so s_job is this generation's job.
            try
            {
                s_job!.Execute(next);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref s_error, e, null);
            }
            Interlocked.Decrement(ref s_pending);
        }
    }

    private static void EnsureWorkers(int count)
    {
        if (s_workers.Length >= count)
        {
            return;
        }
        var workers = new Thread[count];
        Array.Copy(s_workers, workers, s_workers.Length);
        for (int i = s_workers.Length; i < count; i++)
        {
            var thread = new Thread(WorkerLoop, 256 * 1024) { IsBackground = true, Name = "MLNetBackprop GEMM worker " + i };
            thread.Start();
            workers[i] = thread;
        }
        s_workers = workers;
    }

    private static void WorkerLoop()
    {
        long seen = Volatile.Read(ref s_ticket) >> 32;
        while (true)
        {
            long start = Stopwatch.GetTimestamp();
            long generation;
            SpinWait spin = default;
            while ((generation = Volatile.Read(ref s_ticket) >> 32) == seen)
            {
                if (Stopwatch.GetTimestamp() - start < s_spinTimestampTicks)
                {
                    // Yields now and then, so a spinning worker does not starve the caller on a busy machine.
                    spin.SpinOnce(sleep1Threshold: -1);
                    continue;
                }
                lock (s_sleepGate)
                {
                    Interlocked.Increment(ref s_sleepers);
                    if ((Volatile.Read(ref s_ticket) >> 32) == seen)
                    {
                        Monitor.Wait(s_sleepGate);
                    }
                    Interlocked.Decrement(ref s_sleepers);
                }
                start = Stopwatch.GetTimestamp();
            }
            seen = generation;
            Drain(generation);
        }
    }
}
