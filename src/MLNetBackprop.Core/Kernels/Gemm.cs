using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MLNetBackprop.Core.Kernels;

/// <summary>
/// General matrix multiply on row-major storage: C = alpha · op(A) · op(B) + beta · C, where op(X) is X or Xᵀ.
/// This is the only place the network's matrix products happen, so the speed work changes this file,
/// never the algorithm that calls it.
/// </summary>
/// <remarks>
/// Every element of C is computed by exactly one thread with a fixed summation order, so results do
/// not depend on the number of threads. More strongly, an element gets the same operations whatever
/// the shape of C around it, the tiling, the thread count or the kernel family: one fused
/// multiply-add chain over p per k slice (slices depend on k only, see <see cref="SliceStart"/>),
/// then c = alpha·acc + beta·c (beta·c dropped when beta is zero; beta = 1 after the first slice).
/// So a row computed alone (m = 1) is bitwise that row of a batch, and the AVX-512, AVX2, 128-bit
/// and scalar paths agree bitwise (the tests check this against the scalar path).
/// The work is done by a cache-blocked, packed driver (<see cref="GemmDriver{T, TKernel}"/>) around
/// register-tiled FMA micro-kernels (<see cref="Kernel512{T}"/>, and <see cref="Kernel6x2{TSimd, TVec, T}"/> at
/// 256 and 128 bits), a row-vector path for m = 1 (<see cref="GemmRowVector{T}"/>) and a
/// scalar fallback where no hardware vectors with FMA exist. As in BLAS, alpha = 0 or k = 0 only
/// scales C by beta (A and B are not read).
/// </remarks>
internal static class Gemm
{
    /// <summary>Largest k slice per pass over C (elements): an AVX2 B micro-panel of this many rows (25 KB) stays in L1, an AVX-512 one in L2; k = 784 runs as 2 slices of 392.</summary>
    internal const int KcMax = 400;

    /// <summary>Number of k slices for a given k (depends on k only, never on the shape of C or the threads).</summary>
    internal static int SliceCount(int k) => (k + KcMax - 1) / KcMax;

    /// <summary>First p of k slice <paramref name="kb"/> of <paramref name="count"/> (slice <paramref name="count"/> starts at k).</summary>
    internal static int SliceStart(int k, int count, int kb) => (int)((long)k * kb / count);

    /// <summary>Below this many multiply-adds a call runs on the calling thread only.</summary>
    internal const long ParallelThreshold = 512L * 1024;

    /// <summary>Bytes of A (a block of row tiles × the k slice) meant to stay in L2 while B panels stream past.</summary>
    private const int L2BlockBytes = 192 * 1024;

    /// <summary>
    /// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C. With <paramref name="transA"/>, A is stored as k×m
    /// (leading dimension <paramref name="lda"/>); with <paramref name="transB"/>, B is stored as n×k.
    /// When beta is zero, C is overwritten (NaN in C is not propagated).
    /// </summary>
    public static void Multiply<T>(
        bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb,
        T beta, Span<T> c, int ldc, int maxThreads = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
        => MultiplyWith(GemmIsa.Auto, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, maxThreads);

    /// <summary>Whether <paramref name="isa"/> can run on this machine for <typeparamref name="T"/>.</summary>
    public static bool IsSupported<T>(GemmIsa isa)
        where T : unmanaged, IFloatingPointIeee754<T>
        => isa switch
        {
            GemmIsa.Auto or GemmIsa.Scalar => true,
            GemmIsa.Vector512 => Kernel512<T>.IsSupported,
            GemmIsa.Vector256 => Kernel6x2<Simd256<T>, Vector256<T>, T>.IsSupported,
            GemmIsa.Vector128 => Kernel6x2<Simd128<T>, Vector128<T>, T>.IsSupported,
            _ => false,
        };

    /// <summary>The kernel family <see cref="GemmIsa.Auto"/> picks here.</summary>
    public static GemmIsa BestIsa<T>()
        where T : unmanaged, IFloatingPointIeee754<T>
        => Kernel512<T>.IsSupported ? GemmIsa.Vector512
        : Kernel6x2<Simd256<T>, Vector256<T>, T>.IsSupported ? GemmIsa.Vector256
        : Kernel6x2<Simd128<T>, Vector128<T>, T>.IsSupported ? GemmIsa.Vector128
        : GemmIsa.Scalar;

    /// <summary><see cref="Multiply{T}"/> with an explicit kernel family (for tests and benchmarks).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MultiplyWith<T>(
        GemmIsa isa, bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb,
        T beta, Span<T> c, int ldc, int maxThreads = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
        => MultiplyWith(isa, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, maxThreads, emulate512: false);

    /// <summary>
    /// <see cref="MultiplyWith{T}(GemmIsa, bool, bool, int, int, int, T, ReadOnlySpan{T}, int, ReadOnlySpan{T}, int, T, Span{T}, int, int)"/>;
    /// with <paramref name="emulate512"/>, the 512-bit kernels run even without AVX-512 (.NET emulates Vector512 on
    /// narrower vectors, fused multiply-adds included), so the tests check that family's results on any machine.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void MultiplyWith<T>(
        GemmIsa isa, bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb,
        T beta, Span<T> c, int ldc, int maxThreads, bool emulate512)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0)
        {
            return;
        }
        if (isa == GemmIsa.Auto)
        {
            isa = BestIsa<T>();
        }
        else if (!IsSupported<T>(isa) && !(emulate512 && isa == GemmIsa.Vector512))
        {
            throw new NotSupportedException($"GEMM kernel {isa} is not supported on this machine.");
        }

        if (k == 0 || alpha == T.Zero)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }

        fixed (T* pa = a, pb = b, pc = c)
        {
            if (isa == GemmIsa.Scalar)
            {
                MultiplyScalar(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
                return;
            }

            if (m == 1 && (isa is GemmIsa.Vector512 or GemmIsa.Vector256)
                && GemmRowVector<T>.TryRun(transA, transB, n, k, alpha, pa, lda, pb, ldb, beta, pc))
            {
                return;
            }

            int mr, nr;
            switch (isa)
            {
                case GemmIsa.Vector512:
                    (mr, nr) = (Kernel512<T>.MR, Kernel512<T>.NR);
                    break;
                case GemmIsa.Vector256:
                    (mr, nr) = (Kernel6x2<Simd256<T>, Vector256<T>, T>.MR, Kernel6x2<Simd256<T>, Vector256<T>, T>.NR);
                    break;
                default:
                    (mr, nr) = (Kernel6x2<Simd128<T>, Vector128<T>, T>.MR, Kernel6x2<Simd128<T>, Vector128<T>, T>.NR);
                    break;
            }

            // Pack at most MaxPackedElements of op(B) at a time: wider products run in column chunks
            // (each element's computation does not depend on the chunking).
            int chunk = (int)Math.Min(n, Math.Max(nr, MaxPackedElements / k / nr * nr));
            for (int j0 = 0; j0 < n; j0 += chunk)
            {
                T* bChunk = transB ? pb + (nint)j0 * ldb : pb + j0;
                RunBlocked(isa, mr, nr, transA, transB, m, Math.Min(chunk, n - j0), k, alpha, pa, lda, bChunk, ldb, beta, pc + j0, ldc, maxThreads);
            }
        }
    }

    /// <summary>Largest packed copy of an operand (elements) kept per call.</summary>
    private const long MaxPackedElements = 1L << 24;

    private static unsafe void RunBlocked<T>(
        GemmIsa isa, int mr, int nr, bool transA, bool transB, int m, int n, int k, T alpha,
        T* pa, int lda, T* pb, int ldb, T beta, T* pc, int ldc, int maxThreads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        GemmJob<T> job = GemmJob<T>.ForThisThread();
        job.Isa = isa;
        job.TransA = transA;
        job.TransB = transB;
        job.M = m;
        job.N = n;
        job.K = k;
        job.Alpha = alpha;
        job.Beta = beta;
        job.A = pa;
        job.B = pb;
        job.C = pc;
        job.Lda = lda;
        job.Ldb = ldb;
        job.Ldc = ldc;
        job.RowTiles = (m + mr - 1) / mr;
        job.Panels = (n + nr - 1) / nr;
        job.KBlocks = SliceCount(k);
        int kc = (k + job.KBlocks - 1) / job.KBlocks;
        job.McTiles = Math.Max(1, L2BlockBytes / (kc * sizeof(T) * mr));

        long work = (long)m * n * k;
        int threads = work < ParallelThreshold ? 1 : Math.Clamp(Math.Min(maxThreads, GemmThreadPool.MaxThreads), 1, 64);
        // Few row tiles: pack A once for all parts (else every column group would pack it again).
        bool shareA = threads > 1 && job.RowTiles < 8 * threads && (long)k * job.RowTiles * mr <= MaxPackedElements;
        (job.Tn, job.Tm) = threads == 1 ? (1, 1) : ChooseSplit(threads, job.Panels, job.RowTiles, shareA);
        job.PackedB = GemmBuffers<T>.SharedB(checked(k * job.Panels * nr));
        // A row-major B can be read in place (saving a copy of all of B) unless its row stride is a multiple of
        // 256 bytes, where the kc rows of a panel would crowd a few L1 sets.
        job.DirectB = !transB && (ldb * sizeof(T)) % 256 != 0;
        job.PackedA = shareA ? GemmBuffers<T>.SharedA(k * job.RowTiles * mr) : null;
        long packed = (long)k * (n + (shareA ? m : 0));
        job.PackParts = threads > 1 && packed >= 16 * 1024 ? Math.Min(threads, Math.Max(job.Panels, shareA ? job.RowTiles : 1)) : 1;
        try
        {
            job.Packing = true;
            RunParts(job, job.PackParts, threads);
            job.Packing = false;
            RunParts(job, job.Tn * job.Tm, threads);
        }
        finally
        {
            job.A = job.B = job.C = job.PackedA = job.PackedB = null;
        }
    }

    private static void RunParts<T>(GemmJob<T> job, int parts, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (parts == 1 || threads == 1)
        {
            for (int p = 0; p < parts; p++)
            {
                job.Execute(p);
            }
        }
        else
        {
            GemmThreadPool.Run(job, parts, threads);
        }
    }

    /// <summary>
    /// Splits the output for <paramref name="threads"/> threads into tn column-panel groups × tm row-tile
    /// groups (at most 4 parts per thread, claimed dynamically), minimizing the estimated finishing time:
    /// rounds of parts per thread × (tiles·panels of a part + the cost of streaming its A and B micro-panels,
    /// plus packing its rows of A when A is not shared). Results do not depend on the split.
    /// </summary>
    internal static (int Tn, int Tm) ChooseSplit(int threads, int panels, int rowTiles, bool sharedA)
    {
        int maxParts = 4 * threads;
        double Cost(int tn, int tm)
        {
            int panelsPer = (panels + tn - 1) / tn;
            int tilesPer = (rowTiles + tm - 1) / tm;
            int rounds = (tn * tm + threads - 1) / threads;
            return rounds * (panelsPer * tilesPer + 0.25 * (panelsPer + tilesPer) + (sharedA ? 0 : 0.5 * tilesPer));
        }

        double bestCost = double.MaxValue;
        for (int tn = 1; tn <= Math.Min(maxParts, panels); tn++)
        {
            for (int tm = 1; tm * tn <= maxParts && tm <= rowTiles; tm++)
            {
                bestCost = Math.Min(bestCost, Cost(tn, tm));
            }
        }

        // Among splits within 2% of the best, take the one with the most parts: on a busy machine,
        // smaller parts let a thread that got the core pick up the work of one that did not.
        (int, int) best = (1, 1);
        for (int tn = 1; tn <= Math.Min(maxParts, panels); tn++)
        {
            for (int tm = 1; tm * tn <= maxParts && tm <= rowTiles; tm++)
            {
                if (Cost(tn, tm) <= bestCost * 1.02 && tn * tm > best.Item1 * best.Item2)
                {
                    best = (tn, tm);
                }
            }
        }
        return best;
    }

    private static void Validate(bool transA, bool transB, int m, int n, int k, int aLength, int lda, int bLength, int ldb, int cLength, int ldc)
    {
        if (m < 0 || n < 0 || k < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(m), "Matrix dimensions must be non-negative.");
        }
        CheckOperand("a", transA ? k : m, transA ? m : k, aLength, lda);
        CheckOperand("b", transB ? n : k, transB ? k : n, bLength, ldb);
        CheckOperand("c", m, n, cLength, ldc);
    }

    private static void CheckOperand(string name, int rows, int cols, int length, int ld)
    {
        if (rows == 0 || cols == 0)
        {
            return;
        }
        if (ld < cols)
        {
            throw new ArgumentOutOfRangeException(name, $"Leading dimension {ld} is smaller than the {cols} stored columns.");
        }
        if ((long)(rows - 1) * ld + cols > length)
        {
            throw new ArgumentException($"Span of {length} elements is too short for a {rows}×{cols} matrix with leading dimension {ld}.", name);
        }
    }

    private static void ScaleC<T>(int m, int n, T beta, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < m; i++)
        {
            Span<T> row = c.Slice(i * ldc, n);
            if (beta == T.Zero)
            {
                row.Clear();
            }
            else if (beta != T.One)
            {
                for (int j = 0; j < row.Length; j++)
                {
                    row[j] *= beta;
                }
            }
        }
    }

    /// <summary>
    /// Scalar fallback, with the same operations per element as the vector kernels (one fused
    /// multiply-add chain per k slice, then c = alpha·acc + beta·c), so every kernel family gives the
    /// same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MultiplyScalar<T>(
        bool transA, bool transB, int m, int n, int k, T alpha,
        T* a, nint lda, T* b, nint ldb, T beta, T* c, nint ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint rsa = transA ? 1 : lda, csa = transA ? lda : 1;
        nint rsb = transB ? 1 : ldb, csb = transB ? ldb : 1; // op(B)[p, j] = b[p·rsb + j·csb]
        int nkb = SliceCount(k);
        for (int kb = 0; kb < nkb; kb++)
        {
            int p0 = SliceStart(k, nkb, kb), p1 = SliceStart(k, nkb, kb + 1);
            T sliceBeta = kb == 0 ? beta : T.One;
            for (int i = 0; i < m; i++)
            {
                T* ai = a + i * rsa;
                T* ci = c + i * ldc;
                for (int j = 0; j < n; j++)
                {
                    T* bj = b + j * csb;
                    T acc = T.Zero;
                    for (int p = p0; p < p1; p++)
                    {
                        acc = T.FusedMultiplyAdd(ai[p * csa], bj[p * rsb], acc);
                    }
                    ci[j] = sliceBeta == T.Zero ? alpha * acc : T.FusedMultiplyAdd(alpha, acc, sliceBeta * ci[j]);
                }
            }
        }
    }
}
