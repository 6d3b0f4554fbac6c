using System.Numerics;
using System.Numerics.Tensors;
using MLNetBackprop.Core.Activations;

namespace MLNetBackprop.Core.Kernels;

/// <summary>
/// The forward and backward passes' element-wise work over a batch (+ b and f, δ ⊙ f'), in chunks of whole rows shared
/// among threads. Which thread does a row, and how rows are grouped, changes no bit: the bias is added per element,
/// element-wise activations give the same bits in their scalar and vector forms, and the others are applied row by row
/// (<see cref="IActivationOperator{TSelf}.Apply"/>). Rows go in chunks of about <see cref="ChunkElements"/> values, so
/// the bias add leaves a chunk in L1 for f to read, instead of two passes over a batch that does not fit in the cache.
/// </summary>
internal static unsafe class RowPasses
{
    /// <summary>Values per chunk: 16 KiB of float, well inside L1 with its output.</summary>
    private const int ChunkElements = 4096;

    /// <summary>Below this many values one thread does the pass (a hand-off costs more than it saves).</summary>
    private const int MinParallelElements = 256 * 1024;

    /// <summary>Z := Z + b per row, then A = f(Z), for <paramref name="z"/>.Length / <paramref name="width"/> rows. <paramref name="a"/> may be <paramref name="z"/>.</summary>
    public static void BiasAndActivation<T>(Span<T> z, ReadOnlySpan<T> b, Span<T> a, int width, IActivationKernel f, int maxThreads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = z.Length / width;
        fixed (T* pz = z, pb = b, pa = a)
        {
            var pass = new BiasActivation<T>(pz, pb, pa, width, f);
            Run(ref pass, rows, width, maxThreads);
        }
    }

    /// <summary>δ := δ ⊙ f'(z) (given a = f(z)) over <paramref name="delta"/>.Length / <paramref name="width"/> rows.</summary>
    public static void MultiplyByDerivative<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> delta, int width, IActivationKernel f, int maxThreads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = delta.Length / width;
        if (Parts(rows, width, maxThreads) <= 1)
        {
            f.MultiplyByDerivative<T>(z, a, delta);
            return;
        }
        fixed (T* pz = z, pa = a, pd = delta)
        {
            var pass = new Derivative<T>(pz, pa, pd, width, f);
            Run(ref pass, rows, width, maxThreads);
        }
    }

    private static int Parts(int rows, int width, int maxThreads) =>
        (long)rows * width < MinParallelElements ? 1 : Math.Clamp(Math.Min(maxThreads, GemmThreadPool.MaxThreads), 1, rows);

    private static void Run<TPass>(ref TPass pass, int rows, int width, int maxThreads) where TPass : struct, IRowPass
    {
        int parts = Parts(rows, width, maxThreads);
        if (parts <= 1)
        {
            pass.Run(0, rows);
            return;
        }
        var job = Job<TPass>.Instance ??= new Job<TPass>();
        job.Pass = pass;
        job.Rows = rows;
        job.Parts = parts;
        try
        {
            GemmThreadPool.Run(job, parts, parts);
        }
        finally
        {
            job.Pass = default;
        }
    }

    /// <summary>Rows per chunk for rows of <paramref name="width"/> values.</summary>
    private static int ChunkRows(int width) => Math.Max(1, ChunkElements / width);

    private interface IRowPass
    {
        /// <summary>Rows [from, to).</summary>
        void Run(int from, int to);
    }

    /// <summary>One pass in flight: the driving thread's own (thread-static), so concurrent trainings do not share it.</summary>
    private sealed class Job<TPass> : IGemmParallelJob where TPass : struct, IRowPass
    {
        [ThreadStatic]
        public static Job<TPass>? Instance;

        public TPass Pass;
        public int Rows, Parts;

        public void Execute(int part) => Pass.Run((int)((long)Rows * part / Parts), (int)((long)Rows * (part + 1) / Parts));
    }

    private readonly struct BiasActivation<T>(T* z, T* b, T* a, int width, IActivationKernel f) : IRowPass
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Run(int from, int to)
        {
            var bias = new ReadOnlySpan<T>(b, width);
            int chunk = ChunkRows(width);
            for (int r0 = from; r0 < to; r0 += chunk)
            {
                int n = Math.Min(chunk, to - r0);
                var zc = new Span<T>(z + (long)r0 * width, n * width);
                for (int r = 0; r < n; r++)
                {
                    var zr = zc.Slice(r * width, width);
                    TensorPrimitives.Add(zr, bias, zr);
                }
                f.Apply<T>(zc, new Span<T>(a + (long)r0 * width, n * width), width);
            }
        }
    }

    private readonly struct Derivative<T>(T* z, T* a, T* delta, int width, IActivationKernel f) : IRowPass
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Run(int from, int to)
        {
            long start = (long)from * width;
            int n = (to - from) * width;
            f.MultiplyByDerivative<T>(new ReadOnlySpan<T>(z + start, n), new ReadOnlySpan<T>(a + start, n), new Span<T>(delta + start, n));
        }
    }
}
