namespace MLNetBackprop.Core.Kernels;

/// <summary>
/// Splits an element-wise pass over n values (an optimizer update) among threads. Boundaries fall on whole blocks
/// of 64 elements, so every part but the last is a whole number of vectors and only the last part has the scalar
/// tail — exactly the elements a one-thread pass does with scalar code. Results are therefore bitwise the same for
/// any thread count.
/// </summary>
internal static class ElementwiseParts
{
    private const int Block = 64;

    /// <summary>Below this many elements one thread does the pass (a hand-off costs more than it saves).</summary>
    private const int MinParallelElements = 64 * 1024;

    /// <summary>How many parts to run <paramref name="n"/> elements as.</summary>
    public static int Count(int n, int maxThreads) =>
        n < MinParallelElements ? 1 : Math.Clamp(Math.Min(maxThreads, GemmThreadPool.MaxThreads), 1, Math.Max(1, n / Block));

    /// <summary>The element range [From, To) of part <paramref name="part"/> of <paramref name="parts"/>.</summary>
    public static (int From, int To) Range(int n, int parts, int part)
    {
        int blocks = n / Block;
        int from = (int)((long)blocks * part / parts) * Block;
        int to = part == parts - 1 ? n : (int)((long)blocks * (part + 1) / parts) * Block;
        return (from, to);
    }

    /// <summary>Runs all parts of <paramref name="job"/> (on the calling thread alone when there is one part).</summary>
    public static void Run(IGemmParallelJob job, int parts)
    {
        if (parts <= 1) job.Execute(0);
        else GemmThreadPool.Run(job, parts, parts);
    }
}
