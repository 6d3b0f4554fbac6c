using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MLNetBackprop.Core.Kernels;

/// <summary>
/// The first layer's two products with a compressed-sparse-row input batch X (rows × n_in): the forward
/// Z = X · Wᵀ and the weight gradient G = α · Δᵀ · X + β · G. Both give the bits of the dense <see cref="Gemm"/> on X
/// written out (see <see cref="GemmSparseRow{T}"/> for why skipping zero terms changes nothing while the other
/// operand is finite): each element gets one fused multiply-add chain per k slice, in increasing k, then
/// c = α·acc + β·c for the first slice and c = α·acc + c after it. So training on sparse rows, or on dense rows that
/// are mostly zeros and are multiplied through their non-zeros, gives the same network as the dense path. Work is
/// split among threads by rows (forward) or by blocks of input columns (gradient): each element is computed by one thread in a
/// fixed order, so results do not depend on the thread count.
/// </summary>
internal static unsafe class SparseKernels
{
    /// <summary>
    /// Z[rows × nOut] = X · Wᵀ with X sparse (rows × nIn; <paramref name="rowStart"/> has rows + 1 entries and need not
    /// start at 0) and W dense nOut × nIn, row-major. <paramref name="transposed"/> (nIn × nOut) receives Wᵀ.
    /// </summary>
    public static void MultiplyByTransposed<T>(ReadOnlySpan<int> rowStart, ReadOnlySpan<int> indices, ReadOnlySpan<T> values,
        int rows, ReadOnlySpan<T> w, int nIn, int nOut, Span<T> z, Span<T> transposed, int maxThreads = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (transposed.Length < nIn * nOut)
            throw new ArgumentException($"The scratch needs {nIn * nOut} elements.", nameof(transposed));
        long nnz = rowStart[rows] - rowStart[0];
        if (nnz < nIn)
        {
            // Fewer non-zeros than weight columns (one sparse row, say): transposing all of W would cost more than the
            // product, so each output gathers its weights instead — the same chain per element.
            GatherRows(rowStart, indices, values, rows, w, nIn, nOut, z);
            return;
        }
        long work = nnz * nOut;
        int threads = work < Gemm.ParallelThreshold ? 1 : Math.Clamp(Math.Min(maxThreads, GemmThreadPool.MaxThreads), 1, 64);
        fixed (int* rs = rowStart, idx = indices)
        fixed (T* v = values, pw = w, wt = transposed, pz = z)
        {
            var job = SparseJob<T>.ForThisThread();
            job.RowStart = rs;
            job.Indices = idx;
            job.Values = v;
            job.Delta = pw;
            job.B = wt;
            job.C = pz;
            job.Rows = rows;
            job.NIn = nIn;
            job.NOut = nOut;
            try
            {
                // Wᵀ by blocks of its rows (whole cache lines of them per part, so two threads never write one line),
                // then the rows of Z.
                job.Mode = SparseJob<T>.Phase.Transpose;
                job.Parts = Math.Max(1, Math.Min(threads, nIn / 16));
                Run(job, job.Parts, threads);
                job.Mode = SparseJob<T>.Phase.Forward;
                job.Parts = Math.Max(1, Math.Min(rows, threads == 1 ? 1 : 4 * threads));
                Run(job, job.Parts, threads);
            }
            finally
            {
                job.Clear();
            }
        }
    }

    /// <summary>
    /// Z = X · Wᵀ reading W in place: z[r, o] = one FMA chain over row r's non-zeros per k slice of n_in (in increasing
    /// index), then acc for the first slice and acc + c after it — the dense kernels' operations for every element.
    /// </summary>
    private static void GatherRows<T>(ReadOnlySpan<int> rowStart, ReadOnlySpan<int> indices, ReadOnlySpan<T> values,
        int rows, ReadOnlySpan<T> w, int nIn, int nOut, Span<T> z)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int nkb = Gemm.SliceCount(nIn);
        for (int r = 0; r < rows; r++)
        {
            var zr = z.Slice(r * nOut, nOut);
            int t0 = rowStart[r], end = rowStart[r + 1];
            for (int kb = 0; kb < nkb; kb++)
            {
                int p1 = Gemm.SliceStart(nIn, nkb, kb + 1);
                int t1 = t0;
                while (t1 < end && indices[t1] < p1) t1++;
                for (int o = 0; o < nOut; o++)
                {
                    var wo = w.Slice(o * nIn, nIn);
                    T acc = T.Zero;
                    for (int t = t0; t < t1; t++) acc = T.FusedMultiplyAdd(values[t], wo[indices[t]], acc);
                    zr[o] = kb == 0 ? acc : acc + zr[o];
                }
                t0 = t1;
            }
        }
    }

    /// <summary>
    /// G[nOut × nIn] = alpha · Δᵀ · X + beta · G with Δ dense rows × nOut and X sparse rows × nIn (G is only read when
    /// beta ≠ 0). Per k slice of rows, the slice's non-zeros are regrouped by input column (a counting sort that keeps
    /// the rows in order); then for each input column j, Gᵀ[j, :] = Σ_r x_rj · δ_r is summed in registers, 8 vectors
    /// of outputs at a time (loads only, no stores per term), and each group of 8 columns is folded into G while
    /// transposing back. The threads share column ranges with about equal non-zeros, cut at multiples of 16 columns
    /// (whole cache lines of G's rows); each column of G belongs to one part.
    /// </summary>
    public static void TransposedTimesSparse<T>(ReadOnlySpan<T> delta, int nOut, ReadOnlySpan<int> rowStart,
        ReadOnlySpan<int> indices, ReadOnlySpan<T> values, int rows, int nIn, T alpha, T beta, Span<T> g,
        int maxThreads = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        long work = (long)(rowStart[rows] - rowStart[0]) * nOut;
        int threads = work < Gemm.ParallelThreshold ? 1 : Math.Clamp(Math.Min(maxThreads, GemmThreadPool.MaxThreads), 1, 64);
        var job = SparseJob<T>.ForThisThread();
        job.EnsureColumns(nIn, rowStart[rows] - rowStart[0]);
        fixed (int* rs = rowStart, idx = indices, colStart = job.ColumnStart, entryRow = job.EntryRow)
        fixed (T* v = values, pd = delta, pg = g, entryValue = job.EntryValue)
        {
            job.Mode = SparseJob<T>.Phase.Gradient;
            job.Delta = pd;
            job.C = pg;
            job.ColumnStartPtr = colStart;
            job.EntryRowPtr = entryRow;
            job.EntryValuePtr = entryValue;
            job.NIn = nIn;
            job.NOut = nOut;
            job.Alpha = alpha;
            job.Parts = Math.Min(threads, Math.Max(1, nIn / 16));
            try
            {
                int nkb = Gemm.SliceCount(rows);
                for (int kb = 0; kb < nkb; kb++)
                {
                    int r0 = Gemm.SliceStart(rows, nkb, kb), r1 = Gemm.SliceStart(rows, nkb, kb + 1);
                    ByColumn(rs, idx, v, r0, r1, nIn, colStart, entryRow, entryValue);
                    job.SplitColumns(nIn);
                    job.Beta = kb == 0 ? beta : T.One;
                    Run(job, job.Parts, threads);
                }
            }
            finally
            {
                job.Clear();
            }
        }
    }

    /// <summary>
    /// The non-zeros of rows [r0, r1) grouped by column: column j's are entries [colStart[j], colStart[j + 1]), each
    /// with its row and value, rows increasing (a stable counting sort).
    /// </summary>
    private static void ByColumn<T>(int* rowStart, int* indices, T* values, int r0, int r1, int nIn, int* colStart, int* entryRow, T* entryValue)
        where T : unmanaged
    {
        new Span<int>(colStart, nIn + 1).Clear();
        int from = rowStart[r0], to = rowStart[r1];
        for (int t = from; t < to; t++) colStart[indices[t] + 1]++;
        for (int j = 0; j < nIn; j++) colStart[j + 1] += colStart[j];
        // colStart[j] is used as column j's fill position, then shifted back.
        for (int r = r0; r < r1; r++)
        {
            for (int t = rowStart[r]; t < rowStart[r + 1]; t++)
            {
                int e = colStart[indices[t]]++;
                entryRow[e] = r;
                entryValue[e] = values[t];
            }
        }
        for (int j = nIn; j > 0; j--) colStart[j] = colStart[j - 1];
        colStart[0] = 0;
    }

    private static void Run<T>(SparseJob<T> job, int parts, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (threads <= 1 || parts <= 1)
            for (int p = 0; p < parts; p++) job.Execute(p);
        else
            GemmThreadPool.Run(job, parts, threads);
    }

    /// <summary>dst (cols × rows) = srcᵀ, src rows × cols, both row-major; 8×8 register transposes for float.</summary>
    internal static void Transpose<T>(ReadOnlySpan<T> src, int rows, int cols, Span<T> dst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (dst.Length < rows * cols)
            throw new ArgumentException($"The destination needs {rows * cols} elements.", nameof(dst));
        fixed (T* d = dst)
        {
            Transpose(src, rows, cols, d, rows);
        }
    }

    /// <summary>d[c · ldd + r] = src[r · cols + c] for r &lt; rows, c &lt; cols.</summary>
    private static void Transpose<T>(ReadOnlySpan<T> src, int rows, int cols, T* d, nint ldd)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* s = src)
        {
            TransposeColumns(s, rows, cols, 0, cols, d, ldd);
        }
    }

    /// <summary>d[c · ldd + r] = s[r · cols + c] for r &lt; rows and c in [c0, c1): rows c0 … c1 − 1 of the transpose.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransposeColumns<T>(T* s, int rows, int cols, int c0, int c1, T* d, nint ldd)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int r0 = 0;
        if (typeof(T) == typeof(float) && GemmPackFloat.IsSupported)
        {
            for (; r0 + 8 <= rows; r0 += 8)
            {
                int c = c0;
                for (; c + 8 <= c1; c += 8)
                    GemmPackFloat.Transpose8((float*)s + (nint)r0 * cols + c, cols, (float*)d + c * ldd + r0, ldd);
                for (; c < c1; c++)
                    for (int r = r0; r < r0 + 8; r++)
                        d[c * ldd + r] = s[(nint)r * cols + c];
            }
        }
        // Remaining rows (all of them for double), in tiles of 16 columns.
        for (int cb = c0; cb < c1; cb += 16)
        {
            int ce = Math.Min(c1, cb + 16);
            for (int r = r0; r < rows; r++)
                for (int c = cb; c < ce; c++)
                    d[c * ldd + r] = s[(nint)r * cols + c];
        }
    }

    /// <summary>The parts of one sparse product, reused per calling thread so a training step allocates nothing.</summary>
    private sealed class SparseJob<T> : IGemmParallelJob
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public enum Phase { Transpose, Forward, Gradient }

        [ThreadStatic]
        private static SparseJob<T>? t_job;

        [ThreadStatic]
        private static T[]? t_block;

        public static SparseJob<T> ForThisThread() => t_job ??= new SparseJob<T>();

        public Phase Mode;
        public int* RowStart;
        public int* Indices;
        public T* Values;
        public T* Delta; // δ (gradient), or W (transpose)
        public T* B;     // Wᵀ (transpose, forward)
        public T* C;     // Z (forward), G (gradient)
        public int Rows, NIn, NOut, Parts;
        public T Alpha, Beta;
        public int* ColumnStartPtr;
        public int* EntryRowPtr;
        public T* EntryValuePtr;

        // The slice's non-zeros by column (grown as needed, reused from step to step).
        public int[] ColumnStart = [];
        public int[] EntryRow = [];
        public T[] EntryValue = [];

        /// <summary>Column ranges of the parts: about equal non-zeros each, boundaries at multiples of 16 columns (a
        /// float cache line of a row of G, so two threads never write one line).</summary>
        public readonly int[] PartColumn = new int[65];

        public void SplitColumns(int nIn)
        {
            int total = ColumnStartPtr[nIn];
            PartColumn[0] = 0;
            int j = 0;
            for (int p = 1; p < Parts; p++)
            {
                long target = (long)total * p / Parts;
                while (j < nIn && ColumnStartPtr[j] < target) j += 16;
                PartColumn[p] = Math.Min(j, nIn);
            }
            PartColumn[Parts] = nIn;
        }

        public void EnsureColumns(int nIn, int entries)
        {
            if (ColumnStart.Length < nIn + 1) ColumnStart = new int[nIn + 1];
            if (EntryRow.Length < entries)
            {
                EntryRow = new int[Math.Max(entries, EntryRow.Length * 2)];
                EntryValue = new T[EntryRow.Length];
            }
        }

        /// <summary>Drops the pointers once the arrays they point into are no longer pinned.</summary>
        public void Clear()
        {
            RowStart = Indices = ColumnStartPtr = EntryRowPtr = null;
            Values = Delta = B = C = EntryValuePtr = null;
        }

        public void Execute(int part)
        {
            switch (Mode)
            {
                case Phase.Transpose: TransposePart(part); break;
                case Phase.Forward: ForwardPart(part); break;
                default: GradientPart(part); break;
            }
        }

        /// <summary>Rows [j0, j1) of Wᵀ (columns of W), whole blocks of 16 per part; the last part takes the rest.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void TransposePart(int part)
        {
            int blocks = NIn / 16;
            int j0 = (int)((long)blocks * part / Parts) * 16;
            int j1 = part == Parts - 1 ? NIn : (int)((long)blocks * (part + 1) / Parts) * 16;
            TransposeColumns(Delta, NOut, NIn, j0, j1, B, NOut);
        }

        /// <summary>Rows [Rows·part/Parts, Rows·(part+1)/Parts): z_r = x_r · Wᵀ, one row at a time (<see cref="GemmSparseRow{T}"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void ForwardPart(int part)
        {
            int r0 = (int)((long)Rows * part / Parts), r1 = (int)((long)Rows * (part + 1) / Parts);
            var wt = new ReadOnlySpan<T>(B, NIn * NOut);
            for (int r = r0; r < r1; r++)
            {
                int from = RowStart[r], count = RowStart[r + 1] - from;
                GemmSparseRow<T>.Multiply(NIn, NOut, new ReadOnlySpan<int>(Indices + from, count), new ReadOnlySpan<T>(Values + from, count),
                    wt, NOut, new Span<T>(C + (nint)r * NOut, NOut));
            }
        }

        /// <summary>
        /// Input columns [PartColumn[part], PartColumn[part + 1]) of one k slice, 8 at a time: for each column j,
        /// Gᵀ[j, :] = Σ_r x_rj · δ_r as FMA chains in row order, in registers, into an 8 × nOut tile; then the tile is
        /// folded into G[:, j..j+8).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void GradientPart(int part)
        {
            int nOut = NOut;
            int first = PartColumn[part], last = PartColumn[part + 1];
            int length = 8 * nOut;
            var buffer = t_block is { } tb && tb.Length >= length ? tb : t_block = GC.AllocateUninitializedArray<T>(length, pinned: true);
            fixed (T* tile = buffer)
            {
                for (int j0 = first; j0 < last; j0 += 8)
                {
                    int j1 = Math.Min(last, j0 + 8);
                    for (int j = j0; j < j1; j++)
                        SumColumn(ColumnStartPtr[j], ColumnStartPtr[j + 1], tile + (nint)(j - j0) * nOut);
                    Fold(tile, j0, j1);
                }
            }
        }

        /// <summary>out[0..nOut) = Σ_e value_e · δ_{row_e} over entries [from, to), one FMA chain per output from +0.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void SumColumn(int from, int to, T* output)
        {
            int nOut = NOut;
            int* rowOf = EntryRowPtr;
            T* value = EntryValuePtr;
            T* delta = Delta;
            int o = 0;
            if (Vector256.IsHardwareAccelerated && Fma.IsSupported)
            {
                int w = Vector256<T>.Count;
                for (; o + 8 * w <= nOut; o += 8 * w)
                {
                    Vector256<T> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
                    for (int e = from; e < to; e++)
                    {
                        Vector256<T> x = Vector256.Create(value[e]);
                        T* d = delta + (nint)rowOf[e] * nOut + o;
                        s0 = Simd256<T>.Fma(x, Vector256.Load(d), s0);
                        s1 = Simd256<T>.Fma(x, Vector256.Load(d + w), s1);
                        s2 = Simd256<T>.Fma(x, Vector256.Load(d + 2 * w), s2);
                        s3 = Simd256<T>.Fma(x, Vector256.Load(d + 3 * w), s3);
                        s4 = Simd256<T>.Fma(x, Vector256.Load(d + 4 * w), s4);
                        s5 = Simd256<T>.Fma(x, Vector256.Load(d + 5 * w), s5);
                        s6 = Simd256<T>.Fma(x, Vector256.Load(d + 6 * w), s6);
                        s7 = Simd256<T>.Fma(x, Vector256.Load(d + 7 * w), s7);
                    }
                    T* p = output + o;
                    Vector256.Store(s0, p);
                    Vector256.Store(s1, p + w);
                    Vector256.Store(s2, p + 2 * w);
                    Vector256.Store(s3, p + 3 * w);
                    Vector256.Store(s4, p + 4 * w);
                    Vector256.Store(s5, p + 5 * w);
                    Vector256.Store(s6, p + 6 * w);
                    Vector256.Store(s7, p + 7 * w);
                }
                for (; o + 2 * w <= nOut; o += 2 * w)
                {
                    Vector256<T> s0 = default, s1 = default;
                    for (int e = from; e < to; e++)
                    {
                        Vector256<T> x = Vector256.Create(value[e]);
                        T* d = delta + (nint)rowOf[e] * nOut + o;
                        s0 = Simd256<T>.Fma(x, Vector256.Load(d), s0);
                        s1 = Simd256<T>.Fma(x, Vector256.Load(d + w), s1);
                    }
                    Vector256.Store(s0, output + o);
                    Vector256.Store(s1, output + o + w);
                }
                for (; o + w <= nOut; o += w)
                {
                    Vector256<T> s0 = default;
                    for (int e = from; e < to; e++)
                        s0 = Simd256<T>.Fma(Vector256.Create(value[e]), Vector256.Load(delta + (nint)rowOf[e] * nOut + o), s0);
                    Vector256.Store(s0, output + o);
                }
            }
            for (; o < nOut; o++)
            {
                T acc = T.Zero;
                for (int e = from; e < to; e++) acc = T.FusedMultiplyAdd(value[e], delta[(nint)rowOf[e] * nOut + o], acc);
                output[o] = acc;
            }
        }

        /// <summary>G[o, j] = α·Gᵀ[j, o] (+ β·G[o, j]) for j in [j0, j1), all o; 8×8 register transposes for float.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Fold(T* gt, int j0, int j1)
        {
            int nOut = NOut, nIn = NIn;
            T alpha = Alpha, beta = Beta;
            bool overwrite = beta == T.Zero;
            int j = j0;
            if (typeof(T) == typeof(float) && Avx.IsSupported && Fma.IsSupported)
            {
                float* tile = stackalloc float[64];
                Vector256<float> va = Vector256.Create(Unsafe.As<T, float>(ref alpha)), vb = Vector256.Create(Unsafe.As<T, float>(ref beta));
                for (; j + 8 <= j1; j += 8)
                {
                    int o = 0;
                    for (; o + 8 <= nOut; o += 8)
                    {
                        // tile[q·8 + p] = Gᵀ[j + p, o + q]: row q holds output o + q for inputs j … j + 7.
                        GemmPackFloat.Transpose8((float*)gt + (nint)(j - j0) * nOut + o, nOut, tile, 8);
                        for (int q = 0; q < 8; q++)
                        {
                            float* c = (float*)C + (nint)(o + q) * nIn + j;
                            Vector256<float> acc = Vector256.Load(tile + q * 8);
                            Vector256.Store(overwrite ? va * acc : Fma.MultiplyAdd(va, acc, vb * Vector256.Load(c)), c);
                        }
                    }
                    for (; o < nOut; o++)
                        for (int p = j; p < j + 8; p++) FoldOne(gt, j0, o, p, alpha, beta, overwrite);
                }
            }
            for (; j < j1; j++)
                for (int o = 0; o < nOut; o++) FoldOne(gt, j0, o, j, alpha, beta, overwrite);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void FoldOne(T* gt, int j0, int o, int j, T alpha, T beta, bool overwrite)
        {
            T acc = gt[(nint)(j - j0) * NOut + o];
            T* c = C + (nint)o * NIn + j;
            *c = overwrite ? alpha * acc : T.FusedMultiplyAdd(alpha, acc, beta * *c);
        }
    }
}
