using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.InteropServices;

namespace MLNetBackprop.Core.Kernels;

/// <summary>Which micro-kernel family a GEMM runs with.</summary>
internal enum GemmIsa
{
    /// <summary>The widest one supported here.</summary>
    Auto = 0,

    /// <summary>512-bit vectors (AVX-512).</summary>
    Vector512,

    /// <summary>256-bit vectors with FMA (AVX2).</summary>
    Vector256,

    /// <summary>128-bit vectors with FMA.</summary>
    Vector128,

    /// <summary>Plain scalar loops.</summary>
    Scalar,
}

/// <summary>
/// Everything one GEMM call needs, shared by the parts that run it. One instance per calling thread
/// is reused, so a call allocates nothing.
/// </summary>
internal sealed unsafe class GemmJob<T> : IGemmParallelJob
    where T : unmanaged, IFloatingPointIeee754<T>
{
    [ThreadStatic]
    private static GemmJob<T>? t_cached;

    public GemmIsa Isa;
    public bool TransA, TransB;
    public int M, N, K;
    public T Alpha, Beta;
    public T* A, B, C;
    public nint Lda, Ldb, Ldc;

    /// <summary>Split of the output: Tn groups of column panels × Tm groups of row tiles.</summary>
    public int Tm, Tn;
    public int RowTiles, Panels, KBlocks, McTiles;

    /// <summary>True while the parts are packing (phase 1), false while they compute (phase 2).</summary>
    public bool Packing;

    /// <summary>Parts of the packing phase.</summary>
    public int PackParts;

    /// <summary>All of op(B), packed: k slice kb at p0·Panels·NR, then panel after panel (kc·NR each).</summary>
    public T* PackedB;

    /// <summary>
    /// B is not transposed and its rows are read in place: every full NR-wide panel is used straight from B (row stride
    /// ldb) and only the last, partial panel is packed. Chosen when B's row stride does not alias in the L1 cache.
    /// </summary>
    public bool DirectB;

    /// <summary>All of op(A), packed the same way (tiles of kc·MR), or null when each part packs its own rows.</summary>
    public T* PackedA;

    public static GemmJob<T> ForThisThread() => t_cached ??= new GemmJob<T>();

    public void Execute(int part)
    {
        switch (Isa)
        {
            case GemmIsa.Vector512:
                Run<Kernel512<T>>(part);
                break;
            case GemmIsa.Vector256:
                Run<Kernel6x2<Simd256<T>, Vector256<T>, T>>(part);
                break;
            case GemmIsa.Vector128:
                Run<Kernel6x2<Simd128<T>, Vector128<T>, T>>(part);
                break;
            default:
                throw new InvalidOperationException("No blocked driver for " + Isa);
        }
    }

    private void Run<TKernel>(int part)
        where TKernel : IGemmMicroKernel<T>
    {
        if (Packing)
        {
            GemmDriver<T, TKernel>.PackPart(this, part);
        }
        else
        {
            GemmDriver<T, TKernel>.RunPart(this, part);
        }
    }
}

/// <summary>
/// Per-thread packing buffers: pinned (so raw pointers stay valid), 64-byte aligned, grown on demand
/// and then reused, so the steady state allocates nothing.
/// </summary>
internal static unsafe class GemmBuffers<T>
    where T : unmanaged
{
    [ThreadStatic]
    private static T[]? t_packA;

    [ThreadStatic]
    private static T[]? t_tile;

    [ThreadStatic]
    private static T[]? t_sharedB;

    [ThreadStatic]
    private static T[]? t_sharedA;

    public static T* PackA(int count) => Ensure(ref t_packA, count);

    public static T* Tile(int count) => Ensure(ref t_tile, count);

    /// <summary>The calling thread's buffer for all of op(B), shared with the workers for one call.</summary>
    public static T* SharedB(int count) => Ensure(ref t_sharedB, count);

    /// <summary>The calling thread's buffer for all of op(A), shared with the workers for one call.</summary>
    public static T* SharedA(int count) => Ensure(ref t_sharedA, count);

    private static T* Ensure(ref T[]? array, int count)
    {
        int pad = 64 / sizeof(T);
        if (array is null || array.Length < count + pad)
        {
            int length = Math.Max(count + pad, array is null ? 0 : (int)Math.Min(Array.MaxLength, array.Length * 3L / 2));
            array = GC.AllocateUninitializedArray<T>(length, pinned: true);
        }
        nint p = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        return (T*)((p + 63) & ~(nint)63);
    }
}

/// <summary>
/// The cache-blocked loop nest around a micro-kernel (Goto/BLIS style), in two phases.
/// Phase 1 packs all of op(B) once, shared by every part (per k slice: NR-wide panels of kc rows of
/// NR contiguous values, zero-padded) and, when the output has few row tiles, all of op(A) too
/// (MR-high tiles of kc groups of MR values, zero-padded). Phase 2 splits C into parts (blocks of
/// row tiles × column panels, claimed dynamically by the threads); when A is not shared, a part
/// packs its own rows in L2-sized blocks, streaming A from memory once. Every kernel then reads
/// contiguous memory whatever the transposes and leading dimensions (no cache-set conflicts for
/// power-of-two strides). Partial tiles are computed whole into a scratch tile and only their valid
/// part is written, with the same operations the kernels do per lane.
/// The k slices depend only on k, so every element of C sees the same sequence of operations
/// whatever the split into parts.
/// </summary>
internal static unsafe class GemmDriver<T, TKernel>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TKernel : IGemmMicroKernel<T>
{
    /// <summary>Phase 1: packs this part's share of op(B) (and of op(A) when it is shared).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackPart(GemmJob<T> job, int part)
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        int parts = job.PackParts, m = job.M, n = job.N, k = job.K, nkb = job.KBlocks;
        int pan0 = (int)((long)job.Panels * part / parts), pan1 = (int)((long)job.Panels * (part + 1) / parts);
        int til0 = (int)((long)job.RowTiles * part / parts), til1 = (int)((long)job.RowTiles * (part + 1) / parts);
        for (int kb = 0; kb < nkb; kb++)
        {
            int p0 = Gemm.SliceStart(k, nkb, kb);
            int kc = Gemm.SliceStart(k, nkb, kb + 1) - p0;
            T* bslice = job.PackedB + (nint)p0 * job.Panels * nr;
            for (int pj = pan0; pj < pan1; pj++)
            {
                int j0 = pj * nr;
                if (job.DirectB && n - j0 >= nr) continue; // read in place in phase 2
                PackB(job, p0, kc, j0, Math.Min(nr, n - j0), nr, bslice + (nint)pj * kc * nr);
            }
            if (job.PackedA != null)
            {
                T* aslice = job.PackedA + (nint)p0 * job.RowTiles * mr;
                for (int it = til0; it < til1; it++)
                {
                    int i0 = it * mr;
                    PackA(job, p0, kc, i0, Math.Min(mr, m - i0), mr, aslice + (nint)it * kc * mr);
                }
            }
        }
    }

    /// <summary>Phase 2: computes this part's block of C (a range of row tiles × a range of column panels).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunPart(GemmJob<T> job, int part)
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        int pi = part % job.Tn, ri = part / job.Tn;
        int pan0 = (int)((long)job.Panels * pi / job.Tn), pan1 = (int)((long)job.Panels * (pi + 1) / job.Tn);
        int til0 = (int)((long)job.RowTiles * ri / job.Tm), til1 = (int)((long)job.RowTiles * (ri + 1) / job.Tm);
        if (pan0 >= pan1 || til0 >= til1)
        {
            return;
        }

        int m = job.M, n = job.N, k = job.K, nkb = job.KBlocks;
        int kcMax = (k + nkb - 1) / nkb;
        bool sharedA = job.PackedA != null;
        int mcTiles = sharedA ? til1 - til0 : Math.Min(job.McTiles, til1 - til0);
        T* abuf = sharedA ? null : GemmBuffers<T>.PackA(kcMax * mcTiles * mr);
        T* cbuf = GemmBuffers<T>.Tile(mr * nr);
        T alpha = job.Alpha;
        T* c = job.C;
        nint ldc = job.Ldc;

        // Row blocks outermost, so A is streamed from memory once, row block by row block.
        for (int ic = til0; ic < til1; ic += mcTiles)
        {
            int icEnd = Math.Min(til1, ic + mcTiles);
            for (int kb = 0; kb < nkb; kb++)
            {
                int p0 = Gemm.SliceStart(k, nkb, kb);
                int kc = Gemm.SliceStart(k, nkb, kb + 1) - p0;
                T beta = kb == 0 ? job.Beta : T.One;
                T* ablock;
                if (sharedA)
                {
                    ablock = job.PackedA + (nint)p0 * job.RowTiles * mr + (nint)ic * kc * mr;
                }
                else
                {
                    ablock = abuf;
                    for (int it = ic; it < icEnd; it++)
                    {
                        int i0 = it * mr;
                        PackA(job, p0, kc, i0, Math.Min(mr, m - i0), mr, abuf + (nint)(it - ic) * kc * mr);
                    }
                }

                T* bslice = job.PackedB + (nint)p0 * job.Panels * nr;
                for (int pj = pan0; pj < pan1; pj++)
                {
                    int j0 = pj * nr;
                    int cols = Math.Min(nr, n - j0);
                    bool direct = job.DirectB && cols == nr;
                    T* bp = direct ? job.B + (nint)p0 * job.Ldb + j0 : bslice + (nint)pj * kc * nr;
                    nint ldbp = direct ? job.Ldb : nr;
                    for (int it = ic; it < icEnd; it++)
                    {
                        int i0 = it * mr;
                        int rows = Math.Min(mr, m - i0);
                        T* ap = ablock + (nint)(it - ic) * kc * mr;
                        T* cp = c + i0 * ldc + j0;
                        if (rows == mr && cols == nr)
                        {
                            TKernel.Run(kc, ap, 1, mr, bp, ldbp, cp, ldc, alpha, beta);
                        }
                        else
                        {
                            TKernel.Run(kc, ap, 1, mr, bp, ldbp, cbuf, nr, T.One, T.Zero);
                            WriteEdge(cbuf, nr, rows, cols, cp, ldc, alpha, beta);
                        }
                    }
                }
            }
        }
    }

    /// <summary>C = alpha·t + beta·C on a partial tile, the same operations the kernels do per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteEdge(T* t, nint ldt, int rows, int cols, T* c, nint ldc, T alpha, T beta)
    {
        for (int r = 0; r < rows; r++)
        {
            T* tr = t + r * ldt;
            T* cr = c + r * ldc;
            if (beta == T.Zero)
            {
                for (int j = 0; j < cols; j++)
                {
                    cr[j] = alpha * tr[j];
                }
            }
            else
            {
                for (int j = 0; j < cols; j++)
                {
                    cr[j] = T.FusedMultiplyAdd(alpha, tr[j], beta * cr[j]);
                }
            }
        }
    }

    /// <summary>Packs op(B)[p0..p0+kc, j0..j0+cols] as kc rows of nr values, zero-padded on the right.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB(GemmJob<T> job, int p0, int kc, int j0, int cols, int nr, T* dst)
    {
        nint ldb = job.Ldb;
        if (!job.TransB)
        {
            T* src = job.B + p0 * ldb + j0;
            nint bytes = (nint)cols * sizeof(T);
            for (int p = 0; p < kc; p++)
            {
                T* d = dst + (nint)p * nr;
                Buffer.MemoryCopy(src, d, bytes, bytes);
                for (int j = cols; j < nr; j++)
                {
                    d[j] = T.Zero;
                }
                src += ldb;
            }
            return;
        }

        if (typeof(T) == typeof(float) && GemmPackFloat.IsSupported)
        {
            GemmPackFloat.PackTransposedPanel((float*)(job.B + j0 * ldb + p0), ldb, kc, cols, nr, (float*)dst);
            return;
        }

        // op(B)[p, j] = B[j, p]: B's rows are contiguous in p. Four source rows at a time.
        int jj = 0;
        for (; jj + 4 <= cols; jj += 4)
        {
            T* s0 = job.B + (j0 + jj) * ldb + p0;
            T* s1 = s0 + ldb, s2 = s1 + ldb, s3 = s2 + ldb;
            T* d = dst + jj;
            for (int p = 0; p < kc; p++)
            {
                d[0] = s0[p];
                d[1] = s1[p];
                d[2] = s2[p];
                d[3] = s3[p];
                d += nr;
            }
        }
        for (; jj < cols; jj++)
        {
            T* s = job.B + (j0 + jj) * ldb + p0;
            T* d = dst + jj;
            for (int p = 0; p < kc; p++)
            {
                *d = s[p];
                d += nr;
            }
        }
        if (cols < nr)
        {
            for (int p = 0; p < kc; p++)
            {
                T* d = dst + (nint)p * nr;
                for (int j = cols; j < nr; j++)
                {
                    d[j] = T.Zero;
                }
            }
        }
    }

    /// <summary>Packs the row tile op(A)[i0..i0+rows, p0..p0+kc] as kc groups of mr values (zero rows below).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA(GemmJob<T> job, int p0, int kc, int i0, int rows, int mr, T* dst)
    {
        nint lda = job.Lda;
        if (job.TransA)
        {
            // A stored k×m: the tile's values for one p are contiguous.
            T* src = job.A + p0 * lda + i0;
            for (int p = 0; p < kc; p++)
            {
                T* d = dst + (nint)p * mr;
                int r = 0;
                for (; r < rows; r++)
                {
                    d[r] = src[r];
                }
                for (; r < mr; r++)
                {
                    d[r] = T.Zero;
                }
                src += lda;
            }
            return;
        }

        if (typeof(T) == typeof(float) && GemmPackFloat.IsSupported && mr <= 8)
        {
            GemmPackFloat.PackRowsToGroups((float*)(job.A + i0 * lda + p0), lda, rows, kc, mr, (float*)dst);
            return;
        }

        // A stored m×k: read each row sequentially, scatter with stride mr.
        for (int r = 0; r < mr; r++)
        {
            T* d = dst + r;
            if (r < rows)
            {
                T* src = job.A + (i0 + r) * lda + p0;
                for (int p = 0; p < kc; p++)
                {
                    d[(nint)p * mr] = src[p];
                }
            }
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    d[(nint)p * mr] = T.Zero;
                }
            }
        }
    }
}
